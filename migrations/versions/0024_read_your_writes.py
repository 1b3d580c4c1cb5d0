"""read your writes: where the primary's WAL stood after a key holder's last write

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_key", sa.Column("last_write_lsn", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("api_key", "last_write_lsn")
