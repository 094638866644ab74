"""Derive the evaluation's applicant-origin file from the mission's raw gazette CSVs (run once).

A maintainer tool, never used at run time. ``python -m warning.forecast.prepare_eval
/work/shared/data`` writes ``warning/forecast/data/gazette_2019_foreign.txt.gz``: the
publication numbers (one per line, sorted) of the 2019 gazette records in
``models/data/gazette_2019.jsonl.gz`` whose first applicant is outside mainland China, judged
from the first applicant's name and address with :func:`warning.applicants.is_foreign`.
"""

from __future__ import annotations

import csv
import gzip
import sys
from pathlib import Path

from crawlers.parsers.common import split_multi
from warning.applicants import is_foreign

OUT = Path(__file__).parent / "data" / "gazette_2019_foreign.txt.gz"


def foreign_numbers(root: Path) -> list[str]:
    found: set[str] = set()
    for path in sorted((root / "cnipa-gazette-2019-csv").glob("CN_patent_*.csv")):
        with path.open(encoding="gb18030", newline="") as handle:
            for rec in csv.DictReader(handle):
                number = "".join(rec["authorization_notice_id"].split()).upper()
                names = split_multi(rec["patentee"])
                if number and names and is_foreign(rec["address"], names[0]):
                    found.add(number)
    return sorted(found)


def main(shared: str) -> None:
    numbers = foreign_numbers(Path(shared))
    OUT.parent.mkdir(exist_ok=True)
    data = "".join(n + "\n" for n in numbers).encode("utf-8")
    OUT.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    print(f"{OUT}: {len(numbers)} numbers with a foreign first applicant")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data")
