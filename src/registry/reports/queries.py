"""Aggregation SQL for the funders' reports. Each query returns plain rows; suppression and
shaping happen in service.py."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Text, cast, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from registry.listings.visibility import hidden_owner, hidden_owner_sql, public_listing_sql
from registry.locations.distance import distance_sql
from registry.models import EvaluationTally, Initiator, Listing

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


def _public_programs() -> Any:
    return select(Listing).where(
        Listing.kind == "peer_program", Listing.archived_at.is_(None), ~hidden_owner()
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
    WHERE l.kind = 'peer_program' AND l.archived_at IS NULL AND NOT {hidden_owner_sql("l")}
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


INTRODUCTION_STATUSES = ("pending", "accepted", "declined", "expired", "withdrawn", "closed")

_TALLY_KEYS = {
    "partner_kind": "partner_kind",
    "region": "country, region",
    "quarter": "quarter",
}
_QUARTER_SQL = """to_char(i.created_at AT TIME ZONE 'UTC', 'YYYY-"Q"Q')"""


async def introductions_by(
    session: AsyncSession, dimension: str
) -> list[tuple[tuple[str | None, ...], str, int]]:
    """Introductions per `dimension` and status, from that dimension's rows of the tally the
    triggers keep (migrations 0007, 0014), with pending introductions already past their expiry
    moved to expired, as every read of introductions sees them."""
    keys = _TALLY_KEYS[dimension]
    width = len(keys.split(","))
    due_keys = {
        "partner_kind": "l.kind",
        "region": "l.country, l.region",
        "quarter": _QUARTER_SQL,
    }[dimension]
    stmt = text(
        f"""
        SELECT {keys}, status, sum(n)::bigint FROM (
            SELECT {keys}, status, n FROM introduction_tally WHERE dimension = :dimension
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
    rows = (await session.execute(stmt, {"dimension": dimension})).all()
    return [(tuple(r[:width]), r[width], r[width + 1]) for r in rows]


async def initiators_by_step(session: AsyncSession) -> list[tuple[int, int]]:
    rows = await session.execute(
        select(Initiator.pathway_step, func.count())
        .group_by(Initiator.pathway_step)
        .order_by(Initiator.pathway_step)
    )
    return [(int(r[0]), int(r[1])) for r in rows]


GAP_KINDS = ("clinician", "evaluator", "trainer")
GAP_RADIUS_M = 50_000


def _reaches(kind: str) -> str:
    # Only for places not searched yet (a bulk load not finished): the per-kind partial GiST
    # index answers "any verified one within reach?".
    partner = "ll_to_earth(s.latitude, s.longitude)"
    place = "ll_to_earth(d.lat, d.lon)"
    return f"""EXISTS (
        SELECT 1 FROM listing s
        JOIN organization so ON so.id = s.organization_id
        WHERE s.kind = '{kind}' AND {public_listing_sql("s", "so")} AND s.status = 'active'
          AND s.latitude IS NOT NULL AND earth_box({place}, :radius) @> {partner}
          AND {distance_sql("s.latitude", "s.longitude", "d.lat", "d.lon")} <= :radius)"""


# A region is covered for a kind when any of its places (programs' and initiators' ~10 km cells,
# migration 0008) has one within 50 km: each place keeps that answer (migration 0011), so this
# reads the places; one not searched yet is searched here (COALESCE evaluates lazily).
_COVERAGE = text(
    f"""
    SELECT d.country, d.region, sum(d.programs) AS programs, sum(d.initiators) AS initiators,
           {", ".join(f"bool_or(coalesce(d.covered_{k}, {_reaches(k)})) AS covered_{k}" for k in GAP_KINDS)}
    FROM demand_place d
    WHERE d.programs > 0 OR d.initiators > 0
    GROUP BY d.country, d.region
    """
)


async def coverage(session: AsyncSession) -> list[dict[str, Any]]:
    """The regions (country + first-level region) with programs or initiators: how many of each,
    and which partner kinds have no verified, active listing within 50 km of any of them."""
    out = []
    for r in await session.execute(_COVERAGE, {"radius": GAP_RADIUS_M}):
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
