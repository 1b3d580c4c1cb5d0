"""The period's snapshot of people counts is taken under a time limit of its own: at 1,000,000
introductions it takes longer than any request may (9 s against 5), and a snapshot that never
finishes leaves every report of the period unanswerable."""

import asyncio
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from registry.reports import releases

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
