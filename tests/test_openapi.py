"""The OpenAPI document describes every endpoint, and the docs page needs no internet."""

import re

import httpx


async def test_openapi_31_describes_every_operation(client: httpx.AsyncClient) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.1")
    operations = [
        (method, path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(operations) >= 10
    undocumented = [f"{m.upper()} {p}" for m, p, op in operations if not op.get("description")]
    assert undocumented == []


async def test_docs_page_loads_only_local_assets(client: httpx.AsyncClient) -> None:
    page = await client.get("/schema")
    assert page.status_code == 200
    external = re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", page.text)
    assert external == []
    for asset in re.findall(r"""(?:src|href)=["'](/[^"']+)""", page.text):
        fetched = await client.get(asset)
        assert fetched.status_code == 200 and len(fetched.content) > 1000, asset


# Opened in a browser: without a key it answers the page to give one.
DASHBOARD_LOGIN = ("get", "/reports/dashboard", "401")


async def test_every_error_response_is_a_problem_document(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    assert set(spec["components"]["schemas"]["Problem"]["required"]) == {"type", "title", "status", "detail"}
    checked = 0
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            assert "default" in operation["responses"], (method, path)
            for status, response in operation["responses"].items():
                if (status == "default" or status[0] in "45") and (method, path, status) != DASHBOARD_LOGIN:
                    checked += 1
                    assert list(response["content"]) == ["application/problem+json"], (method, path, status)
    assert checked > 100


async def test_reports_document_their_csv_form(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    for name in ("programs", "evidence", "partnerships", "coverage"):
        content = spec["paths"][f"/reports/{name}"]["get"]["responses"]["200"]["content"]
        assert set(content) == {"application/json", "text/csv"}


async def test_hsds_lists_document_their_ndjson_form(client: httpx.AsyncClient) -> None:
    """Every HSDS list taking format=ndjson says it may answer NDJSON (schemathesis found
    /hsds/taxonomy_terms?format=ndjson answered with a content type its operation did not list)."""
    spec = (await client.get("/schema/openapi.json")).json()
    listed = []
    for path, item in spec["paths"].items():
        operation = item.get("get", {})
        if any(
            p["name"] == "format" and "ndjson" in p["schema"].get("pattern", "")
            for p in operation.get("parameters", [])
        ):
            listed.append(path)
            assert set(operation["responses"]["200"]["content"]) == {
                "application/json",
                "application/x-ndjson",
            }, path
    assert sorted(listed) == sorted(
        f"/hsds/{name}"
        for name in ("services", "service_at_locations", "organizations", "taxonomies", "taxonomy_terms")
    )
