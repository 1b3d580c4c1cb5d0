"""Liveness, readiness, and readiness when the database goes away and comes back."""

import asyncio
import time
from typing import Any

import httpx
import pytest

import registry.app as app_module
from registry.app import create_app
from registry.config import Settings
from registry.database.sessions import create_engine, create_sessionmaker
from registry.reports import releases
from tests.factories import Client, app_client, http_scope
from tests.tcp_proxy import DatabaseProxy


async def test_health_and_ready(client: Client) -> None:
    health = await client.get("/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200 and ready.json() == {
        "status": "ready",
        "databases": [{"name": "primary", "state": "ready", "lag_s": None, "reads_served": None}],
        "warm": True,
    }


async def test_ready_turns_503_without_the_database_and_recovers(
    database_url: str, settings: Settings
) -> None:
    proxy = DatabaseProxy(database_url)
    await proxy.start()
    engine = create_engine(settings, proxy.url_through(database_url))
    app = create_app(settings, sessionmaker=create_sessionmaker(engine))
    try:
        async with app_client(app) as client:
            assert (await client.get("/ready")).status_code == 200

            await proxy.stop()
            started = time.monotonic()
            down = await client.get("/ready")
            elapsed = time.monotonic() - started
            assert down.status_code == 503
            assert down.headers["content-type"].startswith("application/problem+json")
            assert down.json()["type"] == "/problems/service-unavailable"
            assert elapsed < 3.0, f"/ready took {elapsed:.1f}s with the database gone"
            # The process itself is still alive.
            assert (await client.get("/health")).status_code == 200

            await proxy.start()  # same port: the database is back
            assert (await client.get("/ready")).status_code == 200
    finally:
        await proxy.stop()
        await engine.dispose()


async def test_liveness_is_answered_before_the_app_as_its_route_would(client: Client, app: Any) -> None:
    """GET /health skips the app's middleware: the answer is the route's, byte for byte."""
    fast = await client.get("/health")
    routed: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        routed.append(message)

    scope = http_scope("GET", "/health", [(b"host", b"registry.test")])
    await app._litestar(scope, receive, send)  # the route, through every middleware
    assert routed[0]["status"] == fast.status_code == 200
    assert dict(routed[0]["headers"]) == {k.encode(): v.encode() for k, v in fast.headers.items()}
    assert b"".join(m.get("body", b"") for m in routed[1:]) == fast.content == b'{"status":"ok"}'
    assert (await client.head("/health")).status_code == (await client.put("/health")).status_code == 405
    # A key sent along goes the whole way: one that is not valid is refused, as everywhere.
    assert (await client.get("/health", headers={"Authorization": "Bearer not-a-key"})).status_code == 401


async def test_ready_says_when_a_starting_process_is_warm(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server process reads matching's remote pools in the background as it starts (seconds, at a
    million listings): `/ready` tells a load balancer or a benchmark when that is done."""
    release = asyncio.Event()

    async def slow_pools(caches: object) -> None:
        await release.wait()

    async def no_snapshot(*args: object) -> None:
        return None

    monkeypatch.setattr(app_module, "warm_pools", slow_pools)
    monkeypatch.setattr(releases, "current_period", no_snapshot)
    app = create_app(settings)
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as client:
            starting = await client.get("/ready")
            assert starting.status_code == 200 and starting.json()["warm"] is False
            release.set()
            for _ in range(100):
                if (await client.get("/ready")).json()["warm"]:
                    break
                await asyncio.sleep(0.02)
            else:
                pytest.fail("the process never said it was warm")
