"""per-kind location indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 12:19:47.938603
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


KINDS = ("peer_program", "clinician", "treatment_program", "evaluator", "trainer")


def upgrade() -> None:
    # One GiST index per kind over live listings: "the nearest clinicians" and "is there any
    # trainer within 50 km" then search only that kind instead of every listing in the box.
    for kind in KINDS:
        op.execute(
            f"CREATE INDEX ix_listing_earth_{kind} ON listing USING gist (ll_to_earth(latitude, longitude)) "
            f"WHERE kind = '{kind}' AND archived_at IS NULL AND status = 'active' AND latitude IS NOT NULL"
        )


def downgrade() -> None:
    for kind in KINDS:
        op.execute(f"DROP INDEX IF EXISTS ix_listing_earth_{kind}")
