from pathlib import Path

import pytest

from warning.taxonomy import load_taxonomy

SHARED = Path(__file__).resolve().parents[2] / "shared" / "taxonomy" / "sectors.yaml"
PACKAGED = Path(__file__).resolve().parents[1] / "warning" / "data" / "sectors.yaml"


@pytest.mark.skipif(
    not SHARED.exists(), reason="the mission's shared/ folder is not beside this checkout"
)
def test_packaged_taxonomy_is_the_missions_taxonomy():
    assert PACKAGED.read_bytes() == SHARED.read_bytes()


def test_taxonomy_has_the_five_key_sectors_and_other():
    t = load_taxonomy()
    assert t.labels == ("steel", "equipment", "chemicals", "minerals", "optoelectronics", "other")
    assert t.subfield("steel.silicon_steel").ipc == ("C21D8/12",)


def test_ipc_prefixes_place_documents_in_sectors():
    hits = load_taxonomy().sectors_for_ipc(["C21D8/12", "B03C1/00", "G06F3/0481"])
    assert hits == {"steel": ["C21D"], "equipment": ["B03C"], "minerals": ["B03C"]}
    # "B21B3" must not match "B21B31/00"-style prefixes: equipment's rolling-mill prefixes end at a main group
    assert "equipment" not in load_taxonomy().sectors_for_ipc(["B21B3/00"])
