"""Builders for test data, through the API where a client would go through it."""

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import Role
from registry.organizations.service import create_role_key

Client = httpx.AsyncClient


@asynccontextmanager
async def app_client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client calling the app in this event loop. Apps under test are given a
    sessionmaker, so they have no lifespan to run."""
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as client:
        yield client


def http_scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """An ASGI HTTP scope, for calling an app (or a layer of it) directly."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("registry.test", 80),
        "state": {},
    }


_counter = itertools.count(1)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def role_key(db: AsyncSession, role: Role = Role.STEWARD) -> str:
    key = await create_role_key(db, None, role, f"test {role.value}")
    await db.commit()
    return key.key


async def register_org(client: Client, **overrides: Any) -> tuple[dict[str, Any], str]:
    body: dict[str, Any] = {
        "name": f"Test Organization {next(_counter)}",
        "kinds": ["peer_program"],
        "country": "NL",
    }
    body.update(overrides)
    response = await client.post("/organizations", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    return data["organization"], data["api_key"]["key"]


async def verified_org(client: Client, steward_key: str, **overrides: Any) -> tuple[dict[str, Any], str]:
    org, key = await register_org(client, **overrides)
    response = await client.post(f"/organizations/{org['id']}/verify", headers=bearer(steward_key))
    assert response.status_code == 200, response.text
    return response.json(), key
