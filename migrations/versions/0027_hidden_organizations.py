"""the ids of organizations that are not public, alone: a listing's owner is looked up there

Reads of many listings (a place's, matching's lists) check each listing's organization against
these few instead of reading the organization's row (listings.visibility.hidden_owner_sql).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-05 17:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_organization_hidden",
        "organization",
        ["id"],
        postgresql_where=sa.text("verification_status <> 'verified'"),
    )


def downgrade() -> None:
    op.drop_index("ix_organization_hidden", table_name="organization")
