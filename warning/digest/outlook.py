"""The digest's outlook: sector forecasts, emerging/fading fields, next quarter's expiries, and
the dispute-prone top ten — everything as of the digest week's Sunday, from the store only.

Computed by :mod:`warning.forecast` from the documents published up to the end of the digest
week (and legal events dated up to then), so rebuilding a past week gives the same outlook as
long as the store's history up to that week is unchanged; its fingerprint joins the digest's
input hash.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from warning.config import Settings
from warning.digest.weeks import IsoWeek
from warning.forecast.data import load_documents
from warning.forecast.dispute import dispute_index, emerging_fields
from warning.forecast.legal import deadlines, lapse_model_status
from warning.forecast.service import forecast_documents
from warning.store.engine import Store
from warning.taxonomy import load_taxonomy

#: weeks of history drawn in the sector forecast charts
CHART_HISTORY = 26
EXPIRY_MONTHS = 3
LIST_LIMIT = 20
DISPUTE_TOP = 10


def _label(s: dict[str, Any]) -> str:
    return " / ".join(p for p in (s["sector"], s["subfield"], s["ipc"]) if p)


def outlook_section(store: Store, settings: Settings, week: IsoWeek) -> dict[str, Any]:
    taxonomy = load_taxonomy()
    with store.session() as session:
        docs = load_documents(session, until=week.sunday, with_events=True)
    forecasts = forecast_documents(docs, week, max_ets_series=settings.forecast_max_ets_series)
    series = forecasts["series"]
    sectors = []
    for sector in taxonomy.sectors:
        found = next(
            (
                s
                for s in series
                if (s["sector"], s["subfield"], s["ipc"], s["measure"])
                == (sector.id, None, None, "publications")
            ),
            None,
        )
        sectors.append(
            {
                "id": sector.id,
                "name_zh": sector.name_zh,
                "status": found["status"] if found else "no_data",
                "model": found["model"] if found else None,
                "flag": found["flag"] if found else None,
                "reason": found["reason"] if found else "no documents of the sector yet",
                "history": found["history"][-CHART_HISTORY:] if found else [],
                "forecast": found["forecast"] if found else [],
            }
        )
    flagged = sorted(
        (s for s in series if s["flag"]),
        key=lambda s: (s["flag"] != "emerging", s["ipc"] is not None, s["subfield"] is not None),
    )
    key_sectors = set(taxonomy.sector_ids)
    in_sectors = [d for d in docs if key_sectors & set(d.sectors)]
    expiries = [d for d in deadlines(in_sectors, week.sunday, EXPIRY_MONTHS) if d.event == "expiry"]
    by_sector = {s.id: sum(s.id in d.doc.sectors for d in expiries) for s in taxonomy.sectors}
    disputes = dispute_index(docs, week, tuple(settings.local_regions), emerging_fields(forecasts))[
        "fields"
    ][:DISPUTE_TOP]
    return {
        "as_of": str(week),
        "series_total": len(series),
        "series_forecast": sum(s["status"] == "ok" for s in series),
        "sectors": sectors,
        "flagged": [
            {
                "label": _label(s),
                "measure": s["measure"],
                "flag": s["flag"],
                "reason": s["reason"],
            }
            for s in flagged[:LIST_LIMIT]
        ],
        "flagged_total": len(flagged),
        "expiries": {
            "months": EXPIRY_MONTHS,
            "total": len(expiries),
            "by_sector": by_sector,
            "items": [d.to_json() for d in expiries[:LIST_LIMIT]],
        },
        "lapse_model": lapse_model_status(docs, week.sunday),
        "disputes": [
            {
                "label": _label(f),
                "index": f["index"],
                "documents": f["documents"],
                "components": {
                    k: {"value": c["value"], "score": c["score"], "label_zh": c["label_zh"]}
                    for k, c in f["components"].items()
                },
            }
            for f in disputes
        ],
    }


def fingerprint(outlook: dict[str, Any]) -> str:
    canonical = json.dumps(outlook, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
