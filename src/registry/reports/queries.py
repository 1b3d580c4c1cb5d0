"""Aggregation SQL for the funders' reports. Each query returns plain rows; suppression and
shaping happen in service.py."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Text, cast, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import EvaluationTally, Initiator, Listing, Organization

PROGRAM_DIMENSIONS = (
    "side",
    "format",
    "delivery",
    "population",
    "country",
    "region",
    "evaluation_stage",
    "status",
)
ARRAY_DIMENSIONS = {"format": "formats", "population": "populations"}


# A public program is a live peer program of a verified organization. Asked as "no unverified
# organization owns it" (few organizations are not verified): PostgreSQL then reads the covering
# index of programs once, instead of probing it once per verified organization.
_UNVERIFIED_OWNER_SQL = (
    "EXISTS (SELECT 1 FROM organization o WHERE o.id = l.organization_id "
    "AND o.verification_status <> 'verified')"
)


def _public_programs() -> Any:
    unverified_owner = (
        select(Organization.id)
        .where(Organization.id == Listing.organization_id, Organization.verification_status != "verified")
        .exists()
    )
    return select(Listing).where(
        Listing.kind == "peer_program", Listing.archived_at.is_(None), ~unverified_owner
    )


async def program_counts(
    session: AsyncSession, group_by: Sequence[str]
) -> list[tuple[tuple[str | None, ...], int]]:
    base = _public_programs().subquery()
    source: Any = base
    keys = []
    for dim in group_by:
        if dim in ARRAY_DIMENSIONS:
            # A program with two formats counts once under each (an empty list counts as none).
            unnest = (
                func.unnest(
                    func.coalesce(
                        func.nullif(base.c[ARRAY_DIMENSIONS[dim]], text("'{}'::varchar[]")),
                        text("ARRAY[NULL]::varchar[]"),
                    )
                )
                .table_valued("value")
                .render_derived(name=f"u_{dim}")
            )
            source = source.join(unnest, literal_column("true"))
            keys.append(cast(unnest.c.value, Text).label(dim))
        else:
            keys.append(cast(base.c[dim], Text).label(dim))
    # Codes in a program's lists are unique (deduplicated on write), so rows count programs.
    stmt = select(*keys, func.count()).select_from(source)
    if keys:
        stmt = stmt.group_by(*keys).order_by(*keys)
    rows = (await session.execute(stmt)).all()
    return [(tuple(r[: len(keys)]), int(r[len(keys)])) for r in rows]


async def total_programs(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(_public_programs().subquery())) or 0)


_PUBLIC_PROGRAMS_SQL = f"""
    SELECT l.id, l.evaluation_stage, l.clinical_partner_id, l.clinical_partner_name
    FROM listing l
    WHERE l.kind = 'peer_program' AND l.archived_at IS NULL AND NOT {_UNVERIFIED_OWNER_SQL}
"""


async def programs_per_stage(session: AsyncSession) -> tuple[dict[str, int], int, int]:
    """Programs per evaluation stage, how many name a clinical partner, and the total: one pass."""
    rows = await session.execute(
        text(
            f"""
            SELECT evaluation_stage, count(*),
                   count(*) FILTER (WHERE clinical_partner_id IS NOT NULL
                                       OR clinical_partner_name IS NOT NULL)
            FROM ({_PUBLIC_PROGRAMS_SQL}) p GROUP BY 1
            """
        )
    )
    stages: dict[str, int] = {}
    with_partner = 0
    for stage, n, partnered in rows:
        stages[stage] = int(n)
        with_partner += int(partnered)
    return stages, with_partner, sum(stages.values())


async def evaluation_tables(
    session: AsyncSession,
) -> tuple[list[tuple[str, str, int]], list[tuple[str, int]], list[tuple[str, int]]]:
    """From the evaluation records of public programs, as the triggers tally them (migration
    0009): records per quarter and stage reached, programs per evaluation design, programs per
    outcome measured."""
    rows = await session.execute(
        select(EvaluationTally.fact, EvaluationTally.code, EvaluationTally.quarter, EvaluationTally.n)
        .where(EvaluationTally.n != 0)
        .order_by(EvaluationTally.fact, EvaluationTally.quarter, EvaluationTally.code)
    )
    transitions: list[tuple[str, str, int]] = []
    designs: list[tuple[str, int]] = []
    outcomes: list[tuple[str, int]] = []
    for fact, code, quarter, n in rows:
        if fact == "transition":
            transitions.append((quarter, code, int(n)))
        elif fact == "design":
            designs.append((code, int(n)))
        else:
            outcomes.append((code, int(n)))
    return transitions, designs, outcomes


INTRODUCTION_STATUSES = ("pending", "accepted", "declined", "expired", "withdrawn")

_TALLY_KEYS = {
    "partner_kind": "partner_kind",
    "region": "country, region",
    "quarter": "quarter",
}
_QUARTER_SQL = """to_char(i.created_at AT TIME ZONE 'UTC', 'YYYY-"Q"Q')"""


async def introductions_by(
    session: AsyncSession, dimension: str
) -> list[tuple[tuple[str | None, ...], str, int]]:
    """Introductions per `dimension` and status, from the tally the triggers keep (migration
    0007), with pending introductions already past their expiry moved to expired, as every read
    of introductions sees them."""
    keys = _TALLY_KEYS[dimension]
    width = len(keys.split(","))
    due_keys = {
        "partner_kind": "l.kind",
        "region": "l.country, l.region",
        "quarter": _QUARTER_SQL,
    }[dimension]
    stmt = text(
        f"""
        SELECT {keys}, status, sum(n) FROM (
            SELECT {keys}, status, n FROM introduction_tally
            UNION ALL
            SELECT {due_keys}, s.status, s.sign * count(*)
            FROM introduction i
            -- One index lookup per due introduction (few: every read of introductions expires them);
            -- OFFSET 0 keeps the planner from turning this into a hash join over every listing.
            CROSS JOIN LATERAL (
                SELECT kind, country, region FROM listing WHERE listing.id = i.listing_id OFFSET 0
            ) l
            CROSS JOIN (VALUES ('pending', -1), ('expired', 1)) AS s(status, sign)
            WHERE i.status = 'pending' AND i.expires_at <= now()
            GROUP BY {", ".join(str(n + 1) for n in range(width))}, s.status, s.sign
        ) counted
        GROUP BY {", ".join(str(n + 1) for n in range(width + 1))}
        HAVING sum(n) <> 0
        """
    )
    rows = (await session.execute(stmt)).tuples()
    return [(r[:width], r[width], int(r[width + 1])) for r in rows]


async def initiators_by_step(session: AsyncSession) -> list[tuple[int, int]]:
    rows = await session.execute(
        select(Initiator.pathway_step, func.count())
        .group_by(Initiator.pathway_step)
        .order_by(Initiator.pathway_step)
    )
    return [(int(r[0]), int(r[1])) for r in rows]


GAP_KINDS = ("clinician", "evaluator", "trainer")
GAP_RADIUS_M = 50_000


def _supply(kind: str, point: str, radius: str, *, verified: bool = True) -> str:
    # Each kind is spelled out so that its own partial GiST index answers "any within reach?".
    organization = (
        "JOIN organization so ON so.id = s.organization_id AND so.verification_status = 'verified'"
        if verified
        else ""
    )
    return f"""EXISTS (
        SELECT 1 FROM listing s {organization}
        WHERE s.kind = '{kind}' AND s.archived_at IS NULL AND s.status = 'active'
          AND s.latitude IS NOT NULL
          AND earth_box({point}, {radius}) @> ll_to_earth(s.latitude, s.longitude)
          AND earth_distance({point}, ll_to_earth(s.latitude, s.longitude)) <= {radius})"""


def _covered(kind: str) -> str:
    # A region is covered for a kind when any of its places has one within 50 km. One in a place's
    # own ~10 km cell is (the triggers count them: no search). Else its busiest place is tried
    # first (most regions end there); else one look around the whole region (its bounding circle
    # plus 50 km, any organization: a quick, generous "maybe") decides whether the other places
    # are worth trying, and the first hit ends the search.
    return f"""CASE WHEN r.in_cell_{kind} THEN true ELSE (
        {_supply(kind, "ll_to_earth(r.lats[1], r.lons[1])", ":radius")}
        OR ({_supply(kind, "ll_to_earth(r.center_lat, r.center_lon)", "r.reach", verified=False)}
            AND EXISTS (SELECT 1 FROM unnest(r.lats[2:], r.lons[2:]) AS p(lat, lon)
                        WHERE {_supply(kind, "ll_to_earth(p.lat, p.lon)", ":radius")}))
    ) END AS covered_{kind}"""


# Regions are dealt into :parts shares by a hash of (country, region); share :part is computed
# here, so that the shares can run side by side on separate connections.
_PART = "mod(abs(hashtext(coalesce({t}.country, '') || '/' || coalesce({t}.region, ''))), :parts) = :part"
COVERAGE_PARTS = 2

_COVERAGE = text(
    f"""
    -- Demand (and verified partners) by ~10 km cell (0.1 degree), as the triggers keep it
    -- (migrations 0008, 0010).
    WITH places AS (
        SELECT d.country, d.region, d.lat, d.lon, d.programs, d.initiators,
               d.programs + d.initiators AS n, d.clinicians, d.evaluators, d.trainers
        FROM demand_place d
        WHERE (d.programs > 0 OR d.initiators > 0) AND {_PART.format(t="d")}
    ),
    regions AS MATERIALIZED (
        SELECT country, region, sum(programs) AS programs, sum(initiators) AS initiators,
               array_agg(lat ORDER BY n DESC, lat, lon) AS lats,
               array_agg(lon ORDER BY n DESC, lat, lon) AS lons,
               (min(lat) + max(lat)) / 2 AS center_lat, (min(lon) + max(lon)) / 2 AS center_lon,
               {", ".join(f"bool_or({kind}s > 0) AS in_cell_{kind}" for kind in GAP_KINDS)}
        FROM places GROUP BY country, region
    ),
    -- Reach: the farthest place from the centre (great circle, written out: ten times cheaper
    -- than earth_distance) plus the radius and a kilometre of slack for rounding.
    reached AS MATERIALIZED (
        SELECT g.*, :radius + 1000 + earth() * (
            SELECT max(acos(least(1.0, greatest(-1.0,
                       sin(radians(g.center_lat)) * sin(radians(p.lat))
                       + cos(radians(g.center_lat)) * cos(radians(p.lat))
                         * cos(radians(p.lon - g.center_lon))))))
            FROM unnest(g.lats, g.lons) AS p(lat, lon)
        ) AS reach
        FROM regions g
    )
    SELECT country, region, programs, initiators, {", ".join(_covered(kind) for kind in GAP_KINDS)}
    FROM reached r
    """
)


async def coverage(session: AsyncSession, part: int) -> list[dict[str, Any]]:
    """Share `part` (0 or 1) of the regions (country + first-level region) with programs or
    initiators: how many of each, and which partner kinds have no verified, active listing
    within 50 km of any of them. The two shares can run side by side (service.together)."""
    params = {"radius": GAP_RADIUS_M, "part": part, "parts": COVERAGE_PARTS}
    out = []
    for r in await session.execute(_COVERAGE, params):
        missing = [k for k in GAP_KINDS if not getattr(r, f"covered_{k}")]
        out.append(
            {
                "country": r.country,
                "region": r.region,
                "programs": int(r.programs or 0),
                "initiators": int(r.initiators or 0),
                "missing": missing,
            }
        )
    return out
