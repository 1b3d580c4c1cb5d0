"""The replica harness gives a real streaming replica: it follows the primary, can be made to
lag, refuses writes, goes away and comes back, and can be promoted."""

import asyncio
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from registry.config import asyncpg_dsn
from registry.database.embedded import EmbeddedPostgres
from tests.replicas.harness import Replica, start_replica


@pytest.fixture
async def probe(replica: Replica) -> AsyncIterator[str]:
    """A table committed on the primary (the suite's rolled-back transactions cannot reach a
    replica), dropped again at the end."""
    table = f"replica_probe_{secrets.token_hex(4)}"
    primary = await replica.connect_primary()
    try:
        await primary.execute(f"CREATE TABLE {table} (id int PRIMARY KEY)")
        yield table
    finally:
        await primary.execute(f"DROP TABLE IF EXISTS {table}")
        await primary.close()


async def insert_on_primary(replica: Replica, table: str, row_id: int) -> str:
    """Commit a row on the primary; the primary's LSN after the commit."""
    primary = await replica.connect_primary()
    try:
        await primary.execute(f"INSERT INTO {table} (id) VALUES ($1)", row_id)  # noqa: S608 (our table name)
    finally:
        await primary.close()
    return await replica.primary_lsn()


async def ids_on_replica(replica: Replica, table: str) -> list[int]:
    connection = await replica.connect()
    try:
        return [row["id"] for row in await connection.fetch(f"SELECT id FROM {table} ORDER BY id")]  # noqa: S608
    finally:
        await connection.close()


async def test_a_committed_row_reaches_the_replica(replica: Replica, probe: str) -> None:
    lsn = await insert_on_primary(replica, probe, 1)
    await replica.wait_for(lsn)

    # Through the URL as the app takes it: SQLAlchemy, and asyncpg as the read pool opens it.
    engine = create_async_engine(replica.url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text(f"SELECT id FROM {probe}"))).scalars().all() == [1]  # noqa: S608
    finally:
        await engine.dispose()
    connection = await asyncpg.connect(asyncpg_dsn(replica.url))
    try:
        assert await connection.fetchval(f"SELECT count(*) FROM {probe}") == 1  # noqa: S608
    finally:
        await connection.close()


def test_the_replica_runs_as_its_data_directorys_owner(replica: Replica) -> None:
    # Never root (PostgreSQL refuses it); the data directory private to the server's user.
    status = replica.pgdata.stat()
    assert status.st_mode & 0o777 == 0o700
    pid = int((replica.pgdata / "postmaster.pid").read_text().split()[0])
    assert psutil.Process(pid).uids().real == status.st_uid
    assert status.st_uid != 0


async def test_a_paused_replica_shows_nothing_new_until_resumed(replica: Replica, probe: str) -> None:
    await insert_on_primary(replica, probe, 1)
    await replica.catch_up()
    await replica.pause_replay()
    try:
        lsn = await insert_on_primary(replica, probe, 2)
        with pytest.raises(TimeoutError, match="replayed up to"):
            await replica.wait_for(lsn, timeout_s=0.5)
        assert await ids_on_replica(replica, probe) == [1]
    finally:
        await replica.resume_replay()
    await replica.wait_for(lsn)
    assert await ids_on_replica(replica, probe) == [1, 2]


async def test_the_replica_refuses_writes(replica: Replica, probe: str) -> None:
    await replica.catch_up()
    assert await replica.in_recovery()
    connection = await replica.connect()
    try:
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await connection.execute(f"INSERT INTO {probe} (id) VALUES (1)")  # noqa: S608
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await connection.execute("CREATE TABLE replica_write_attempt (id int)")
    finally:
        await connection.close()


async def test_a_stopped_replica_refuses_connections_then_catches_up(replica: Replica, probe: str) -> None:
    replica.stop()
    try:
        replica.stop()  # idempotent
        assert not replica.running
        with pytest.raises((FileNotFoundError, ConnectionRefusedError)):
            await asyncpg.connect(asyncpg_dsn(replica.url), timeout=2)
        lsn = await insert_on_primary(replica, probe, 1)
    finally:
        replica.start()
    await replica.wait_for(lsn)
    assert await ids_on_replica(replica, probe) == [1]
    assert await replica.in_recovery()


@pytest.fixture(scope="module")
def strict_primary() -> Iterator[EmbeddedPostgres]:
    """A cluster of its own whose pg_hba.conf lacks initdb's `local replication` line, and
    which the promotion test may make a second primary of without disturbing the session's."""
    with tempfile.TemporaryDirectory(prefix="registry-strict-") as tmp:
        server = EmbeddedPostgres(Path(tmp), delete_on_stop=True)
        try:
            server.ensure_database("strict")
            hba = server.pgdata / "pg_hba.conf"
            lines = hba.read_text().splitlines()
            hba.write_text("".join(f"{line}\n" for line in lines if "replication" not in line))
            asyncio.run(reload_configuration(server.socket_dir))
            yield server
        finally:
            server.stop()


async def reload_configuration(socket_dir: str) -> None:
    connection = await asyncpg.connect(host=socket_dir, user="postgres", database="postgres")
    try:
        await connection.execute("SELECT pg_reload_conf()")
    finally:
        await connection.close()


def test_a_primary_without_replication_access_gets_it(strict_primary: EmbeddedPostgres) -> None:
    with tempfile.TemporaryDirectory(prefix="registry-promoted-") as workdir:
        made = start_replica(strict_primary.socket_dir, Path(workdir), database="strict")
        made.close()
    assert "local   replication     all" in (strict_primary.pgdata / "pg_hba.conf").read_text()


async def test_a_promoted_replica_takes_writes(strict_primary: EmbeddedPostgres) -> None:
    with tempfile.TemporaryDirectory(prefix="registry-promoted-") as workdir:
        promoted = start_replica(strict_primary.socket_dir, Path(workdir), database="strict")
        try:
            assert await promoted.in_recovery()
            promoted.promote()
            assert not await promoted.in_recovery()
            connection = await promoted.connect()
            try:
                await connection.execute("CREATE TABLE written (id int)")
                await connection.execute("INSERT INTO written VALUES (1)")
            finally:
                await connection.close()
        finally:
            promoted.close()
    primary = await promoted.connect_primary()
    try:
        # close() dropped the replica's slot: the primary holds no WAL for it any more.
        assert await primary.fetchval("SELECT count(*) FROM pg_replication_slots") == 0
    finally:
        await primary.close()
