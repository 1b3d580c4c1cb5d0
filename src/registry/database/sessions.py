"""The engine, the sessionmaker and the per-request session (one transaction per request)."""

from collections.abc import AsyncIterator

from litestar.datastructures import State
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from registry.config import Settings, async_database_url
from registry.database import routing


def create_engine(settings: Settings, url: str | None = None, *, pool_size: int | None = None) -> AsyncEngine:
    url = url or settings.database_url
    if not url:
        raise RuntimeError("no database URL: set DATABASE_URL or start the embedded database")
    return create_async_engine(
        async_database_url(url),
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_s,
        # A connection that died with the server is replaced instead of failing a request.
        pool_pre_ping=True,
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


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def provide_db_session(state: State) -> AsyncIterator[AsyncSession]:
    """Yield a session; commit after the handler returns, roll back on any error.

    Litestar runs this cleanup before the response is sent, so a failed commit turns into an
    error response and a 2xx always means the write is durable.
    """
    replica = routing.current()
    sessionmaker: async_sessionmaker[AsyncSession] = replica.sessionmaker if replica else state.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        # A session the handler never used (a cached answer) has nothing to commit: skip the
        # commit's machinery, a measurable part of such a request.
        if session.in_transaction():
            await session.commit()
