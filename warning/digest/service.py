"""The digest workflow: build a draft, approve it (who and when), send it through the outbox.

Every build makes a new ``Digest`` row (drafts are never overwritten, so what a reviewer
approved is what goes out). Files are rendered first and moved into place under
``settings.digest_dir/<week>/`` only once the row exists, so a failed build leaves no row
pointing at missing files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from warning.config import Settings
from warning.digest.charts import render_charts
from warning.digest.indicators import compute_content
from warning.digest.inputs import load_inputs
from warning.digest.outlook import fingerprint, outlook_section
from warning.digest.render import render_html, render_pdf, render_text, subject_of
from warning.digest.thresholds import load_thresholds
from warning.digest.weeks import IsoWeek
from warning.errors import ConfigError, InputError, IpwarnError, Problem
from warning.logging import get_logger
from warning.store.engine import Store
from warning.store.models import Digest, OutboxMessage, utcnow
from warning.store.upsert import insert_ignore_returning_id

log = get_logger(__name__)


class DigestStateError(IpwarnError):
    """The digest is not in a state that allows the requested step (e.g. send before approve)."""


@dataclass(frozen=True)
class BuiltDigest:
    id: int
    week: str
    input_hash: str
    html_path: Path
    pdf_path: Path
    content: dict[str, Any]


def digest_idempotency_key(digest_id: int, recipient: str) -> str:
    return f"digest:{digest_id}:{recipient}"


class DigestExists(IpwarnError):
    """The week's scheduled draft was built already (by another run)."""


def build_digest(
    store: Store,
    settings: Settings,
    week: IsoWeek,
    *,
    now: dt.datetime | None = None,
    scheduled: bool = False,
) -> BuiltDigest:
    """Compute, render and record the digest of ``week`` as a new draft.

    ``scheduled``: the digest stage's draft, at most one per week (a unique index); a second
    raises :class:`DigestExists` and leaves no files behind.
    """
    built_at = now or utcnow()
    thresholds = load_thresholds(settings.digest_thresholds_file)
    with store.session() as session:
        inputs = load_inputs(
            session,
            week,
            tz=settings.tz,
            local_regions=settings.local_regions,
            thresholds_fingerprint=thresholds.fingerprint,
        )
    content = compute_content(inputs, thresholds)
    content["outlook"] = outlook_section(store, settings, week)
    input_hash = hashlib.sha256(
        (inputs.input_hash + fingerprint(content["outlook"])).encode("ascii")
    ).hexdigest()
    charts = render_charts(content)
    out_dir = settings.digest_dir / str(week)
    out_dir.mkdir(parents=True, exist_ok=True)
    html = render_html(content, charts, built_at, settings.tz, input_hash=input_hash)
    tmp_html = _write_temp(out_dir, ".html", html.encode("utf-8"))
    tmp_pdf = Path(tempfile.mkstemp(dir=out_dir, suffix=".pdf.tmp")[1])
    try:
        render_pdf(content, charts, built_at, settings.tz, tmp_pdf)
        with store.session() as session:
            row = Digest(
                week=str(week),
                status="draft",
                content=content,
                input_hash=input_hash,
                built_at=built_at,
                scheduled=scheduled,
            )
            session.add(row)
            try:
                session.flush()
            except IntegrityError as exc:
                raise DigestExists(f"digest {week} was already drafted by another run") from exc
            stem = out_dir / f"digest-{week}-{row.id}"
            html_path, pdf_path = stem.with_suffix(".html"), stem.with_suffix(".pdf")
            os.replace(tmp_html, html_path)
            os.replace(tmp_pdf, pdf_path)
            row.html_path = str(html_path.resolve())
            row.pdf_path = str(pdf_path.resolve())
            digest_id = row.id
    finally:
        for tmp in (tmp_html, tmp_pdf):
            tmp.unlink(missing_ok=True)
    log.info(
        "digest.built",
        digest_id=digest_id,
        week=str(week),
        input_hash=input_hash,
        charts=len(charts),
        has_data=content["has_data"],
    )
    return BuiltDigest(
        digest_id, str(week), input_hash, html_path.resolve(), pdf_path.resolve(), content
    )


def _write_temp(directory: Path, suffix: str, data: bytes) -> Path:
    fd, name = tempfile.mkstemp(dir=directory, suffix=suffix + ".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return Path(name)


def get_digest(session: Session, digest_id: int) -> Digest:
    row = session.get(Digest, digest_id)
    if row is None:
        raise InputError(
            [Problem(f"no digest with id {digest_id}; see `ipwarn digest list`", field="ID")]
        )
    return row


def list_digests(session: Session, limit: int = 50) -> list[Digest]:
    return list(session.scalars(select(Digest).order_by(Digest.id.desc()).limit(limit)))


def latest_for_week(session: Session, week: IsoWeek) -> Digest | None:
    return session.scalars(
        select(Digest).where(Digest.week == str(week)).order_by(Digest.id.desc()).limit(1)
    ).first()


def approve_digest(
    store: Store, digest_id: int, by: str, *, now: dt.datetime | None = None
) -> Digest:
    """Mark a draft approved, recording who approved it and when."""
    reviewer = by.strip()
    if not reviewer:
        raise InputError([Problem("say who approves, e.g. --by 张三", field="--by")])
    with store.write_session() as session:
        row = get_digest(session, digest_id)
        if row.status != "draft":
            raise DigestStateError(
                f"digest {digest_id} is already {row.status}"
                + (
                    f" (approved by {row.approved_by} at {row.approved_at:%Y-%m-%d %H:%M} UTC)"
                    if row.approved_at
                    else ""
                )
            )
        row.status = "approved"
        row.approved_by = reviewer[:120]
        row.approved_at = now or utcnow()
    log.info("digest.approved", digest_id=digest_id, by=reviewer)
    return row


def send_digest(
    store: Store, settings: Settings, digest_id: int, *, now: dt.datetime | None = None
) -> int:
    """Queue an approved digest for every bureau recipient; returns how many rows were new.

    Sending again is safe: a recipient already queued for this digest is not queued twice.
    """
    recipients = [r.strip() for r in settings.bureau_recipients if r.strip()]
    when = now or utcnow()
    with store.write_session() as session:
        row = get_digest(session, digest_id)
        if row.status not in ("approved", "sent"):
            raise DigestStateError(
                f"digest {digest_id} is a {row.status}; approve it first: "
                f"ipwarn digest approve {digest_id} --by NAME"
            )
        if not recipients:
            raise ConfigError(
                [Problem("no bureau recipients configured", field="bureau_recipients")],
                hint="Set bureau_recipients in ipwarn.toml or IPWARN_BUREAU_RECIPIENTS.",
            )
        for path in (row.html_path, row.pdf_path):
            if not path or not Path(path).is_file():
                raise DigestStateError(
                    f"digest {digest_id}: file {path} is missing; build the week again"
                )
        payload = {
            "subject": subject_of(row.content),
            "html_path": row.html_path,
            "text": render_text(row.content),
            "attachments": [row.pdf_path],
        }
        created = 0
        for recipient in recipients:
            new_id = insert_ignore_returning_id(
                session,
                OutboxMessage.__table__,
                {
                    "idempotency_key": digest_idempotency_key(digest_id, recipient),
                    "kind": "digest",
                    "digest_id": digest_id,
                    "recipient": recipient,
                    "group_key": f"digest:{digest_id}",
                    "status": "pending",
                    "due_at": when,
                    "attempts": 0,
                    "payload": payload,
                    "created_at": when,
                },
                ["idempotency_key"],
            )
            created += new_id is not None
        if row.status != "sent":
            row.status = "sent"
            row.sent_at = when
    log.info("digest.queued", digest_id=digest_id, recipients=len(recipients), new=created)
    return created


def notify_reviewers(
    store: Store, settings: Settings, built: BuiltDigest, *, now: dt.datetime | None = None
) -> int:
    """Tell reviewers a draft is waiting (one operator outbox row each); returns rows queued."""
    recipients = [r.strip() for r in settings.reviewer_recipients if r.strip()]
    when = now or utcnow()
    levels = "，".join(
        f"{s['name_zh']} {s['level_zh'] or '无数据'}" for s in built.content["sectors"]
    )
    text = (
        f"{built.week} 风险周报草稿（编号 {built.id}）已生成，待审核。\n"
        + (f"各领域等级：{levels}\n" if built.content["has_data"] else "本周无数据。\n")
        + f"HTML：{built.html_path}\nPDF：{built.pdf_path}\n\n"
        f"审核后批准并发送：\n  ipwarn digest approve {built.id} --by 姓名\n"
        f"  ipwarn digest send {built.id}\n"
    )
    payload = {"subject": f"[待审核] 知识产权风险周报 {built.week}", "text": text}
    created = 0
    with store.session() as session:
        for recipient in recipients:
            new_id = insert_ignore_returning_id(
                session,
                OutboxMessage.__table__,
                {
                    "idempotency_key": f"digest-review:{built.id}:{recipient}",
                    "kind": "operator",
                    "digest_id": built.id,
                    "recipient": recipient,
                    "group_key": f"digest-review:{built.id}",
                    "status": "pending",
                    "due_at": when,
                    "attempts": 0,
                    "payload": payload,
                    "created_at": when,
                },
                ["idempotency_key"],
            )
            created += new_id is not None
    return created
