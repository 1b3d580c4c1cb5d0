"""The app's caches: each store stays within its count and byte budgets, oldest values out first,
and serves a value only for the version it was built from and only while young enough; `memo`
builds a value once however many ask for it at the same moment, and one process's values are
reused by the others."""

import asyncio
import time
import zlib
from collections.abc import Awaitable, Coroutine
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.caching.caches import BUDGETS, TOTAL_BYTES, Budget, Caches
from registry.caching.shared import Shared
from registry.caching.store import Store, Total
from registry.database.reads import Reads
from registry.matching.scoring import shared_codes


def test_values_are_dropped_oldest_first_when_over_the_byte_budget() -> None:
    store = Store(size=100, max_bytes=250, seconds=60)
    for n in range(5):
        store.put((n,), "v", b"x" * 100)
    assert store.keys() == [(3,), (4,)]
    assert store.bytes == 200
    # Replacing a value counts its new size only.
    store.put((4,), "v", b"y" * 10)
    assert store.bytes == 110
    store.clear()
    assert store.bytes == 0 and len(store) == 0


def test_values_are_dropped_when_over_the_count() -> None:
    store = Store(size=3, max_bytes=1000, seconds=60)
    for n in range(5):
        store.put((n,), "v", b"z")
    assert store.keys() == [(2,), (3,), (4,)]
    assert store.bytes == 3


def test_reading_a_value_keeps_it_longer() -> None:
    store = Store(size=2, max_bytes=1000, seconds=60)
    store.put("a", "v", b"1")
    store.put("b", "v", b"2")
    assert store.get("a", "v") == b"1"
    store.put("c", "v", b"3")
    assert store.keys() == ["a", "c"]


def test_a_value_serves_only_its_own_version_and_only_while_young(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    store = Store(size=10, max_bytes=1000, seconds=300)
    store.put("k", 1, b"old")
    assert store.get("k", 1) == b"old"
    assert store.get("k", 2) is None
    assert store.get("other", 1) is None
    now[0] += 299.9
    assert store.get("k", 1) == b"old"
    now[0] += 0.1
    assert store.get("k", 1) is None


def test_other_values_weigh_what_they_are_said_to() -> None:
    store = Store(size=100, max_bytes=1000, seconds=60)
    store.put(("a",), "v", (1, 2, 3, 4), 400)
    store.put(("b",), "v", (1, 2, 3, 4, 5), 500)
    assert store.bytes == 900 and store.get(("a",), "v") == (1, 2, 3, 4)
    store.put(("c",), "v", (1, 2), 200)  # 1,100: the least recently used ("b") goes
    assert store.keys() == [("a",), ("c",)] and store.bytes == 600


def test_the_caches_filled_to_their_budgets_hold_no_more_than_their_total() -> None:
    # The budgets add up to more than a worker's memory allows (315 MiB): together they stay within
    # TOTAL_BYTES. Filled one after another, the last ones filled are what is kept.
    assert sum(b.bytes for b in BUDGETS.values()) > 2 * TOTAL_BYTES
    caches = Caches()
    for name, budget in BUDGETS.items():
        for n in range(budget.entries):
            caches.put(name, n, "v", b"", weight=budget.bytes // budget.entries)
    held = {name: caches.store(name).bytes for name in BUDGETS}
    assert sum(held.values()) == caches.total.bytes <= TOTAL_BYTES
    assert caches.total.bytes > TOTAL_BYTES - max(b.bytes // b.entries for b in BUDGETS.values())
    assert held["hsds_locations"] == BUDGETS["hsds_locations"].bytes and held["search_pages"] == 0


def test_over_the_total_the_value_least_recently_used_in_any_store_goes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ticks = iter(range(1000))
    monkeypatch.setattr(time, "monotonic", lambda: float(next(ticks)))  # every use a later moment
    total = Total(limit=300)
    a, b = Store(10, 1000, 60, total), Store(10, 1000, 60, total)
    a.put("a1", "v", b"x" * 100)
    b.put("b1", "v", b"x" * 100)
    assert a.get("a1", "v") == b"x" * 100  # used again: b1, put after a1, is now the older
    b.put("b2", "v", b"x" * 150)
    assert (a.keys(), b.keys(), total.bytes) == (["a1"], ["b2"], 250)
    a.put("a2", "v", b"x" * 50)
    a.reweigh("a1", 200)  # it grew where it is kept, and is the least recently used of all
    assert (a.keys(), b.keys(), total.bytes) == (["a2"], ["b2"], 200)
    b.reweigh("gone", 10_000)  # nothing kept under that key: nothing changes
    assert total.bytes == 200


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["put", "get", "discard", "clear", "reweigh"]),
            st.integers(0, 2),  # which store
            st.integers(0, 5),  # which key
            st.integers(0, 400),  # a weight
        ),
        max_size=60,
    )
)
def test_stores_sharing_a_total_stay_within_it_and_their_own_budgets(
    steps: list[tuple[str, int, int, int]],
) -> None:
    total = Total(limit=500)
    stores = [Store(4, 300, 60, total), Store(3, 1000, 60, total), Store(5, 450, 60, total)]
    for action, which, key, weight in steps:
        store = stores[which]
        if action == "put":
            store.put(key, "v", "value", weight)
        elif action == "get":
            store.get(key, "v")
        elif action == "discard":
            store.discard(key)
        elif action == "clear":
            store.clear()
        else:
            store.reweigh(key, weight)
        kept = [sum(value[3] for value in store._values.values()) for store in stores]
        assert [s.bytes for s in stores] == kept and total.bytes == sum(kept) <= total.limit
        assert all(len(s) <= s.size and s.bytes <= s.max_bytes for s in stores)


def test_code_sets_are_shared() -> None:
    assert shared_codes(["en", "nl"]) is shared_codes(("en", "nl"))
    assert shared_codes(None) == frozenset() == shared_codes([])
    assert shared_codes(["nl", "en"]) == frozenset({"en", "nl"})


def test_every_cache_has_a_budget() -> None:
    caches = Caches()
    for name, budget in BUDGETS.items():
        store = caches.store(name)
        assert (store.size, store.max_bytes, store.seconds) == (budget.entries, budget.bytes, budget.seconds)


class Builds:
    def __init__(self) -> None:
        self.count = 0
        self.fail = False

    async def __call__(self) -> bytes:
        self.count += 1
        await asyncio.sleep(0.01)
        if self.fail:
            self.fail = False
            raise ConnectionError("lost")
        return f"value {self.count}".encode()


async def test_memo_builds_once_for_everyone_who_asks_at_once_and_keeps_it() -> None:
    caches, build = Caches({"c": Budget(10, 1000)}), Builds()
    values = await asyncio.gather(*(caches.memo("c", "k", 1, build) for _ in range(5)))
    assert values == [b"value 1"] * 5 and build.count == 1
    assert await caches.memo("c", "k", 1, build) == b"value 1" and build.count == 1
    assert await caches.memo("c", "k", 2, build) == b"value 2"  # another version: built again
    caches.clear()
    assert await caches.memo("c", "k", 2, build) == b"value 3"


async def test_a_fresh_request_takes_only_a_build_begun_after_it_arrived() -> None:
    caches, build = Caches({"c": Budget(10, 1000)}), Builds()
    first = asyncio.create_task(caches.memo("c", "k", 1, build))
    await asyncio.sleep(0)
    fresh = asyncio.create_task(caches.memo("c", "k", 1, build, fresh=True))
    later = asyncio.create_task(caches.memo("c", "k", 1, build, fresh=True))
    assert await first == b"value 1"
    assert await fresh == await later == b"value 2"  # both arrived during the first build
    assert build.count == 2


async def test_a_failed_build_is_built_again_or_answered_as_told() -> None:
    caches, build = Caches({"c": Budget(10, 1000)}), Builds()
    build.fail = True
    first = asyncio.create_task(caches.memo("c", "k", 1, build))
    await asyncio.sleep(0)
    waiting = asyncio.create_task(caches.memo("c", "k", 1, build))
    told = asyncio.create_task(caches.memo("c", "k", 1, build, failed=None))
    with pytest.raises(ConnectionError):
        await first
    assert await told is None
    assert await waiting == b"value 2"


async def test_nothing_is_kept_for_none() -> None:
    caches = Caches({"c": Budget(10, 1000)})

    async def nothing() -> bytes | None:
        return None

    assert await caches.memo("c", "k", 1, nothing) is None
    assert len(caches.store("c")) == 0


async def test_a_value_kept_as_it_is_used_is_shared_packed_and_nothing_is_kept_for_none(
    sessionmaker: async_sessionmaker[AsyncSession], db: AsyncSession
) -> None:
    # Two processes' caches on one database (memo_across): the second unpacks what the first
    # packed instead of building it; a build that finds nothing to keep keeps nothing anywhere.
    here, there = Caches(), Caches()
    here.reads = there.reads = Reads(sessionmaker=sessionmaker)
    builds: list[str] = []

    async def build(name: str, value: list[int] | None) -> list[int] | None:
        builds.append(name)
        return value

    def ask(caches: Caches, name: str, value: list[int] | None) -> Awaitable[list[int] | None]:
        return caches.memo_across(
            "nearby_places",
            name,
            lambda: name.encode(),
            7,
            lambda: build(name, value),
            pack=lambda numbers: bytes(numbers),
            unpack=list,
        )

    assert await ask(here, "some", [1, 2, 3]) == [1, 2, 3]
    assert await ask(there, "some", [9]) == [1, 2, 3]  # unpacked: not built there
    assert builds == ["some"]
    assert await ask(here, "none", None) is None
    assert await ask(there, "none", None) is None
    assert builds == ["some", "none", "none"]
    kept = await db.execute(text("SELECT digest FROM shared_answer WHERE cache = 'nearby_places'"))
    assert [bytes(d) for d in kept.scalars()] == [b"some"]


class _Builder:
    """A process's build of one value, that can be held until released (or made to fail)."""

    def __init__(self, caches: Caches, value: bytes | None) -> None:
        self.caches, self.value = caches, value
        self.began = asyncio.Event()
        self.release = asyncio.Event()
        self.failure: Exception | None = None
        self.builds = 0

    async def build(self) -> bytes | None:
        self.builds += 1
        self.began.set()
        await self.release.wait()
        if self.failure is not None:
            raise self.failure
        return self.value

    def ask(self) -> Coroutine[Any, Any, bytes | None]:
        return self.caches.memo_across(
            "nearby_places", "key", lambda: b"key", 7, self.build, pack=bytes, unpack=bytes
        )


def _two_processes(
    sessionmaker: async_sessionmaker[AsyncSession], claim_seconds: float = 5.0
) -> list[Caches]:
    both = [Caches(), Caches()]
    for caches in both:
        caches.reads = Reads(sessionmaker=sessionmaker)
        caches.shared = Shared(claim_seconds=claim_seconds)
    return both


async def test_a_value_another_process_is_building_is_waited_for_not_built_again(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    here, there = _two_processes(sessionmaker, claim_seconds=5.0)
    first, second = _Builder(here, b"built here"), _Builder(there, b"built there")
    second.release.set()
    building = asyncio.create_task(first.ask())
    await first.began.wait()  # it has claimed the value
    waiting = asyncio.create_task(second.ask())
    await asyncio.sleep(0.1)
    assert not waiting.done()
    first.release.set()
    assert await building == b"built here"
    assert await asyncio.wait_for(waiting, 2) == b"built here"
    assert second.builds == 0


@pytest.mark.parametrize("outcome", ["fails", "finds nothing to keep"])
async def test_when_the_building_process_keeps_nothing_the_waiting_one_builds_at_once(
    sessionmaker: async_sessionmaker[AsyncSession], db: AsyncSession, outcome: str
) -> None:
    here, there = _two_processes(sessionmaker, claim_seconds=30.0)
    first, second = _Builder(here, None), _Builder(there, b"built there")
    if outcome == "fails":
        first.failure = RuntimeError("the database went away")
    second.release.set()
    building = asyncio.create_task(first.ask())
    await first.began.wait()
    waiting = asyncio.create_task(second.ask())
    await asyncio.sleep(0.1)
    first.release.set()
    if outcome == "fails":
        with pytest.raises(RuntimeError):
            await building
    else:
        assert await building is None
    began = time.monotonic()
    assert await asyncio.wait_for(waiting, 5) == b"built there"
    assert time.monotonic() - began < 2  # not the claim's 30 seconds
    assert second.builds == 1
    kept = await db.execute(text("SELECT body FROM shared_answer WHERE cache = 'nearby_places'"))
    assert [bytes(body) for body in kept.scalars()] == [zlib.compress(b"built there", 1)]


async def test_a_claim_left_behind_holds_the_others_back_only_while_young(
    sessionmaker: async_sessionmaker[AsyncSession], db: AsyncSession
) -> None:
    # A process that claimed the value and went away (killed mid-build) leaves its claim.
    await db.execute(
        text(
            "INSERT INTO shared_answer (cache, digest, version, body) VALUES ('nearby_places', 'key', 7, '')"
        )
    )
    await db.commit()
    _, there = _two_processes(sessionmaker, claim_seconds=0.5)
    second = _Builder(there, b"built there")
    second.release.set()
    began = time.monotonic()
    assert await asyncio.wait_for(second.ask(), 5) == b"built there"
    assert 0.3 <= time.monotonic() - began < 3
    assert second.builds == 1
