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
from warning.errors import IpwarnError, StageNotBuilt
from warning.lifeline import process_identity
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


#: stages that must not overlap: a second runner waits for the first (``stage_lock_wait_seconds``)
#: and then runs (finding nothing left to do) or says it skipped; deliverers claim rows instead,
#: and each crawl source takes its own lock (``crawlers.runner``)
LOCKED_STAGES = frozenset({"classify", "match", "digest"})


def run_stage(name: str, ctx: StageContext, *, job: str | None = None) -> StageResult:
    """Run one stage, record it in the run history, and never let it take the others down."""
    t0 = time.perf_counter()
    run_id = start_job(ctx.store, job or f"stage:{name}")
    error: str | None = None
    try:
        result = _run_locked(name, ctx) if name in LOCKED_STAGES else resolve_stage(name)(ctx)
    except StageNotBuilt as exc:
        result = StageResult(status="not_built", note=str(exc))
    except Exception as exc:  # a failed stage is recorded and reported, the pipeline goes on
        error = _describe(exc)
        # an IpwarnError says what happened and what to do; anything else is a bug: keep its trace
        trace = {} if isinstance(exc, IpwarnError) else {"traceback": traceback.format_exc()}
        log.error("stage.failed", stage=name, error=error, **trace)
        result = StageResult(status="failed", note=error)
    elapsed = time.perf_counter() - t0
    finish_job(
        ctx.store,
        run_id,
        result.status,
        {
            "counts": result.counts,
            "note": result.note,
            "outputs": result.outputs,
            "seconds": round(elapsed, 3),
        },
        error,
    )
    log.info(
        "stage.done", stage=name, status=result.status, seconds=round(elapsed, 3), **result.counts
    )
    return result


def _run_locked(name: str, ctx: StageContext) -> StageResult:
    from warning.store.locks import named_lock

    stage = resolve_stage(name)
    wait = float(getattr(ctx.settings, "stage_lock_wait_seconds", 0.0))
    with named_lock(ctx.store, f"stage:{name}", wait) as held:
        if not held:
            return StageResult(
                status="skipped",
                note=f"another process is running the {name} stage (waited {wait:g} s)",
            )
        return stage(ctx)


def _describe(exc: BaseException) -> str:
    """One line for the run history: database errors say what happened and what to do."""
    from sqlalchemy.exc import SQLAlchemyError

    from warning.store.engine import describe_store_error

    if isinstance(exc, SQLAlchemyError):
        return describe_store_error(exc)
    if isinstance(exc, IpwarnError):
        return str(exc)
    return "".join(traceback.format_exception_only(exc)).strip()


def start_job(store: Store, job: str) -> int | None:
    """Record a job as running in the history `ipwarn status` shows; returns its row id, or
    None (logged) when the store cannot take it: recording must never take the job down."""
    try:
        with store.session() as session:
            run = JobRun(job=job, started_at=utcnow(), status="running", owner=process_identity())
            session.add(run)
            session.flush()
            return run.id
    except Exception as exc:
        log.error("job_runs.record_failed", job=job, error=_describe(exc))
        return None


def finish_job(
    store: Store,
    run_id: int | None,
    status: str,
    detail: dict[str, Any],
    error: str | None = None,
) -> None:
    """Close the job's row; a failure to record is logged, the job's outcome still stands."""
    if run_id is None:
        return
    try:
        with store.session() as session:
            finished = session.get(JobRun, run_id)
            if finished is None:
                return
            finished.finished_at = utcnow()
            finished.status = status
            finished.detail = detail
            finished.error = error
    except Exception as exc:
        log.error("job_runs.record_failed", run_id=run_id, status=status, error=_describe(exc))


def run_once(ctx: StageContext, stages: list[str] | None = None) -> dict[str, StageResult]:
    results: dict[str, StageResult] = {}
    for name in stages or list(STAGES):
        results[name] = run_stage(name, ctx)
    return results
