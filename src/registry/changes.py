"""How fresh a cached answer about listings is, without asking the database on every request.

Searches and matches keep answers in each API process, tagged with the version of the listings
they were built from. PostgreSQL says when that version moves on: every statement that writes a
listing, a contact or an organization notifies CHANNEL (migration 0013), and each API process
listens on a connection of its own and counts the notifications. While it listens, that count is
the version, and a cached answer costs no query at all. While it does not (starting up, after
losing the connection, in tools and tests without the app's start-up), the version is read from
the tables: a query, and not quite as fresh. `updated_at` is the writer's clock when it flushes,
not when it commits, so a write that flushed before another one but committed after it does not
move the newest `updated_at`: answers cached between the two commits are served until the next
change or for their 5 minutes, and only while the process does not listen.

A process's own writes move its count as they commit. Another process's writes reach it when
PostgreSQL delivers the notification, which it sends as the writing transaction commits: the
answer to a request that a client sends after its write was answered is not older than that
write unless the notification is still under way (a matter of milliseconds, on a loaded machine).
"""

import asyncio
import contextlib
import logging
import uuid

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import Listing, Organization

CHANNEL = "registry_listings"
# How often the listening connection is checked (a notification sent to ourselves must come back:
# a connection that died without closing, or a pooler that drops notifications, fails it).
PING_SECONDS = 5.0
RECONNECT_SECONDS = 1.0
APPLICATION_NAME = "registry-changes"
# Payload of this process's own test notifications (changes notify with an empty payload).
PROBE = "probe:"

Version = tuple[object, ...]
log = logging.getLogger("registry.changes")


async def stored_version(session: AsyncSession) -> Version:
    """Changes whenever anything a search or match shows changes: two index lookups. Contacts
    are written through their listing, which moves its updated_at; new listings raise the newest
    updated_at too; listings are never deleted, only archived (an update)."""
    row = (
        await session.execute(
            select(
                select(func.max(Listing.updated_at)).scalar_subquery(),
                select(func.max(Organization.updated_at)).scalar_subquery(),
            )
        )
    ).one()
    return ("stored", *row)


class Changes:
    """One process's knowledge of the listings' version."""

    def __init__(self) -> None:
        self.generation = 0
        self.listening = False
        self._probes: dict[str, asyncio.Event] = {}

    def changed(self) -> None:
        """Something changed (a notification arrived, or this process committed a write)."""
        self.generation += 1

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        probe = self._probes.get(payload)
        if probe is not None:
            probe.set()
        elif not payload.startswith(PROBE):
            self.changed()

    async def version(self, session: AsyncSession) -> Version:
        if self.listening:
            return ("notified", self.generation)
        return await stored_version(session)

    async def listen(self, dsn: str) -> None:
        """Keep a connection listening on CHANNEL until cancelled, reconnecting when it is lost."""
        while True:
            try:
                await self._listen_once(dsn)
                log.warning("change notifications: connection lost; reading versions from the tables")
            except Exception as exc:  # any failure: read versions from the tables, and retry
                log.warning("change notifications unavailable (%r); reading versions from the tables", exc)
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen_once(self, dsn: str) -> None:
        """Listen until the connection is lost or a probe does not come back."""
        conn = await asyncpg.connect(
            dsn, timeout=PING_SECONDS, server_settings={"application_name": APPLICATION_NAME}
        )
        lost = asyncio.Event()
        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            await conn.add_listener(CHANNEL, self._notified)
            await self._probe(conn)
            self.changed()  # whatever changed while nobody listened
            self.listening = True
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), PING_SECONDS)
                if not lost.is_set():
                    await self._probe(conn)
        finally:
            self.listening = False
            conn.terminate()

    async def _probe(self, conn: asyncpg.Connection) -> None:
        """Notify ourselves and wait for it: proves the whole way a notification travels (a
        pooler in transaction mode, say, would swallow it; TimeoutError then)."""
        token = f"{PROBE}{uuid.uuid4().hex}"
        arrived = self._probes[token] = asyncio.Event()
        try:
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, token, timeout=PING_SECONDS)
            await asyncio.wait_for(arrived.wait(), PING_SECONDS)
        finally:
            del self._probes[token]
