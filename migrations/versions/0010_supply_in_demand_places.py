"""verified partners counted in demand places, for the coverage report's shortcut

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 16:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Demand as in 0008; supply: a verified organization's active, live clinician, evaluator or
# trainer with coordinates, counted in the same ~10 km cells. A place whose own cell holds one
# has it within 8 km (the cell's half diagonal): the coverage report needs no search there.
_KINDS = ("clinician", "evaluator", "trainer")
_COUNTS = ("programs", "initiators", "clinicians", "evaluators", "trainers")
_CELL = "round(l.latitude * 10) / 10, round(l.longitude * 10) / 10"
_PROGRAM = "l.kind = 'peer_program' AND l.archived_at IS NULL"
_SUPPLY = "l.archived_at IS NULL AND l.status = 'active'"


def _add(select: str, counts: Sequence[str] = _COUNTS) -> str:
    """Fold (country, region, lat, lon, *counts) rows into the tally; grouped first (one statement
    never touches a row twice) and ordered (concurrent writers lock rows in the same order)."""
    columns = ", ".join(counts)
    return f"""
        INSERT INTO demand_place (country, region, lat, lon, {columns})
        SELECT country, region, lat, lon, {", ".join(f"sum({c})" for c in counts)}
        FROM ({select}) AS d(country, region, lat, lon, {columns})
        GROUP BY 1, 2, 3, 4 HAVING {" OR ".join(f"sum({c}) <> 0" for c in counts)} ORDER BY 1, 2, 3, 4
        ON CONFLICT ON CONSTRAINT uq_demand_place_country DO UPDATE
        SET {", ".join(f"{c} = demand_place.{c} + excluded.{c}" for c in counts)};"""


def _counts(weight: str) -> str:
    """A listing's counts (programs, initiators, clinicians, evaluators, trainers), times `weight`."""
    program = f"CASE WHEN {_PROGRAM} THEN {weight} ELSE 0 END"
    supply = [f"CASE WHEN l.kind = '{kind}' AND {_SUPPLY} THEN {weight} ELSE 0 END" for kind in _KINDS]
    return ", ".join([program, "0", *supply])


def _listings(rows: str, sign: str) -> str:
    return f"""
        SELECT l.country, l.region, {_CELL}, {_counts(f"{sign}1")}
        FROM {rows} l JOIN organization o ON o.id = l.organization_id
        WHERE l.latitude IS NOT NULL AND o.verification_status = 'verified'
          AND ({_PROGRAM} OR (l.kind IN ('clinician', 'evaluator', 'trainer') AND {_SUPPLY}))"""


_LISTINGS_FUNCTION = f"""
    CREATE OR REPLACE FUNCTION demand_place_listings() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN {_add(_listings("old_rows", "-"))}
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN {_add(_listings("new_rows", ""))}
        END IF;
        RETURN NULL;
    END $$"""

# An organization verified (or no longer) adds (or removes) all its programs and partners.
_WEIGHT = (
    "(CASE WHEN n.verification_status = 'verified' THEN 1 ELSE 0 END"
    " - CASE WHEN o.verification_status = 'verified' THEN 1 ELSE 0 END)"
)
_ORGANIZATIONS_FUNCTION = f"""
    CREATE OR REPLACE FUNCTION demand_place_organizations() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {
    _add(
        f'''
            SELECT l.country, l.region, {_CELL}, {_counts(_WEIGHT)}
            FROM old_rows o JOIN new_rows n ON n.id = o.id
            JOIN listing l ON l.organization_id = n.id
            WHERE o.verification_status IS DISTINCT FROM n.verification_status
              AND l.latitude IS NOT NULL'''
    )
}
        RETURN NULL;
    END $$"""


def upgrade() -> None:
    for kind in _KINDS:
        # The initiators' trigger (0008) leaves these out: they start at zero.
        op.add_column(
            "demand_place", sa.Column(f"{kind}s", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.execute(_LISTINGS_FUNCTION)
    op.execute(_ORGANIZATIONS_FUNCTION)
    op.execute(
        _add(
            f"""
            SELECT l.country, l.region, {_CELL}, {_counts("1")}
            FROM listing l JOIN organization o ON o.id = l.organization_id
            WHERE l.latitude IS NOT NULL AND o.verification_status = 'verified'
              AND l.kind IN ('clinician', 'evaluator', 'trainer') AND {_SUPPLY}"""
        )
    )


def downgrade() -> None:
    # Back to 0008's functions, which count demand only.
    demand = ("programs", "initiators")
    programs = f"""
        SELECT l.country, l.region, {_CELL}, {{sign}}1, 0
        FROM {{rows}} l JOIN organization o ON o.id = l.organization_id
        WHERE {_PROGRAM} AND l.latitude IS NOT NULL AND o.verification_status = 'verified'"""
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION demand_place_listings() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN {_add(programs.format(sign="-", rows="old_rows"), demand)}
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN {_add(programs.format(sign="", rows="new_rows"), demand)}
            END IF;
            RETURN NULL;
        END $$"""
    )
    changed = f"""
        SELECT l.country, l.region, {_CELL}, {_WEIGHT}, 0
        FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN listing l ON l.organization_id = n.id
        WHERE o.verification_status IS DISTINCT FROM n.verification_status
          AND {_PROGRAM} AND l.latitude IS NOT NULL"""
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION demand_place_organizations() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {_add(changed, demand)}
            RETURN NULL;
        END $$"""
    )
    for kind in _KINDS:
        op.drop_column("demand_place", f"{kind}s")
