"""The version of what cached answers show: moved by every committed write to listings, contacts,
organizations and vocabulary terms (in any commit order), by nothing else, and read by each
process at most once at a time for all the requests that wait for it, never from a read that
began before a request arrived."""

import asyncio
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from registry.caching.version import VERSION_SQL, Changes, stored_version
from registry.database.reads import Reads

# Statement triggers fire for statements that touch no row: a committed write that changes nothing.
WRITES = {
    "listing": "UPDATE listing SET name = name WHERE false",
    "contact": "DELETE FROM contact WHERE false",
    "organization": "UPDATE organization SET name = name WHERE false",
    "taxonomy_term": "UPDATE taxonomy_term SET label = label WHERE false",
}


async def version(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(VERSION_SQL))).scalar_one())


async def commit(engine: AsyncEngine, sql: str, *, rollback: bool = False) -> None:
    async with engine.connect() as conn:
        await conn.execute(text(sql))
        await (conn.rollback() if rollback else conn.commit())


async def test_every_committed_write_moves_the_version_and_nothing_else(engine: AsyncEngine) -> None:
    for table, sql in WRITES.items():
        before = await version(engine)
        await commit(engine, sql, rollback=True)  # never committed: never counted
        assert await version(engine) == before, table
        await commit(engine, sql)
        assert await version(engine) == before + 1, table
    before = await version(engine)
    await commit(engine, "UPDATE initiator SET locality = locality WHERE false")
    await commit(engine, "UPDATE introduction SET status = status WHERE false")
    assert await version(engine) == before


async def test_a_write_that_commits_last_moves_the_version_whenever_it_began(engine: AsyncEngine) -> None:
    """The version is a count, not a newest timestamp: a write that began first and commits last
    still moves it (an answer cached between the two commits is not served after the second)."""
    before = await version(engine)
    async with engine.connect() as first, engine.connect() as second:
        await first.execute(text(WRITES["listing"]))  # began first
        await second.execute(text(WRITES["contact"]))
        await second.commit()
        assert await version(engine) == before + 1
        await first.commit()
    assert await version(engine) == before + 2


async def test_folding_the_ticks_keeps_the_count(engine: AsyncEngine) -> None:
    before = await version(engine)
    for _ in range(200):  # a writer folds the ticks one time in twenty
        await commit(engine, WRITES["organization"])
    assert await version(engine) == before + 200
    async with engine.connect() as conn:
        ticks = (await conn.execute(text("SELECT count(*) FROM change_tick"))).scalar_one()
    assert ticks < 200


class SlowReads:
    """A stand-in for the app's reads: version reads that wait until released, counted."""

    def __init__(self) -> None:
        self.count = 0
        self.release = asyncio.Event()
        self.fail_next = False

    async def fetchval(self, _statement: Any) -> Any:
        self.count += 1
        await self.release.wait()
        await asyncio.sleep(0)  # a read is a round trip: others run meanwhile
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("lost")
        return self.count


async def test_requests_share_a_read_that_began_after_they_arrived() -> None:
    changes, reads = Changes(), SlowReads()
    first = asyncio.create_task(changes.version(reads))
    await asyncio.sleep(0)
    assert reads.count == 1
    # These arrive while the first read is under way: it may predate a write they must see.
    later = [asyncio.create_task(changes.version(reads)) for _ in range(5)]
    await asyncio.sleep(0)
    reads.release.set()
    assert await first == 1
    assert await asyncio.gather(*later) == [2] * 5  # one more read, begun after they arrived
    assert reads.count == 2


async def test_a_failed_read_is_read_again_by_those_who_waited() -> None:
    changes, reads = Changes(), SlowReads()
    reads.fail_next = True
    first = asyncio.create_task(changes.version(reads))
    await asyncio.sleep(0)
    waiting = asyncio.create_task(changes.version(reads))
    await asyncio.sleep(0)
    reads.release.set()
    with pytest.raises(ConnectionError):
        await first
    assert await waiting == 2


async def test_the_stored_version_reads_the_tables(engine: AsyncEngine) -> None:
    reads = Reads(sessionmaker=async_sessionmaker(engine))
    assert await stored_version(reads) == await version(engine)
