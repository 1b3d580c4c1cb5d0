"""introduction tally per report dimension instead of per combination

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 07:40:00.000000

The partnerships report reads introductions by partner kind, by region and by quarter, each with
its status, and nothing else reads the tally. Kept per combination (kind x region x quarter x
status, migration 0007), a national directory's tally has over 100,000 rows that every report
request summed three times; kept per dimension it has one row per (kind | region | quarter,
status): about 9,000 at 100,000 listings, and each dimension reads only its own.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_QUARTER = """to_char(i.created_at AT TIME ZONE 'UTC', 'YYYY-"Q"Q')"""
_KEYS = "dimension, partner_kind, country, region, quarter, status"


def _fold(counted: str) -> str:
    """Fold rows (kind, country, region, quarter, status, n) into the three dimensions' tallies:
    grouped first (one statement never touches a tally row twice), zero changes dropped, and
    ordered (concurrent writers take the tally rows' locks in the same order)."""
    return f"""
        INSERT INTO introduction_tally ({_KEYS}, n)
        SELECT d.dimension, d.partner_kind, d.country, d.region, d.quarter, c.status, sum(c.n)
        FROM ({counted}) AS c(kind, country, region, quarter, status, n)
        CROSS JOIN LATERAL (VALUES
            ('partner_kind', c.kind, NULL, NULL, NULL),
            ('region', NULL, c.country, c.region, NULL),
            ('quarter', NULL, NULL, NULL, c.quarter)
        ) AS d(dimension, partner_kind, country, region, quarter)
        GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(c.n) <> 0 ORDER BY 1, 2, 3, 4, 5, 6
        ON CONFLICT ON CONSTRAINT uq_introduction_tally_dimension
        DO UPDATE SET n = introduction_tally.n + excluded.n;"""


def _counted(rows: str, sign: str) -> str:
    return f"""
        SELECT l.kind, l.country, l.region, {_QUARTER}, i.status, {sign}count(*)
        FROM {rows} i JOIN listing l ON l.id = i.listing_id
        GROUP BY 1, 2, 3, 4, 5"""


# An update is folded in one statement (rows as they were out, as they are in), so that every
# statement takes its tally rows' locks in one order: the partner kind's and quarter's rows are
# shared by many introductions, and two upserts (old statuses, then new) would lock them in an
# order another statement's single upsert does not follow. Changes that count nothing (a status
# kept, a message edited) lock nothing.
_SYNC = f"""
    CREATE OR REPLACE FUNCTION introduction_tally_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN {_fold(_counted("new_rows", ""))}
        ELSIF TG_OP = 'DELETE' THEN {_fold(_counted("old_rows", "-"))}
        ELSE {_fold(_counted("old_rows", "-") + " UNION ALL " + _counted("new_rows", ""))}
        END IF;
        RETURN NULL;
    END $$"""

# Introductions are counted under their listing's current kind and region: a listing that moves
# takes its introductions' counts along (the quarter's rows net to zero and are left alone).
_MOVED = f"""
    CREATE OR REPLACE FUNCTION introduction_tally_listing_moved() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {
    _fold(
        f'''
            SELECT o.kind, o.country, o.region, {_QUARTER}, i.status, -count(*)
            FROM old_rows o JOIN new_rows w ON w.id = o.id
            JOIN introduction i ON i.listing_id = o.id
            WHERE (o.kind, o.country, o.region) IS DISTINCT FROM (w.kind, w.country, w.region)
            GROUP BY 1, 2, 3, 4, 5
            UNION ALL
            SELECT w.kind, w.country, w.region, {_QUARTER}, i.status, count(*)
            FROM old_rows o JOIN new_rows w ON w.id = o.id
            JOIN introduction i ON i.listing_id = o.id
            WHERE (o.kind, o.country, o.region) IS DISTINCT FROM (w.kind, w.country, w.region)
            GROUP BY 1, 2, 3, 4, 5'''
    )
}
        RETURN NULL;
    END $$"""


def upgrade() -> None:
    # Both functions are replaced before the table changes under them; the triggers stay.
    op.execute("LOCK TABLE introduction, listing IN SHARE ROW EXCLUSIVE MODE")
    op.execute("DROP TABLE introduction_tally")
    op.create_table(
        "introduction_tally",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(length=20), nullable=False),
        sa.Column("partner_kind", sa.String(length=40), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("quarter", sa.String(length=7), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_introduction_tally")),
        sa.UniqueConstraint(
            "dimension",
            "partner_kind",
            "country",
            "region",
            "quarter",
            "status",
            name=op.f("uq_introduction_tally_dimension"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.execute(_SYNC)
    op.execute(_MOVED)
    op.execute(_fold(_counted("introduction", "")))


# 0007's tally, for downgrade: one row per (kind, country, region, quarter, status).
_UPSERT_0007 = """
    ON CONFLICT ON CONSTRAINT uq_introduction_tally_partner_kind
    DO UPDATE SET n = introduction_tally.n + excluded.n"""


def _apply_0007(rows: str, sign: str) -> str:
    return f"""
        INSERT INTO introduction_tally (partner_kind, country, region, quarter, status, n)
        SELECT l.kind, l.country, l.region, {_QUARTER}, i.status, {sign} count(*)
        FROM {rows} i JOIN listing l ON l.id = i.listing_id
        GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        {_UPSERT_0007};"""


def downgrade() -> None:
    op.execute("LOCK TABLE introduction, listing IN SHARE ROW EXCLUSIVE MODE")
    op.execute("DROP TABLE introduction_tally")
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
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION introduction_tally_sync() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN {_apply_0007("old_rows", "-")}
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN {_apply_0007("new_rows", "")}
            END IF;
            RETURN NULL;
        END $$"""
    )
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION introduction_tally_listing_moved() RETURNS trigger LANGUAGE plpgsql AS $$
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
            {_UPSERT_0007};
            RETURN NULL;
        END $$"""
    )
    op.execute(
        "INSERT INTO introduction_tally (partner_kind, country, region, quarter, status, n) "
        f"SELECT l.kind, l.country, l.region, {_QUARTER}, i.status, count(*) "
        "FROM introduction i JOIN listing l ON l.id = i.listing_id GROUP BY 1, 2, 3, 4, 5"
    )
