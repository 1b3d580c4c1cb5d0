"""Rate limits, counted in PostgreSQL so every API process shares one count per client: over any
60 seconds (`rate_limit_take`, migration 0017), per organization (all its keys together) else per
key, and per address as well for callers anyone can become (anonymous, initiators, unverified
organizations). A request goes ahead only when every count it belongs to has room."""

import hashlib
import math
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
# wait for this one transaction.
_TAKE = (
    "SELECT rate_limit_take($1::text[], $2::integer[]) "
    "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed"
)


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


async def take(reads: Reads, names: list[str], limit: int) -> float | None:
    """Count one request in every bucket of `names`; None when it may go ahead, else the seconds
    until it may."""
    wait = await reads.fetchval(_TAKE, names, [limit] * len(names), writes=True)
    return None if wait <= 0 else float(wait)


def rate_limit_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        name = handler.opt.get("rate_limit") if handler is not None else None
        if scope["type"] == ScopeType.HTTP and name:
            state = scope["app"].state
            limit = max(1, int(LIMITS[name] * state.settings.rate_limit_scale))
            retry_after = await take(state.reads, buckets(scope, name), limit)
            if retry_after is not None:
                raise TooManyRequests(
                    f"Too many {name} requests: at most {limit} in any 60 seconds.",
                    headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
                )
        await app(scope, receive, send)

    return middleware
