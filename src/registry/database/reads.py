"""One-statement reads outside the ORM, for the hot read paths: no session, no BEGIN and COMMIT,
no connection ping per request, one round trip. A server app reads through an asyncpg pool of
its own; an app given a sessionmaker (tests, tools) reads through that sessionmaker's
connection, so that it sees what the test wrote."""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.config import Settings, asyncpg_dsn


async def _reset(connection: "asyncpg.Connection[Any]") -> None:
    """What a connection needs before its next statement on this pool: nothing, as every statement
    here is its own transaction and leaves nothing behind (no LISTEN, advisory lock, cursor or
    session setting; `set_config(..., true)` ends with its transaction). asyncpg's default reset
    is a round trip to the server on every release: it doubled the reads' round trips."""
    if connection.is_in_transaction():  # not on this pool's statements; in case
        await connection.execute("ROLLBACK")


class Reads:
    def __init__(
        self,
        *,
        pool: "asyncpg.Pool[Any] | None" = None,
        sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._pool = pool
        self._sessionmaker = sessionmaker

    @classmethod
    async def open(
        cls, url: str, settings: Settings, *, size: int | None = None, lazy: bool = False
    ) -> "Reads":
        """A pool on `url`; `lazy`: connect on first use (a replica may be down at start-up)."""
        pool = await asyncpg.create_pool(
            asyncpg_dsn(url),
            min_size=0 if lazy else 1,
            reset=_reset,
            max_size=size or settings.db_pool_size,
            timeout=settings.ready_timeout_s,
            command_timeout=settings.db_statement_timeout_ms / 1000 + 1,
            server_settings={
                "statement_timeout": str(settings.db_statement_timeout_ms),
                # Statements here are prepared once per connection, and planned once too: they
                # are small, or (matching's) take longer to plan than to run, whatever the values.
                "plan_cache_mode": "force_generic_plan",
                "application_name": "registry-reads",
            },
        )
        return cls(pool=pool)

    async def fetchval(self, query: str, *args: Any, writes: bool = False) -> Any:
        """The first column of the first row. A statement that `writes` commits (it always does
        on the pool, each statement its own transaction)."""
        return await self._run("fetchval", query, args, writes)

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        """Every row (positional, and by column name)."""
        found: list[Any] = await self._run("fetch", query, args)
        return found

    async def fetchrow(self, query: str, *args: Any) -> Any:
        return await self._run("fetchrow", query, args)

    async def parts(self, query: str, *args: Any, size: int) -> AsyncIterator[list[Any]]:
        """Every row, `size` at a time, all from one snapshot of the data (a cursor in a read-only
        repeatable-read transaction): a large answer without all its rows in memory at once."""
        async with self._connection() as connection:
            if connection.is_in_transaction():  # the sessionmaker's, which is one already
                transaction: Any = contextlib.nullcontext()
            else:
                transaction = connection.transaction(isolation="repeatable_read", readonly=True)
            async with transaction:
                cursor = await connection.cursor(query, *args)
                while rows := await cursor.fetch(size):
                    yield rows

    @contextlib.asynccontextmanager
    async def _connection(self) -> "AsyncIterator[asyncpg.Connection[Any]]":
        if self._pool is not None:
            async with self._pool.acquire() as connection:
                yield connection
            return
        assert self._sessionmaker is not None
        async with self._sessionmaker() as session:
            connection = await (await session.connection()).get_raw_connection()
            yield connection.driver_connection

    async def _run(self, method: str, query: str, args: tuple[Any, ...], writes: bool = False) -> Any:
        """asyncpg's `method` on the pool, or on the sessionmaker's connection."""
        if self._pool is not None:
            return await getattr(self._pool, method)(query, *args)
        assert self._sessionmaker is not None
        async with self._sessionmaker() as session:
            connection = await (await session.connection()).get_raw_connection()
            value = await getattr(connection.driver_connection, method)(query, *args)
            if writes:
                await session.commit()
            return value

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
