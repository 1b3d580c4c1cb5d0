"""How fresh a cached answer about listings is: the version of what answers show, read from
PostgreSQL by every request that may be answered from a cache.

The version counts committed statements that wrote listings, contacts, organizations or terms
(migration 0018), so once a write is answered every later request, on any process, reads a newer
version and misses the old answers. A process shares one read among the requests that arrived
before it began (at most one read under way and one waiting)."""

import asyncio
import itertools
from typing import Any, Final, Protocol

Version = int

VERSION_SQL: Final = (
    "SELECT (SELECT total FROM change_base WHERE id = 1) + (SELECT coalesce(sum(weight), 0) FROM change_tick)"
)


class Reader(Protocol):
    async def fetchval(self, query: str, *args: Any) -> Any: ...


async def stored_version(reads: Reader) -> Version:
    return int(await reads.fetchval(VERSION_SQL))


class Changes:
    """One process's reads of the version (kept on the app's state)."""

    def __init__(self) -> None:
        self._ticket = itertools.count()
        # The read under way: the ticket it took when it began, and its outcome.
        self._reading: tuple[int, asyncio.Future[Version]] | None = None

    async def version(self, reads: Reader) -> Version:
        """The current version, read after this call began (through `reads` if it must read)."""
        arrived = next(self._ticket)
        while self._reading is not None:
            began, outcome = self._reading
            try:
                value = await asyncio.shield(outcome)
            except Exception:  # noqa: S112 (its reader failed: read again, below or in the next one)
                continue
            if began > arrived:
                return value
        outcome = asyncio.get_running_loop().create_future()
        self._reading = (next(self._ticket), outcome)
        try:
            value = await stored_version(reads)
        except BaseException as exc:
            outcome.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
            outcome.exception()  # retrieved: the waiters read again
            raise
        finally:
            self._reading = None
        outcome.set_result(value)
        return value
