"""The search page's HTTP side without a browser: its headers, its assets, the cookie session and
the guard that keeps the cookie from authenticating requests that another site sends."""

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import Role
from registry.models import ApiKey, Initiator, Introduction
from tests.factories import Client, bearer, role_key, verified_org

PAGE = {"X-Registry-Page": "1"}
COOKIE = "registry_initiator"
SIGN_UP = {"display_name": "Sam", "email": "sam@example.org"}


def directives(policy: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        found[name] = set(values)
    return found


def with_cookie(key: str, **headers: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={key}", **headers}


async def sign_up(client: Client) -> str:
    """The key the page's cookie holds (read from Set-Cookie, as a browser would keep it)."""
    opened = await client.post("/web/session", json=SIGN_UP, headers=PAGE)
    assert opened.status_code == 201, opened.text
    match = re.search(rf"{COOKIE}=([^;]+)", opened.headers["set-cookie"])
    assert match is not None
    return match.group(1)


async def a_listing(client: Client, db: AsyncSession) -> str:
    steward = await role_key(db)
    _, key = await verified_org(client, steward, kinds=["clinician"])
    created = await client.post(
        "/partners",
        json={"kind": "clinician", "name": "Dr Page", "location": {"place": "Utrecht, NL"}},
        headers=bearer(key),
    )
    assert created.status_code == 201, created.text
    listing_id: str = created.json()["id"]
    return listing_id


async def test_the_page_and_its_assets_carry_a_strict_policy(client: Client) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = directives(page.headers["content-security-policy"])
    assert policy["default-src"] == {"'self'"}
    assert policy["script-src"] == {"'self'"}
    assert policy["style-src"] == {"'self'"}
    assert policy["frame-ancestors"] == {"'none'"}
    assert policy["form-action"] == {"'self'"}
    assert policy["base-uri"] == {"'none'"}
    assert policy["object-src"] == {"'none'"}
    assert not any("unsafe" in value for values in policy.values() for value in values)
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    # The grid the browser snaps "use my location" to is the server's.
    assert 'data-cell-km="5.0"' in page.text
    # No inline script or style, nothing from another origin.
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)
    assert "<style" not in page.text and " style=" not in page.text
    for name, kind in (("search.js", "text/javascript"), ("search.css", "text/css")):
        asset = await client.get(f"/web/assets/{name}")
        assert asset.status_code == 200
        assert asset.headers["content-type"].startswith(kind)
        assert asset.headers["x-content-type-options"] == "nosniff"
        assert not re.search(r"https?://(?!www\.bbc\.com/weather\")", asset.text), name
    assert (await client.get("/web/assets/other.js")).status_code == 404


async def test_opening_a_session_needs_the_page_header(client: Client, db: AsyncSession) -> None:
    before = await db.scalar(select(func.count()).select_from(Initiator))
    missing = await client.post("/web/session", json=SIGN_UP)
    assert missing.status_code == 422
    assert "X-Registry-Page" in missing.json()["detail"]
    cross_site = await client.post(
        "/web/session", json=SIGN_UP, headers={**PAGE, "Sec-Fetch-Site": "cross-site"}
    )
    assert cross_site.status_code == 403
    bad = await client.post("/web/session", json={"display_name": "Sam", "email": "nope"}, headers=PAGE)
    assert bad.status_code == 422
    assert "email" in bad.json()["detail"]
    assert await db.scalar(select(func.count()).select_from(Initiator)) == before


async def test_the_key_goes_only_into_an_httponly_strict_cookie(client: Client, db: AsyncSession) -> None:
    opened = await client.post("/web/session", json=SIGN_UP, headers=PAGE)
    assert opened.status_code == 201
    body: dict[str, Any] = opened.json()
    assert set(body) == {"initiator_id", "max_age_s"}
    assert "rk_" not in opened.text  # the key is not in the answer the page's script reads
    cookie = opened.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=rk_")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes
    assert "samesite=strict" in cookie.lower()
    assert "secure" not in attributes  # plain http here; over https the cookie is Secure
    initiator = await db.get(Initiator, body["initiator_id"])
    assert initiator is not None and initiator.email == "sam@example.org"
    assert initiator.latitude is None and initiator.side is None  # nothing of a search is kept
    role = await db.scalar(select(ApiKey.role).where(ApiKey.initiator_id == initiator.id))
    assert role == Role.INITIATOR.value


async def test_the_cookie_counts_only_with_the_page_header(client: Client, db: AsyncSession) -> None:
    key = await sign_up(client)
    me = await client.get("/initiators/me", headers=with_cookie(key, **PAGE))
    assert me.status_code == 200
    assert me.json()["display_name"] == "Sam"
    # Without the header (a form or link on another site): the cookie is ignored.
    assert (await client.get("/initiators/me", headers=with_cookie(key))).status_code == 401
    # With it, but sent by another site according to the browser: refused.
    elsewhere = with_cookie(key, **PAGE, **{"Sec-Fetch-Site": "same-site"})
    cross = await client.get("/initiators/me", headers=elsewhere)
    assert cross.status_code == 403
    # Only on the page's own calls: elsewhere the cookie is not a credential.
    assert (await client.get("/audit", headers=with_cookie(key, **PAGE))).status_code == 401
    assert (await client.get("/introductions", headers=with_cookie(key, **PAGE))).status_code == 200


async def test_an_introduction_through_the_cookie(client: Client, db: AsyncSession) -> None:
    listing = await a_listing(client, db)
    key = await sign_up(client)
    ask = {"target_id": listing, "message": "Hello from the search page"}
    forged = await client.post("/introductions", json=ask, headers=with_cookie(key))
    assert forged.status_code == 401
    asked = await client.post("/introductions", json=ask, headers=with_cookie(key, **PAGE))
    assert asked.status_code == 201, asked.text
    stored = await db.scalar(select(Introduction).where(Introduction.id == asked.json()["id"]))
    assert stored is not None and stored.message == "Hello from the search page"
    assert stored.initiator_name == "Sam" and stored.status == "pending"


async def test_the_cookie_holds_only_an_initiator_key(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    answer = await client.get("/introductions", headers=with_cookie(steward, **PAGE))
    assert answer.status_code == 401
    assert "initiator" in answer.json()["detail"]
    revoked = await client.get("/initiators/me", headers=with_cookie("rk_" + "x" * 40, **PAGE))
    assert revoked.status_code == 401


async def test_closing_the_session_expires_the_cookie(client: Client) -> None:
    closed = await client.delete("/web/session")
    assert closed.status_code == 204
    cookie = closed.headers["set-cookie"].lower()
    assert cookie.startswith(f'{COOKIE}=""') and "max-age=0" in cookie and "path=/" in cookie


async def test_the_session_route_is_documented(client: Client) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    session = spec["paths"]["/web/session"]
    assert session["post"]["description"] and session["delete"]["description"]
    header = next(p for p in session["post"]["parameters"] if p["in"] == "header")
    assert header["name"] == "X-Registry-Page" and header["required"]
    assert "/" not in spec["paths"]  # the page itself is not an API operation
