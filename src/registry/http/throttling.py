"""Rate limits, counted in PostgreSQL so every API process shares one count per client: over any
60 seconds (`rate_limit_count`, migration 0028, after 0017's), per organization (all its keys
together) else per key, and per address as well for callers anyone can become (anonymous,
initiators, unverified organizations). A request goes ahead only when every count it belongs to
has room.

A process counts its requests a batch at a time (`Takes`): the requests that come while a count is
on its way to the database are counted together when it is back, in one statement and one
transaction (`rate_limit_take_many`, migration 0028), each in its turn, with the answer
it would get counted on its own. Alone, a request is counted at once; under load, the database
commits once for many (one commit per request was most of its work in a burst of matches;
docs/performance.md)."""

import asyncio
import hashlib
import math
from collections.abc import Sequence
from typing import Final

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from registry.auth.dependencies import SCOPE_KEY
from registry.auth.principal import ANONYMOUS, Principal, Role
from registry.database.reads import Reads
from registry.http.errors import TooManyRequests
from registry.http.forwarded import client_address, parse_networks

# Requests per 60 seconds per client, by limit name (multiplied by REGISTRY_RATE_LIMIT_SCALE).
LIMITS: Final[dict[str, int]] = {
    "matches": 60,
    "introductions": 20,
    "organizations": 10,
    "initiators": 10,
    "api_keys": 10,
}

# One statement, its own transaction. A lost count after a crash is harmless: skip the WAL flush
# wait for this one transaction. The numbers go and come back as text[]: asyncpg asks the server
# about integer[] and float8[] on each new connection first (tests/test_type_lookups.py).
_TAKE = (
    "SELECT rate_limit_take_many($1::text[]::integer[], $2::text[], $3::text[]::integer[])::text[] "
    "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed"
)
# The most requests counted in one statement (the others wait for the next).
BATCH_MOST: Final = 200


def _hashed(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def client_identity(scope: Scope) -> str:
    """The caller's key when it has one, else its address; hashed, never stored in clear."""
    principal: Principal = scope.get(SCOPE_KEY, ANONYMOUS)  # type: ignore[assignment]
    if principal.key_id is not None:
        return _hashed(f"key:{principal.key_id}")
    return _hashed(f"ip:{scope_address(scope)}")


def scope_address(scope: Scope) -> str:
    settings = scope["app"].state.settings
    return client_address(scope, parse_networks(settings.trusted_proxies))


def buckets(scope: Scope, name: str) -> list[str]:
    """The counts this request belongs to under limit `name` (see the module's docstring)."""
    principal: Principal = scope.get(SCOPE_KEY, ANONYMOUS)  # type: ignore[assignment]
    found = []
    if principal.organization_id is not None:
        found.append(f"org:{principal.organization_id}")
    elif principal.key_id is not None:
        found.append(f"key:{principal.key_id}")
    self_made = principal.is_anonymous or principal.role is Role.INITIATOR
    if self_made or (principal.organization_id is not None and not principal.organization_verified):
        found.append(f"ip:{scope_address(scope)}")
    return sorted(f"{name}:{_hashed(b)}" for b in found)


async def take_many(reads: Reads, asked: Sequence[tuple[list[str], int]]) -> list[float | None]:
    """Count each request (its buckets' `names`, and their `limit`) in every one of its buckets, in
    their order; per request, None when it may go ahead, else the seconds until it may."""
    # The function's form: each request's buckets next to each other, once each, under its number
    # (from 1, counting only requests that count somewhere: one in no bucket may go ahead).
    counted = [(list(dict.fromkeys(names)), limit) for names, limit in asked if names]
    requests: list[str] = []
    buckets_in: list[str] = []
    limits: list[str] = []
    for number, (names, limit) in enumerate(counted, start=1):
        requests += [str(number)] * len(names)
        buckets_in += names
        limits += [str(limit)] * len(names)
    waits = iter(await reads.fetchval(_TAKE, requests, buckets_in, limits, writes=True) if counted else [])
    answers: list[float | None] = []
    for names, _ in asked:
        wait = float(next(waits)) if names else 0.0
        answers.append(None if wait <= 0 else wait)
    return answers


# A request waiting to be counted: its buckets, their limit, and where its answer goes.
_Waiting = tuple[list[str], int, asyncio.Future[float | None]]


class Takes:
    """One process's counting on `reads` (the primary's): `take_many` for each request, but a
    request that comes while a count is on its way waits for it to be back, and is counted with the
    others that came meanwhile (BATCH_MOST at a time, in the order they came). A request that went
    away while it waited is not counted; when a batch's statement fails, each of its requests fails
    with its error (the database down, say: a 503)."""

    def __init__(self, reads: Reads) -> None:
        self.reads = reads
        self._waiting: list[_Waiting] = []
        self._sending: asyncio.Task[None] | None = None

    async def take(self, names: list[str], limit: int) -> float | None:
        """None when the request may go ahead, else the seconds until it may."""
        future: asyncio.Future[float | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((names, limit, future))
        if self._sending is None:
            self._sending = asyncio.create_task(self._send())
        return await future

    async def _send(self) -> None:
        try:
            while self._waiting:
                # A request that went away while it waited is not counted.
                waiting = [entry for entry in self._waiting if not entry[2].done()]
                batch, self._waiting = waiting[:BATCH_MOST], waiting[BATCH_MOST:]
                if batch:
                    await self._count(batch)
        finally:
            self._sending = None

    async def _count(self, batch: list[_Waiting]) -> None:
        futures = [future for *_, future in batch]
        try:
            waits = await take_many(self.reads, [(names, limit) for names, limit, _ in batch])
        except Exception as error:  # each request fails as its own count would have
            for future in futures:
                if not future.done():
                    future.set_exception(error)
            return
        except BaseException:  # (the process is stopping)
            for future in futures + [future for *_, future in self._waiting]:
                future.cancel()
            self._waiting = []
            raise
        for future, wait in zip(futures, waits, strict=True):
            if not future.done():  # (not a request that went away meanwhile)
                future.set_result(wait)


def rate_limit_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        name = handler.opt.get("rate_limit") if handler is not None else None
        if scope["type"] == ScopeType.HTTP and name:
            state = scope["app"].state
            limit = max(1, int(LIMITS[name] * state.settings.rate_limit_scale))
            retry_after = await state.takes.take(buckets(scope, name), limit)
            if retry_after is not None:
                raise TooManyRequests(
                    f"Too many {name} requests: at most {limit} in any 60 seconds.",
                    headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
                )
        await app(scope, receive, send)

    return middleware
