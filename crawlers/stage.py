"""The crawl stage of the pipeline: crawl every configured, enabled source once."""

from __future__ import annotations

from crawlers.runner import run_source
from warning.errors import ConfigError
from warning.logging import get_logger
from warning.pipeline import StageContext, StageResult

log = get_logger(__name__)

COUNT_KEYS = ("new", "updated", "unchanged", "quarantined", "new_events")


def run_crawl_stage(ctx: StageContext) -> StageResult:
    """Each source runs as its own subprocess; one failing source does not stop the others.

    A source whose lock another process holds (it is being crawled right now) is counted in
    ``skipped_sources``, not as a failure: the stage fails only for sources that failed.
    """
    configured = ctx.settings.sources
    names = ctx.sources if ctx.sources is not None else sorted(configured)
    counts: dict[str, int | float] = dict.fromkeys(COUNT_KEYS, 0)
    counts |= {"sources": 0, "failed_sources": 0, "skipped_sources": 0}
    notes: list[str] = []
    for name in names:
        config = configured.get(name)
        if config is None:
            notes.append(f"{name}: not configured")
            counts["failed_sources"] += 1
            continue
        if not config.enabled:
            log.info("crawl.source_off", source=name, reason="enabled = false")
            continue
        if not config.base_url:
            log.info("crawl.source_off", source=name, reason="no base_url configured")
            continue
        try:
            outcome = run_source(ctx.settings, ctx.store, name)
        except ConfigError as exc:
            notes.append(f"{name}: {exc}")
            counts["failed_sources"] += 1
            continue
        if outcome.status == "skipped":
            counts["skipped_sources"] += 1
            notes.append(f"{name}: skipped: {outcome.error}")
            continue
        counts["sources"] += 1
        for key in COUNT_KEYS:
            counts[key] += outcome.counts.get(key, 0)
        if outcome.status != "ok":
            counts["failed_sources"] += 1
            notes.append(f"{name}: {outcome.status}: {outcome.error}")
        elif outcome.error:
            notes.append(f"{name}: {outcome.error}")
    if counts["skipped_sources"] and not counts["sources"] and not counts["failed_sources"]:
        return StageResult(status="skipped", counts=counts, note="; ".join(notes))
    if not counts["sources"] and not counts["failed_sources"]:
        return StageResult(
            status="skipped", counts=counts, note="no crawl source configured with a base_url"
        )
    # one failed source fails the stage (the others' documents are stored all the same)
    status = "failed" if counts["failed_sources"] else "ok"
    return StageResult(status=status, counts=counts, note="; ".join(notes))
