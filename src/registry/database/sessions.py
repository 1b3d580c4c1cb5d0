"""The engine and the sessionmaker (the per-request session is `http.dependencies`'s)."""

from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from registry.config import Settings, async_database_url

POOL_RECYCLE_S = 300


def create_engine(settings: Settings, url: str | None = None, *, pool_size: int | None = None) -> AsyncEngine:
    url = url or settings.database_url
    if not url:
        raise RuntimeError("no database URL: set DATABASE_URL or start the embedded database")
    engine = create_async_engine(
        async_database_url(url),
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_s,
        # As the reads' pool closes a connection idle for 5 minutes (asyncpg's default), a connection
        # older than that is replaced at checkout: a firewall or load balancer that drops idle
        # connections without a word never leaves the pool one that is dead (_replace_if_closed).
        pool_recycle=POOL_RECYCLE_S,
        # Error messages must not carry bound values (emails, coordinates) into logs.
        hide_parameters=True,
        connect_args={
            "timeout": settings.ready_timeout_s,
            "command_timeout": settings.db_statement_timeout_ms / 1000 + 1,
            "server_settings": {
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "application_name": "registry",
            },
        },
    )
    event.listen(engine.sync_engine, "checkout", _replace_if_closed)
    return engine


def _replace_if_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A connection that died with the server (a restart, a terminated backend) is replaced
    instead of failing a request: the pool connects again when a checkout raises this. The driver
    knows without asking the server: the server's goodbye closed the socket. A connection cut
    without a goodbye (a host that crashed) fails the statement that first uses it, a 503, and the
    pool then replaces all its connections of that age. A ping on every checkout
    (`pool_pre_ping`) would have found that one too, but cost each request three round trips
    (BEGIN, an empty statement, ROLLBACK) and a tenth of a first-time near search's time
    (docs/performance.md)."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the database closed this connection")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
