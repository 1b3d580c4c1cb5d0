"""reports that cannot be differenced: record keys for the cell-key method, people counts released
once per period, initiators who choose to be seen

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 18:00:00.000000

Every initiator and introduction gets a secret random record key (registry.reports.perturbation);
existing ones get theirs now. Counts of people are read from `report_snapshot`, taken once per
release period and shared by every process (registry.reports.releases). Initiators are listed to
nearby programs only when they opt in (`visible_to_programs`, off by default).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORD_KEY = sa.text("floor(random() * 256)::smallint")


def upgrade() -> None:
    for table in ("initiator", "introduction"):
        op.add_column(
            table, sa.Column("report_key", sa.SmallInteger(), server_default=RECORD_KEY, nullable=False)
        )
    op.add_column(
        "initiator", sa.Column("visible_to_programs", sa.Boolean(), server_default="false", nullable=False)
    )
    op.create_table(
        "report_snapshot",
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("measure", sa.String(length=40), nullable=False),
        sa.Column("key", sa.ARRAY(sa.String(length=200)), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("key_sum", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("period_start", "measure", "key", name=op.f("pk_report_snapshot")),
    )


def downgrade() -> None:
    op.drop_table("report_snapshot")
    op.drop_column("initiator", "visible_to_programs")
    for table in ("initiator", "introduction"):
        op.drop_column(table, "report_key")
