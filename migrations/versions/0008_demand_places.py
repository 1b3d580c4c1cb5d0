"""demand places for the coverage report

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 14:50:00.000000
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A listing counts as demand when it is a public program with a place: a verified organization's
# live peer program with coordinates. Its cell: latitude and longitude rounded to 0.1 degree.
_PROGRAM = "l.kind = 'peer_program' AND l.archived_at IS NULL AND l.latitude IS NOT NULL"
_CELL = "round(l.latitude * 10) / 10, round(l.longitude * 10) / 10"
_UPSERT = """
    GROUP BY 1, 2, 3, 4 HAVING sum(p) <> 0 OR sum(i) <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT ON CONSTRAINT uq_demand_place_country DO UPDATE
    SET programs = demand_place.programs + excluded.programs,
        initiators = demand_place.initiators + excluded.initiators"""


def _add(select: str) -> str:
    """Fold (country, region, lat, lon, p, i) rows into the tally; grouped first (one statement
    never touches a row twice) and ordered (concurrent writers lock rows in the same order)."""
    return f"""
        INSERT INTO demand_place (country, region, lat, lon, programs, initiators)
        SELECT country, region, lat, lon, sum(p), sum(i) FROM ({select}) AS d(country, region, lat, lon, p, i)
        {_UPSERT};"""


def _programs(rows: str, sign: str) -> str:
    return f"""
        SELECT l.country, l.region, {_CELL}, {sign}1, 0
        FROM {rows} l JOIN organization o ON o.id = l.organization_id
        WHERE {_PROGRAM} AND o.verification_status = 'verified'"""


def _initiators(rows: str, sign: str) -> str:
    return f"""
        SELECT l.country, l.region, {_CELL}, 0, {sign}1
        FROM {rows} l WHERE l.latitude IS NOT NULL"""


def _function(name: str, part: Callable[[str, str], str]) -> str:
    old_part = part("old_rows", "-")
    new_part = part("new_rows", "")
    return f"""
        CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN {_add(old_part)}
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN {_add(new_part)}
            END IF;
            RETURN NULL;
        END $$"""


def _triggers(table: str, function: str) -> None:
    op.execute(
        f"CREATE TRIGGER {function}_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
    )
    op.execute(
        f"CREATE TRIGGER {function}_update AFTER UPDATE ON {table} "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
    )
    op.execute(
        f"CREATE TRIGGER {function}_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
    )


def upgrade() -> None:
    op.create_table(
        "demand_place",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("programs", sa.BigInteger(), nullable=False),
        sa.Column("initiators", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_demand_place")),
        sa.UniqueConstraint(
            "country",
            "region",
            "lat",
            "lon",
            name=op.f("uq_demand_place_country"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.execute(_function("demand_place_listings", _programs))
    _triggers("listing", "demand_place_listings")
    op.execute(_function("demand_place_initiators", _initiators))
    _triggers("initiator", "demand_place_initiators")
    # An organization verified (or no longer) adds (or removes) all its public programs.
    op.execute(
        f"""
        CREATE FUNCTION demand_place_organizations() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {
            _add(
                f'''
                SELECT l.country, l.region, {_CELL},
                       CASE WHEN n.verification_status = 'verified' THEN 1 ELSE 0 END
                       - CASE WHEN o.verification_status = 'verified' THEN 1 ELSE 0 END, 0
                FROM old_rows o JOIN new_rows n ON n.id = o.id
                JOIN listing l ON l.organization_id = n.id
                WHERE o.verification_status IS DISTINCT FROM n.verification_status AND {_PROGRAM}'''
            )
        }
            RETURN NULL;
        END $$"""
    )
    op.execute(
        "CREATE TRIGGER demand_place_organizations AFTER UPDATE ON organization "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION demand_place_organizations()"
    )
    op.execute(_add(f"{_programs('listing', '')} UNION ALL {_initiators('initiator', '')}"))


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS demand_place_organizations ON organization")
    for table, function in (("listing", "demand_place_listings"), ("initiator", "demand_place_initiators")):
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {function}_{event} ON {table}")
    for function in ("demand_place_organizations", "demand_place_listings", "demand_place_initiators"):
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.drop_table("demand_place")
