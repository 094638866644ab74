"""The schema for the whole mission, as typed SQLAlchemy 2 ORM classes.

Every datetime is stored in UTC (``UtcDateTime`` refuses naive values and returns aware ones,
also on SQLite). JSON columns hold lists and explanations that are read whole, never queried
inside. Alembic migrations in ``warning/migrations`` must match these classes (a test checks).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: the largest integer key either database hands out (SQLite's driver overflows beyond it)
MAX_ROW_ID = 2**63 - 1


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store aware UTC datetimes")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        dt.datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
        list[dict[str, Any]]: JSON(),
    }


# --- documents and legal events -------------------------------------------------------------


class Document(Base):
    """A published patent document (application, grant, utility model, design)."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("office", "number", "kind"),
        Index("ix_documents_publication_date", "publication_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    office: Mapped[str] = mapped_column(String(4))
    #: publication number with kind code, e.g. CN115212463A, US8930553B2
    number: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(4))
    title: Mapped[str] = mapped_column(Text, default="")
    abstract: Mapped[str] = mapped_column(Text, default="")
    claims: Mapped[str] = mapped_column(Text, default="")
    applicants: Mapped[list[str]] = mapped_column(default=list)
    addresses: Mapped[list[str]] = mapped_column(default=list)
    inventors: Mapped[list[str]] = mapped_column(default=list)
    #: normalised IPC symbols, e.g. ["C21D8/12", "H01F1/147"]
    ipc: Mapped[list[str]] = mapped_column(default=list)
    publication_date: Mapped[dt.date | None] = mapped_column(Date)
    application_date: Mapped[dt.date | None] = mapped_column(Date)
    application_number: Mapped[str | None] = mapped_column(String(40), index=True)
    language: Mapped[str] = mapped_column(String(8), default="zh")
    #: the source that delivered it (crawler name or "file")
    source: Mapped[str] = mapped_column(String(40), default="file")
    #: where the raw bytes came from (URL, file path and record offset)
    raw_ref: Mapped[str | None] = mapped_column(Text)
    #: hash of the normalised record: a re-ingest with the same hash changes nothing
    content_hash: Mapped[str] = mapped_column(String(64))
    #: a stub is created by a legal event for a document not (yet) seen in full
    is_stub: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)

    legal_events: Mapped[list[LegalEvent]] = relationship(back_populates="document")
    tags: Mapped[list[DocumentTag]] = relationship(back_populates="document")


class LegalEvent(Base):
    """A legal-status event (termination, expiry, invalidation, transfer, licence, pledge...)."""

    __tablename__ = "legal_events"
    __table_args__ = (UniqueConstraint("document_id", "code", "event_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    #: the code as the source gave it (CN: CF01, TR01...; INPADOC: e.g. PG25)
    code: Mapped[str] = mapped_column(String(16), index=True)
    #: the INPADOC/CN code-table category (termination, transfer, licence, ...)
    category: Mapped[str | None] = mapped_column(String(40))
    event_date: Mapped[dt.date] = mapped_column(Date, index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    #: parties named by the event: {"from": [...], "to": [...]} for transfers
    parties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source: Mapped[str] = mapped_column(String(40), default="file")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    #: when the match stage matched this event (None: still to match; progress by identity)
    matched_at: Mapped[dt.datetime | None] = mapped_column(index=True)

    document: Mapped[Document] = relationship(back_populates="legal_events")


class MatchMark(Base):
    """Which version of a document the match stage has matched: progress by identity.

    A document is (re-)matched when it has tags of the active classifier version and no mark,
    or a mark whose content hash differs from the document's (it changed since).
    """

    __tablename__ = "match_marks"

    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    content_hash: Mapped[str] = mapped_column(String(64))
    #: the classifier version whose tags it was matched with ("" before tags were required)
    model_version: Mapped[str] = mapped_column(String(64), default="")
    matched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Applicant(Base):
    """A normalised applicant: company suffixes and width differences folded away."""

    __tablename__ = "applicants"

    id: Mapped[int] = mapped_column(primary_key=True)
    normalized: Mapped[str] = mapped_column(String(300), unique=True)
    display_name: Mapped[str] = mapped_column(String(300))
    #: ISO country code where known (CN, JP, US, ...)
    country: Mapped[str | None] = mapped_column(String(2))
    province: Mapped[str | None] = mapped_column(String(40))
    city: Mapped[str | None] = mapped_column(String(40))


class DocumentApplicant(Base):
    __tablename__ = "document_applicants"

    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("applicants.id"), index=True)
    address: Mapped[str | None] = mapped_column(Text)


class DocumentTag(Base):
    """A sector (subfield "") or sub-field tag with its calibrated confidence and model version."""

    __tablename__ = "document_tags"
    __table_args__ = (UniqueConstraint("document_id", "model_version", "sector", "subfield"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    model_version: Mapped[str] = mapped_column(String(64), index=True)
    sector: Mapped[str] = mapped_column(String(40))
    subfield: Mapped[str] = mapped_column(String(80), default="")
    confidence: Mapped[float] = mapped_column(Float)
    #: True when the tag is assigned (confidence at or above its threshold)
    assigned: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    document: Mapped[Document] = relationship(back_populates="tags")


class SearchIndexEntry(Base):
    """The full-text index row of a document: jieba tokens of title, abstract, claims, applicants.

    ``tokens`` is the one token stream both backends search: SQLite indexes it in the FTS5 table
    ``search_fts`` (external content, kept in sync by triggers; created by the migration and
    invisible to these classes), PostgreSQL in ``tsv`` (``to_tsvector('simple', tokens)``, GIN
    index; NULL on SQLite). ``content_hash`` and ``tokenizer`` say which document version and
    tokenizer built the row, so the index stage only redoes new or changed documents.
    """

    __tablename__ = "search_index"
    __table_args__ = (Index("ix_search_index_tsv", "tsv", postgresql_using="gin"),)

    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    tokens: Mapped[str] = mapped_column(Text, default="")
    #: number of tokens (the BM25 document length)
    length: Mapped[int] = mapped_column(Integer, default=0)
    #: the count of the most frequent token, and the score cell of (length, max_tf)
    #: (:mod:`warning.search.cells`): what bounds the document's BM25 score
    max_tf: Mapped[int] = mapped_column(Integer, default=0)
    cell: Mapped[int] = mapped_column(Integer, default=0)
    #: the document's FTS5 rowid on SQLite: publication day, office, kind, cell and id in one
    #: integer (:func:`warning.search.cells.fts_key`)
    fts_key: Mapped[int] = mapped_column(BigInteger, default=0)
    content_hash: Mapped[str] = mapped_column(String(64))
    tokenizer: Mapped[str] = mapped_column(String(32))
    tsv: Mapped[str | None] = mapped_column(Text().with_variant(TSVECTOR(), "postgresql"))
    indexed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SearchTerm(Base):
    """How many indexed documents contain a token (its document frequency).

    Kept by the index stage with every row it writes, so IDF and the rarest words of a text
    are one indexed look-up on both backends instead of a count over the full-text index.
    """

    __tablename__ = "search_terms"

    term: Mapped[str] = mapped_column(String(200), primary_key=True)
    documents: Mapped[int] = mapped_column(Integer, default=0)


# --- enterprises, subscriptions and rules ----------------------------------------------------


class Enterprise(Base):
    __tablename__ = "enterprises"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    recipients: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    subscriptions: Mapped[list[Subscription]] = relationship(back_populates="enterprise")


class Subscription(Base):
    """What an enterprise watches, how often it wants mail, and when not to disturb it."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("enterprise_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[str] = mapped_column(
        ForeignKey("enterprises.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120), default="default")
    #: sectors, subfields, keywords, ipc, competitors, own_patents, products
    scope: Mapped[dict[str, Any]] = mapped_column(default=dict)
    frequency: Mapped[str] = mapped_column(String(16), default="immediate")
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    daily_cap: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    enterprise: Mapped[Enterprise] = relationship(back_populates="subscriptions")


class Rule(Base):
    """One immutable version of an expert rule; only ``status`` and its timestamps change."""

    __tablename__ = "rules"
    __table_args__ = (UniqueConstraint("rule_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(120), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16))
    #: draft | test | active | retired
    status: Mapped[str] = mapped_column(String(16), index=True)
    #: the validated rule definition as stored (immutable)
    definition: Mapped[dict[str, Any]] = mapped_column()
    checksum: Mapped[str] = mapped_column(String(64))
    source_file: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[dt.datetime | None] = mapped_column()
    retired_at: Mapped[dt.datetime | None] = mapped_column()


class Alert(Base):
    """A rule match, with everything needed to answer "why this alert"."""

    __tablename__ = "alerts"
    #: the console inbox: one enterprise's alerts, newest first (migration 0020_web)
    __table_args__ = (Index("ix_alerts_enterprise_created", "enterprise_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: unique per (rule, enterprise, subject): the same document never alerts twice
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    rule_pk: Mapped[int] = mapped_column(ForeignKey("rules.id"), index=True)
    rule_id: Mapped[str] = mapped_column(String(120), index=True)
    rule_version: Mapped[int] = mapped_column(Integer)
    enterprise_id: Mapped[str | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), index=True)
    legal_event_id: Mapped[int | None] = mapped_column(ForeignKey("legal_events.id"))
    severity: Mapped[str] = mapped_column(String(16))
    sector: Mapped[str | None] = mapped_column(String(40), index=True)
    #: new | test (recorded, never sent) | queued | suppressed | sent
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    #: rule title/version, matched conditions and terms, IPC overlap, scores, source, as_of
    explanation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    as_of: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class Silence(Base):
    """Mute a rule, an enterprise, or a document family until a date."""

    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: rule | enterprise | family
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(300))
    enterprise_id: Mapped[str | None] = mapped_column(ForeignKey("enterprises.id"))
    until: Mapped[dt.datetime] = mapped_column()
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class OutboxMessage(Base):
    """One message to one recipient; claimed, sent and marked by deliverers."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: (alert, recipient) or (digest, recipient): the same pair is never queued twice
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    #: alert | digest | operator
    kind: Mapped[str] = mapped_column(String(16), default="alert")
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), index=True)
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("digests.id"))
    enterprise_id: Mapped[str | None] = mapped_column(ForeignKey("enterprises.id"))
    recipient: Mapped[str] = mapped_column(String(320))
    #: messages with the same group key and due time are sent as one email
    group_key: Mapped[str | None] = mapped_column(String(300))
    #: pending | sending | sent | retrying | dead | held
    status: Mapped[str] = mapped_column(String(16), default="pending")
    due_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_at: Mapped[dt.datetime | None] = mapped_column()
    #: a ``sending`` row may be taken over after this (the claim's lease, sized to its batch)
    lease_until: Mapped[dt.datetime | None] = mapped_column()
    message_id: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[dt.datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Digest(Base):
    """A weekly risk digest build; approved before it is sent."""

    __tablename__ = "digests"
    __table_args__ = (
        # one scheduled draft per week, whoever runs the stage; reviewers may rebuild by hand
        Index(
            "uq_digests_week_scheduled",
            "week",
            unique=True,
            sqlite_where=text("scheduled"),
            postgresql_where=text("scheduled"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ISO week, e.g. 2026-W47
    week: Mapped[str] = mapped_column(String(10), index=True)
    #: draft | approved | sent
    status: Mapped[str] = mapped_column(String(16), default="draft")
    #: indicators, levels and notable documents per sector (the reproducible part)
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    html_path: Mapped[str | None] = mapped_column(Text)
    pdf_path: Mapped[str | None] = mapped_column(Text)
    input_hash: Mapped[str] = mapped_column(String(64), default="")
    built_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(120))
    approved_at: Mapped[dt.datetime | None] = mapped_column()
    sent_at: Mapped[dt.datetime | None] = mapped_column()
    #: built by the digest stage (at most one per week); False: an explicit `digest build`
    scheduled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


# --- crawling and operations -----------------------------------------------------------------


class CrawlRun(Base):
    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column()
    #: running | ok | failed | timeout | abandoned (its process died; closed at the next start)
    status: Mapped[str] = mapped_column(String(16), default="running", index=True)
    #: the process running it, ``host:pid:start-ticks`` (tells a live run from an abandoned one)
    owner: Mapped[str | None] = mapped_column(String(200))
    since: Mapped[dt.date | None] = mapped_column(Date)
    new: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    #: when the source last yielded a new or updated item (for staleness)
    last_item_at: Mapped[dt.datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)


class FetchState(Base):
    """Conditional-GET state per URL, so re-crawls do not re-download unchanged bulletins."""

    __tablename__ = "fetch_state"
    __table_args__ = (UniqueConstraint("source", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    fetched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class QuarantinedRecord(Base):
    """A malformed record kept with its raw bytes and the reason, for an operator to look at."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40), index=True)
    crawl_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"))
    location: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class JobRun(Base):
    """Run history of scheduled jobs and pipeline stages, shown by `ipwarn status`."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(80), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column()
    #: running | ok | failed | missed | timeout | not_built | skipped | abandoned
    status: Mapped[str] = mapped_column(String(16), index=True)
    #: the process running it, ``host:pid:start-ticks`` (tells a live run from an abandoned one)
    owner: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class AppState(Base):
    """Small named values: the active classifier version, operator-alert watermarks."""

    __tablename__ = "app_state"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- web console: accounts, sessions, API tokens, audit, feedback -----------------------------


class User(Base):
    """A console account with exactly one role; an ``enterprise`` user is bound to one tenant."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: stored lower-cased: the login name
    email: Mapped[str] = mapped_column(String(320), unique=True)
    #: admin | bureau | expert | enterprise
    role: Mapped[str] = mapped_column(String(16))
    enterprise_id: Mapped[str | None] = mapped_column(
        ForeignKey("enterprises.id", ondelete="CASCADE"), index=True
    )
    #: argon2id hash (argon2-cffi's encoded form, parameters included)
    password_hash: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column()


class WebSession(Base):
    """A server-side login session; the cookie holds a random id, the row its SHA-256."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: the synchronizer token every state-changing form of this session must carry
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: absolute end, whatever the activity
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    address: Mapped[str] = mapped_column(String(64), default="")


class ApiToken(Base):
    """A Bearer token for ``/api/v1``; only its SHA-256 is stored, shown once when made."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: the first characters, so a user can tell tokens apart in a listing
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()


class AuditEntry(Base):
    """Who changed what and when (console, API, CLI user commands and signed mail links)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    #: e-mail of the user, "link:<enterprise>" for a signed mail link, "cli:<login>" for commands
    actor: Mapped[str] = mapped_column(String(320))
    #: e.g. subscription.update, silence.add, feedback.set, rule.activate, digest.approve
    action: Mapped[str] = mapped_column(String(60), index=True)
    target: Mapped[str] = mapped_column(String(300), default="")
    enterprise_id: Mapped[str | None] = mapped_column(String(80), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    address: Mapped[str] = mapped_column(String(64), default="")


class LoginAttempt(Base):
    """Failed logins, counted per account and per address over a window (throttling)."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AlertFeedback(Base):
    """An enterprise's verdict on one alert (the latest one counts; the audit log keeps all)."""

    __tablename__ = "alert_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), unique=True)
    #: useful | not_relevant | known
    verdict: Mapped[str] = mapped_column(String(16), index=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    #: page | link | api
    via: Mapped[str] = mapped_column(String(8))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AlertRead(Base):
    """An alert a console user has opened (the inbox's unread filter)."""

    __tablename__ = "alert_reads"

    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    read_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
