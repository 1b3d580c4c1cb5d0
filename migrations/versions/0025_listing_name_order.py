"""the directory in name order: an index HSDS reads it by, page after page or streamed

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04 20:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_listing_name_id", "listing", ["name", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_listing_name_id", table_name="listing")
