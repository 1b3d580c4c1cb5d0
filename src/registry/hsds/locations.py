"""Which listing a service_at_location id names.

Those ids are name-based UUIDs of a listing's id (`ids.service_at_location_id`) and cannot be
reversed, so each process keeps the ids it has derived: the first eight bytes of every listing's
service_at_location id, sorted, beside the listing's id (24 bytes a listing; 24 MB at
1,000,000). A listing's id never changes, so what is kept only grows: after a change to the data,
an id not found makes the process read the listings created since it last read (an id that names
nothing does not, until the data changes again). Whether the listing found may be shown is the
caller's business (the public rule, read with the listing)."""

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Final

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.caching.version import Version
from registry.hsds import ids
from registry.models import Listing

# Rows derived between turns of the event loop (deriving is about 3 µs an id).
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
        if found is not None or version == self._version:
            return found
        async with self._lock:
            if version != self._version:
                await self._read(session)
                self._version = version
        return self._find(wanted)

    async def _read(self, session: AsyncSession) -> None:
        stmt = select(Listing.id, Listing.created_at)
        if self._read_at is not None:
            stmt = stmt.where(Listing.created_at >= self._read_at - OVERLAP)
        rows = (await session.execute(stmt)).all()
        if not rows:
            return
        heads: list[int] = []
        for start in range(0, len(rows), STEP):
            if start:
                await asyncio.sleep(0)  # the other requests go on meanwhile
            heads += [
                ids.derived_head("service_at_location", str(row[0])) for row in rows[start : start + STEP]
            ]
        new_heads = np.array(heads, dtype=np.uint64)
        new_listings = np.array([row[0].bytes for row in rows], dtype="S16")
        if len(self._heads):  # those read again (within OVERLAP) are kept already
            at = np.minimum(np.searchsorted(self._heads, new_heads), len(self._heads) - 1)
            held = (self._heads[at] == new_heads) & (self._listings[at] == new_listings)
            new_heads, new_listings = new_heads[~held], new_listings[~held]
        newest = max(row[1] for row in rows)
        self._read_at = newest if self._read_at is None else max(self._read_at, newest)
        all_heads = np.concatenate([self._heads, new_heads])
        order = np.argsort(all_heads, kind="stable")
        self._heads = all_heads[order]
        self._listings = np.concatenate([self._listings, new_listings])[order]
