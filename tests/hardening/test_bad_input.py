"""Hostile and plain bad input always gets a 4xx problem+json, never a 500."""

import pytest

from tests.factories import Client, bearer, register_org

CASES = [
    ("POST", "/organizations", {"name": "nul\u0000byte", "kinds": ["trainer"]}),
    ("POST", "/organizations", {"name": "x" * 10_000, "kinds": ["trainer"]}),
    ("POST", "/organizations", {"name": "ok", "kinds": ["trainer"], "description": "d" * 10_000}),
    ("POST", "/organizations", {"name": 12, "kinds": "trainer"}),
    ("POST", "/initiators", {"display_name": "a", "email": "a\u0000@example.org"}),
    ("POST", "/matches", {"location": {"latitude": 91, "longitude": 0}}),
    ("POST", "/matches", {"location": {"latitude": 0, "longitude": -180.5}}),
    ("POST", "/matches", {"location": {"place": "\u0000, NL"}}),
    ("POST", "/matches", {"location": {"postal_code": "9" * 10_000}}),
    ("POST", "/matches", {"languages": ["x"] * 10_000}),
]


@pytest.mark.parametrize(("method", "path", "body"), CASES)
async def test_bad_bodies_get_a_4xx_problem(client: Client, method: str, path: str, body: object) -> None:
    response = await client.request(method, path, json=body)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "query",
    [
        {"q": "nul\u0000"},
        {"q": "x" * 10_000},
        {"near": "91,200"},
        {"near": "\u0000"},
        {"near": "x" * 10_000},
        {"radius_km": "-1"},
        {"per_page": "0"},
        {"page": "abc"},
        {"modified_after": "yesterday"},
        {"language": "\u0000"},
    ],
)
async def test_bad_queries_get_a_4xx_problem(client: Client, query: dict[str, str]) -> None:
    for path in ("/programs", "/partners"):
        response = await client.get(path, params=query)
        assert 400 <= response.status_code < 500, (path, query, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_malformed_and_oversized_json(client: Client) -> None:
    _, key = await register_org(client)
    malformed = await client.post(
        "/programs", content=b'{"name": "x",', headers={**bearer(key), "content-type": "application/json"}
    )
    assert malformed.status_code == 400
    huge = await client.post("/programs", content=b"{" + b" " * 70_000 + b"}", headers=bearer(key))
    assert huge.status_code == 413


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("visible_to_programs", 0),
        ("visible_to_programs", "true"),
        ("pathway_step", "2"),
        ("needs", "trainer"),
    ],
)
async def test_bodies_are_read_as_strictly_as_the_schema_says(
    client: Client, field: str, value: object
) -> None:
    """`0` is not a boolean and `"2"` is not a number: the write is refused, not coerced."""
    created = await client.post(
        "/initiators", json={"display_name": "Sam", "email": "sam@example.org", field: value}
    )
    assert created.status_code == 422, created.text
    assert created.json()["errors"] == [
        {"key": field, "message": created.json()["errors"][0]["message"], "source": "body"}
    ]
    assert field in created.json()["detail"]
    fine = await client.post("/initiators", json={"display_name": "Sam", "email": "sam@example.org"})
    assert fine.status_code == 201, fine.text
