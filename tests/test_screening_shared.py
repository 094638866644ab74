"""The similarity screen's background state is built once per process and shared: a screen
built after many others finds exactly the hits, scores, percentiles and thresholds of a screen
built in a fresh process (documents: the real judged gazette records of tests/test_screening.py).
"""

from __future__ import annotations

import threading

import pytest

from rules import similarity
from rules.loader import load_subscription_file
from rules.repository import compiled_from_file
from rules.similarity import Field, Profile, SimilarityScreen, profiles_for
from tests.test_screening import ANSTEEL, EXAMPLES, OWN, OWN_TEXT, RECORDS, doc


@pytest.fixture(scope="module")
def subs():
    return [s for s in compiled_from_file(load_subscription_file(EXAMPLES)) if s.key == ANSTEEL]


def _fresh(profiles: list[Profile], **kw: object) -> SimilarityScreen:
    """A screen over a background of its own, as the first screen of a new process gets."""
    similarity._packaged_state.cache_clear()
    try:
        return SimilarityScreen(profiles, **kw)  # type: ignore[arg-type]
    finally:
        similarity._packaged_state.cache_clear()


def _profiles(subs: list[object]) -> list[Profile]:
    return profiles_for(subs, {OWN: (OWN_TEXT, ["C21D8/12", "C22C38/02"])})


def test_a_screen_after_others_scores_exactly_as_a_fresh_one(subs):
    docs = [doc(n) for n in list(RECORDS)[:400]]
    profiles = _profiles(subs)
    fresh = _fresh(profiles)
    expected = fresh.screen(docs)
    assert any(expected), "the judged records must give hits for the comparison to mean anything"
    # other screens grow the shared state first: other texts, other fields, another sample size
    for i, (number, row) in enumerate(list(RECORDS.items())[:12]):
        f = Field(ipc=(row["ipc"].split() or ["H"])[0][:4]) if i % 2 else Field()
        SimilarityScreen([Profile("other", number, row["title"], f)], sample=800 + 50 * (i % 3))
    shared = SimilarityScreen(profiles)
    assert shared._shared is SimilarityScreen(profiles)._shared  # one state, not one per screen
    assert shared.screen(docs) == expected
    assert shared.report() == fresh.report()
    for a, b in zip(shared.calibrations, fresh.calibrations, strict=True):
        assert (
            a == b and list(a.null_in) == list(b.null_in) and list(a.null_out) == list(b.null_out)
        )


def test_screens_built_in_threads_agree_with_a_fresh_one():
    """The web console screens in worker threads: concurrent screens share the state safely."""
    texts = [row["title"] for row in list(RECORDS.values())[20:28]]
    profiles = [[Profile("query", "query", t)] for t in texts]
    expected = [_fresh(p, floor=0.0).calibrations[0] for p in profiles]
    got: list[object] = [None] * len(texts)

    def build(i: int) -> None:
        got[i] = SimilarityScreen(profiles[i], floor=0.0).calibrations[0]

    threads = [threading.Thread(target=build, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(got, expected, strict=True):
        assert a == b
        assert list(a.null_in) == list(b.null_in)  # type: ignore[attr-defined]


def test_stored_documents_get_a_background_of_their_own(subs):
    """The rules stage adds the store's documents to the background: never shared."""
    stored = [(RECORDS[n]["title"], RECORDS[n]["ipc"].split()) for n in list(RECORDS)[:50]]
    with_store = SimilarityScreen(_profiles(subs), stored)
    assert with_store._shared is not SimilarityScreen(_profiles(subs))._shared
    assert with_store.weights.stored_documents == 50
