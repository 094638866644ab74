"""The pipeline: crawl -> classify -> index -> match -> deliver -> digest, each stage idempotent.

A stage is a function ``run(ctx: StageContext) -> StageResult`` named by "module:function" in
:data:`STAGES`, so that `ipwarn run --once` and the scheduler call the same code. Each stage reads
only what the previous one stored, so any stage can be re-run on its own. A stage whose module
is missing or raises :class:`StageNotBuilt` is reported as ``not built``, never faked.
"""

from __future__ import annotations

import datetime as dt
import importlib
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from warning.config import Settings
from warning.errors import StageNotBuilt
from warning.logging import get_logger
from warning.store.engine import Store
from warning.store.models import JobRun, utcnow

log = get_logger(__name__)

#: stage name -> "module:function"; order is the order of `ipwarn run --once`
STAGES: dict[str, str] = {
    "crawl": "crawlers.stage:run_crawl_stage",
    "classify": "models.stage:run_classify_stage",
    "index": "warning.search.index:run_index_stage",
    "match": "rules.stage:run_match_stage",
    "deliver": "warning.delivery.stage:run_deliver_stage",
    "digest": "warning.digest.stage:run_digest_stage",
}


@dataclass
class StageContext:
    settings: Settings
    store: Store
    #: the clock every stage uses (injected, so back-tests and tests can fix "now")
    now: dt.datetime = field(default_factory=utcnow)
    #: only run these crawl sources (None: every configured source)
    sources: list[str] | None = None
    #: force time-gated stages (digest) to run even when not due
    force: bool = False
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class StageResult:
    #: ok | not_built | skipped | failed
    status: str = "ok"
    counts: dict[str, int | float] = field(default_factory=dict)
    note: str = ""
    #: files a person may want to open (alerts, digests)
    outputs: list[str] = field(default_factory=list)


StageFn = Callable[[StageContext], StageResult]


def resolve_stage(name: str) -> StageFn:
    target = STAGES[name]
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise StageNotBuilt(f"stage {name!r} is not built yet ({target})") from exc
        raise
    fn = getattr(module, attr, None)
    if fn is None:
        raise StageNotBuilt(f"stage {name!r} is not built yet ({target})")
    stage: StageFn = fn
    return stage


def run_stage(name: str, ctx: StageContext, *, job: str | None = None) -> StageResult:
    """Run one stage, record it in the run history, and never let it take the others down."""
    started = utcnow()
    t0 = time.perf_counter()
    with ctx.store.session() as session:
        run = JobRun(job=job or f"stage:{name}", started_at=started, status="running")
        session.add(run)
        session.flush()
        run_id = run.id
    error: str | None = None
    try:
        result = resolve_stage(name)(ctx)
    except StageNotBuilt as exc:
        result = StageResult(status="not_built", note=str(exc))
    except Exception as exc:  # a failed stage is recorded and reported, the pipeline goes on
        error = "".join(traceback.format_exception_only(exc)).strip()
        log.error("stage.failed", stage=name, error=error, traceback=traceback.format_exc())
        result = StageResult(status="failed", note=error)
    elapsed = time.perf_counter() - t0
    with ctx.store.session() as session:
        finished = session.get(JobRun, run_id)
        assert finished is not None
        finished.finished_at = utcnow()
        finished.status = result.status
        finished.detail = {
            "counts": result.counts,
            "note": result.note,
            "outputs": result.outputs,
            "seconds": round(elapsed, 3),
        }
        run.error = error
    log.info(
        "stage.done", stage=name, status=result.status, seconds=round(elapsed, 3), **result.counts
    )
    return result


def run_once(ctx: StageContext, stages: list[str] | None = None) -> dict[str, StageResult]:
    results: dict[str, StageResult] = {}
    for name in stages or list(STAGES):
        results[name] = run_stage(name, ctx)
    return results
