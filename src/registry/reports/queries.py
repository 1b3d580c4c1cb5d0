"""Aggregation SQL for the funders' reports. Each query returns plain rows; suppression and
shaping happen in service.py."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Text, and_, case, cast, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import EvaluationRecord, Initiator, Introduction, Listing, Organization

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
_ARRAY_DIMENSIONS = {"format": "formats", "population": "populations"}


def _public_programs() -> Any:
    return (
        select(Listing)
        .join(Organization, Organization.id == Listing.organization_id)
        .where(
            Listing.kind == "peer_program",
            Listing.archived_at.is_(None),
            Organization.verification_status == "verified",
        )
    )


async def program_counts(
    session: AsyncSession, group_by: Sequence[str]
) -> list[tuple[tuple[str | None, ...], int]]:
    base = _public_programs().subquery()
    source: Any = base
    keys = []
    for dim in group_by:
        if dim in _ARRAY_DIMENSIONS:
            # A program with two formats counts once under each (an empty list counts as none).
            unnest = (
                func.unnest(
                    func.coalesce(
                        func.nullif(base.c[_ARRAY_DIMENSIONS[dim]], text("'{}'::varchar[]")),
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
    stmt = select(*keys, func.count(func.distinct(base.c.id))).select_from(source)
    if keys:
        stmt = stmt.group_by(*keys).order_by(*keys)
    rows = (await session.execute(stmt)).all()
    return [(tuple(r[: len(keys)]), int(r[len(keys)])) for r in rows]


async def total_programs(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(_public_programs().subquery())) or 0)


async def programs_per_stage(session: AsyncSession) -> list[tuple[str, int]]:
    base = _public_programs().subquery()
    rows = await session.execute(
        select(base.c.evaluation_stage, func.count()).group_by(base.c.evaluation_stage)
    )
    return [(r[0], int(r[1])) for r in rows]


async def clinical_partner_share(session: AsyncSession) -> tuple[int, int]:
    base = _public_programs().subquery()
    has = (base.c.clinical_partner_id.is_not(None)) | (base.c.clinical_partner_name.is_not(None))
    row = (await session.execute(select(func.count().filter(has), func.count()).select_from(base))).one()
    return int(row[0]), int(row[1])


def _quarter(col: Any) -> Any:
    return func.concat(func.extract("year", col).cast(Text), "-Q", func.extract("quarter", col).cast(Text))


async def stage_transitions(session: AsyncSession) -> list[tuple[str, str, int]]:
    """Evaluation records per quarter and stage reached (public programs only)."""
    base = _public_programs().subquery()
    quarter = _quarter(EvaluationRecord.recorded_at)
    stmt = (
        select(quarter.label("quarter"), EvaluationRecord.stage, func.count())
        .join(base, base.c.id == EvaluationRecord.listing_id)
        .group_by(quarter, EvaluationRecord.stage)
        .order_by(quarter, EvaluationRecord.stage)
    )
    return [(r[0], r[1], int(r[2])) for r in await session.execute(stmt)]


async def designs_and_outcomes(session: AsyncSession) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    base = _public_programs().subquery()
    designs = await session.execute(
        select(EvaluationRecord.design, func.count(func.distinct(EvaluationRecord.listing_id)))
        .join(base, base.c.id == EvaluationRecord.listing_id)
        .where(EvaluationRecord.design.is_not(None))
        .group_by(EvaluationRecord.design)
        .order_by(EvaluationRecord.design)
    )
    outcome = func.unnest(EvaluationRecord.outcomes).table_valued("value").render_derived(name="o")
    outcomes = await session.execute(
        select(outcome.c.value, func.count(func.distinct(EvaluationRecord.listing_id)))
        .select_from(EvaluationRecord)
        .join(base, base.c.id == EvaluationRecord.listing_id)
        .join(outcome, literal_column("true"))
        .group_by(outcome.c.value)
        .order_by(outcome.c.value)
    )
    return [(str(r[0]), int(r[1])) for r in designs], [(str(r[0]), int(r[1])) for r in outcomes]


INTRODUCTION_STATUSES = ("pending", "accepted", "declined", "expired", "withdrawn")


def effective_status() -> Any:
    # Pending introductions past their expiry count as expired even before anyone looked.
    return case(
        (and_(Introduction.status == "pending", Introduction.expires_at <= func.now()), "expired"),
        else_=Introduction.status,
    )


async def introductions_by(
    session: AsyncSession, dimension: str
) -> list[tuple[tuple[str | None, ...], str, int]]:
    status = effective_status().label("status")
    keys: list[Any]
    if dimension == "partner_kind":
        keys = [Listing.kind.label("partner_kind")]
    elif dimension == "region":
        keys = [Listing.country.label("country"), Listing.region.label("region")]
    else:
        keys = [_quarter(Introduction.created_at).label("quarter")]
    stmt = (
        select(*keys, status, func.count())
        .select_from(Introduction)
        .join(Listing, Listing.id == Introduction.listing_id)
        .group_by(*keys, status)
    )
    return [(tuple(r[: len(keys)]), r[len(keys)], int(r[len(keys) + 1])) for r in await session.execute(stmt)]


async def initiators_by_step(session: AsyncSession) -> list[tuple[int, int]]:
    rows = await session.execute(
        select(Initiator.pathway_step, func.count())
        .group_by(Initiator.pathway_step)
        .order_by(Initiator.pathway_step)
    )
    return [(int(r[0]), int(r[1])) for r in rows]


GAP_KINDS = ("clinician", "evaluator", "trainer")
GAP_RADIUS_M = 50_000


async def coverage(session: AsyncSession) -> list[dict[str, Any]]:
    """Per region (country + first-level region) with programs or initiators: how many of each,
    and which partner kinds have no verified, active listing within 50 km of any of them."""
    exists = ", ".join(
        f"""EXISTS (
                SELECT 1 FROM listing s JOIN organization so ON so.id = s.organization_id
                WHERE s.kind = '{kind}' AND s.archived_at IS NULL AND s.status = 'active'
                  AND s.latitude IS NOT NULL AND so.verification_status = 'verified'
                  AND earth_box(ll_to_earth(p.latitude, p.longitude), :radius)
                      @> ll_to_earth(s.latitude, s.longitude)
                  AND earth_distance(ll_to_earth(p.latitude, p.longitude),
                                     ll_to_earth(s.latitude, s.longitude)) <= :radius
            ) AS has_{kind}"""
        for kind in GAP_KINDS
    )
    covered = ", ".join(f"bool_or(has_{kind}) AS covered_{kind}" for kind in GAP_KINDS)
    # Each kind is spelled out so that its own partial GiST index answers "any within 50 km?".
    points = text(
        f"""
        WITH demand AS (
            SELECT l.country, l.region, l.latitude, l.longitude, 1 AS programs, 0 AS initiators
            FROM listing l JOIN organization o ON o.id = l.organization_id
            WHERE l.kind = 'peer_program' AND l.archived_at IS NULL
              AND o.verification_status = 'verified' AND l.latitude IS NOT NULL
            UNION ALL
            SELECT i.country, i.region, i.latitude, i.longitude, 0, 1
            FROM initiator i WHERE i.latitude IS NOT NULL
        ),
        -- Demand is gathered into ~10 km cells (0.1 degree) before looking for partners: at a
        -- national scale that turns tens of thousands of lookups into a few thousand.
        places AS (
            SELECT country, region,
                   round(latitude::numeric, 1)::float8 AS latitude,
                   round(longitude::numeric, 1)::float8 AS longitude,
                   sum(programs) AS programs, sum(initiators) AS initiators
            FROM demand GROUP BY 1, 2, 3, 4
        ),
        reach AS (
            SELECT p.*, {exists}
            FROM places p
        )
        SELECT country, region, sum(programs) AS programs, sum(initiators) AS initiators, {covered}
        FROM reach GROUP BY country, region ORDER BY country, region
        """
    )
    rows = await session.execute(points, {"radius": GAP_RADIUS_M})
    out = []
    for r in rows:
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
