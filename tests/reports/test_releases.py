"""The period's snapshot of people counts is taken under a time limit of its own: at 1,000,000
introductions it takes longer than any request may (9 s against 5), and a snapshot that never
finishes leaves every report of the period unanswerable."""

import asyncio
import tracemalloc
from datetime import UTC, datetime
from typing import Any, cast

from litestar import Litestar
from sqlalchemy import Table, event, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from registry.auth.principal import Role
from registry.models import ReportSnapshot
from registry.reports import releases
from tests.factories import Client, bearer, role_key

PERIOD = datetime(2001, 1, 1, tzinfo=UTC)  # no other test's


async def test_the_snapshot_may_outlast_a_requests_statement_timeout(
    db: AsyncSession, engine: AsyncEngine
) -> None:
    await db.execute(text("SET LOCAL statement_timeout = 100"))  # a request's, in milliseconds
    async with engine.connect() as other:
        # Another session keeps the snapshot table locked for 300 ms: the snapshot waits that long.
        await other.execute(text("LOCK TABLE report_snapshot IN EXCLUSIVE MODE"))

        async def release() -> None:
            await asyncio.sleep(0.3)
            await other.rollback()

        releasing = asyncio.create_task(release())
        await releases.take(db, PERIOD)
        await releasing
    taken = await db.scalar(
        text("SELECT count(*) FROM report_snapshot WHERE measure = 'period' AND period_start = :p"),
        {"p": PERIOD},
    )
    assert taken == 1


async def test_a_process_asks_for_the_periods_snapshot_once(
    client: Client, app: Litestar, connection: AsyncConnection, db: AsyncSession
) -> None:
    # A report answered from the cache asked PostgreSQL whether its period's snapshot exists, a
    # session and a round trip or three for 1 ms of the request's 1.6: once found (or taken),
    # the process knows it.
    funder = await role_key(db, Role.FUNDER)
    asked: list[str] = []

    def count(*args: Any) -> None:
        statement = args[2]
        if "report_snapshot" in statement:
            asked.append(statement)

    event.listen(connection.sync_connection, "before_cursor_execute", count)
    assert (await client.get("/reports/partnerships", headers=bearer(funder))).status_code == 200
    assert asked  # the first report of the process looks (and takes it)
    asked.clear()
    for name in ("partnerships", "coverage", "evidence"):
        assert (await client.get(f"/reports/{name}", headers=bearer(funder))).status_code == 200
    # The reports read the snapshot's counts; nobody asks whether it exists again.
    assert not [s for s in asked if s.startswith("SELECT count(*)")], asked


async def test_a_measures_cells_are_read_a_part_at_a_time_with_their_texts_shared(
    db: AsyncSession, monkeypatch: Any
) -> None:
    """The introductions by region are 12,000 cells at 1,000,000 introductions: read a part at a
    time, every cell comes, and a text repeated in keys (a status, a country) is one string."""
    cells: list[tuple[list[str | None], int, int]] = [
        (["accepted", "NL", "Utrecht"], 3, 30),
        (["accepted", "NL", None], 1, 7),
        (["requested", "NL", "Utrecht"], 4, 41),
        (["requested", "KE", "Nairobi"], 2, 19),
        (["expired", None, None], 5, 52),
    ]
    await db.execute(
        insert(cast(Table, ReportSnapshot.__table__)),  # Core: a key (a list) is part of the ORM's identity
        [
            {
                "period_start": PERIOD,
                "measure": "introductions:region",
                "key": key,
                "n": n,
                "key_sum": key_sum,
            }
            for key, n, key_sum in cells
        ],
    )
    monkeypatch.setattr(releases, "PART_ROWS", 2)
    read = [row async for row in releases.released(db, PERIOD, "introductions:region")]
    assert sorted(read, key=repr) == sorted(((tuple(k), n, s) for k, n, s in cells), key=repr)
    texts = [t for key, _, _ in read for t in key if t is not None]
    assert len({id(t) for t in texts}) == len(set(texts))  # one string per distinct text


async def test_a_measures_cells_are_not_all_held_at_once(db: AsyncSession, monkeypatch: Any) -> None:
    """Reading cells a part at a time is what keeps a big measure's memory down: the peak while
    they are counted one by one is a fraction of the peak of reading them all at once."""
    await db.execute(
        insert(cast(Table, ReportSnapshot.__table__)),
        [
            {
                "period_start": PERIOD,
                "measure": "introductions:region",
                "key": [f"status {i % 5}", f"country {i % 50}", f"region {i}"],
                "n": i,
                "key_sum": i,
            }
            for i in range(3_000)
        ],
    )
    monkeypatch.setattr(releases, "PART_ROWS", 100)

    async def peak(read: Any) -> int:
        tracemalloc.start()
        try:
            await read()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    async def counted() -> None:
        total = 0
        async for _, n, _ in releases.released(db, PERIOD, "introductions:region"):
            total += n
        assert total == sum(range(3_000))

    async def all_at_once() -> None:
        statement = select(ReportSnapshot.key, ReportSnapshot.n, ReportSnapshot.key_sum).where(
            ReportSnapshot.period_start == PERIOD, ReportSnapshot.measure == "introductions:region"
        )
        assert len((await db.execute(statement)).all()) == 3_000

    await counted()  # statements prepared, caches warm: what is measured is the rows
    await all_at_once()
    streamed, whole = await peak(counted), await peak(all_at_once)
    assert streamed < whole / 2
