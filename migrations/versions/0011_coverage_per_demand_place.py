"""coverage kept per demand place: is a verified clinician, evaluator, trainer within 50 km

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 00:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each place (0008's ~10 km cells) keeps, per partner kind, whether a verified organization's
# active, live listing of that kind lies within 50 km of it; NULL (all three together) means not
# known yet. The coverage report then reads the places instead of searching around each one.
#
# Kept exact by statement-level triggers that fire after 0008/0010's counting ones (triggers run
# in name order: place_ after demand_): a partner that appears sets the flag of the places near
# it; one that disappears or moves forgets the flags of the places near where it was, and every
# place whose flags are unknown (new, or forgotten) is searched again.
#
# Writers of places lock the same rows in different orders (a program's cell, then the places
# around a partner), so they take one advisory lock before their first write. A bulk load may set
# `registry.coverage = 'deferred'`: its transactions skip the upkeep (sharing the lock, since
# their ordered upserts cannot deadlock each other) and it calls place_coverage_refresh() at the
# end.
KINDS = ("clinician", "evaluator", "trainer")
RADIUS_M = 50_000
LOCK = "pg_advisory_xact_lock{shared}(72630011)"
_DEFERRED = "current_setting('registry.coverage', true) = 'deferred'"
_FORGET = ", ".join(f"covered_{kind} = NULL" for kind in KINDS)


def _near(a: str, b: str) -> str:
    return f"earth_box({a}, {RADIUS_M}) @> {b} AND earth_distance({a}, {b}) <= {RADIUS_M}"


def _reaches(kind: str) -> str:
    # The per-kind partial GiST index of 0006 answers this.
    partner = "ll_to_earth(s.latitude, s.longitude)"
    return f"""EXISTS (
        SELECT 1 FROM listing s
        JOIN organization so ON so.id = s.organization_id AND so.verification_status = 'verified'
        WHERE s.kind = '{kind}' AND s.archived_at IS NULL AND s.status = 'active'
          AND s.latitude IS NOT NULL AND {_near("ll_to_earth(d.lat, d.lon)", partner)})"""


_SUPPLY = (
    "l.kind IN ('clinician', 'evaluator', 'trainer') AND l.archived_at IS NULL "
    "AND l.status = 'active' AND l.latitude IS NOT NULL"
)

_HELPERS = [
    f"""
    CREATE FUNCTION place_coverage_recheck() RETURNS void LANGUAGE sql AS $$
        UPDATE demand_place d SET {", ".join(f"covered_{kind} = {_reaches(kind)}" for kind in KINDS)}
        WHERE d.covered_clinician IS NULL
    $$""",
    # Partners (kind, latitude, longitude) that appeared: the places near them that did not have
    # one of that kind now do.
    f"""
    CREATE FUNCTION place_coverage_gained(kinds text[], lats float8[], lons float8[])
    RETURNS void LANGUAGE sql AS $$
        UPDATE demand_place d
        SET {", ".join(f"covered_{kind} = d.covered_{kind} OR x.{kind}" for kind in KINDS)}
        FROM (
            SELECT p.id, {", ".join(f"bool_or(s.kind = '{kind}') AS {kind}" for kind in KINDS)}
            FROM unnest(kinds, lats, lons) AS s(kind, lat, lon)
            JOIN demand_place p ON {_near("ll_to_earth(s.lat, s.lon)", "ll_to_earth(p.lat, p.lon)")}
            WHERE p.covered_clinician IS NOT NULL
            GROUP BY p.id
        ) x
        WHERE d.id = x.id AND ({" OR ".join(f"(x.{kind} AND NOT d.covered_{kind})" for kind in KINDS)})
    $$""",
    # Partners that disappeared (or moved away): the places near them that had one of that kind
    # forget their flags, to be searched again.
    f"""
    CREATE FUNCTION place_coverage_lost(kinds text[], lats float8[], lons float8[])
    RETURNS void LANGUAGE sql AS $$
        UPDATE demand_place d SET {_FORGET}
        FROM (
            SELECT DISTINCT p.id
            FROM unnest(kinds, lats, lons) AS s(kind, lat, lon)
            JOIN demand_place p ON {_near("ll_to_earth(s.lat, s.lon)", "ll_to_earth(p.lat, p.lon)")}
            WHERE {" OR ".join(f"(s.kind = '{kind}' AND p.covered_{kind})" for kind in KINDS)}
        ) x
        WHERE d.id = x.id
    $$""",
    # After a bulk load: every place searched again.
    f"""
    CREATE FUNCTION place_coverage_refresh() RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM {LOCK.format(shared="")};
        UPDATE demand_place SET {_FORGET} WHERE covered_clinician IS NOT NULL;
        PERFORM place_coverage_recheck();
    END $$""",
    f"""
    CREATE FUNCTION place_coverage_lock() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF {_DEFERRED} THEN PERFORM {LOCK.format(shared="_shared")};
        ELSE PERFORM {LOCK.format(shared="")};
        END IF;
        RETURN NULL;
    END $$""",
]


def _partners(select: str) -> str:
    """PERFORM one helper over the (kind, latitude, longitude) rows of `select`."""
    return f"""
            PERFORM {{helper}}(array_agg(kind), array_agg(latitude), array_agg(longitude))
            FROM ({select}) AS changed(id, kind, latitude, longitude);"""


def _supply(rows: str) -> str:
    return f"""
                SELECT l.id, l.kind::text, l.latitude, l.longitude FROM {rows} l
                JOIN organization o ON o.id = l.organization_id AND o.verification_status = 'verified'
                WHERE {_SUPPLY}"""


_LISTINGS = f"""
    CREATE FUNCTION place_coverage_listings() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF {_DEFERRED} THEN RETURN NULL; END IF;
        IF TG_OP = 'UPDATE' THEN
            {_partners(f"{_supply('old_rows')} EXCEPT {_supply('new_rows')}").format(helper="place_coverage_lost")}
            {_partners(f"{_supply('new_rows')} EXCEPT {_supply('old_rows')}").format(helper="place_coverage_gained")}
        ELSIF TG_OP = 'DELETE' THEN
            {_partners(_supply("old_rows")).format(helper="place_coverage_lost")}
        ELSE
            {_partners(_supply("new_rows")).format(helper="place_coverage_gained")}
        END IF;
        PERFORM place_coverage_recheck();
        RETURN NULL;
    END $$"""


def _verification(was: str, now: str) -> str:
    return f"""
                SELECT l.id, l.kind::text, l.latitude, l.longitude
                FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN listing l ON l.organization_id = n.id
                WHERE o.verification_status {was} 'verified' AND n.verification_status {now} 'verified'
                  AND {_SUPPLY}"""


_ORGANIZATIONS = f"""
    CREATE FUNCTION place_coverage_organizations() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF {_DEFERRED} THEN RETURN NULL; END IF;
        {_partners(_verification("=", "IS DISTINCT FROM")).format(helper="place_coverage_lost")}
        {_partners(_verification("IS DISTINCT FROM", "=")).format(helper="place_coverage_gained")}
        PERFORM place_coverage_recheck();
        RETURN NULL;
    END $$"""

# Initiators only bring new places.
_INITIATORS = f"""
    CREATE FUNCTION place_coverage_initiators() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF {_DEFERRED} THEN RETURN NULL; END IF;
        PERFORM place_coverage_recheck();
        RETURN NULL;
    END $$"""

# (table, the events that write places and so take the lock first, the events whose upkeep runs
# after the statement, that upkeep). Fewer initiators never change a place's partners.
_TABLES = (
    ("listing", ("INSERT", "UPDATE", "DELETE"), ("INSERT", "UPDATE", "DELETE"), "place_coverage_listings"),
    ("organization", ("UPDATE",), ("UPDATE",), "place_coverage_organizations"),
    ("initiator", ("INSERT", "UPDATE", "DELETE"), ("INSERT", "UPDATE"), "place_coverage_initiators"),
)
_TRANSITIONS = {
    "INSERT": "NEW TABLE AS new_rows",
    "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "OLD TABLE AS old_rows",
}
_FUNCTIONS = (
    "place_coverage_listings",
    "place_coverage_organizations",
    "place_coverage_initiators",
    "place_coverage_lock",
    "place_coverage_refresh",
    "place_coverage_recheck",
    "place_coverage_gained(text[], float8[], float8[])",
    "place_coverage_lost(text[], float8[], float8[])",
)


def upgrade() -> None:
    for kind in KINDS:
        op.add_column("demand_place", sa.Column(f"covered_{kind}", sa.Boolean(), nullable=True))
    op.execute("CREATE INDEX ix_demand_place_earth ON demand_place USING gist (ll_to_earth(lat, lon))")
    op.execute("CREATE INDEX ix_demand_place_unknown ON demand_place (id) WHERE covered_clinician IS NULL")
    for statement in (*_HELPERS, _LISTINGS, _ORGANIZATIONS, _INITIATORS):
        op.execute(statement)
    for table, locking, upkeep, function in _TABLES:
        # Before the first row changes, so that the lock comes before any place is locked.
        op.execute(
            f"CREATE TRIGGER place_coverage_lock BEFORE {' OR '.join(locking)} ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION place_coverage_lock()"
        )
        for event in upkeep:
            op.execute(
                f"CREATE TRIGGER {function}_{event.lower()} AFTER {event} ON {table} "
                f"REFERENCING {_TRANSITIONS[event]} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )
    op.execute("SELECT place_coverage_recheck()")


def downgrade() -> None:
    for table, _, upkeep, function in _TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS place_coverage_lock ON {table}")
        for event in upkeep:
            op.execute(f"DROP TRIGGER IF EXISTS {function}_{event.lower()} ON {table}")
    for function in _FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    op.execute("DROP INDEX IF EXISTS ix_demand_place_unknown")
    op.execute("DROP INDEX IF EXISTS ix_demand_place_earth")
    for kind in KINDS:
        op.drop_column("demand_place", f"covered_{kind}")
