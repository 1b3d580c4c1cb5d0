"""report tallies and covering indexes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 13:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_QUARTER = """to_char(i.created_at AT TIME ZONE 'UTC', 'YYYY-"Q"Q')"""
_UPSERT = """
    ON CONFLICT ON CONSTRAINT uq_introduction_tally_partner_kind
    DO UPDATE SET n = introduction_tally.n + excluded.n"""
_SELECT_ALL = f"""
    SELECT l.kind, l.country, l.region, {_QUARTER}, i.status, count(*)
    FROM introduction i JOIN listing l ON l.id = i.listing_id
    GROUP BY 1, 2, 3, 4, 5"""


def _apply(rows: str, sign: str) -> str:
    # Grouped first, so one statement never touches a tally row twice; ordered, so concurrent
    # writers take the tally rows' locks in the same order.
    return f"""
        INSERT INTO introduction_tally (partner_kind, country, region, quarter, status, n)
        SELECT l.kind, l.country, l.region, {_QUARTER}, i.status, {sign} count(*)
        FROM {rows} i JOIN listing l ON l.id = i.listing_id
        GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        {_UPSERT};"""


def upgrade() -> None:
    op.create_table(
        "introduction_tally",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_kind", sa.String(length=40), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("quarter", sa.String(length=7), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_introduction_tally")),
        sa.UniqueConstraint(
            "partner_kind",
            "country",
            "region",
            "quarter",
            "status",
            name=op.f("uq_introduction_tally_partner_kind"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    # Introductions change one statement at a time (an API call, an expiry sweep, a COPY chunk):
    # statement-level triggers with transition tables fold each statement into the tally.
    op.execute(
        f"""
        CREATE FUNCTION introduction_tally_sync() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN {_apply("old_rows", "-")}
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN {_apply("new_rows", "")}
            END IF;
            RETURN NULL;
        END $$"""
    )
    op.execute(
        "CREATE TRIGGER introduction_tally_insert AFTER INSERT ON introduction "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION introduction_tally_sync()"
    )
    op.execute(
        "CREATE TRIGGER introduction_tally_update AFTER UPDATE ON introduction "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION introduction_tally_sync()"
    )
    op.execute(
        "CREATE TRIGGER introduction_tally_delete AFTER DELETE ON introduction "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION introduction_tally_sync()"
    )
    # Introductions are counted under their listing's current region: a listing that moves
    # takes its introductions' counts along.
    op.execute(
        f"""
        CREATE FUNCTION introduction_tally_listing_moved() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO introduction_tally (partner_kind, country, region, quarter, status, n)
            SELECT kind, country, region, quarter, status, sum(n) FROM (
                SELECT o.kind, o.country, o.region, {_QUARTER} AS quarter, i.status, -count(*) AS n
                FROM old_rows o JOIN new_rows w ON w.id = o.id
                JOIN introduction i ON i.listing_id = o.id
                WHERE (o.kind, o.country, o.region) IS DISTINCT FROM (w.kind, w.country, w.region)
                GROUP BY 1, 2, 3, 4, 5
                UNION ALL
                SELECT w.kind, w.country, w.region, {_QUARTER}, i.status, count(*)
                FROM old_rows o JOIN new_rows w ON w.id = o.id
                JOIN introduction i ON i.listing_id = o.id
                WHERE (o.kind, o.country, o.region) IS DISTINCT FROM (w.kind, w.country, w.region)
                GROUP BY 1, 2, 3, 4, 5
            ) moved
            GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
            {_UPSERT};
            RETURN NULL;
        END $$"""
    )
    op.execute(
        "CREATE TRIGGER introduction_tally_listing_moved AFTER UPDATE ON listing "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION introduction_tally_listing_moved()"
    )
    op.execute(
        f"INSERT INTO introduction_tally (partner_kind, country, region, quarter, status, n) {_SELECT_ALL}"
    )
    # The program columns every report reads, in one narrow index: counting 100,000 programs
    # becomes an index-only scan instead of a pass over the wide listing rows.
    op.execute(
        "CREATE INDEX ix_listing_program_facts ON listing (organization_id) INCLUDE "
        "(id, side, delivery, country, region, evaluation_stage, status, formats, populations, "
        "latitude, longitude, clinical_partner_id, clinical_partner_name) "
        "WHERE kind = 'peer_program' AND archived_at IS NULL"
    )
    op.execute(
        "CREATE INDEX ix_evaluation_record_facts ON evaluation_record (listing_id) INCLUDE "
        "(recorded_at, stage, design, outcomes)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_evaluation_record_facts")
    op.execute("DROP INDEX IF EXISTS ix_listing_program_facts")
    op.execute("DROP TRIGGER IF EXISTS introduction_tally_listing_moved ON listing")
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS introduction_tally_{event} ON introduction")
    op.execute("DROP FUNCTION IF EXISTS introduction_tally_listing_moved()")
    op.execute("DROP FUNCTION IF EXISTS introduction_tally_sync()")
    op.drop_table("introduction_tally")
