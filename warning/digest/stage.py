"""Pipeline stage: draft the weekly digest once it is due and tell the reviewers.

Due means: the last complete ISO week (in ``settings.timezone``) has no digest yet and its
following Monday at the ``digest_cron`` time (08:00) has passed. ``ctx.force`` builds now,
for ``ctx.options["week"]`` when given. Re-running the stage after a build does nothing: the
stage runs under a lock (one runner at a time) and its draft is unique per week in the
database, so two runners never draft (and mail reviewers about) the same week twice.
"""

from __future__ import annotations

from warning.digest.service import (
    DigestExists,
    build_digest,
    latest_for_week,
    notify_reviewers,
)
from warning.digest.weeks import IsoWeek, draft_due_at, last_complete_week, time_of_cron
from warning.pipeline import StageContext, StageResult
from warning.timefmt import local


def run_digest_stage(ctx: StageContext) -> StageResult:
    settings = ctx.settings
    tz = settings.tz
    requested = ctx.options.get("week") if ctx.force else None
    week = IsoWeek.parse(str(requested)) if requested else last_complete_week(ctx.now, tz)
    if not ctx.force:
        due_at = draft_due_at(week, tz, time_of_cron(settings.digest_cron))
        if ctx.now < due_at:
            return StageResult(
                status="skipped", note=f"digest {week} is due at {local(due_at, tz)}"
            )
        with ctx.store.session() as session:
            existing = latest_for_week(session, week)
        if existing is not None:
            return StageResult(
                status="skipped",
                note=f"digest {week} already built (id {existing.id}, {existing.status})",
            )
    try:
        built = build_digest(ctx.store, settings, week, now=ctx.now, scheduled=not ctx.force)
    except DigestExists as exc:
        return StageResult(status="skipped", note=str(exc))
    # an empty week (e.g. the current one right after back-filling old bulletins) is drafted
    # for the record, but nobody is asked to review a digest that says "no data"
    has_data = bool(built.content["has_data"])
    notified = notify_reviewers(ctx.store, settings, built, now=ctx.now) if has_data else 0
    return StageResult(
        status="ok",
        counts={"digests": 1, "reviewers_notified": notified},
        note=f"digest {week} drafted (id {built.id})"
        + ("" if has_data else "; the week has no data, reviewers not notified"),
        outputs=[str(built.html_path), str(built.pdf_path)],
    )
