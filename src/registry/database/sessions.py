"""The engine and the sessionmaker (the per-request session is `http.dependencies`'s)."""

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from registry.config import Settings, async_database_url


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
