"""per-kind location indexes cover listings of any status

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 00:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("peer_program", "clinician", "treatment_program", "evaluator", "trainer")
_LOCATED = "archived_at IS NULL AND latitude IS NOT NULL"


def _index(kind: str, where: str) -> str:
    return (
        f"CREATE INDEX ix_listing_earth_{kind} ON listing USING gist (ll_to_earth(latitude, longitude)) "
        f"WHERE kind = '{kind}' AND {where}"
    )


def upgrade() -> None:
    # 0006's indexes held active listings only, so a search of one kind that shows every status
    # (`GET /programs?near=`) fell back to the index of all kinds and read every other kind's rows
    # in the box. Without the status they serve both; the matcher and the coverage upkeep, which
    # want active ones, filter the few others out.
    for kind in KINDS:
        op.execute(f"DROP INDEX IF EXISTS ix_listing_earth_{kind}")
        op.execute(_index(kind, _LOCATED))


def downgrade() -> None:
    for kind in KINDS:
        op.execute(f"DROP INDEX IF EXISTS ix_listing_earth_{kind}")
        op.execute(_index(kind, f"{_LOCATED} AND status = 'active'"))
