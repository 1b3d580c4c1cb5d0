"""The app's one cache component: every cache the API keeps, by name, each within a budget and
all of them within one total, each value tagged with the version of the data it was built from
(`Changes`).

Ask for a value with `memo(name, key, version, build)`: a kept value of that version, or the one
`build` makes (once, however many requests ask for it at the same moment). `create_app` makes one
`Caches` per app; `clear()` empties them all.
"""

import asyncio
import zlib
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from registry.caching.shared import Shared
from registry.caching.store import Store, Total
from registry.caching.version import Changes, Version
from registry.database import routing
from registry.database.reads import Reads

V = TypeVar("V")
MiB: Final = 1024 * 1024
RETRY: Final = object()


@dataclass(frozen=True)
class Budget:
    entries: int
    bytes: int
    seconds: float = 300.0  # a value also follows the clock (a listing turning stale)


# Every cache the API keeps, and what it may hold (per process).
BUDGETS: Final[Mapping[str, Budget]] = {
    # GET /programs and /partners pages, encoded, per (view, filters, page)
    "search_pages": Budget(4096, 24 * MiB),
    # The listings around a searched place as bitmasks (listings.nearby), per (view, place, kinds)
    "nearby_places": Budget(1024, 32 * MiB),
    # Places too big to keep: their searches go to SQL (not tied to a version)
    "nearby_too_big": Budget(1024, 1 * MiB, seconds=3600.0),
    # POST /matches answers, encoded and compressed, per request (other processes' are in
    # PostgreSQL: shared)
    "match_answers": Budget(4096, 8 * MiB),
    # A kind's listings within a radius of a point, as arrays for scoring: matching.service
    "match_candidates": Budget(1024, 32 * MiB),
    # Listings as scoring reads them, per listing: those a match kept, read again by id (the lists
    # above hold numbers, not listings)
    "match_rows": Budget(32768, 16 * MiB),
    # Every remote-capable listing of a kind, as arrays for scoring
    "match_remote": Budget(16, 64 * MiB),
    # Shown-only details and contacts of chosen listings, per listing
    "listing_details": Budget(4096, 8 * MiB),
    # Reports, per (name, parameters, release period): a minute at most
    "reports": Budget(64, 16 * MiB, seconds=60.0),
    # Release periods whose snapshot of people counts exists (reports.releases)
    "report_periods": Budget(8, 4096),
    # The controlled vocabularies, for checking the codes of searches and matches
    "vocabulary": Budget(1, 1 * MiB),
    # The HSDS API's: every term as HSDS shows it, and the public services matching a query's
    # filters as ids in (name, id) order, which its pages slice (16 bytes a service: 15 MB for
    # the whole directory at 1,000,000 listings, with room for others beside it)
    "hsds_vocabulary": Budget(1, 1 * MiB),
    "hsds_order": Budget(64, 48 * MiB),
    # Which listing each service_at_location id names (hsds.locations): one index that grows as
    # listings are created (24 bytes each), read afresh once a day
    "hsds_locations": Budget(1, 64 * MiB, seconds=86400.0),
}
# All of them together, per process, the least recently used value in any going first. The budgets
# above add up to 315 MiB, each sized for its own traffic; a worker should stay within 250 MB, of
# which the modules and place indexes take about 90 and the requests in flight up to about 40
# (reading a big list's rows takes far more than what is kept of them).
TOTAL_BYTES: Final = 112 * MiB


class Caches:
    def __init__(self, budgets: Mapping[str, Budget] = BUDGETS, total_bytes: int = TOTAL_BYTES) -> None:
        self.total = Total(total_bytes)
        self._stores = {name: Store(b.entries, b.bytes, b.seconds, self.total) for name, b in budgets.items()}
        self._changes = Changes()
        self._replica_changes: dict[str, Changes] = {}
        self.reads: Reads | None = None  # given by the app: the primary's
        self.shared = Shared()
        # Builds under way, with the sequence number they began at (see `memo`).
        self._building: dict[tuple[str, Hashable, Hashable], tuple[int, asyncio.Future[Any]]] = {}
        self._sequence = 0

    async def version(self) -> Version:
        """The data's current version (read after this call began, through `reads`)."""
        replica = routing.current()
        if replica is not None:  # the version of the data this request reads
            changes = self._replica_changes.setdefault(replica.name, Changes())
            return await changes.version(replica.reads)
        assert self.reads is not None, "the app gives its caches a way to read"
        return await self._changes.version(self.reads)

    def store(self, name: str) -> Store:
        return self._stores[name]

    def get(self, name: str, key: Hashable, version: Hashable) -> Any:
        return self._stores[name].get(key, version)

    def put(self, name: str, key: Hashable, version: Hashable, value: Any, weight: int | None = None) -> None:
        self._stores[name].put(key, version, value, weight)

    async def memo(
        self,
        name: str,
        key: Hashable,
        version: Hashable,
        build: Callable[[], Awaitable[V]],
        *,
        weigh: Callable[[Any], int] | None = None,
        fresh: bool = False,
        failed: Any = RETRY,
    ) -> V:
        """The value kept under (name, key) for `version`, else `build()`'s, kept. Requests asking
        for the same one at the same moment share one build. `fresh`: not a kept value, and only a
        build that began after this call (a build under way may predate what the caller wants).
        When a shared build fails, its builder gets the error and those who waited build again,
        or, given `failed`, answer that instead (while the database is in trouble, say)."""
        self._sequence += 1
        arrived = self._sequence
        if not fresh:
            hit = self._stores[name].get(key, version)
            if hit is not None:
                return hit  # type: ignore[no-any-return]
        slot = (name, key, version)
        while (building := self._building.get(slot)) is not None:
            began, outcome = building
            try:
                value = await asyncio.shield(outcome)
            except Exception:
                if failed is not RETRY:
                    return failed  # type: ignore[no-any-return]
                continue  # that build failed: this request builds, or waits for the next one
            if began > arrived or not fresh:
                return value  # type: ignore[no-any-return]
        self._sequence += 1
        outcome = asyncio.get_running_loop().create_future()
        self._building[slot] = (self._sequence, outcome)
        try:
            value = await build()
        except BaseException as exc:
            outcome.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
            outcome.exception()  # retrieved: those who waited build themselves
            raise
        finally:
            del self._building[slot]
        if value is not None:  # None is "nothing to keep" (a place too big, say)
            self._stores[name].put(key, version, value, weigh(value) if weigh else None)
        outcome.set_result(value)
        return value

    async def _across(
        self,
        name: str,
        digest: bytes,
        version: Version,
        build: Callable[[], Awaitable[V | None]],
        pack: Callable[[V], bytes],
        reuse: Callable[[bytes], V],
    ) -> V | None:
        """What another process kept under (name, digest) for this version (caching.shared; `reuse`
        makes it of the bytes kept), else `build()`'s, kept for the others as `pack` makes it (on
        the primary). One process builds it at a time: this one when it claims it first, else it
        waits for what the other keeps, and builds it only when that keeps nothing. Caches
        without a way to read (a test's) share nothing."""
        if self.reads is None:
            return await build()
        reads = routing.reads_for(self.reads)
        found = await self.shared.fetch(reads, name, digest, version)
        if found is None and await self.shared.claim(self.reads, name, digest, version):
            try:
                value = await build()
            except BaseException:
                await self.shared.release(self.reads, name, digest, version)
                raise
            if value is None:
                await self.shared.release(self.reads, name, digest, version)
            else:
                await self.shared.keep(self.reads, name, digest, version, pack(value))
            return value
        if not found:  # another process is building it
            found = await self.shared.wait(reads, name, digest, version)
        if found:
            return reuse(found)
        value = await build()
        if value is not None:
            await self.shared.keep(self.reads, name, digest, version, pack(value))
        return value

    async def memo_shared(
        self,
        name: str,
        key: Hashable,
        digest: Callable[[], bytes],
        version: Version,
        build: Callable[[], Awaitable[bytes]],
    ) -> bytes:
        """`memo` for an encoded answer that every API process may reuse (caching.shared): kept
        here, else one another process built for this version (`digest()` names the question in
        every process; made only when this process does not have the answer), else `build()`'s,
        kept here and for the others (on the primary); kept compressed (zlib) in both places."""

        async def compressed() -> bytes:
            return zlib.compress(await build(), 1)

        async def reuse_or_build() -> bytes:
            packed = await self._across(name, digest(), version, compressed, _same, _same)
            assert packed is not None, "a built answer is bytes"
            return packed

        # Kept compressed, here and in PostgreSQL: a match answer's JSON shrinks about 6.7 times
        # (28 to 4 kB) for 0.1 ms to compress once and 0.05 ms to expand on every use.
        packed: bytes = await self.memo(name, key, version, reuse_or_build)
        return zlib.decompress(packed)

    async def memo_across(
        self,
        name: str,
        key: Hashable,
        digest: Callable[[], bytes],
        version: Version,
        build: Callable[[], Awaitable[V | None]],
        *,
        pack: Callable[[V], bytes],
        unpack: Callable[[bytes], V],
        weigh: Callable[[Any], int] | None = None,
        failed: Any = RETRY,
    ) -> V | None:
        """`memo_shared` for a value kept here as it is used (a near search's place, a page of
        results as it is sent), not compressed: kept here, else the one another process kept for
        this version (`unpack` of the bytes `pack` made there), else `build()`'s, kept here and for
        the others. None is nothing to keep, here or there. `weigh` and `failed` as for `memo`."""

        async def reuse_or_build() -> V | None:
            return await self._across(
                name,
                digest(),
                version,
                build,
                lambda value: zlib.compress(pack(value), 1),
                lambda found: unpack(zlib.decompress(found)),
            )

        value: V | None = await self.memo(name, key, version, reuse_or_build, weigh=weigh, failed=failed)
        return value

    def clear(self) -> None:
        for store in self._stores.values():
            store.clear()


def _same(data: bytes) -> bytes:
    return data
