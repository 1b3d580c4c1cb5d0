"""Near searches answered from the listings around their place, read once per place.

The listings a caller may see within a searched radius are read once per (place, radius, kinds,
view) in search order and kept as a `Place`: ids, bands, and a bitmask per filter value; a search
ANDs and ORs masks and loads only its page. The filters mean what they mean in SQL
(`queries.filtered`); anything `serves` does not know goes to `queries.search`, and so does a
place with more than MAX_KEPT listings. A place one API process read is kept for the others too
(caching.shared), so that each place is read from the listings once per version, not once per
process. Why and what it saves: docs/performance.md."""

import dataclasses
import sys
import uuid
from collections.abc import Hashable, Sequence
from typing import Any, Final

import msgspec
import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, func, literal_column
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import Principal
from registry.caching import shared
from registry.caching.caches import Caches
from registry.caching.version import Version
from registry.listings import code_lists, queries, records, visibility
from registry.listings.presenters import AnyListing
from registry.listings.queries import ListingFilters
from registry.listings.visibility import listing_view
from registry.locations import distance, geo
from registry.locations.geo import BAND_CODES
from registry.models import Listing

EQUALS: Final = ("side", "group_type", "delivery", "status", "evaluation_stage")
OVERLAPS: Final = ("formats", "populations", "languages", "specialties", "methods")
FLAGS: Final = ("open_to_mentoring", "accepting_partnerships", "ipv_trained")
REMOTE: Final = "remote_capable"
# Listings in one radius beyond which a place's searches stay with SQL (a 500 km radius around a
# metropolis).
MAX_KEPT: Final = 20_000


class Place(msgspec.Struct, frozen=True, gc=False):
    """The listings within a searched radius that one view may see, in search order."""

    ids: bytes  # 16 bytes per listing
    bands: bytes  # a band's rank per listing (every listing within a radius has one)
    # (column, value) -> the listings whose column is (or, for a list, holds) that value
    masks: dict[tuple[str, Any], int]

    @property
    def count(self) -> int:
        return len(self.bands)


class _Packed(msgspec.Struct, array_like=True, gc=False):
    """A Place as other processes read it (caching.shared): each mask as little-endian bytes."""

    ids: bytes
    bands: bytes
    masks: list[tuple[str, str | bool, bytes]]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Packed)


def pack(place: Place) -> bytes:
    size = (place.count + 7) // 8
    masks = [(column, value, mask.to_bytes(size, "little")) for (column, value), mask in place.masks.items()]
    return _encoder.encode(_Packed(place.ids, place.bands, masks))


def unpack(data: bytes) -> Place:
    packed = _decoder.decode(data)
    masks = {(column, value): int.from_bytes(mask, "little") for column, value, mask in packed.masks}
    return Place(ids=packed.ids, bands=packed.bands, masks=masks)


def weight(place: Place) -> int:
    return 200 + 17 * place.count + len(place.masks) * (60 + place.count // 8)


_HANDLED: Final = frozenset({"kinds", "equals", "overlaps", "flags", "near", "radius_km", "remote_ok"})
_UNHANDLED_DEFAULTS: Final = {
    f.name: getattr(ListingFilters(kinds=()), f.name)
    for f in dataclasses.fields(ListingFilters)
    if f.name not in _HANDLED
}


def serves(filters: ListingFilters) -> bool:
    """Whether `search` answers these filters (else `queries.search` does)."""
    return (
        filters.near is not None
        and filters.remote_ok is not True
        # Any other filter (text, modified_after, owner, and whatever is added later) is SQL's.
        and all(getattr(filters, name) == default for name, default in _UNHANDLED_DEFAULTS.items())
        and filters.equals.keys() <= set(EQUALS)
        and filters.overlaps.keys() <= set(OVERLAPS)
        and filters.flags.keys() <= set(FLAGS)
    )


def _bits(holds: npt.NDArray[np.bool_]) -> int:
    """The positions where `holds` is true, as the bits of a number (position i: bit i)."""
    return int.from_bytes(np.packbits(holds, bitorder="little").tobytes(), "little")


def _masks(
    name: str, values: Sequence[Any], rows: npt.NDArray[np.intp], count: int
) -> dict[tuple[str, Any], int]:
    """(name, value) -> the rows holding it, for `values` held by `rows` (a row may hold several,
    or the same one twice); None is nobody's value."""
    numbers = {value: number for number, value in enumerate(dict.fromkeys(values))}
    held = np.fromiter(map(numbers.__getitem__, values), dtype=np.intp, count=len(values))
    masks = {}
    for value, number in numbers.items():
        if value is not None:
            holds = np.zeros(count, dtype=bool)
            holds[rows[held == number]] = True
            masks[(name, value)] = _bits(holds)
    return masks


def _code_masks(name: str, texts: Sequence[str | None], count: int) -> dict[tuple[str, Any], int]:
    """(name, code) -> the rows whose list holds it, from each row's list as one text
    (code_lists): each distinct list is split once, however many rows hold it."""
    numbers = {text: number for number, text in enumerate(dict.fromkeys(texts))}
    held = np.fromiter(map(numbers.__getitem__, texts), dtype=np.intp, count=count)
    order = np.argsort(held, kind="stable")  # the rows of each list together
    bounds = np.searchsorted(held[order], np.arange(len(numbers) + 1))
    holders: dict[str, list[npt.NDArray[np.intp]]] = {}
    for text, number in numbers.items():
        for code in dict.fromkeys(code_lists.codes_of(text)):
            holders.setdefault(code, []).append(order[bounds[number] : bounds[number + 1]])
    masks = {}
    for code, rows in holders.items():
        holds = np.zeros(count, dtype=bool)
        holds[np.concatenate(rows)] = True
        masks[(name, code)] = _bits(holds)
    return masks


def place_of(rows: Sequence[Sequence[Any]]) -> Place:
    """A Place from rows of (id, band rank, name, remote_capable, *EQUALS, *OVERLAPS, *FLAGS), in
    search order: the id as its 16 bytes, the name only sorted by, the lists of OVERLAPS each as
    one text (code_lists)."""
    count = len(rows)
    columns = list(zip(*rows, strict=True)) or [()] * (4 + len(EQUALS) + len(OVERLAPS) + len(FLAGS))
    lists_at = 4 + len(EQUALS)
    flags_at = lists_at + len(OVERLAPS)
    masks: dict[tuple[str, Any], int] = {}
    every_row = np.arange(count)
    named = zip((REMOTE, *EQUALS, *FLAGS), (*columns[3:lists_at], *columns[flags_at:]), strict=True)
    for name, values in named:
        masks.update(_masks(name, values, every_row, count))
    for name, texts in zip(OVERLAPS, columns[lists_at:flags_at], strict=True):
        masks.update(_code_masks(name, texts, count))
    return Place(ids=b"".join(columns[0]), bands=bytes(columns[1]), masks=masks)


def passing(place: Place, filters: ListingFilters) -> int:
    """The listings of the place that pass the filters, as a bitmask (each test as SQL would
    answer it; a value nobody holds passes nobody)."""
    mask = (1 << place.count) - 1
    for column, value in filters.equals.items():
        mask &= place.masks.get((column, value), 0)
    for column, codes in filters.overlaps.items():
        if codes:
            mask &= _any_of(place, column, codes)
    for column, flag in filters.flags.items():
        mask &= place.masks.get((column, flag), 0)
    if filters.remote_ok is False:
        mask &= place.masks.get((REMOTE, False), 0)
    return mask


def _any_of(place: Place, column: str, codes: Sequence[str]) -> int:
    found = 0
    for code in codes:
        found |= place.masks.get((column, code), 0)
    return found


def positions(mask: int, start: int, stop: int) -> list[int]:
    """The positions of the set bits of `mask`, from the start-th to before the stop-th one."""
    bits = format(mask, "b")[::-1]  # bit i at index i
    found: list[int] = []
    seen, i = 0, bits.find("1")
    while i != -1 and seen < stop:
        if seen >= start:
            found.append(i)
        seen += 1
        i = bits.find("1", i + 1)
    return found


# A page's listing with its contacts (what the list presenters read), as JSON text.
_PAGE_JSON: Final[ColumnElement[str]] = literal_column(
    records.listing_json(Listing.__tablename__, evaluations=False)
)


# What a place is made by: a place kept by a process of another release is not reused.
_CODE: Final = shared.code_digest(sys.modules[__name__], queries, visibility, code_lists, distance, geo)


def _key(principal: Principal, filters: ListingFilters) -> Hashable:
    return (listing_view(principal), tuple(filters.kinds), filters.near, filters.radius_km)


async def _read(session: AsyncSession, principal: Principal, filters: ListingFilters) -> Place | None:
    """The place, or none when its radius holds more than MAX_KEPT listings."""
    assert filters.near is not None
    around = ListingFilters(kinds=filters.kinds, near=filters.near, radius_km=filters.radius_km)
    columns = [getattr(Listing, column) for column in EQUALS]
    columns += [code_lists.as_text(getattr(Listing, column)).label(column) for column in OVERLAPS]
    columns += [getattr(Listing, column) for column in FLAGS]
    # The id as its 16 bytes (no UUID made per row only to be packed; they sort as the ids do), and
    # the band's rank (every listing within a radius has a place). The columns sorted by come
    # first: PostgreSQL reads them out of each row it compares, and reading them from behind the
    # lists took a fifth of a busy place's read (docs/performance.md).
    identity = func.uuid_send(Listing.id).label("id_bytes")
    band = queries.band_rank(filters.near).label("band_rank")
    stmt = (
        queries.filtered(principal, around)
        .with_only_columns(
            identity, band, Listing.name, queries.remote_capable(), *columns, maintain_column_froms=False
        )
        .order_by(band, Listing.name, identity)
        .limit(MAX_KEPT + 1)
    )
    # Core, not the ORM, and each list as one text: the ORM's per-row and per-array processing was
    # most of reading a busy place, and the driver's lists of strings most of what was left
    # (docs/performance.md).
    rows = (await (await session.connection()).execute(stmt)).all()
    return None if len(rows) > MAX_KEPT else place_of(rows)


async def _place(
    session: AsyncSession, principal: Principal, filters: ListingFilters, version: Version, caches: Caches
) -> Place | None:
    """The place, read once per version however many searches ask at the same moment (and kept
    for the other processes, or read from what one of them kept); none when
    the search is SQL's: the place holds too many listings (remembered whatever the version, so
    such searches go straight to SQL rather than read 20,001 rows after every change)."""
    key = _key(principal, filters)
    if caches.get("nearby_too_big", key, None):
        return None

    async def read() -> Place | None:
        place = await _read(session, principal, filters)
        if place is None:
            caches.put("nearby_too_big", key, None, True, weight=64)
        return place

    # A search whose shared read failed goes to SQL on its own rather than read the place again.
    place: Place | None = await caches.memo_across(
        "nearby_places",
        key,
        lambda: shared.digest(_CODE, key),
        version,
        read,
        pack=pack,
        unpack=unpack,
        weigh=weight,
        failed=None,
    )
    return place


async def search(
    session: AsyncSession,
    principal: Principal,
    filters: ListingFilters,
    version: Version,
    caches: Caches,
    *,
    limit: int,
    offset: int,
) -> tuple[Sequence[tuple[AnyListing, str | None]], int]:
    """What `queries.search` answers (a page of listings with their bands, and the total), for
    filters that `serves` accepts."""
    place = await _place(session, principal, filters, version, caches)
    if place is None:
        return await queries.search(session, principal, filters, limit=limit, offset=offset)
    mask = passing(place, filters)
    page = positions(mask, offset, offset + limit)
    if not page:
        return [], mask.bit_count()
    ids = [uuid.UUID(bytes=place.ids[16 * i : 16 * i + 16]) for i in page]
    # The page's listings as they are now, through every filter of the search again: one that
    # changed since the place was read (the notification is still under way) and no longer
    # passes sends the whole search to SQL. Until the version moves, the total may still count it,
    # as a kept page of results would. Each one as a record with its contacts, in one statement (an
    # ORM load with its contacts joined was most of a first page's time). The radius as the
    # distance alone: these listings are named by id (queries.within_distance).
    assert filters.near is not None
    by_id = dataclasses.replace(filters, near=None)
    loaded = {
        listing_id: records.decode(text)
        for listing_id, text in await session.execute(
            queries.filtered(principal, by_id)
            .where(Listing.id.in_(ids), queries.within_distance(filters.near, filters.radius_km))
            .with_only_columns(Listing.id, _PAGE_JSON, maintain_column_froms=False)
        )
    }
    if len(loaded) < len(ids):
        return await queries.search(session, principal, filters, limit=limit, offset=offset)
    bands = [BAND_CODES[place.bands[i]] for i in page]
    return [(loaded[listing_id], band) for listing_id, band in zip(ids, bands, strict=True)], mask.bit_count()
