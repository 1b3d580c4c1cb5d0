"""The one-statement reads' large answers come a part at a time, from one snapshot of the data."""

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from registry.config import Settings
from registry.database.reads import Reads

SERIES = "SELECT n FROM generate_series(1, $1::int) AS n ORDER BY n"


async def pool(settings: Settings) -> Reads:
    assert settings.database_url is not None
    return await Reads.open(settings.database_url, settings, size=2)


async def test_parts_give_every_row_in_order_a_part_at_a_time(settings: Settings) -> None:
    reads = await pool(settings)
    try:
        parts = [[row[0] for row in part] async for part in reads.parts(SERIES, 5, size=2)]
        assert parts == [[1, 2], [3, 4], [5]]
        assert [part async for part in reads.parts(SERIES, 0, size=2)] == []
        # The connection goes back to the pool out of its transaction: the next read runs.
        assert await reads.fetchval("SELECT 1") == 1
    finally:
        await reads.close()


async def test_parts_read_one_snapshot_while_others_write(settings: Settings) -> None:
    reads = await pool(settings)
    await reads.fetchval("CREATE TABLE IF NOT EXISTS parts_probe (n int)", writes=True)
    try:
        await reads.fetchval("TRUNCATE parts_probe", writes=True)
        await reads.fetchval("INSERT INTO parts_probe SELECT generate_series(1, 6)", writes=True)
        seen: list[int] = []
        async for part in reads.parts("SELECT n FROM parts_probe ORDER BY n", size=2):
            seen += [row[0] for row in part]
            if len(seen) == 2:  # another process writes between two parts
                await reads.fetchval("DELETE FROM parts_probe WHERE n > 2", writes=True)
                await reads.fetchval("INSERT INTO parts_probe VALUES (99)", writes=True)
        assert seen == [1, 2, 3, 4, 5, 6]
    finally:
        await reads.fetchval("DROP TABLE parts_probe", writes=True)
        await reads.close()


async def test_parts_through_a_sessionmaker(engine: AsyncEngine) -> None:
    reads = Reads(sessionmaker=async_sessionmaker(engine))
    parts = [[row[0] for row in part] async for part in reads.parts(SERIES, 4, size=3)]
    assert parts == [[1, 2, 3], [4]]
