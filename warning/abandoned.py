"""Close ``running`` rows of ``crawl_runs`` and ``job_runs`` whose process is gone.

A process killed with ``kill -9`` (or lost with its machine) never marks its row finished, and
`ipwarn status` would show it running for ever. Every command that starts work calls
:func:`close_abandoned` first: a row whose owner (``host:pid:start-ticks``, see
:mod:`warning.lifeline`) ran on this host and no longer exists is closed as ``abandoned`` at
once; a row from another host, or from before owners were recorded, once it is older than the
longest run the configuration allows (:func:`max_run_seconds`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from warning.config import Settings
from warning.lifeline import identity_alive, process_identity
from warning.logging import get_logger
from warning.store.engine import Store
from warning.store.models import CrawlRun, JobRun, utcnow

log = get_logger(__name__)

#: added to the longest configured timeout before a row of unknown liveness is given up
SAFETY_SECONDS = 600.0


def max_run_seconds(settings: Settings) -> float:
    """No run lives longer than this: the longest job or crawl timeout plus a margin."""
    crawl = max((s.timeout_seconds + 60 for s in settings.sources.values()), default=0.0)
    return max(settings.job_timeout_seconds, crawl) + SAFETY_SECONDS


def _abandoned(owner: str | None, started_at: dt.datetime, now: dt.datetime, limit: float) -> bool:
    alive = identity_alive(owner) if owner else None
    if alive is not None:
        return not alive
    return (now - started_at).total_seconds() > limit


def close_abandoned(store: Store, settings: Settings, now: dt.datetime | None = None) -> int:
    """Mark running rows of dead processes ``abandoned``; returns how many were closed.

    Read first, write only when something is to close: most starts find nothing, and on
    SQLite a write transaction would take the database's write lock.
    """
    now = now or utcnow()
    limit = max_run_seconds(settings)
    me = process_identity()
    found: dict[type[Any], dict[int, str]] = {}
    with store.read_session() as session:  # never waits for a writer
        for model in (CrawlRun, JobRun):
            running = session.execute(
                select(model.id, model.owner, model.started_at).where(model.status == "running")
            )
            for row_id, owner, started_at in running:
                if owner == me or not _abandoned(owner, started_at, now, limit):
                    continue
                why = (
                    f"its process {owner} is gone (killed?)"
                    if owner and identity_alive(owner) is False
                    else f"still running after {limit / 3600:.1f} h (longer than any timeout)"
                )
                found.setdefault(model, {})[row_id] = why
    if not found:
        return 0
    closed = 0
    with store.write_session() as session:
        for model, whys in found.items():
            rows = session.scalars(
                select(model).where(model.id.in_(list(whys)), model.status == "running")
            )
            for row in rows:
                row.status = "abandoned"
                row.finished_at = now
                note = f"abandoned: {whys[row.id]}; closed by {me}"
                row.error = f"{row.error}\n{note}" if row.error else note
                closed += 1
                what = f"crawl {row.source}" if isinstance(row, CrawlRun) else row.job
                log.warning("run.abandoned", run=what, id=row.id, owner=row.owner or "-")
    return closed
