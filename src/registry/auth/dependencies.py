"""Resolve the bearer key into a Principal; coarse role guards for handlers.

The key is resolved in a middleware with its own short session, not in a dependency: a
dependency that raised (401) after the request's session had been opened would leave that
session's cleanup unrun, and a leaked connection is worse than one extra query.
"""

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.auth.keys import hash_key, looks_like_key
from registry.auth.principal import ANONYMOUS, Principal, Role
from registry.http.errors import Forbidden, Unauthorized
from registry.models import PUBLIC_STATUS, ApiKey, Organization

_BEARER = "bearer "
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
SCOPE_KEY = "registry_principal"
DASHBOARD_COOKIE = "registry_dashboard"


async def resolve_key(session: AsyncSession, header: str | None) -> Principal:
    if header is None:
        return ANONYMOUS
    if not header.lower().startswith(_BEARER):
        raise Unauthorized("Authorization must be 'Bearer <key>'.", headers=_CHALLENGE)
    key = header[len(_BEARER) :].strip()
    if not looks_like_key(key):
        raise Unauthorized("The API key is malformed.", headers=_CHALLENGE)
    row = (
        await session.execute(
            select(
                ApiKey.id,
                ApiKey.role,
                ApiKey.organization_id,
                ApiKey.initiator_id,
                ApiKey.revoked_at,
                Organization.verification_status,
            )
            .outerjoin(Organization, Organization.id == ApiKey.organization_id)
            .where(ApiKey.key_hash == hash_key(key))
        )
    ).one_or_none()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("The API key is unknown or revoked.", headers=_CHALLENGE)
    if row.verification_status == "suspended":
        raise Unauthorized(
            "The API key's organization is suspended; its stewards can say why.", headers=_CHALLENGE
        )
    return Principal(
        role=Role(row.role),
        key_id=row.id,
        organization_id=row.organization_id,
        organization_verified=row.verification_status == PUBLIC_STATUS,
        initiator_id=row.initiator_id,
    )


def authentication_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            connection: ASGIConnection = ASGIConnection(scope)  # type: ignore[type-arg]
            header = connection.headers.get("authorization")
            if header is None and scope["path"].startswith("/reports/dashboard"):
                # The dashboard is opened in a browser, which keeps the key in a session cookie.
                cookie = connection.cookies.get(DASHBOARD_COOKIE)
                if cookie:
                    header = f"Bearer {cookie}"
            principal = ANONYMOUS
            if header is not None:
                sessionmaker: async_sessionmaker[AsyncSession] = connection.app.state.sessionmaker
                async with sessionmaker() as session:
                    principal = await resolve_key(session, header)
            scope[SCOPE_KEY] = principal  # type: ignore[literal-required]
        await app(scope, receive, send)

    return middleware


async def provide_principal(scope: Scope) -> Principal:
    principal: Principal = scope.get(SCOPE_KEY, ANONYMOUS)  # type: ignore[assignment]
    return principal


def require_authenticated(principal: Principal) -> None:
    if principal.is_anonymous:
        raise Unauthorized("This endpoint needs an API key.", headers=_CHALLENGE)


def require_role(principal: Principal, *roles: Role) -> None:
    require_authenticated(principal)
    if principal.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise Forbidden(f"This action needs one of these roles: {allowed}.")
