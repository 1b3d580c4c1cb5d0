"""Candidate selection for matching: one query over every needed kind at once."""

import functools
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Row, TextClause, and_, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from registry.listings.visibility import contact_listed, public_listing_sql
from registry.locations import distance
from registry.locations.distance import distance_sql
from registry.locations.geo import DISTANCE_BANDS
from registry.models import Contact, Initiator, Listing

# Per kind, how many of the nearest candidates are scored (and of the freshest remote-capable
# ones beyond the radius); scoring is cheap, the caps bound work.
CANDIDATES_PER_KIND = 60
REMOTE_CANDIDATES_PER_KIND = 30


_BANDS_SQL = " ".join(
    f"WHEN d < {int(upper * 1000)} THEN {rank}" for rank, (upper, _) in enumerate(DISTANCE_BANDS[:-1])
)
# What scoring needs (and the lists shown as they are); what is only shown comes later, for
# the few candidates chosen (`shown_of`).
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


_DISTANCE_SQL = distance_sql("l.latitude", "l.longitude")


def _live(kind: str) -> str:
    # The kind is spelled out (not a parameter) so the planner can use that kind's own index.
    return f"l.kind = '{kind}' AND l.status = 'active' AND {public_listing_sql('l', 'o')}"


def _near(kind: str) -> str:
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
         WHERE d <= :meters)"""


def _remote(kind: str) -> str:
    # The freshest remote-capable listings beyond the radius (all of them without a point), from
    # a partial index on kind and last_verified_at; their place comes along for `distance_m`.
    return f"""
        (SELECT {_COLUMNS_SQL}, NULL::float8 AS d, true AS remote_capable, NULL::int AS band_rank,
                l.latitude, l.longitude
         FROM listing l
         JOIN organization o ON o.id = l.organization_id
         WHERE {_live(kind)} AND {_REMOTE_SQL}
           AND (CAST(:exclude AS uuid) IS NULL OR l.id <> CAST(:exclude AS uuid))
           AND (CAST(:lat AS float8) IS NULL OR l.latitude IS NULL
                OR {_DISTANCE_SQL} > :meters)
         ORDER BY l.last_verified_at DESC, l.id
         LIMIT :limit)"""


def _union(part: Callable[[str], str], kinds: Sequence[str]) -> TextClause:
    unknown = set(kinds) - KNOWN_KINDS
    if unknown:
        raise ValueError(f"unknown kinds {sorted(unknown)}")
    return text("\nUNION ALL\n".join(part(kind) for kind in kinds))


@functools.cache
def _near_statement(kinds: tuple[str, ...]) -> TextClause:
    """Per needed kind, the nearest listings within the radius (that kind's GiST index): every kind
    in one round trip."""
    return _union(_near, kinds)


@functools.cache
def _remote_statement(kinds: tuple[str, ...]) -> TextClause:
    return _union(_remote, kinds)


_GENERIC_PLANS = text("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)")


def distance_m(point: tuple[float, float], latitude: float, longitude: float) -> float:
    """What `_DISTANCE_SQL` computes, in Python."""
    return distance.distance_m(point[0], point[1], latitude, longitude)


async def nearest(
    session: AsyncSession,
    *,
    kinds: Sequence[str],
    point: tuple[float, float],
    radius_km: float,
    exclude_id: uuid.UUID | None = None,
) -> Sequence[Row[tuple[object, ...]]]:
    """Active listings of verified organizations within the radius: the CANDIDATES_PER_KIND
    nearest of each kind."""
    if not kinds:
        return []
    params = {
        "lat": point[0],
        "lon": point[1],
        "meters": radius_km * 1000,
        "exclude": str(exclude_id) if exclude_id else None,
        "per_kind": CANDIDATES_PER_KIND,
    }
    # Planning this UNION takes longer than running it, and its plan never depends on the values
    # (every part is index-driven whatever the point): reuse one plan per connection.
    await session.execute(_GENERIC_PLANS)
    return (await session.execute(_near_statement(tuple(sorted(set(kinds)))), params)).all()


async def freshest_remote(
    session: AsyncSession,
    *,
    kinds: Sequence[str],
    limit: int,
    point: tuple[float, float] | None = None,
    radius_km: float = 0.0,
    exclude_id: uuid.UUID | None = None,
) -> Sequence[Row[tuple[object, ...]]]:
    """Active remote-capable listings of verified organizations, freshest first, `limit` of each
    kind: beyond the radius of `point` when one is given. Rows end with latitude and longitude."""
    if not kinds:
        return []
    params = {
        "lat": point[0] if point else None,
        "lon": point[1] if point else None,
        "meters": radius_km * 1000,
        "exclude": str(exclude_id) if exclude_id else None,
        "limit": limit,
    }
    await session.execute(_GENERIC_PLANS)
    return (await session.execute(_remote_statement(tuple(sorted(set(kinds)))), params)).all()


_DETAIL_COLUMNS = (
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
)
_CONTACT_COLUMNS = (
    Contact.id,
    Contact.name,
    Contact.role,
    Contact.email,
    Contact.phone,
    Contact.preferred_method,
    Contact.visibility,
)
DETAILS = len(_DETAIL_COLUMNS)
CONTACT_FIELDS = tuple(column.key for column in _CONTACT_COLUMNS)  # as ContactRead names them


async def shown_of(session: AsyncSession, listing_ids: Sequence[uuid.UUID]) -> Sequence[Sequence[Any]]:
    """The shown-only fields of the chosen candidates, with the contacts that may leave through
    matching (in order), in one round trip: a row per contact (the listing's fields, then the
    contact's, as many as `_CONTACT_COLUMNS`), and one row with no contact for a listing without."""
    if not listing_ids:
        return []
    contact_shown = and_(Contact.listing_id == Listing.id, contact_listed())
    return (
        await session.execute(
            select(*_DETAIL_COLUMNS, *_CONTACT_COLUMNS)
            .outerjoin(Contact, contact_shown)
            .where(Listing.id.in_(list(listing_ids)))
            .order_by(Listing.id, Contact.position)
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
    meters = distance.distance_clause(Initiator.latitude, Initiator.longitude, point)
    stmt = select(Initiator, meters.label("distance_m")).where(
        Initiator.latitude.is_not(None), Initiator.visible_to_programs.is_(True), meters <= radius_km * 1000
    )
    if side is not None:
        stmt = stmt.where(or_(Initiator.side.is_(None), Initiator.side == side, Initiator.side == "both"))
    if formats:
        stmt = stmt.where(
            or_(func.cardinality(Initiator.formats) == 0, Initiator.formats.overlap(list(formats)))
        )
    rows = await session.execute(stmt.order_by(meters, Initiator.pathway_step, Initiator.id).limit(100))
    return [(row[0], float(row[1])) for row in rows]
