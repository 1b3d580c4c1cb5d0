"""stewards suspend and reinstate organizations

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 17:00:00.000000

`verification_status` gains 'suspended' (every rule that makes listings public asks for
'verified', so none needs to change); when and why are kept until reinstated.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("organization", sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("organization", sa.Column("suspension_reason", sa.String(length=1000), nullable=True))


def downgrade() -> None:
    op.execute(
        "UPDATE organization SET verification_status = CASE WHEN verified_at IS NULL "
        "THEN 'unverified' ELSE 'verified' END WHERE verification_status = 'suspended'"
    )
    op.drop_column("organization", "suspension_reason")
    op.drop_column("organization", "suspended_at")
