"""Candidate selection for matching: one query over every needed kind at once."""

import functools
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, TextClause, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from registry.locations.geo import DISTANCE_BANDS
from registry.models import Contact, Initiator, Listing, Organization

# Per kind, how many of the nearest candidates are scored; scoring is cheap, the cap bounds work.
CANDIDATES_PER_KIND = 60


_BANDS_SQL = " ".join(
    f"WHEN d < {int(upper * 1000)} THEN {rank}" for rank, (upper, _) in enumerate(DISTANCE_BANDS[:-1])
)
# What scoring needs (and the lists shown as they are); what is only shown comes later, for
# the few candidates chosen (`details_of`).
_COLUMNS_SQL = """
    l.id, l.kind, l.name, l.side, l.specialties, l.formats, l.populations, l.languages,
    l.ipv_trained, l.methods, cardinality(l.courses) AS course_count,
    cardinality(l.certifications) AS certification_count, l.evaluation_stage, l.open_to_mentoring,
    l.accepting_partnerships, l.last_verified_at
"""
_REMOTE_SQL = (
    "(l.remote_ok OR coalesce(l.delivery, '') IN ('online', 'hybrid') OR l.location_precision = 'remote')"
)
KNOWN_KINDS = frozenset({"peer_program", "clinician", "treatment_program", "evaluator", "trainer"})


# Great-circle metres from the search point to the listing (haversine on earth()'s sphere),
# written out: about ten times cheaper per row than earth_distance(ll_to_earth(), ll_to_earth()).
_DISTANCE_SQL = """(2 * 6378168.0 * asin(least(1.0, sqrt(
    power(sin(radians(l.latitude - :lat) / 2), 2)
    + cos(radians(:lat)) * cos(radians(l.latitude)) * power(sin(radians(l.longitude - :lon) / 2), 2)))))"""


def _live(kind: str) -> str:
    # The kind is spelled out (not a parameter) so the planner can use that kind's own index.
    return (
        f"l.kind = '{kind}' AND l.archived_at IS NULL AND l.status = 'active' "
        "AND o.verification_status = 'verified'"
    )


def _for_kind(kind: str) -> str:
    # Nearest first straight from that kind's GiST index (the cube `<->` distance orders like the
    # great-circle one), so only the rows returned are read; the box stops the walk at the
    # radius, and rows in the box's corners (beyond the radius) come last and are dropped.
    return f"""
        (SELECT n.*, CASE {_BANDS_SQL} ELSE {len(DISTANCE_BANDS) - 1} END AS band_rank
         FROM (
             SELECT {_COLUMNS_SQL}, {_DISTANCE_SQL} AS d, {_REMOTE_SQL} AS remote_capable
             FROM listing l
             JOIN organization o ON o.id = l.organization_id
             WHERE {_live(kind)} AND l.latitude IS NOT NULL
               AND earth_box(ll_to_earth(:lat, :lon), :meters) @> ll_to_earth(l.latitude, l.longitude)
               AND (CAST(:exclude AS uuid) IS NULL OR l.id <> CAST(:exclude AS uuid))
             ORDER BY ll_to_earth(l.latitude, l.longitude) <-> ll_to_earth(:lat, :lon)
             LIMIT :per_kind
         ) n
         WHERE d <= :meters)
        UNION ALL
        (SELECT {_COLUMNS_SQL}, NULL::float8 AS d, true AS remote_capable, NULL::int AS band_rank
         FROM listing l
         JOIN organization o ON o.id = l.organization_id
         WHERE :include_remote AND {_live(kind)} AND {_REMOTE_SQL}
           AND (CAST(:exclude AS uuid) IS NULL OR l.id <> CAST(:exclude AS uuid))
           AND (CAST(:lat AS float8) IS NULL OR l.latitude IS NULL
                OR {_DISTANCE_SQL} > :meters)
         ORDER BY l.last_verified_at DESC, l.id
         LIMIT :remote_per_kind)"""


@functools.cache
def _statement(kinds: tuple[str, ...]) -> TextClause:
    """Per needed kind: the nearest listings within the radius (that kind's GiST index) and the
    freshest remote-capable ones beyond it (a partial index on kind and last_verified_at): two
    index-driven halves instead of one OR that no index can serve, every kind in one round trip."""
    unknown = set(kinds) - KNOWN_KINDS
    if unknown:
        raise ValueError(f"unknown kinds {sorted(unknown)}")
    return text("\nUNION ALL\n".join(_for_kind(kind) for kind in kinds))


REMOTE_CANDIDATES_PER_KIND = 30
_GENERIC_PLANS = text("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)")


async def candidates(
    session: AsyncSession,
    *,
    kinds: Sequence[str],
    point: tuple[float, float] | None,
    radius_km: float,
    include_remote: bool,
    exclude_id: uuid.UUID | None = None,
) -> Sequence[Row[tuple[object, ...]]]:
    """Active listings of verified organizations, within the radius or remote-capable."""
    params = {
        "lat": point[0] if point else None,
        "lon": point[1] if point else None,
        "meters": radius_km * 1000,
        "include_remote": include_remote,
        "exclude": str(exclude_id) if exclude_id else None,
        "per_kind": CANDIDATES_PER_KIND,
        "remote_per_kind": REMOTE_CANDIDATES_PER_KIND,
    }
    if not kinds:
        return []
    # Planning this UNION takes longer than running it, and its plan never depends on the values
    # (every half is index-driven whatever the point): reuse one plan per connection.
    await session.execute(_GENERIC_PLANS)
    return (await session.execute(_statement(tuple(sorted(set(kinds)))), params)).all()


async def details_of(session: AsyncSession, listing_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """The shown-only fields of the chosen candidates."""
    if not listing_ids:
        return {}
    rows = await session.execute(
        select(
            Listing.id,
            Listing.organization_id,
            Listing.description,
            Listing.specialties,
            Listing.formats,
            Listing.populations,
            Listing.languages,
            Listing.location_precision,
            Listing.locality,
            Listing.region,
            Listing.country,
        ).where(Listing.id.in_(list(listing_ids)))
    )
    return {row.id: row for row in rows}


async def contacts_of(session: AsyncSession, listing_ids: Sequence[uuid.UUID]) -> Sequence[Contact]:
    if not listing_ids:
        return []
    return (
        await session.scalars(
            select(Contact)
            .where(Contact.listing_id.in_(list(listing_ids)), Contact.visibility != "on_introduction")
            .order_by(Contact.listing_id, Contact.position)
        )
    ).all()


async def initiators_near(
    session: AsyncSession,
    *,
    point: tuple[float, float],
    radius_km: float,
    side: str | None,
    formats: Sequence[str],
) -> list[tuple[Initiator, float]]:
    distance = func.earth_distance(
        func.ll_to_earth(point[0], point[1]), func.ll_to_earth(Initiator.latitude, Initiator.longitude)
    )
    stmt = select(Initiator, distance.label("distance_m")).where(
        Initiator.latitude.is_not(None), distance <= radius_km * 1000
    )
    if side is not None:
        stmt = stmt.where(or_(Initiator.side.is_(None), Initiator.side == side, Initiator.side == "both"))
    if formats:
        stmt = stmt.where(
            or_(func.cardinality(Initiator.formats) == 0, Initiator.formats.overlap(list(formats)))
        )
    rows = await session.execute(stmt.order_by(distance, Initiator.pathway_step, Initiator.id).limit(100))
    return [(row[0], float(row[1])) for row in rows]


async def listings_version(session: AsyncSession) -> tuple[object, ...]:
    """Changes whenever anything a match depends on changes (listings, contacts through their
    listing, organizations' verification): two index lookups. New listings raise the newest
    updated_at too; listings are never deleted, only archived (an update)."""
    row = (
        await session.execute(
            select(
                select(func.max(Listing.updated_at)).scalar_subquery(),
                select(func.max(Organization.updated_at)).scalar_subquery(),
            )
        )
    ).one()
    return tuple(row)
