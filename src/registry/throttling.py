"""Rate limits for the endpoints abusers would hammer, counted in PostgreSQL so that every API
process (and every machine) shares one count per client.

Asking the database on every request would make one busy client's count a hot row that every
one of its requests waits on. So each process counts a client's hits itself and adds them to the
shared count in batches: after `batch` hits (a hundredth of the limit), after SYNC_SECONDS, or as
soon as its view of the count comes within a batch of the limit, from where on every request asks.
A refusal is always decided by the shared count. Other processes may hold up to batch - 1 hits
each that the count has not seen yet, so all of them together let through at most
(processes - 1) x (batch - 1) more than the limit in a minute: none at all for limits under 200,
which every limit below is (the benchmark raises them a hundred-thousandfold)."""

import hashlib
import math
import random
import time
from dataclasses import dataclass
from typing import Final

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.auth.dependencies import SCOPE_KEY
from registry.auth.principal import Principal
from registry.errors import TooManyRequests

# Requests per minute per client, by limit name (multiplied by REGISTRY_RATE_LIMIT_SCALE).
LIMITS: Final[dict[str, int]] = {
    "matches": 60,
    "introductions": 20,
    "organizations": 10,
    "initiators": 10,
}
BATCH_DIVISOR: Final = 100
SYNC_SECONDS: Final = 1.0
# Clients tracked per process before windows that ended are swept out (their counts live on in
# the database; only hits not yet added are lost, at most a batch per client).
MAX_TRACKED: Final = 20_000

_ADD = text(
    """
    INSERT INTO rate_limit_window (bucket, window_start, hits)
    -- A lost count after a crash is harmless: skip the WAL flush wait for this one transaction.
    SELECT :bucket, date_trunc('minute', now()), :hits
    FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed
    ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limit_window.hits + excluded.hits
    RETURNING hits, extract(epoch FROM window_start + interval '1 minute' - now())::float8
    """
)
_FORGET = text("DELETE FROM rate_limit_window WHERE window_start < now() - interval '10 minutes'")


def client_identity(scope: Scope) -> str:
    """The caller's key when it has one, else its address; hashed, never stored in clear."""
    principal: Principal | None = scope.get(SCOPE_KEY)  # type: ignore[assignment]
    if principal is not None and principal.key_id is not None:
        raw = f"key:{principal.key_id}"
    else:
        client = scope.get("client")
        raw = f"ip:{client[0] if client else 'unknown'}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def batch_size(limit: int) -> int:
    return max(1, limit // BATCH_DIVISOR)


@dataclass
class _Window:
    ends: float  # time.monotonic() at which the shared window (a clock minute) ends
    shared: int  # the shared count when this process last asked (its own hits until then included)
    asked_at: float
    pending: int = 0  # hits let through here since then


class Throttle:
    """One process's view of the shared counts (kept on the app's state)."""

    def __init__(self) -> None:
        self._windows: dict[str, _Window] = {}

    async def hit(
        self, sessionmaker: async_sessionmaker[AsyncSession], bucket: str, limit: int
    ) -> float | None:
        """Count one request; None when it may go ahead, else the seconds until it may retry."""
        now = time.monotonic()
        window = self._windows.get(bucket)
        if window is not None and now >= window.ends:
            del self._windows[bucket]  # hits not yet added belonged to a minute that is over
            window = None
        batch = batch_size(limit)
        if window is not None:
            window.pending += 1
            if (
                window.pending < batch
                and now - window.asked_at < SYNC_SECONDS
                and window.shared + window.pending + batch <= limit
            ):
                return None
            hits, window.pending = window.pending, 0
            # This request adds them all; the client's other requests meanwhile need not ask too.
            window.asked_at = now
        else:
            hits = 1
        total, seconds_left = await self._add(sessionmaker, bucket, hits)
        now = time.monotonic()
        current = self._windows.get(bucket)
        if current is None or now >= current.ends:
            self._sweep(now)
            self._windows[bucket] = _Window(ends=now + seconds_left, shared=total, asked_at=now)
        else:  # another request of this client asked meanwhile: keep the higher count
            current.shared = max(current.shared, total)
            current.asked_at = now
        return None if total <= limit else max(seconds_left, 0.0)

    @staticmethod
    async def _add(
        sessionmaker: async_sessionmaker[AsyncSession], bucket: str, hits: int
    ) -> tuple[int, float]:
        async with sessionmaker() as session:
            total, seconds_left = (await session.execute(_ADD, {"bucket": bucket, "hits": hits})).one()
            if random.random() < 0.01:  # noqa: S311 (housekeeping, not security)
                await session.execute(_FORGET)
            await session.commit()
        return int(total), float(seconds_left)

    def _sweep(self, now: float) -> None:
        if len(self._windows) < MAX_TRACKED:
            return
        self._windows = {k: w for k, w in self._windows.items() if w.ends > now}
        if len(self._windows) >= MAX_TRACKED:  # that many clients in one minute: start over
            self._windows.clear()


def rate_limit_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        name = handler.opt.get("rate_limit") if handler is not None else None
        if scope["type"] == ScopeType.HTTP and name:
            connection: ASGIConnection = ASGIConnection(scope)  # type: ignore[type-arg]
            state = connection.app.state
            limit = max(1, int(LIMITS[name] * state.settings.rate_limit_scale))
            retry_after = await state.throttle.hit(
                state.sessionmaker, f"{name}:{client_identity(scope)}", limit
            )
            if retry_after is not None:
                raise TooManyRequests(
                    f"Too many {name} requests: at most {limit} a minute.",
                    headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
                )
        await app(scope, receive, send)

    return middleware
