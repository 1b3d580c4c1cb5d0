"""Faults: a failed commit never answers 2xx; slow queries and an exhausted pool answer 503 fast."""

import asyncio
import time
import uuid
from typing import Any

import msgspec
from litestar import get, post
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from registry.app import create_app
from registry.config import Settings
from registry.database.sessions import create_engine, create_sessionmaker
from registry.models import Organization
from tests.factories import app_client


class CommitFails(AsyncSession):
    async def commit(self) -> None:
        raise OperationalError("COMMIT", {}, ConnectionResetError("connection lost at commit"))


async def test_a_failed_commit_never_answers_2xx(engine: AsyncEngine, settings: Settings) -> None:
    sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
        engine, class_=CommitFails, expire_on_commit=False
    )
    app = create_app(settings, sessionmaker=sessionmaker)
    name = f"never committed {uuid.uuid4()}"
    async with app_client(app) as client:
        response = await client.post("/organizations", json={"name": name, "kinds": ["trainer"]})
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "connection lost" not in response.text
    async with engine.connect() as conn:
        assert await conn.scalar(select(Organization.id).where(Organization.name == name)) is None


async def test_a_slow_query_answers_503_within_seconds(database_url: str, settings: Settings) -> None:
    fast = msgspec.structs.replace(settings, db_statement_timeout_ms=300)
    engine = create_engine(fast, database_url)

    @get("/slow", include_in_schema=False)
    async def slow(db_session: Any) -> None:
        await db_session.execute(text("SELECT pg_sleep(10)"))

    app = create_app(fast, sessionmaker=create_sessionmaker(engine))
    app.register(slow)
    try:
        async with app_client(app) as client:
            started = time.monotonic()
            response = await client.get("/slow")
            elapsed = time.monotonic() - started
    finally:
        await engine.dispose()
    assert response.status_code == 503
    assert response.json()["type"] == "/problems/service-unavailable"
    assert elapsed < 3


async def test_an_exhausted_pool_answers_503_within_seconds(database_url: str, settings: Settings) -> None:
    tight = msgspec.structs.replace(settings, db_pool_size=1, db_max_overflow=0, db_pool_timeout_s=0.5)
    engine = create_engine(tight, database_url)
    release = asyncio.Event()

    @post("/hold", include_in_schema=False)
    async def hold(db_session: Any) -> None:
        await db_session.execute(text("SELECT 1"))
        await release.wait()

    app = create_app(tight, sessionmaker=create_sessionmaker(engine))
    app.register(hold)
    try:
        async with app_client(app) as client:
            holder = asyncio.create_task(client.post("/hold"))
            await asyncio.sleep(0.3)
            started = time.monotonic()
            response = await client.post("/organizations", json={"name": "x", "kinds": ["trainer"]})
            elapsed = time.monotonic() - started
            release.set()
            await holder
    finally:
        await engine.dispose()
    assert response.status_code == 503
    assert elapsed < 3
