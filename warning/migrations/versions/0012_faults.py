"""nothing lost under faults: match progress by identity, one scheduled digest per week

Revision ID: 0012_faults
Revises: 0001_initial

``match_marks`` (one row per matched document: the content hash it was matched at) and
``legal_events.matched_at`` replace the time-window watermark; documents and events the old
watermark (``app_state`` ``rules.match_watermark``) already covered are marked matched, so the
upgrade raises no alert twice and none anew. ``digests.scheduled`` with a partial unique index:
at most one stage-built draft per ISO week.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_faults"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "match_marks",
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_match_marks_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_match_marks")),
    )
    with op.batch_alter_table("legal_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("matched_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_legal_events_matched_at"), ["matched_at"], unique=False)
    with op.batch_alter_table("digests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("scheduled", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_index(
        "uq_digests_week_scheduled",
        "digests",
        ["week"],
        unique=True,
        sqlite_where=sa.text("scheduled"),
        postgresql_where=sa.text("scheduled"),
    )
    _adopt_watermark()


def _adopt_watermark() -> None:
    """Mark what the old watermark covered as matched (its re-check window is gone)."""
    bind = op.get_bind()
    app_state = sa.table("app_state", sa.column("key", sa.String), sa.column("value", sa.JSON))
    value = bind.execute(
        sa.select(app_state.c.value).where(app_state.c.key == "rules.match_watermark")
    ).scalar()
    if not value:
        return
    now = sa.func.current_timestamp()
    documents = sa.table(
        "documents",
        sa.column("id", sa.Integer),
        sa.column("content_hash", sa.String),
        sa.column("is_stub", sa.Boolean),
    )
    marks = sa.table(
        "match_marks",
        sa.column("document_id", sa.Integer),
        sa.column("content_hash", sa.String),
        sa.column("model_version", sa.String),
        sa.column("matched_at", sa.DateTime),
    )
    bind.execute(
        marks.insert().from_select(
            ["document_id", "content_hash", "model_version", "matched_at"],
            sa.select(documents.c.id, documents.c.content_hash, sa.literal(""), now).where(
                documents.c.id <= int(value.get("document_id") or 0),
                documents.c.is_stub.is_(False),
            ),
        )
    )
    events = sa.table("legal_events", sa.column("id", sa.Integer), sa.column("matched_at"))
    bind.execute(
        events.update()
        .where(events.c.id <= int(value.get("legal_event_id") or 0))
        .values(matched_at=now)
    )


def downgrade() -> None:
    op.drop_index("uq_digests_week_scheduled", table_name="digests")
    with op.batch_alter_table("digests", schema=None) as batch_op:
        batch_op.drop_column("scheduled")
    with op.batch_alter_table("legal_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_legal_events_matched_at"))
        batch_op.drop_column("matched_at")
    op.drop_table("match_marks")
