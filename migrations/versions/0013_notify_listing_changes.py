"""notify API processes when listings, their contacts or organizations change

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27 03:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What searches and matches show comes from these tables (an organization's verification decides
# whether its listings are public); registry.changes.CHANNEL listens for this channel.
TABLES = ("listing", "contact", "organization")
CHANNEL = "registry_listings"


def upgrade() -> None:
    # Once per statement, whatever it touched (none is fine: a spare notification only empties a
    # cache). PostgreSQL delivers it when the transaction commits, once per transaction.
    op.execute(
        f"""
        CREATE FUNCTION registry_listings_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', '');
            RETURN NULL;
        END $$
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_notify_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION registry_listings_changed()"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify_change ON {table}")
    op.execute("DROP FUNCTION IF EXISTS registry_listings_changed()")
