"""HTTP surface for the search page: the page and its two assets, and the cookie session that
keeps an initiator's key out of the page's reach (HttpOnly, SameSite=Strict)."""

import functools
from importlib.resources import files
from typing import Annotated, Any, Final

from litestar import Controller, MediaType, Request, Response, delete, get, post
from litestar.datastructures import Cookie
from litestar.params import HeaderParameter, JSONBody, PathParameter

from registry.auth.dependencies import PAGE_COOKIE, PAGE_HEADER, from_the_page
from registry.http.dependencies import DbSession
from registry.http.errors import Forbidden, NotFound
from registry.initiators import service as initiators
from registry.initiators.schemas import InitiatorCreate
from registry.locations.geo import MIN_CELL_KM
from registry.web.schemas import PageSessionRead, PageSignUp

# Nothing but the app's own files: no inline script or style, no other origin, no framing.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    # Nothing of the page is kept by the browser's cache for someone else to find.
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "geolocation=(self), camera=(), microphone=()",
}
ASSETS: Final = {
    "search.js": "text/javascript",  # the framework adds the charset
    "search.css": "text/css",
}
SESSION_MAX_AGE_S: Final = 8 * 3600
SESSION_PATH: Final = "/web/session"

PageHeader = Annotated[
    str,
    HeaderParameter(
        name=PAGE_HEADER,
        pattern=r"^1$",
        description="1: the call comes from the search page (a page on another site cannot send it)",
    ),
]
AssetName = Annotated[str, PathParameter(max_length=40, pattern=r"^[a-z]+\.[a-z]+$")]


@functools.cache
def asset(name: str) -> bytes:
    """A file of the page, as shipped in the package (read once per process)."""
    content = (files("registry.web") / "assets" / name).read_bytes()
    if name == "index.html":
        # The grid the browser snaps "use my location" to, before the point leaves it.
        content = content.replace(b"__CELL_KM__", str(MIN_CELL_KM).encode())
    return content


def session_cookie(request: Request[Any, Any, Any], value: str, max_age: int) -> Cookie:
    return Cookie(
        key=PAGE_COOKIE,
        value=value,
        path="/",  # the page's calls to /introductions and /initiators/me carry it
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=max_age,
    )


class SearchPageController(Controller):
    include_in_schema = False

    @get("/", media_type=MediaType.HTML)
    async def search_page(self) -> Response[bytes]:
        """The search page for initiators."""
        return Response(asset("index.html"), media_type=MediaType.HTML, headers=PAGE_HEADERS)

    @get("/web/assets/{name:str}")
    async def page_asset(self, name: AssetName) -> Response[bytes]:
        """The search page's script and style sheet."""
        media_type = ASSETS.get(name)
        if media_type is None:
            raise NotFound(f"No asset {name}.")
        return Response(asset(name), media_type=media_type, headers=PAGE_HEADERS)


class PageSessionController(Controller):
    path = SESSION_PATH
    tags = ["initiators"]

    @post(
        "/",
        status_code=201,
        opt={"rate_limit": "initiators"},
        response_cookies=[
            Cookie(
                key=PAGE_COOKIE,
                httponly=True,
                samesite="strict",
                max_age=SESSION_MAX_AGE_S,
                description="the new initiator's key (HttpOnly, SameSite=Strict, Secure over https); "
                f"sent with {PAGE_HEADER}: 1 it authenticates calls to /introductions and /initiators/me",
                documentation_only=True,
            )
        ],
    )
    async def open_page_session(
        self,
        db_session: DbSession,
        request: Request[Any, Any, Any],
        x_registry_page: PageHeader,
        data: JSONBody[PageSignUp],
    ) -> Response[PageSessionRead]:
        """For the search page: create an initiator profile and keep its key in an HttpOnly cookie,
        never in the answer; later calls send the cookie with the X-Registry-Page: 1 header."""
        if not from_the_page(request.scope):
            raise Forbidden(f"Send {PAGE_HEADER}: 1 from the search page.")
        profile = InitiatorCreate(display_name=data.display_name, email=data.email)
        initiator, key = await initiators.create_initiator(db_session, profile)
        return Response(
            PageSessionRead(initiator_id=initiator.id, max_age_s=SESSION_MAX_AGE_S),
            status_code=201,
            cookies=[session_cookie(request, key, SESSION_MAX_AGE_S)],
        )

    @delete(
        "/",
        status_code=204,
        # An expired cookie of the same name and path: the browser drops the one it keeps.
        response_cookies=[
            Cookie(key=PAGE_COOKIE, value="", path="/", httponly=True, samesite="strict", max_age=0)
        ],
    )
    async def close_page_session(self) -> None:
        """Make this browser forget the search page's session (the quick exit does this too)."""
