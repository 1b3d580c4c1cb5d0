"""An API process hears of every committed write to listings, contacts and organizations from
PostgreSQL, falls back to reading the version from the tables while it cannot listen, and
listens again once the connection is back."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import msgspec
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from registry import changes as changes_module
from registry.app import create_app
from registry.changes import APPLICATION_NAME, PROBE, Changes
from registry.config import Settings, asyncpg_dsn
from tests.factories import app_client

# Statement triggers fire for statements that touch no row: a committed write that changes nothing.
WRITES = {
    "listing": "UPDATE listing SET name = name WHERE false",
    "contact": "DELETE FROM contact WHERE false",
    "organization": "UPDATE organization SET name = name WHERE false",
}


async def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


@pytest.fixture
async def listening(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Changes]:
    monkeypatch.setattr(changes_module, "RECONNECT_SECONDS", 0.05)
    changes = Changes()
    task = asyncio.create_task(changes.listen(asyncpg_dsn(database_url)))
    await eventually(lambda: changes.listening)
    yield changes
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert not changes.listening


async def commit(engine: AsyncEngine, sql: str, *, rollback: bool = False) -> None:
    async with engine.connect() as conn:
        await conn.execute(text(sql))
        await (conn.rollback() if rollback else conn.commit())


async def test_every_committed_write_is_heard_and_nothing_else(
    listening: Changes, engine: AsyncEngine
) -> None:
    for table, sql in WRITES.items():
        before = listening.generation
        await commit(engine, sql, rollback=True)  # never committed: never announced
        await commit(engine, sql)
        await eventually(lambda before=before: listening.generation > before)  # type: ignore[misc]
        assert listening.generation == before + 1, table
    # Writes elsewhere say nothing.
    before = listening.generation
    await commit(engine, "UPDATE initiator SET locality = locality WHERE false")
    await commit(engine, WRITES["listing"])
    await eventually(lambda: listening.generation > before)
    assert listening.generation == before + 1


async def test_probes_prove_the_way_and_change_nothing(
    listening: Changes, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changes_module, "PING_SECONDS", 0.05)
    before = listening.generation
    await asyncio.sleep(0.5)  # several probes went out and came back
    assert listening.listening and listening.generation == before
    # Another process's probe arrives too, and changes nothing either.
    await commit(engine, f"SELECT pg_notify('registry_listings', '{PROBE}elsewhere')")
    await commit(engine, WRITES["organization"])
    await eventually(lambda: listening.generation > before)
    assert listening.generation == before + 1


async def test_a_connection_that_swallows_notifications_is_not_trusted(
    database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """As behind a pooler in transaction mode: LISTEN succeeds, nothing ever arrives."""

    class Deaf(Changes):
        def _notified(self, conn: object, pid: int, channel: str, payload: str) -> None:
            pass

    monkeypatch.setattr(changes_module, "PING_SECONDS", 0.2)
    monkeypatch.setattr(changes_module, "RECONNECT_SECONDS", 0.05)
    deaf = Deaf()
    task = asyncio.create_task(deaf.listen(asyncpg_dsn(database_url)))
    try:
        await eventually(lambda: "change notifications unavailable" in caplog.text)
        assert not deaf.listening
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_while_listening_the_version_needs_no_query(listening: Changes, db: AsyncSession) -> None:
    version = await listening.version(db)
    assert version == ("notified", listening.generation)
    listening.changed()
    assert await listening.version(db) != version


async def test_without_the_connection_the_version_comes_from_the_tables(
    listening: Changes, engine: AsyncEngine, db: AsyncSession
) -> None:
    async with engine.connect() as conn:
        killed = await conn.scalar(
            text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :n"),
            {"n": APPLICATION_NAME},
        )
    assert killed == 1
    await eventually(lambda: not listening.listening)
    stored = await Changes().version(db)
    assert stored[0] == "stored"
    generation = listening.generation
    # Back after RECONNECT_SECONDS, and whatever happened meanwhile counts as a change.
    await eventually(lambda: listening.listening)
    assert listening.generation > generation


async def test_a_served_app_listens_from_start_up(settings: Settings) -> None:
    app = create_app(settings)  # no sessionmaker given: the app owns its engine and start-up
    async with app.lifespan(), app_client(app) as client:
        await eventually(lambda: app.state.changes.listening)
        assert (await client.get("/health")).status_code == 200
    assert not app.state.changes.listening


async def test_a_process_that_cannot_listen_still_answers_from_the_tables(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    nowhere = msgspec.structs.replace(settings, notify_url="postgresql://registry@127.0.0.1:9/none")
    app = create_app(nowhere)
    async with app.lifespan(), app_client(app) as client:
        await eventually(lambda: "change notifications unavailable" in caplog.text)
        assert not app.state.changes.listening
        # (Reads only: this app commits what it writes, and other tests share the database.)
        for path in ("/programs", "/partners"):
            response = await client.get(path, params={"near": "Utrecht, NL"})
            assert response.status_code == 200, response.text
        async with app.state.sessionmaker() as session:
            assert (await app.state.changes.version(session))[0] == "stored"


def test_the_notify_url_comes_from_the_environment() -> None:
    env = {
        "DATABASE_URL": "postgresql://pool/registry",
        "REGISTRY_NOTIFY_URL": "postgresql://primary/registry",
    }
    assert Settings.from_env(env).notify_url == "postgresql://primary/registry"
    assert Settings.from_env({"DATABASE_URL": "postgresql://pool/registry"}).notify_url is None
