"""the listings' version, read by every cached answer: a count of committed changes

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 16:00:00.000000

Cached searches and matches were told of changes by LISTEN/NOTIFY (0013); a process that heard
late served the old state after the write had been answered. Each API process now reads the
version at the start of every answer it may serve from a cache (registry.changes). The version is
a count of the committed statements that wrote listings, contacts, organizations or vocabulary
terms: each inserts a row into change_tick (no lock to wait for), so a committed change moves the
count in every snapshot taken after it, whatever order writers commit in. Now and then a writer
folds the rows into change_base (the sum stays the same in every snapshot).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("listing", "contact", "organization", "taxonomy_term")
# pg_try_advisory_xact_lock key of the folding (one writer at a time folds; the others skip it).
FOLD_LOCK = 7_160_018

CHANGED = f"""
CREATE FUNCTION registry_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO change_tick DEFAULT VALUES;
    IF random() < 0.05 AND pg_try_advisory_xact_lock({FOLD_LOCK}) THEN
        WITH folded AS (DELETE FROM change_tick RETURNING weight)
        UPDATE change_base SET total = total + (SELECT coalesce(sum(weight), 0) FROM folded)
        WHERE id = 1;
    END IF;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    for table in ("listing", "contact", "organization"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify_change ON {table}")
    op.execute("DROP FUNCTION IF EXISTS registry_listings_changed()")
    op.create_table(
        "change_tick",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("weight", sa.BigInteger(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_tick")),
    )
    op.create_table(
        "change_base",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_change_base_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_base")),
    )
    op.execute("INSERT INTO change_base (id, total) VALUES (1, 0)")
    op.execute(CHANGED)
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION registry_changed()"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_changed ON {table}")
    op.execute("DROP FUNCTION IF EXISTS registry_changed()")
    op.drop_table("change_base")
    op.drop_table("change_tick")
