"""Every error is RFC 9457 problem+json, with no internals in the body."""

import httpx
from litestar import Litestar, get

from tests.factories import app_client

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status
    headers = response.headers
    assert headers["content-type"].startswith(PROBLEM)
    body: dict[str, object] = response.json()
    assert set(body) >= {"type", "title", "status", "detail"}
    assert body["status"] == status
    assert isinstance(body["type"], str) and body["type"].startswith("/problems/")
    return body


async def test_unknown_route_is_404_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/no/such/thing"), 404)


async def test_wrong_method_is_405_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.put("/health"), 405)


async def test_invalid_body_is_422_problem_naming_the_field(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.post("/organizations", json={"name": "", "kinds": []}), 422)
    assert "name" in str(body["detail"])


async def test_malformed_json_is_400_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/organizations", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_problem(response, 400)


async def test_unknown_fields_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/organizations", json={"name": "X", "kinds": ["trainer"], "id": "smuggled"})
    body = assert_problem(response, 422)
    assert "id" in str(body["detail"])


async def test_oversized_body_is_413_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/organizations", json={"name": "X", "kinds": ["trainer"], "description": "a" * 70_000}
    )
    assert_problem(response, 413)


async def test_unexpected_error_is_500_problem_without_internals(app: Litestar) -> None:
    @get("/explode", include_in_schema=False)
    async def explode() -> None:
        raise RuntimeError("secret internal detail /etc/passwd")

    app.register(explode)
    async with app_client(app) as client:
        response = await client.get("/explode")
    body = assert_problem(response, 500)
    assert "secret" not in response.text and "Traceback" not in response.text
    assert body["type"] == "/problems/internal-error"


def test_a_server_that_refuses_for_now_is_unavailable_not_an_internal_error() -> None:
    """The one-statement reads meet asyncpg's own errors, not SQLAlchemy's: a server shutting down
    or starting (SQLSTATE 57P03) or out of connections (53300) is a 503 to retry, not a 500."""
    import asyncpg

    from registry.http.errors import database_unavailable

    assert database_unavailable(asyncpg.CannotConnectNowError("the database system is shutting down"))
    assert database_unavailable(asyncpg.TooManyConnectionsError("too many clients"))
    assert not database_unavailable(asyncpg.UniqueViolationError("duplicate key"))
