"""Resolve the bearer key into a Principal; coarse role guards for handlers.

The key is resolved in a middleware, in one statement outside any session (`database.reads`),
not in a dependency: a dependency that raised (401) after the request's session had been opened
would leave that session's cleanup unrun.
"""

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from registry.auth.keys import hash_key, looks_like_key
from registry.auth.principal import ANONYMOUS, Principal, Role
from registry.database.reads import Reads
from registry.http.errors import Forbidden, Unauthorized
from registry.models import PUBLIC_STATUS

_BEARER = "bearer "
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
SCOPE_KEY = "registry_principal"
DASHBOARD_COOKIE = "registry_dashboard"
# The search page (registry.web) keeps an initiator's key in this HttpOnly cookie. It counts only
# on the page's own calls (PAGE_COOKIE_PATHS) that carry PAGE_HEADER: a form or link on another
# site cannot set a custom header (it would need a CORS preflight, which the API never grants),
# so a cross-site request arrives without it and the cookie is ignored.
PAGE_COOKIE = "registry_initiator"
PAGE_HEADER = "X-Registry-Page"
PAGE_COOKIE_PATHS = ("/introductions", "/initiators/me")
_KEY_SQL = """
    SELECT k.id, k.role, k.organization_id, k.initiator_id, k.revoked_at, o.verification_status,
           k.last_write_lsn
    FROM api_key k LEFT JOIN organization o ON o.id = k.organization_id
    WHERE k.key_hash = $1
"""


async def resolve_key(reads: Reads, header: str | None) -> Principal:
    if header is None:
        return ANONYMOUS
    if not header.lower().startswith(_BEARER):
        raise Unauthorized("Authorization must be 'Bearer <key>'.", headers=_CHALLENGE)
    key = header[len(_BEARER) :].strip()
    if not looks_like_key(key):
        raise Unauthorized("The API key is malformed.", headers=_CHALLENGE)
    row = await reads.fetchrow(_KEY_SQL, hash_key(key))
    if row is None or row["revoked_at"] is not None:
        raise Unauthorized("The API key is unknown or revoked.", headers=_CHALLENGE)
    if row["verification_status"] == "suspended":
        raise Unauthorized(
            "The API key's organization is suspended; its stewards can say why.", headers=_CHALLENGE
        )
    return Principal(
        role=Role(row["role"]),
        key_id=row["id"],
        organization_id=row["organization_id"],
        organization_verified=row["verification_status"] == PUBLIC_STATUS,
        initiator_id=row["initiator_id"],
        written_lsn=row["last_write_lsn"] or 0,
    )


def header_of(scope: Scope, name: bytes) -> str | None:
    """A request header (lower-case `name`), read straight from the scope."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _cookie(scope: Scope, name: str) -> str | None:
    header = header_of(scope, b"cookie")
    for part in (header or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def from_the_page(scope: Scope) -> bool:
    """Whether a request says it comes from the search page itself: PAGE_HEADER is "1" (Forbidden
    when the browser's Sec-Fetch-Site says another site sent it). Origin is not compared with Host:
    a proxy in front may rewrite Host, while Sec-Fetch-Site is set by the browser alone."""
    if header_of(scope, PAGE_HEADER.lower().encode()) != "1":
        return False
    if header_of(scope, b"sec-fetch-site") not in (None, "same-origin"):
        raise Forbidden("The search page's session is used only by pages of this site.")
    return True


def _page_key(scope: Scope) -> str | None:
    path = scope["path"].rstrip("/")
    if not any(path == p or path.startswith(f"{p}/") for p in PAGE_COOKIE_PATHS):
        return None
    cookie = _cookie(scope, PAGE_COOKIE)
    if not cookie or not from_the_page(scope):
        return None
    return cookie


def authentication_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            header = header_of(scope, b"authorization")
            page_key = None
            if header is None and scope["path"].startswith("/reports/dashboard"):
                # The dashboard is opened in a browser, which keeps the key in a session cookie.
                cookie = _cookie(scope, DASHBOARD_COOKIE)
                if cookie:
                    header = f"Bearer {cookie}"
            elif header is None and (page_key := _page_key(scope)):
                header = f"Bearer {page_key}"
            principal = ANONYMOUS
            if header is not None:
                principal = await resolve_key(scope["app"].state.reads, header)
            if page_key and principal.role is not Role.INITIATOR:
                raise Unauthorized(
                    "The search page's session holds only an initiator's key.", headers=_CHALLENGE
                )
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
