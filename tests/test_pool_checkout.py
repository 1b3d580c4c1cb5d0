"""The sessions' pool hands out a connection without a round trip first, and still never hands
out one whose server process is gone (a restart, an administrator's terminate): it is replaced."""

import asyncio
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from registry.config import Settings, asyncpg_dsn
from registry.database import sessions
from registry.database.sessions import create_engine


async def test_a_checkout_sends_nothing_before_the_requests_statements(settings: Settings) -> None:
    engine = create_engine(settings, pool_size=1)
    sent: list[str] = []
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            driver.add_query_logger(lambda record: sent.append(record.query.strip()))
        sent.clear()  # (its rollback on the way back to the pool)
        async with engine.connect() as conn:  # the same connection, from the pool
            assert await conn.scalar(text("SELECT 2")) == 2
    finally:
        await engine.dispose()
    # The transaction the statement runs in, the statement (which the driver's query logger does
    # not show when it runs prepared) and the rollback on its return to the pool: no ping before
    # them (BEGIN, an empty statement, ROLLBACK).
    assert sent.count("BEGIN;") == 1 and ";" not in sent
    assert [query for query in sent if query not in ("BEGIN;", "SELECT 2", "ROLLBACK;")] == []


async def test_a_connection_whose_server_process_ended_is_replaced(settings: Settings) -> None:
    assert settings.database_url is not None
    engine = create_engine(settings, pool_size=1)
    other: Any = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    try:
        async with engine.connect() as conn:
            first = await conn.scalar(text("SELECT pg_backend_pid()"))
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            closed = asyncio.Event()
            driver.add_termination_listener(lambda _: closed.set())
        # Ended, and waited for (up to 5 s), as a restart ends it; then the server's goodbye
        # reaches the pooled connection.
        assert await other.fetchval("SELECT pg_terminate_backend($1, 5000)", first) is True
        await asyncio.wait_for(closed.wait(), 5)
        assert driver.is_closed()
        async with engine.connect() as conn:
            second = await conn.scalar(text("SELECT pg_backend_pid()"))
        assert second != first
    finally:
        await other.close()
        await engine.dispose()


async def test_a_connection_older_than_the_recycle_age_is_replaced(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection a firewall may have dropped while it was idle is not handed out: one older
    than the pool's recycle age (5 minutes) is replaced at checkout."""
    monkeypatch.setattr(sessions, "POOL_RECYCLE_S", 1)
    engine = create_engine(settings, pool_size=1)
    try:
        async with engine.connect() as conn:
            first = await conn.scalar(text("SELECT pg_backend_pid()"))
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT pg_backend_pid()")) == first
        await asyncio.sleep(1.2)
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT pg_backend_pid()")) != first
    finally:
        await engine.dispose()
