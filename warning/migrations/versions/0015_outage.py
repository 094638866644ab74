"""outage semantics and orphan clean-up: outbox lease per claim, run owners

Revision ID: 0015_outage
Revises: 0012_faults
Create Date: 2026-12-01 07:40:00

* ``outbox.lease_until``: when a ``sending`` row may be taken over (lease sized to the batch
  actually claimed, instead of one fixed 27-minute lease);
* ``crawl_runs.owner``, ``job_runs.owner``: the process running the row, so that rows left
  ``running`` by a killed process are closed as ``abandoned`` at the next start; both status
  columns get an index (that check runs at every start).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_outage"
down_revision: str | None = "0012_faults"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f("ix_crawl_runs_status"), ["status"], unique=False)
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f("ix_job_runs_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_runs_status"))
        batch_op.drop_column("owner")
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crawl_runs_status"))
        batch_op.drop_column("owner")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("lease_until")
