"""Which listing a service_at_location id names.

Those ids are name-based UUIDs of a listing's id (`ids.service_at_location_id`) and cannot be
reversed, so each process keeps (in its caches, `hsds_locations`) the ids it has derived: the
first eight bytes of every listing's service_at_location id, sorted, beside the listing's id
(24 bytes a listing; 24 MB at 1,000,000). A listing's id never changes, so what is kept mostly
grows: after a change to the data, an id not found makes the process read the listings created
since it last read, and when the table then holds a different number of listings than it keeps
(one created with an older time, or deleted), all of them again. An id that names nothing reads
nothing until the data changes. Whether the listing found may be shown is the caller's business
(the public rule, read with the listing)."""

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Final

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.caching.version import Version
from registry.hsds import ids
from registry.models import Listing

# Rows read and derived between turns of the event loop (deriving is about 3 µs an id).
STEP: Final = 5_000
# A listing created in a transaction that commits later than it began is read again this far back.
OVERLAP: Final = timedelta(minutes=10)


class Locations:
    def __init__(self) -> None:
        self._heads = np.empty(0, dtype=np.uint64)  # sorted
        self._listings = np.empty(0, dtype="S16")
        self._read_at: datetime | None = None  # the newest creation time read
        self._version: Version | None = None  # the data's version at the last read
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._heads)

    def weight(self) -> int:
        """The bytes it holds, for the caches' budgets."""
        return int(self._heads.nbytes + self._listings.nbytes) + 200

    def _find(self, wanted: uuid.UUID) -> uuid.UUID | None:
        head = np.uint64(ids.head_of(wanted))
        at = int(np.searchsorted(self._heads, head))
        while at < len(self._heads) and self._heads[at] == head:
            listing_id = uuid.UUID(bytes=self._listings[at].ljust(16, b"\0"))
            if ids.service_at_location_id(listing_id) == wanted:  # the whole id, not its start
                return listing_id
            at += 1
        return None

    async def listing_for(
        self, session: AsyncSession, wanted: uuid.UUID, version: Version
    ) -> uuid.UUID | None:
        """The listing whose service_at_location id is `wanted`, if any listing's is."""
        found = self._find(wanted)
        # (Replicas may answer at older versions than the primary: only a newer one reads.)
        if found is not None or (self._version is not None and version <= self._version):
            return found
        async with self._lock:
            if self._version is None or version > self._version:
                await self._read(session, since=self._read_at)
                found = self._find(wanted)
                if found is None and await session.scalar(select(func.count()).select_from(Listing)) != len(
                    self
                ):
                    await self._read(session, since=None)
                self._version = version
        return self._find(wanted)

    async def _read(self, session: AsyncSession, *, since: datetime | None) -> None:
        """Read the listings created since `since` (less OVERLAP), or all of them afresh."""
        stmt = select(Listing.id, Listing.created_at)
        if since is not None:
            stmt = stmt.where(Listing.created_at >= since - OVERLAP)
        heads: list[int] = []
        listings: list[bytes] = []
        newest = since
        result = await session.stream(stmt.execution_options(yield_per=STEP))
        async for part in result.partitions():  # the other requests go on between parts
            heads += [ids.derived_head("service_at_location", str(listing_id)) for listing_id, _ in part]
            listings += [listing_id.bytes for listing_id, _ in part]
            latest = max(created for _, created in part)
            newest = latest if newest is None else max(newest, latest)
        new_heads = np.array(heads, dtype=np.uint64)
        new_listings = np.array(listings, dtype="S16")
        if since is not None and len(self._heads) and len(new_heads):  # those read again are kept
            at = np.minimum(np.searchsorted(self._heads, new_heads), len(self._heads) - 1)
            held = (self._heads[at] == new_heads) & (self._listings[at] == new_listings)
            new_heads = np.concatenate([self._heads, new_heads[~held]])
            new_listings = np.concatenate([self._listings, new_listings[~held]])
        order = np.argsort(new_heads, kind="stable")
        self._heads, self._listings = new_heads[order], new_listings[order]
        self._read_at = newest
