"""idempotency records keep no API key: keys already stored are withheld

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 14:30:00.000000

A recorded answer to a key-issuing create held the key in the clear, and a retry (from anyone
behind the same address) got it. Keys in stored answers become null; a retry of such an answer
gets 409 key-shown-once (registry.http.idempotency).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = r'"rk_[A-Za-z0-9_-]{20,100}"'


def withhold_stored_keys(conn: sa.Connection) -> None:
    conn.execute(
        sa.text(
            "UPDATE idempotency_record SET key_withheld = true, body = convert_to(regexp_replace("
            "convert_from(body, 'UTF8'), :key, 'null', 'g'), 'UTF8') "
            "WHERE convert_from(body, 'UTF8') ~ :key"
        ),
        {"key": KEY},
    )


def upgrade() -> None:
    op.add_column(
        "idempotency_record",
        sa.Column("key_withheld", sa.Boolean(), server_default="false", nullable=False),
    )
    withhold_stored_keys(op.get_bind())


def downgrade() -> None:
    op.drop_column("idempotency_record", "key_withheld")
