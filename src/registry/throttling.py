"""Rate limits for the endpoints abusers would hammer, counted in PostgreSQL so that every API
process (and every machine) shares one count per client."""

import hashlib
import random
from typing import Final

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy import text

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

_HIT = text(
    """
    INSERT INTO rate_limit_window (bucket, window_start, hits)
    -- A lost count after a crash is harmless: skip the WAL flush wait for this one transaction.
    SELECT :bucket, date_trunc('minute', now()), 1
    FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed
    ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limit_window.hits + 1
    RETURNING hits, ceil(extract(epoch FROM window_start + interval '1 minute' - now()))::int
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


def rate_limit_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        name = handler.opt.get("rate_limit") if handler is not None else None
        if scope["type"] == ScopeType.HTTP and name:
            connection: ASGIConnection = ASGIConnection(scope)  # type: ignore[type-arg]
            state = connection.app.state
            limit = max(1, int(LIMITS[name] * state.settings.rate_limit_scale))
            async with state.sessionmaker() as session:
                hits, retry_after = (
                    await session.execute(_HIT, {"bucket": f"{name}:{client_identity(scope)}"})
                ).one()
                if random.random() < 0.01:  # noqa: S311 (housekeeping, not security)
                    await session.execute(_FORGET)
                await session.commit()
            if hits > limit:
                raise TooManyRequests(
                    f"Too many {name} requests: at most {limit} a minute.",
                    headers={"Retry-After": str(max(1, retry_after))},
                )
        await app(scope, receive, send)

    return middleware
