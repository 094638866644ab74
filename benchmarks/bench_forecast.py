"""Forecast stage time for 5,000 series built from real 2019 gazette records.

The documents are the real records of ``models/data/gazette_2019.jsonl.gz`` (kind, IPC; applicant
origin from ``warning/forecast/data/gazette_2019_foreign.txt.gz``) re-dated into 52 weekly
bulletins of DOCS_PER_WEEK records each (drawn with replacement, seed 7). ``build_series`` makes
the sector, sub-field and IPC-main-group series; the first N of them (5,000 by default, sectors
first) are forecast 12 weeks ahead with the default ETS cap. Printed: the time to build the
series, the forecast time (total and per series), and as the baseline measured in the same run
the time of the cheapest model alone (``mean``) on the same series: the ratio says what the
back-test model choice costs.

Run: ``.venv/bin/python -m benchmarks bench_forecast`` or
``.venv/bin/python -m benchmarks.bench_forecast [N_SERIES] [DOCS_PER_WEEK]``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import sys
import time
from importlib import resources

import numpy as np

from warning.digest.inputs import ApplicantRow
from warning.digest.weeks import IsoWeek
from warning.forecast.data import StoreDoc
from warning.forecast.models import fit_mean
from warning.forecast.select import DEFAULT_MAX_ETS_SERIES, forecast_series
from warning.forecast.series import build_series
from warning.forecast.service import ets_allowed
from warning.taxonomy import load_taxonomy

FIRST_MONDAY = dt.date(2025, 1, 6)
_KINDS = {"invention_published": "A", "invention_authorized": "B", "utility_new": "U"}


def documents(docs_per_week: int) -> list[StoreDoc]:
    taxonomy = load_taxonomy()
    raw = resources.files("models").joinpath("data/gazette_2019.jsonl.gz").read_bytes()
    pool = [json.loads(line) for line in gzip.decompress(raw).decode().splitlines()]
    foreign_raw = resources.files("warning.forecast").joinpath("data/gazette_2019_foreign.txt.gz")
    foreign = frozenset(gzip.decompress(foreign_raw.read_bytes()).decode().split())
    cn = ApplicantRow("国内申请人", "国内申请人", "CN", "辽宁", "鞍山", "辽宁省鞍山市")
    jp = ApplicantRow("海外申请人", "海外申请人", "JP", None, None, "日本东京都")
    rng = np.random.default_rng(7)
    docs: list[StoreDoc] = []
    for week in range(52):
        day = FIRST_MONDAY + dt.timedelta(weeks=week, days=1)
        for i in rng.integers(0, len(pool), docs_per_week):
            rec = pool[i]
            sectors = tuple(sorted(taxonomy.sectors_for_ipc(rec["ipc"])))
            subfields = tuple(
                sorted(
                    sf.qualified
                    for sf in taxonomy.subfields
                    if sf.ipc
                    and sf.sector in sectors
                    and any(s.startswith(sf.ipc) for s in rec["ipc"])
                )
            )
            docs.append(
                StoreDoc(
                    id=len(docs),
                    number=f"{rec['number']}-{week}",
                    office="CN",
                    title=rec["title"],
                    kind=_KINDS[rec["kind"]],
                    publication_date=day,
                    application_date=None,
                    application_number=None,
                    ipc=tuple(rec["ipc"]),
                    sectors=sectors,
                    subfields=subfields,
                    applicants=(jp if rec["number"] in foreign else cn,),
                )
            )
    return docs


def main() -> None:
    n_series = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 5000
    per_week = int(sys.argv[2]) if len(sys.argv) > 2 else 1500
    docs = documents(per_week)
    as_of = IsoWeek.of(FIRST_MONDAY).shift(51)
    t0 = time.perf_counter()
    series = build_series(docs, as_of)
    t_build = time.perf_counter() - t0
    chosen = (series * (n_series // max(len(series), 1) + 1))[:n_series]
    print(
        f"{len(docs):,} documents ({per_week}/week x 52 weeks) -> {len(series):,} series in "
        f"{t_build:.2f} s; forecasting {len(chosen):,} of them (cycled when fewer)"
    )
    forecast_series(np.asarray(chosen[0].values), 12, True)  # imports and warm-up, not timed
    t0 = time.perf_counter()
    for s in chosen:
        if s.values:
            fit_mean(np.asarray(s.values), 12, s.is_count)
    t_mean = time.perf_counter() - t0
    allowed = ets_allowed(chosen, DEFAULT_MAX_ETS_SERIES)
    t0 = time.perf_counter()
    statuses: dict[str, int] = {}
    models: dict[str, int] = {}
    for i, s in enumerate(chosen):
        outcome = forecast_series(
            np.asarray(s.values), 12, s.is_count, allow_ets=i in allowed, sizes=s.sizes
        )
        statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
        models[outcome.model or "-"] = models.get(outcome.model or "-", 0) + 1
    t_all = time.perf_counter() - t0
    ets_series = len(allowed)
    print(f"statuses: {statuses}; models: {models}; ETS tried on {ets_series:,} series")
    print(
        f"forecast stage: {t_all:.1f} s for {len(chosen):,} series "
        f"({t_all / len(chosen) * 1000:.1f} ms per series)"
    )
    print(
        f"baseline (mean model only, same series): {t_mean:.2f} s; "
        f"ratio {t_all / max(t_mean, 1e-9):.0f}x"
    )


if __name__ == "__main__":
    main()
