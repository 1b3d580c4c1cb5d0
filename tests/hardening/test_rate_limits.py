"""Rate limits answer 429 with Retry-After, and the count is shared by every API process."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.app import create_app
from registry.config import Settings
from registry.database.reads import Reads
from registry.database.sessions import create_engine, create_sessionmaker
from registry.http import throttling
from registry.http.throttling import LIMITS
from registry.models import RateLimitSlots
from tests.factories import app_client


@pytest.fixture
async def two_processes(settings: Settings, database_url: str) -> AsyncIterator[list[AsyncEngine]]:
    """Two apps on two engines: as far as the database can tell, two API processes. Whatever
    other tests' processes committed in the last minute (requests from this address) is gone."""
    engines = [create_engine(settings, database_url), create_engine(settings, database_url)]
    async with engines[0].begin() as conn:
        await conn.execute(delete(RateLimitSlots))
    yield engines
    async with engines[0].begin() as conn:
        await conn.execute(delete(RateLimitSlots))
    for engine in engines:
        await engine.dispose()


async def test_limits_hold_across_processes(two_processes: list[AsyncEngine], settings: Settings) -> None:
    scaled = msgspec_replace(settings, rate_limit_scale=0.1)  # matches: 6 a minute
    limit = int(LIMITS["matches"] * 0.1)
    apps = [create_app(scaled, sessionmaker=create_sessionmaker(e)) for e in two_processes]
    statuses = []
    retry_after = None
    async with app_client(apps[0]) as first, app_client(apps[1]) as second:
        for i in range(limit + 3):
            client = (first, second)[i % 2]
            response = await client.post("/matches", json={"include_remote": True, "needs": ["trainer"]})
            statuses.append(response.status_code)
            if response.status_code == 429:
                retry_after = response.headers.get("retry-after")
                assert response.headers["content-type"].startswith("application/problem+json")
    assert statuses[:limit] == [200] * limit
    assert statuses[limit:] == [429] * 3
    assert retry_after is not None
    assert 1 <= int(retry_after) <= 61  # the last of 61 one-second slots


async def test_each_limited_endpoint_answers_429(
    two_processes: list[AsyncEngine], settings: Settings
) -> None:
    scaled = msgspec_replace(settings, rate_limit_scale=0.2)
    app = create_app(scaled, sessionmaker=create_sessionmaker(two_processes[0]))
    async with app_client(app) as client:
        for path, body in (
            ("/organizations", {"name": "", "kinds": []}),  # invalid bodies still count
            ("/initiators", {"display_name": ""}),
            ("/introductions", {"target_id": str(uuid.uuid4()), "message": "x"}),
        ):
            codes = [(await client.post(path, json=body)).status_code for _ in range(12)]
            assert 429 in codes, (path, codes)


async def test_refused_requests_do_not_count(two_processes: list[AsyncEngine], settings: Settings) -> None:
    """A client that keeps knocking while refused is let in again once its window has room: the
    refusals themselves are not counted."""
    reads = Reads(sessionmaker=create_sessionmaker(two_processes[0]))
    names = ["t:refusals"]
    assert [(await throttling.take_many(reads, [(names, 3)]))[0] for _ in range(3)] == [None] * 3
    waits = [(await throttling.take_many(reads, [(names, 3)]))[0] for _ in range(20)]
    assert all(w is not None and 0 < w <= 61 for w in waits)
    async with two_processes[0].connect() as conn:
        counts = (
            await conn.execute(select(RateLimitSlots.counts).where(RateLimitSlots.bucket == "t:refusals"))
        ).scalar_one()
    assert sum(counts) == 3


class CountingReads(Reads):
    """The test's database, counting the statements sent to it."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(sessionmaker=create_sessionmaker(engine))
        self.statements = 0
        self.gate: asyncio.Event | None = None  # the next statement waits for it
        self.failures: list[Exception] = []  # the next statements fail with these, without running

    async def _run(self, method: str, query: str, args: tuple[Any, ...], writes: bool = False) -> Any:
        self.statements += 1
        if self.gate is not None:
            gate, self.gate = self.gate, None
            await gate.wait()
        if self.failures:
            raise self.failures.pop(0)
        return await super()._run(method, query, args, writes)


async def counted(engine: AsyncEngine, bucket: str) -> int:
    async with engine.connect() as conn:
        counts = (
            await conn.execute(select(RateLimitSlots.counts).where(RateLimitSlots.bucket == bucket))
        ).scalar_one_or_none()
    return sum(counts or [])


async def test_requests_at_once_are_counted_together(two_processes: list[AsyncEngine]) -> None:
    """Requests a process counts while a count is on its way go together, in one statement (one
    transaction) when it is back: 24 at once take a few statements, not 24. Each is still counted:
    10 go ahead, the others are told how long to wait."""
    reads = CountingReads(two_processes[0])
    takes = throttling.Takes(reads)
    waits = await asyncio.gather(*(takes.take(["t:together"], 10) for _ in range(24)))
    assert waits.count(None) == 10
    assert all(0 < w <= 61 for w in waits if w is not None)
    assert reads.statements <= 3
    assert await counted(two_processes[0], "t:together") == 10
    # Alone, a request is counted at once, on its own.
    before = reads.statements
    assert await takes.take(["t:alone"], 1) is None
    assert await takes.take(["t:alone"], 1) is not None
    assert reads.statements == before + 2


async def test_a_batch_holds_at_most_batch_most_requests(two_processes: list[AsyncEngine]) -> None:
    reads = CountingReads(two_processes[0])
    takes = throttling.Takes(reads)
    asked = 2 * throttling.BATCH_MOST + 50
    waits = await asyncio.gather(*(takes.take(["t:many"], asked) for _ in range(asked)))
    assert waits == [None] * asked
    assert reads.statements == 3
    assert await counted(two_processes[0], "t:many") == asked


async def test_a_request_that_went_away_while_it_waited_is_not_counted(
    two_processes: list[AsyncEngine],
) -> None:
    reads = CountingReads(two_processes[0])
    takes = throttling.Takes(reads)
    reads.gate = gate = asyncio.Event()
    first = asyncio.create_task(takes.take(["t:away"], 10))
    await asyncio.sleep(0.05)  # the first count is on its way, held at the gate
    waiting = [asyncio.create_task(takes.take(["t:away"], 10)) for _ in range(3)]
    await asyncio.sleep(0.05)
    waiting[1].cancel()
    gate.set()
    assert await first is None
    assert [await waiting[0], await waiting[2]] == [None, None]
    assert waiting[1].cancelled()
    assert reads.statements == 2
    assert await counted(two_processes[0], "t:away") == 3


async def test_a_failed_batch_fails_its_requests_and_the_next_one_is_counted(
    two_processes: list[AsyncEngine],
) -> None:
    """Every request of a batch whose statement fails gets its error (the API answers 503); the
    requests after are counted as usual."""
    reads = CountingReads(two_processes[0])
    takes = throttling.Takes(reads)
    reads.failures = [ConnectionResetError("the database went away")]
    asked = (takes.take(["t:fails"], 10) for _ in range(4))
    failed = await asyncio.gather(*asked, return_exceptions=True)
    assert [type(e) for e in failed] == [ConnectionResetError] * 4
    assert await counted(two_processes[0], "t:fails") == 0
    assert await asyncio.gather(*(takes.take(["t:fails"], 10) for _ in range(4))) == [None] * 4
    assert await counted(two_processes[0], "t:fails") == 4
    assert reads.statements == 2


async def test_requests_counted_together_keep_their_own_buckets(two_processes: list[AsyncEngine]) -> None:
    """In one statement, requests are counted in the order they came, each in its own buckets
    only: a full one refuses the requests that count against it, and the others go ahead."""
    reads = CountingReads(two_processes[0])
    takes = throttling.Takes(reads)
    asks = [["t:full"], ["t:free", "t:full"], ["t:free"], ["t:other"]] * 3
    assert await takes.take(["t:full"], 2) is None
    assert await takes.take(["t:full"], 2) is None
    waits = await asyncio.gather(*(takes.take(names, 2) for names in asks))
    refused = [names for names, wait in zip(asks, waits, strict=True) if wait is not None]
    allowed = [names for names, wait in zip(asks, waits, strict=True) if wait is None]
    assert allowed == [["t:free"], ["t:other"], ["t:free"], ["t:other"]]
    assert refused == [["t:full"], ["t:free", "t:full"]] * 3 + [["t:free"], ["t:other"]]
    assert reads.statements == 3  # the two alone, then the twelve at once


async def test_a_request_counts_once_in_each_of_its_buckets(two_processes: list[AsyncEngine]) -> None:
    """A bucket named twice by one request counts it once; a request in no bucket goes ahead
    without a count."""
    reads = CountingReads(two_processes[0])
    asked = [(["t:twice", "t:twice"], 2), ([], 1), (["t:twice"], 2), (["t:twice"], 2)]
    waits = await throttling.take_many(reads, asked)
    assert waits[:3] == [None, None, None]
    assert waits[3] is not None
    assert await throttling.take_many(reads, [([], 1)]) == [None]
    assert reads.statements == 1


async def test_batches_sharing_buckets_in_any_order_finish(two_processes: list[AsyncEngine]) -> None:
    """Two processes' batches that count against the same buckets, listed in opposite orders,
    both finish (the database locks every bucket of a batch at once, in one order): no deadlock."""
    processes = [CountingReads(e) for e in two_processes]
    takes = [throttling.Takes(reads) for reads in processes]
    for _ in range(5):
        firsts = [["t:x"], ["t:y"]] * 4
        seconds = [["t:y"], ["t:x"]] * 4
        done = await asyncio.wait_for(
            asyncio.gather(
                *(takes[0].take(names, 1000) for names in firsts),
                *(takes[1].take(names, 1000) for names in seconds),
            ),
            timeout=20,
        )
        assert done == [None] * 16


def msgspec_replace(settings: Settings, **changes: object) -> Settings:
    import msgspec

    return msgspec.structs.replace(settings, **changes)
