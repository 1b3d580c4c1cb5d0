"""How fresh a cached answer about listings is: the version of what answers show, read from
PostgreSQL by every request that may be answered from a cache.

The version counts the committed statements that wrote listings, contacts, organizations or
vocabulary terms (migration 0018). A request reads it before it looks in a cache, and an answer is
kept tagged with the version read before it was computed: once a write is answered, every request
that starts afterwards, in any process, reads a newer version and so misses the old answers.

Under load a process shares one read among the requests that wait for it, but only a read that
began after a request arrived serves that request (an older one might not include a write whose
answer the client has already seen): at most one read runs, and at most one more waits, per
process, however many requests arrive.
"""

import asyncio
import itertools
from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

Version = int

VERSION_SQL: Final = text(
    "SELECT (SELECT total FROM change_base WHERE id = 1) + (SELECT coalesce(sum(weight), 0) FROM change_tick)"
)


async def stored_version(session: AsyncSession) -> Version:
    return int((await session.execute(VERSION_SQL)).scalar_one())


class Changes:
    """One process's reads of the version (kept on the app's state)."""

    def __init__(self) -> None:
        self._ticket = itertools.count()
        # The read under way: the ticket it took when it began, and its outcome.
        self._reading: tuple[int, asyncio.Future[Version]] | None = None

    async def version(self, session: AsyncSession) -> Version:
        """The current version, read after this call began (with `session` if it must read)."""
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
            value = await stored_version(session)
        except BaseException as exc:
            outcome.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
            outcome.exception()  # retrieved: the waiters read again
            raise
        finally:
            self._reading = None
        outcome.set_result(value)
        return value
