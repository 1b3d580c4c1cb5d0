"""SQL for finding listings: filters, full-text search and the radius search (earthdistance)."""

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from registry.auth.principal import Principal
from registry.listings import code_lists
from registry.listings.visibility import listing_visible
from registry.locations.distance import distance_clause
from registry.locations.geo import BAND_CODES, DISTANCE_BANDS
from registry.models import Listing


@dataclass(frozen=True, kw_only=True)
class ListingFilters:
    kinds: Sequence[str]
    equals: dict[str, str] = field(default_factory=dict)  # column -> value
    overlaps: dict[str, Sequence[str]] = field(default_factory=dict)  # array column -> any of
    flags: dict[str, bool] = field(default_factory=dict)
    q: str | None = None
    near: tuple[float, float] | None = None
    radius_km: float = 50.0
    remote_ok: bool | None = None
    modified_after: datetime | None = None
    organization_id: uuid.UUID | None = None


def earth_point(latitude: object, longitude: object) -> ColumnElement[object]:
    return func.ll_to_earth(latitude, longitude)


# Search points are mostly coarse (a city, a ZIP code, a grid cell), so the same ones come back:
# their SQL expressions are kept (immutable, shared safely by statements) rather than built again.
# They are objects the garbage collector walks (about 180 per point), hence few of them.
_POINTS_KEPT = 64


@functools.lru_cache(maxsize=_POINTS_KEPT)
def distance_m(near: tuple[float, float]) -> ColumnElement[float]:
    """Metres from `near` to each listing's stored point (registry.locations.distance)."""
    return distance_clause(Listing.latitude, Listing.longitude, near)


@functools.lru_cache(maxsize=_POINTS_KEPT)
def band_rank(near: tuple[float, float]) -> ColumnElement[int]:
    """The distance band's rank (0 = nearest), from the stored (coarse for `area`) point."""
    distance = distance_m(near)
    whens = [(distance < upper * 1000, rank) for rank, (upper, _) in enumerate(DISTANCE_BANDS[:-1])]
    return case(*whens, else_=len(DISTANCE_BANDS) - 1)


def near_rank(near: tuple[float, float]) -> ColumnElement[int | None]:
    """What a near search sorts by first: the band's rank, none for listings without a place."""
    return case((Listing.latitude.is_(None), literal(None)), else_=band_rank(near))


def within_distance(near: tuple[float, float], radius_km: float) -> ColumnElement[bool]:
    """The distance alone (none for a listing without a place), for listings a statement names by
    id. `within_radius` adds the box, which is only the way into the radius's index (every point
    within the distance lies inside it); given it beside a few ids, the planner read the whole
    radius through that index and ANDed it with the ids' (0.9 ms of a page's 1.1 at a big city,
    docs/performance.md)."""
    return distance_m(near) <= radius_km * 1000


@functools.lru_cache(maxsize=_POINTS_KEPT)
def within_radius(near: tuple[float, float], radius_km: float) -> ColumnElement[bool]:
    return and_(
        Listing.latitude.is_not(None),
        func.earth_box(earth_point(near[0], near[1]), radius_km * 1000).op("@>")(
            earth_point(Listing.latitude, Listing.longitude)
        ),
        within_distance(near, radius_km),
    )


def remote_capable() -> ColumnElement[bool]:
    return or_(
        Listing.remote_ok.is_(True),
        func.coalesce(Listing.delivery, "").in_(("online", "hybrid")),
        Listing.location_precision == "remote",
    )


def _of_kinds(kinds: Sequence[str]) -> ColumnElement[bool]:
    # One kind is written into the SQL (not a parameter), so that the planner can use that kind's
    # own location index (migration 0012) in every plan, generic ones included.
    if len(kinds) == 1:
        return Listing.kind == literal(kinds[0], literal_execute=True)
    return Listing.kind.in_(kinds)


def filtered(principal: Principal, filters: ListingFilters) -> Select[Listing]:
    stmt = select(Listing).where(
        listing_visible(principal), _of_kinds(filters.kinds), Listing.archived_at.is_(None)
    )
    for column, value in filters.equals.items():
        stmt = stmt.where(getattr(Listing, column) == value)
    for column, values in filters.overlaps.items():
        if values:
            held = getattr(Listing, column)
            stmt = stmt.where(held.overlap(code_lists.sent(values, held)))
    for column, flag in filters.flags.items():
        stmt = stmt.where(getattr(Listing, column).is_(flag))
    if filters.q:
        stmt = stmt.where(Listing.search_vector.op("@@")(func.plainto_tsquery("simple", filters.q)))
    if filters.modified_after is not None:
        stmt = stmt.where(Listing.updated_at > filters.modified_after)
    if filters.organization_id is not None:
        stmt = stmt.where(Listing.organization_id == filters.organization_id)
    if filters.remote_ok is True:
        stmt = stmt.where(remote_capable())
    elif filters.remote_ok is False:
        stmt = stmt.where(~remote_capable())
    if filters.near is not None and filters.remote_ok is not True:
        stmt = stmt.where(within_radius(filters.near, filters.radius_km))
    return stmt


async def search(
    session: AsyncSession, principal: Principal, filters: ListingFilters, *, limit: int, offset: int
) -> tuple[list[tuple[Listing, str | None]], int]:
    """One page of visible listings with each one's distance band, and the total."""
    stmt = filtered(principal, filters)
    # The total rides along with the page (one pass over the matches instead of two).
    total_column = func.count().over().label("total")
    if filters.near is not None:
        rank = near_rank(filters.near)
        page = stmt.add_columns(rank.label("band_rank"), total_column).order_by(
            rank.asc().nulls_last(), Listing.name, Listing.id
        )
    else:
        page = stmt.add_columns(literal(None).label("band_rank"), total_column).order_by(
            Listing.name, Listing.id
        )
    rows = (
        await session.execute(page.options(selectinload(Listing.contacts)).limit(limit).offset(offset))
    ).all()
    if rows:
        total = int(rows[0][2])
    else:  # past the last page (or nothing matches): count on its own
        total = (
            await session.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))
        ).scalar_one()
    return [(row[0], None if row[1] is None else BAND_CODES[row[1]]) for row in rows], total
