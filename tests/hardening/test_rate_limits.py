"""Rate limits answer 429 with Retry-After, and the count is shared by every API process."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from registry import throttling
from registry.app import create_app
from registry.config import Settings
from registry.db import create_engine, create_sessionmaker
from registry.models import RateLimitWindow
from registry.throttling import LIMITS, Throttle
from tests.factories import app_client


@pytest.fixture
async def two_processes(settings: Settings, database_url: str) -> AsyncIterator[list[AsyncEngine]]:
    """Two apps on two engines: as far as the database can tell, two API processes."""
    engines = [create_engine(settings, database_url), create_engine(settings, database_url)]
    yield engines
    async with engines[0].begin() as conn:
        await conn.execute(delete(RateLimitWindow))
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
    assert 1 <= int(retry_after) <= 60


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


async def shared_count(engine: AsyncEngine, bucket: str) -> int:
    async with engine.connect() as conn:
        query = select(func.coalesce(func.sum(RateLimitWindow.hits), 0)).where(
            RateLimitWindow.bucket == bucket
        )
        return int((await conn.execute(query)).scalar_one())


def test_every_production_limit_is_counted_exactly() -> None:
    assert all(throttling.batch_size(limit) == 1 for limit in LIMITS.values())


async def test_a_process_adds_its_hits_to_the_shared_count_in_batches(
    two_processes: list[AsyncEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttling, "SYNC_SECONDS", 3600.0)
    sessionmaker = create_sessionmaker(two_processes[0])
    throttle = Throttle()
    limit = 1000  # batches of 10
    assert [await throttle.hit(sessionmaker, "t:batches", limit) for _ in range(25)] == [None] * 25
    # The first hit asks at once; then every tenth adds ten; the last four are still local.
    assert await shared_count(two_processes[0], "t:batches") == 21


async def test_a_process_adds_its_hits_at_least_once_a_sync_interval(
    two_processes: list[AsyncEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttling, "SYNC_SECONDS", 0.0)
    sessionmaker = create_sessionmaker(two_processes[0])
    throttle = Throttle()
    for _ in range(25):
        assert await throttle.hit(sessionmaker, "t:interval", 1000) is None
    assert await shared_count(two_processes[0], "t:interval") == 25


async def test_one_request_adds_the_batch_while_the_others_carry_on(
    two_processes: list[AsyncEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    sessionmaker = create_sessionmaker(two_processes[0])
    throttle = Throttle()
    asked: list[int] = []
    add = Throttle._add

    async def counted(maker: Any, bucket: str, hits: int) -> tuple[int, float]:
        asked.append(hits)
        return await add(maker, bucket, hits)

    monkeypatch.setattr(Throttle, "_add", staticmethod(counted))
    assert await throttle.hit(sessionmaker, "t:together", 10_000) is None
    throttle._windows["t:together"].asked_at -= 2 * throttling.SYNC_SECONDS  # due to ask again
    answers = await asyncio.gather(*(throttle.hit(sessionmaker, "t:together", 10_000) for _ in range(10)))
    assert answers == [None] * 10
    # The first of the ten asked (for itself); the other nine are counted here, not asked about.
    assert asked == [1, 1]
    assert throttle._windows["t:together"].pending == 9


async def test_batched_processes_refuse_on_the_shared_count(
    two_processes: list[AsyncEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttling, "SYNC_SECONDS", 3600.0)
    makers = [create_sessionmaker(e) for e in two_processes]
    throttles = [Throttle(), Throttle()]
    limit, processes = 500, 2
    batch = throttling.batch_size(limit)
    assert batch == 5
    answers = [await throttles[i % 2].hit(makers[i % 2], "t:shared", limit) for i in range(560)]
    allowed = sum(a is None for a in answers)
    # Other processes' hits the count has not seen yet are the only slack.
    assert limit <= allowed <= limit + (processes - 1) * (batch - 1)
    # Once refused, refused: near the limit every request asks the shared count.
    first_refusal = answers.index(next(a for a in answers if a is not None))
    assert all(a is not None for a in answers[first_refusal:])
    assert all(0 < a <= 60 for a in answers[first_refusal:] if a is not None)
    # A third process that never saw this client refuses it on its first request.
    assert await Throttle().hit(makers[0], "t:shared", limit) is not None
    assert await shared_count(two_processes[0], "t:shared") >= allowed


async def test_a_window_that_ended_starts_over_from_the_shared_count(
    two_processes: list[AsyncEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttling, "SYNC_SECONDS", 3600.0)
    sessionmaker = create_sessionmaker(two_processes[0])
    throttle = Throttle()
    for _ in range(3):
        await throttle.hit(sessionmaker, "t:ended", 1000)
    assert await shared_count(two_processes[0], "t:ended") == 1
    throttle._windows["t:ended"].ends = 0.0  # as if the minute were over
    await throttle.hit(sessionmaker, "t:ended", 1000)
    # The new minute's first hit asks at once; the old minute's two local hits are dropped.
    assert await shared_count(two_processes[0], "t:ended") == 2


def msgspec_replace(settings: Settings, **changes: object) -> Settings:
    import msgspec

    return msgspec.structs.replace(settings, **changes)
