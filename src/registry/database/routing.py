"""Reads on PostgreSQL streaming replicas (REGISTRY_READ_DATABASE_URLS).

A request whose route allows it (anonymous, initiator and funder reads: searches, matches, HSDS,
reports) reads from a healthy replica that has replayed at least the caller's last write; every
other request, and all of one that writes, uses the primary. `current()` says which database the
request reads from; sessions, the one-statement reads and the caches' version all follow it, so
an answer is computed, and tagged with a data version, on one database.

A replica is healthy while it answers, is still a replica (not promoted) and has replayed what
the primary had written `max_lag_s` ago; each process checks every `interval_s` and skips one
at once when a request could not reach it. With no healthy replica, reads go to the primary."""

import asyncio
import collections
import contextvars
import itertools
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from registry.database.reads import Reads

log = logging.getLogger("registry.database.routing")

_LSN_SQL = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint"
_MARK_SQL = """
    WITH here AS (SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint AS lsn),
         marked AS (UPDATE api_key SET last_write_lsn = here.lsn
                    FROM here WHERE api_key.id = ANY($1::text[]::uuid[]))
    SELECT lsn FROM here
"""
_REPLICA_SQL = """
    SELECT pg_is_in_recovery() AS in_recovery,
           (coalesce(pg_last_wal_replay_lsn(), '0/0'::pg_lsn) - '0/0'::pg_lsn)::bigint AS replayed
"""


@dataclass(eq=False)
class Target:
    """One database requests read from."""

    name: str
    sessionmaker: async_sessionmaker[AsyncSession]
    reads: Reads
    engine: AsyncEngine | None = None


@dataclass(eq=False)
class Replica(Target):
    state: str = "starting"  # streaming, lagging, down, promoted, starting
    replayed: int = 0  # the WAL position it has replayed (bytes), at the last check
    lag_s: float | None = None
    error: str | None = None

    @property
    def healthy(self) -> bool:
        return self.state == "streaming"


_current: contextvars.ContextVar[Target | None] = contextvars.ContextVar("registry_read_target", default=None)


class NotReplayed(Exception):
    """The replica has not yet replayed what the answer needs (the primary answers instead)."""


# Keys whose holders wrote in this request (the caller's, and any the request issued): their next
# reads wait for a replica that has replayed this request's commit.
_writers: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("registry_writers", default=None)


def wrote_as(key_id: Any) -> None:
    """Say that the holder of `key_id` wrote in this request (a key-issuing create calls it)."""
    writers = _writers.get()
    if writers is not None:
        writers.append(key_id)


@contextmanager
def collecting_writers(writers: list[Any]) -> Iterator[None]:
    token = _writers.set(writers)
    try:
        yield
    finally:
        _writers.reset(token)


def read_urls(urls: str) -> list[str]:
    return [u.strip() for u in urls.split(",") if u.strip()]


def current() -> Target | None:
    """The replica this request reads from, or None for the primary."""
    return _current.get()


def reads_for(primary: Reads) -> Reads:
    """The one-statement reads of the database this request reads from."""
    replica = _current.get()
    return replica.reads if replica is not None else primary


@contextmanager
def reading_from(target: Target | None) -> Iterator[None]:
    token = _current.set(target)
    try:
        yield
    finally:
        _current.reset(token)


def parse_lsn(text: str) -> int:
    """'16/B374D848' -> its byte position; ValueError for anything else."""
    high, sep, low = text.strip().partition("/")
    if not sep or not high or not low or len(high) > 8 or len(low) > 8:
        raise ValueError(f"not a WAL position: {text!r}")
    return (int(high, 16) << 32) + int(low, 16)


def format_lsn(position: int) -> str:
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


@dataclass(eq=False)
class Routing:
    primary: Target
    replicas: list[Replica]
    max_lag_s: float = 10.0
    # The primary's WAL position over the last max_lag_s, (monotonic time, position), oldest first.
    _samples: collections.deque[tuple[float, int]] = field(default_factory=collections.deque)
    _turn: Iterator[int] = field(default_factory=itertools.count)
    # Requests that could read from a replica, by the database that answered them.
    served: collections.Counter[str] = field(default_factory=collections.Counter)

    def for_read(self, after: int = 0) -> Replica | None:
        """A healthy replica that has replayed `after` (round robin), or None: the primary."""
        usable = [r for r in self.replicas if r.healthy and r.replayed >= after]
        if not usable:
            return None
        return usable[next(self._turn) % len(usable)]

    def lost(self, replica: Target, error: BaseException) -> None:
        """A request could not reach the replica: skip it until a check finds it again."""
        if isinstance(replica, Replica) and replica.state != "down":
            replica.state, replica.error = "down", f"{type(error).__name__}: {error}"[:200]
            log.warning("replica %s skipped: %s", replica.name, replica.error)

    async def primary_position(self) -> int:
        return int(await self.primary.reads.fetchval(_LSN_SQL))

    async def mark_written(self, key_ids: list[Any]) -> int:
        """Record the primary's WAL position (past this request's commit) on the writers' keys."""
        # The ids as text: asyncpg asks the server about uuid[] on each new connection first.
        ids = [str(k) for k in key_ids if k is not None]
        return int(await self.primary.reads.fetchval(_MARK_SQL, ids, writes=True))

    async def check(self, timeout_s: float = 2.0) -> None:
        """Read the primary's position and each replica's state."""
        now = time.monotonic()
        try:
            async with asyncio.timeout(timeout_s):
                position = await self.primary_position()
        except Exception:
            log.warning("replica check: the primary did not answer", exc_info=True)
            return
        self._samples.append((now, position))
        while len(self._samples) > 1 and self._samples[1][0] <= now - self.max_lag_s:
            self._samples.popleft()
        await asyncio.gather(*(self._check(r, now, timeout_s) for r in self.replicas))

    async def _check(self, replica: Replica, now: float, timeout_s: float) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                row = await replica.reads.fetchrow(_REPLICA_SQL)
        except Exception as exc:
            replica.state, replica.error, replica.lag_s = "down", f"{type(exc).__name__}: {exc}"[:200], None
            return
        replica.error = None
        if not row["in_recovery"]:
            replica.state, replica.lag_s = "promoted", None  # a primary of its own now: not ours
            return
        replica.replayed = int(row["replayed"])
        # Behind by the time since the primary first held WAL the replica has not replayed.
        missing = next((at for at, lsn in self._samples if lsn > replica.replayed), None)
        replica.lag_s = 0.0 if missing is None else now - missing
        replica.state = "streaming" if replica.lag_s <= self.max_lag_s else "lagging"

    async def run(self, stop: asyncio.Event, interval_s: float) -> None:
        while not stop.is_set():
            try:
                await self.check()
            except Exception:
                log.warning("replica check failed", exc_info=True)
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
            except TimeoutError:
                continue

    def report(self) -> list[dict[str, Any]]:
        return [
            {
                "name": r.name,
                "state": r.state,
                "lag_s": None if r.lag_s is None else round(r.lag_s, 3),
                "reads_served": self.served[r.name],
            }
            for r in self.replicas
        ]
