"""The period's snapshot of people counts is taken under a time limit of its own: at 1,000,000
introductions it takes longer than any request may, and a snapshot that never finishes would
leave every report of the period unanswerable."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from registry.reports import releases


async def test_the_snapshot_may_outlast_a_requests_statement_timeout(
    db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    await db.execute(text("SET LOCAL statement_timeout = 100"))  # a request's, in milliseconds
    monkeypatch.setattr(releases, "_TAKE", "SELECT pg_sleep(0.3), $1::timestamptz, $2::text")
    await releases.take(db, datetime(2026, 1, 1, tzinfo=UTC))  # 300 ms, allowed
    with pytest.raises(Exception, match=r"timeout|cancel"):
        await releases.take(db, datetime(2026, 1, 1, tzinfo=UTC), timeout_s=0.1)
