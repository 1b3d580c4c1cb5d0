"""evaluation tally for the evidence report

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 16:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A program is public when it is a live peer program of a verified organization.
_LIVE = "l.kind = 'peer_program' AND l.archived_at IS NULL"
_QUARTER = """to_char(s.recorded_at AT TIME ZONE 'UTC', 'YYYY-"Q"Q')"""


def _add(parts: str) -> str:
    """Fold the contributions of a set of records into the tally. `parts` defines `weights`
    (listing id, w: +1 counts in, -1 counts out) and one or more record sets `records_k`
    (listing_id, recorded_at, stage, design, outcomes) with a sign each, named in `signed`.
    Grouped first (one statement never touches a row twice) and ordered (concurrent writers lock
    rows in the same order)."""
    return f"""
        INSERT INTO evaluation_tally (fact, code, quarter, n)
        WITH {parts},
        contribution (fact, code, quarter, n) AS (
            SELECT 'transition', s.stage, {_QUARTER}, s.sign * w.w
            FROM signed s JOIN weights w ON w.id = s.listing_id
            UNION ALL
            SELECT 'design', d.design, '', d.sign * w.w
            FROM (SELECT DISTINCT set_id, sign, listing_id, design FROM signed WHERE design IS NOT NULL) d
            JOIN weights w ON w.id = d.listing_id
            UNION ALL
            SELECT 'outcome', d.value, '', d.sign * w.w
            FROM (SELECT DISTINCT s.set_id, s.sign, s.listing_id, o.value
                  FROM signed s CROSS JOIN unnest(s.outcomes) AS o(value)) d
            JOIN weights w ON w.id = d.listing_id
        )
        SELECT fact, code, quarter, sum(n) FROM contribution
        GROUP BY 1, 2, 3 HAVING sum(n) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT ON CONSTRAINT uq_evaluation_tally_fact DO UPDATE
        SET n = evaluation_tally.n + excluded.n;"""


_RECORD = "listing_id, recorded_at, stage, design, outcomes"

# Records written: every program touched is counted again, with its records as they are now
# (+1) and as they were before the statement (-1: now, less the new rows, plus the old ones), so
# that a program with two records of one design still counts once for it.
_RECORDS_CHANGED = f"""
    touched AS (SELECT listing_id FROM new_rows UNION SELECT listing_id FROM old_rows),
    weights AS (
        SELECT l.id, 1 AS w FROM listing l JOIN organization o ON o.id = l.organization_id
        WHERE l.id IN (SELECT listing_id FROM touched) AND {_LIVE} AND o.verification_status = 'verified'
    ),
    now_rows AS (SELECT id, {_RECORD} FROM evaluation_record WHERE listing_id IN (SELECT id FROM weights)),
    signed AS (
        SELECT 1 AS set_id, 1 AS sign, {_RECORD} FROM now_rows
        UNION ALL
        SELECT 2, -1, {_RECORD} FROM now_rows WHERE id NOT IN (SELECT id FROM new_rows)
        UNION ALL
        SELECT 2, -1, {_RECORD} FROM old_rows WHERE listing_id IN (SELECT id FROM weights)
    )"""


def _records_function(event: str) -> str:
    # PL/pgSQL plans a statement when it first runs it: each trigger gets the transition tables
    # its event has (an insert has no old rows, a delete no new ones), stood in for by empty sets.
    empty = f"(SELECT id, {_RECORD} FROM evaluation_record WHERE false)"
    body = _RECORDS_CHANGED
    if event == "insert":
        body = body.replace("FROM old_rows", f"FROM {empty} AS old_rows")
    if event == "delete":
        body = body.replace("FROM new_rows", f"FROM {empty} AS new_rows")
    return f"""
        CREATE FUNCTION evaluation_tally_records_{event}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {_add(body)}
            RETURN NULL;
        END $$"""


def _all_records(weights: str) -> str:
    """Every record of the programs in `weights` (which already carry the sign)."""
    return f"""
    weights AS ({weights}),
    signed AS (
        SELECT 1 AS set_id, 1 AS sign, {_RECORD} FROM evaluation_record
        WHERE listing_id IN (SELECT id FROM weights)
    )"""


def _public(alias: str) -> str:
    return f"""CASE WHEN {_LIVE.replace("l.", f"{alias}.")} AND EXISTS (
        SELECT 1 FROM organization o WHERE o.id = {alias}.organization_id
        AND o.verification_status = 'verified') THEN 1 ELSE 0 END"""


# A program that becomes public (or stops being public) adds (or removes) all its records.
_LISTINGS_CHANGED = _all_records(
    f"""SELECT id, w FROM (
            SELECT n.id, {_public("n")} - {_public("p")} AS w
            FROM new_rows n JOIN old_rows p ON p.id = n.id
            WHERE (n.kind, n.archived_at, n.organization_id)
                  IS DISTINCT FROM (p.kind, p.archived_at, p.organization_id)
        ) changed WHERE w <> 0"""
)

_ORGANIZATIONS_CHANGED = _all_records(
    f"""SELECT l.id, CASE WHEN n.verification_status = 'verified' THEN 1 ELSE -1 END AS w
        FROM old_rows p JOIN new_rows n ON n.id = p.id
        JOIN listing l ON l.organization_id = n.id
        WHERE (p.verification_status = 'verified') <> (n.verification_status = 'verified') AND {_LIVE}"""
)

_EVERYTHING = _all_records(
    f"""SELECT l.id, 1 AS w FROM listing l JOIN organization o ON o.id = l.organization_id
        WHERE {_LIVE} AND o.verification_status = 'verified'"""
)


def upgrade() -> None:
    op.create_table(
        "evaluation_tally",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fact", sa.String(length=20), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("quarter", sa.String(length=7), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_tally")),
        sa.UniqueConstraint("fact", "code", "quarter", name=op.f("uq_evaluation_tally_fact")),
    )
    for event in ("insert", "update", "delete"):
        op.execute(_records_function(event))
        transitions = {
            "insert": "NEW TABLE AS new_rows",
            "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
            "delete": "OLD TABLE AS old_rows",
        }[event]
        op.execute(
            f"CREATE TRIGGER evaluation_tally_records_{event} AFTER {event.upper()} ON evaluation_record "
            f"REFERENCING {transitions} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION evaluation_tally_records_{event}()"
        )
    for table, body in (("listing", _LISTINGS_CHANGED), ("organization", _ORGANIZATIONS_CHANGED)):
        op.execute(
            f"""
            CREATE FUNCTION evaluation_tally_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                {_add(body)}
                RETURN NULL;
            END $$"""
        )
        op.execute(
            f"CREATE TRIGGER evaluation_tally_{table} AFTER UPDATE ON {table} "
            "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION evaluation_tally_{table}()"
        )
    op.execute(_add(_EVERYTHING))


def downgrade() -> None:
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS evaluation_tally_records_{event} ON evaluation_record")
        op.execute(f"DROP FUNCTION IF EXISTS evaluation_tally_records_{event}()")
    for table in ("listing", "organization"):
        op.execute(f"DROP TRIGGER IF EXISTS evaluation_tally_{table} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS evaluation_tally_{table}()")
    op.drop_table("evaluation_tally")
