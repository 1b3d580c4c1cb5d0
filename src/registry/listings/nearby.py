"""Near searches answered from the listings around their place, read once per place.

A search with `near` names a coarse place (a city, a ZIP code, a grid cell) and vocabulary codes,
and people looking in one area ask about the same few places with different codes. So the
listings within the radius that a caller may see are read once per (place, radius, kinds, view),
in the order searches show them (distance band, then name and id, as PostgreSQL sorts them), with
the values that vocabulary filters test; each search keeps those that pass its own filters, counts
them, and loads only the listings of its page. A first-time search of a busy place at 1,000,000
listings spent most of its time in PostgreSQL finding the listings in the radius and their
organizations (EXPLAIN ANALYZE), and did so again for each other code asked about there.

The filters tested here mean what they mean in SQL (`queries.filtered`): `equals` is `=` (never
true for NULL), `overlaps` is `&&`, `flags` are `IS TRUE` / `IS FALSE`, and `remote_ok=false`
keeps the listings whose `remote_capable()` is false. Text search (`q`), `modified_after`,
`organization_id` and `remote_ok=true` (which drops the radius) go to `queries.search`, and so
does a place with more than MAX_KEPT listings in its radius. What is kept is tagged with the
data's version like every other kept answer (`AnswerCache`).
"""

import operator
import uuid
from collections.abc import Hashable, Sequence
from typing import Any, Final

import msgspec
from sqlalchemy import ColumnElement, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, selectinload
from sqlalchemy.types import NullType

from registry.answers import AnswerCache, shared_codes
from registry.auth.principal import Principal
from registry.listings import queries
from registry.listings.queries import ListingFilters
from registry.listings.visibility import listing_view, listing_visible
from registry.locations.geo import BAND_CODES
from registry.models import Listing, Organization

EQUALS: Final = frozenset({"side", "group_type", "delivery", "status", "evaluation_stage"})
OVERLAPS: Final = frozenset({"formats", "populations", "languages", "specialties", "methods"})
FLAGS: Final = frozenset({"open_to_mentoring", "accepting_partnerships", "ipv_trained"})
# Listings in one radius beyond which a place's searches stay with SQL (a 500 km radius around a
# metropolis), so that one search cannot fill a process's memory.
MAX_KEPT: Final = 10_000
# What one kept listing costs (the struct, its id; code sets are shared): sys.getsizeof.
BYTES_PER_LISTING: Final = 300


class Nearby(msgspec.Struct, frozen=True, gc=False):
    """A listing within a searched radius: what the filters test, and where it sorts."""

    id: uuid.UUID
    band_rank: int | None
    remote_capable: bool | None
    side: str | None
    group_type: str | None
    delivery: str | None
    status: str | None
    evaluation_stage: str | None
    formats: frozenset[str]
    populations: frozenset[str]
    languages: frozenset[str]
    specialties: frozenset[str]
    methods: frozenset[str]
    open_to_mentoring: bool | None
    accepting_partnerships: bool | None
    ipv_trained: bool | None


class _Kept(msgspec.Struct, frozen=True, gc=False):
    complete: bool  # false: the radius held more than MAX_KEPT (nothing else is kept)
    listings: tuple[Nearby, ...]


_kept: AnswerCache[_Kept] = AnswerCache(
    size=512,
    max_bytes=24 * 1024 * 1024,
    seconds=300.0,
    weigh=lambda kept: 100 + BYTES_PER_LISTING * len(kept.listings),
)


def forget_kept() -> None:
    _kept.clear()


def serves(filters: ListingFilters) -> bool:
    """Whether `search` answers these filters (else `queries.search` does)."""
    return (
        filters.near is not None
        and filters.remote_ok is not True
        and not filters.q
        and filters.modified_after is None
        and filters.organization_id is None
        and filters.equals.keys() <= EQUALS
        and filters.overlaps.keys() <= OVERLAPS
        and filters.flags.keys() <= FLAGS
    )


def passing(listings: Sequence[Nearby], filters: ListingFilters) -> list[Nearby]:
    """The listings that pass the filters, in their order (each test as SQL would answer it)."""
    kept = list(listings)
    for column, value in filters.equals.items():
        get = operator.attrgetter(column)
        kept = [n for n in kept if get(n) == value]
    for column, values in filters.overlaps.items():
        if values:
            get, wanted = operator.attrgetter(column), frozenset(values)
            kept = [n for n in kept if not wanted.isdisjoint(get(n))]
    for column, flag in filters.flags.items():
        get = operator.attrgetter(column)
        kept = [n for n in kept if get(n) is flag]
    if filters.remote_ok is False:
        kept = [n for n in kept if n.remote_capable is False]
    return kept


def _key(principal: Principal, filters: ListingFilters) -> Hashable:
    return (listing_view(principal), tuple(filters.kinds), filters.near, filters.radius_km)


def _as_sent(column: InstrumentedAttribute[Any]) -> ColumnElement[Any]:
    return type_coerce(column, NullType()).label(column.key)


async def _read(session: AsyncSession, principal: Principal, filters: ListingFilters) -> _Kept:
    assert filters.near is not None
    around = ListingFilters(kinds=filters.kinds, near=filters.near, radius_km=filters.radius_km)
    rank = queries.near_rank(filters.near)
    stmt = (
        queries.filtered(principal, around)
        .with_only_columns(
            Listing.id,
            rank,
            queries.remote_capable(),
            Listing.side,
            Listing.group_type,
            Listing.delivery,
            Listing.status,
            Listing.evaluation_stage,
            _as_sent(Listing.formats),
            _as_sent(Listing.populations),
            _as_sent(Listing.languages),
            _as_sent(Listing.specialties),
            _as_sent(Listing.methods),
            Listing.open_to_mentoring,
            Listing.accepting_partnerships,
            Listing.ipv_trained,
            maintain_column_froms=False,
        )
        .order_by(rank.asc().nulls_last(), Listing.name, Listing.id)
        .limit(MAX_KEPT + 1)
    )
    # Core, not the ORM, and the arrays as the driver sends them (lists): the ORM's per-row and
    # per-array processing was two thirds of reading 3,500 listings (cProfile).
    rows = (await (await session.connection()).execute(stmt)).all()
    if len(rows) > MAX_KEPT:
        return _Kept(complete=False, listings=())
    return _Kept(
        complete=True,
        listings=tuple(
            Nearby(
                id=id_,
                band_rank=band_rank,
                remote_capable=remote,
                side=side,
                group_type=group_type,
                delivery=delivery,
                status=status,
                evaluation_stage=stage,
                formats=shared_codes(formats),
                populations=shared_codes(populations),
                languages=shared_codes(languages),
                specialties=shared_codes(specialties),
                methods=shared_codes(methods),
                open_to_mentoring=mentoring,
                accepting_partnerships=accepting,
                ipv_trained=trained,
            )
            for (
                id_,
                band_rank,
                remote,
                side,
                group_type,
                delivery,
                status,
                stage,
                formats,
                populations,
                languages,
                specialties,
                methods,
                mentoring,
                accepting,
                trained,
            ) in rows
        ),
    )


async def search(
    session: AsyncSession,
    principal: Principal,
    filters: ListingFilters,
    version: Hashable,
    *,
    limit: int,
    offset: int,
) -> tuple[list[tuple[Listing, str | None]], int]:
    """What `queries.search` answers (a page of listings with their bands, and the total), for
    filters that `serves` accepts."""
    key = _key(principal, filters)
    kept = _kept.get(key, version)
    if kept is None:
        kept = await _read(session, principal, filters)
        _kept.put(key, version, kept)
    if not kept.complete:
        return await queries.search(session, principal, filters, limit=limit, offset=offset)
    found = passing(kept.listings, filters)
    page = found[offset : offset + limit]
    if not page:
        return [], len(found)
    loaded = {
        listing.id: listing
        for listing in await session.scalars(
            select(Listing)
            .join(Organization, Organization.id == Listing.organization_id)
            .where(Listing.id.in_([n.id for n in page]), listing_visible(principal))
            .options(selectinload(Listing.contacts))
        )
    }
    if len(loaded) < len(page):  # changed since it was read (the version has not caught up yet)
        return await queries.search(session, principal, filters, limit=limit, offset=offset)
    bands = [None if n.band_rank is None else BAND_CODES[n.band_rank] for n in page]
    return [(loaded[n.id], band) for n, band in zip(page, bands, strict=True)], len(found)
