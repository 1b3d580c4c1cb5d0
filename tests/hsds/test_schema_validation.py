"""Every HSDS endpoint's answer on the seed data validates against the official HSDS 3.0 schemas
(tests/hsds/schemas, with jsonschema): every list in its default, `full` and `minimal` forms, page
after page, as JSON and as ndjson, and every object by id."""

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.hsds import ids, queries, service
from registry.hsds.service import ListParams, ServiceQuery
from tests.factories import Client
from tests.hsds import validation
from tests.hsds.conftest import get_json

pytestmark = pytest.mark.usefixtures("seeded")

# list path -> (the item schema of a full item, the schema of the object by id)
ENDPOINTS: dict[str, tuple[str, str]] = {
    "/services": ("compiled/service.json", "compiled/service.json"),
    "/organizations": ("compiled/organization.json", "compiled/organization.json"),
    # HSDS's openapi.json gives /service_at_locations/{id} the service schema, a slip of the
    # specification (a service_at_location has no name or status); the service_at_location one
    # is what the endpoint returns.
    "/service_at_locations": ("compiled/service_at_location.json", "compiled/service_at_location.json"),
    "/taxonomies": ("taxonomy.json", "taxonomy.json"),
    "/taxonomy_terms": ("taxonomy_term.json", "taxonomy_term.json"),
}
VARIANTS: list[dict[str, str]] = [{}, {"full": "true"}, {"minimal": "true"}]
PER_PAGE = 7


def assert_valid(check: Any, instance: Any, where: str) -> None:
    problems = validation.errors(check, instance)
    assert problems == [], f"{where}: {problems[:10]}"


async def walk_pages(client: Client, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
    """Fetch every page of `path` with `params`, validating each page and the paging itself."""
    page_check = validation.page_validator(path)
    items: list[dict[str, Any]] = []
    page, total = 1, None
    while True:
        body = await get_json(client, f"/hsds{path}", page=page, per_page=PER_PAGE, **params)
        assert_valid(page_check, body, f"{path} {params} page {page}")
        total = body["total_items"] if total is None else total
        assert body["total_items"] == total
        assert body["total_pages"] == -(-total // PER_PAGE)
        assert body["page_number"] == page and body["size"] == len(body["contents"])
        assert body["first_page"] is (page == 1)
        assert body["last_page"] is (page >= body["total_pages"])
        assert body["empty"] is (not body["contents"])
        assert len(body["contents"]) == (PER_PAGE if not body["last_page"] else total - PER_PAGE * (page - 1))
        items.extend(body["contents"])
        if body["last_page"]:
            break
        page += 1
    assert len(items) == total and len({item["id"] for item in items}) == total
    return items


@pytest.mark.parametrize("path", list(ENDPOINTS))
async def test_every_list_page_and_variant_validates(client: Client, path: str) -> None:
    full_schema, _ = ENDPOINTS[path]
    ids_by_variant = {}
    for params in VARIANTS:
        items = await walk_pages(client, path, params)
        assert len(items) > 1, f"{path}: the seeds should give more than one page"
        if params.get("full"):
            for item in items:
                assert_valid(validation.validator(full_schema), item, f"{path} full item {item['id']}")
        ids_by_variant[json.dumps(params)] = [item["id"] for item in items]
    # The variants list the same objects in the same order.
    assert len({tuple(v) for v in ids_by_variant.values()}) == 1


async def test_organizations_with_full_services_validate(client: Client) -> None:
    items = await walk_pages(client, "/organizations", {"full_service": "true"})
    services = [s for org in items for s in org["services"]]
    assert services and all("attributes" in s for s in services)
    for org in items:
        assert_valid(validation.validator("compiled/organization.json"), org, f"organization {org['id']}")


@pytest.mark.parametrize("path", list(ENDPOINTS))
async def test_every_object_by_id_validates(client: Client, path: str) -> None:
    _, schema = ENDPOINTS[path]
    ids = [item["id"] for item in (await get_json(client, f"/hsds{path}", per_page=100))["contents"]]
    assert ids
    for object_id in ids:
        body = await get_json(client, f"/hsds{path}/{object_id}")
        assert body["id"] == object_id
        assert_valid(validation.validator(schema), body, f"{path}/{object_id}")
    if path == "/organizations":
        body = await get_json(client, f"/hsds{path}/{ids[0]}", full_service="true")
        assert_valid(validation.validator(schema), body, f"{path}/{ids[0]}?full_service=true")


@pytest.mark.parametrize("path", list(ENDPOINTS))
@pytest.mark.parametrize("params", VARIANTS, ids=["default", "full", "minimal"])
async def test_ndjson_lines_validate(client: Client, path: str, params: dict[str, str]) -> None:
    page = await get_json(client, f"/hsds{path}", per_page=PER_PAGE, page=2, **params)
    item_schema = validation.item_validator(path, full=bool(params.get("full")))
    response = await client.get(
        f"/hsds{path}", params={"format": "ndjson", "per_page": PER_PAGE, "page": 2, **params}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.headers["x-total-items"] == str(page["total_items"])
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines == page["contents"]
    for line in lines:
        assert_valid(item_schema, line, f"{path} ndjson {params}")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/services", {"search": "peer", "full": "true"}),
        ("/services", {"taxonomy_id": str(ids.taxonomy_id("side"))}),
        ("/services", {"modified_after": "2000-01-01", "minimal": "true"}),
        ("/service_at_locations", {"postcode": "80202", "proximity": "30000", "full": "true"}),
        ("/service_at_locations", {"proximity": "51.92,4.48,40000"}),
        ("/taxonomy_terms", {"taxonomy_id": str(ids.taxonomy_id("format")), "full": "true"}),
        ("/organizations", {"search": "circle"}),
    ],
)
async def test_filtered_pages_validate(client: Client, path: str, params: dict[str, str]) -> None:
    body = await get_json(client, f"/hsds{path}", **params)
    assert body["contents"], params
    assert_valid(validation.page_validator(path), body, f"{path} {params}")


async def test_an_empty_page_validates(client: Client) -> None:
    body = await get_json(client, "/hsds/services", search="nothing-matches-this", per_page=5)
    assert body["contents"] == [] and body["empty"] is True and body["total_items"] == 0
    assert_valid(validation.page_validator("/services"), body, "empty page")
    beyond = await get_json(client, "/hsds/services", page=999, per_page=5)
    assert beyond["contents"] == [] and beyond["last_page"] is True and beyond["total_items"] > 0
    assert_valid(validation.page_validator("/services"), beyond, "page beyond the last")


async def test_the_base_endpoint_validates(client: Client) -> None:
    body = await get_json(client, "/hsds/")
    assert_valid(validation.operation_validator("/"), body, "/")
    assert body["version"] == "3.0"
    assert set(body) == {"version", "profile", "openapi_url"}


@pytest.mark.parametrize(
    ("schema", "instance", "expected"),
    [
        ("compiled/service.json", {"id": "8a0c9b56-8f53-4d4f-9a43-1f0c1a3e9c11", "name": "x"}, "'status'"),
        ("compiled/service.json", {"id": "not-a-uuid", "name": "x", "status": "active"}, "uuid"),
        (
            "compiled/service.json",
            {"id": "8a0c9b56-8f53-4d4f-9a43-1f0c1a3e9c11", "name": "x", "status": "open"},
            "'open' is not one of",
        ),
        (
            "compiled/service_list.json",
            {
                "id": "8a0c9b56-8f53-4d4f-9a43-1f0c1a3e9c11",
                "name": "x",
                "status": "active",
                "last_modified": "2024-01-01T10:00:00",
            },
            "date-time",
        ),
        (
            "compiled/service.json",
            {
                "id": "8a0c9b56-8f53-4d4f-9a43-1f0c1a3e9c11",
                "name": "x",
                "status": "active",
                "service_at_locations": [
                    {
                        "id": "8a0c9b56-8f53-4d4f-9a43-1f0c1a3e9c12",
                        "location": {
                            "id": "8a0c9b56-8f53-4d4f-9a43-1f0c1a3e9c13",
                            "location_type": "physical",
                            "addresses": [{"id": "8a0c9b56-8f53-4d4f-9a43-1f0c1a3e9c14", "city": "X"}],
                        },
                    }
                ],
            },
            "'address_1' is a required property",
        ),
        ("taxonomy_term.json", {"id": "8a0c9b56-8f53-4d4f-9a43-1f0c1a3e9c11", "name": "x"}, "'description'"),
        (
            "taxonomy_term.json",
            {
                "id": "8a0c9b56-8f53-4d4f-9a43-1f0c1a3e9c11",
                "name": "x",
                "description": "y",
                "taxonomy_detail": {"id": "8a0c9b56-8f53-4d4f-9a43-1f0c1a3e9c11", "name": "t"},
            },
            "'description' is a required property",
        ),
        (
            "compiled/organization.json",
            {"id": "8a0c9b56-8f53-4d4f-9a43-1f0c1a3e9c11", "name": "x"},
            "description",
        ),
    ],
)
def test_the_validators_reject_what_hsds_forbids(schema: str, instance: Any, expected: str) -> None:
    """A guard against a vacuous check: the copied schemas, their references and formats bite."""
    problems = validation.errors(validation.validator(schema), instance)
    assert any(expected in p for p in problems), problems


def test_a_page_without_its_envelope_is_rejected() -> None:
    problems = validation.errors(validation.page_validator("/services"), {"contents": []})
    assert any("'total_items' is a required property" in p for p in problems)
    bad_item = {"contents": [{"id": "x"}], **dict.fromkeys(validation.PAGE_FIELDS, 1)}
    assert validation.errors(validation.page_validator("/services"), bad_item)


@pytest.mark.parametrize("params", VARIANTS, ids=["default", "full", "minimal"])
async def test_the_whole_directory_streams_as_the_pages_give_it(
    client: Client, params: dict[str, str]
) -> None:
    pages = await walk_pages(client, "/services", params)
    item_schema = validation.item_validator("/services", full=bool(params.get("full")))
    response = await client.get("/hsds/services", params={"format": "ndjson", "all": "true", **params})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines == pages  # every public service once, in the pages' order, the same objects
    for line in lines:
        assert_valid(item_schema, line, f"/services ndjson all {params}")
    searched = await client.get(
        "/hsds/services", params={"format": "ndjson", "all": "true", "search": "peer"}
    )
    assert 0 < len(searched.text.splitlines()) < len(lines)
    refused = await client.get("/hsds/services", params={"all": "true"})
    assert refused.status_code == 422 and "format=ndjson" in refused.text


@pytest.mark.parametrize("params", VARIANTS, ids=["default", "full", "minimal"])
async def test_the_stream_is_the_same_read_in_small_batches(
    client: Client, params: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of 3 made 2 at a time: each batch is read while the one before it is made into
    JSON, and the lines still come once each, in order."""
    whole = await client.get("/hsds/services", params={"format": "ndjson", "all": "true", **params})
    monkeypatch.setattr(service, "STREAM_BATCH", 3)
    monkeypatch.setattr(service, "STREAM_STEP", 2)
    small = await client.get("/hsds/services", params={"format": "ndjson", "all": "true", **params})
    assert small.status_code == 200 and len(whole.text.splitlines()) > 6
    assert small.text == whole.text


async def test_a_stream_closed_early_stops_reading(
    client: Client, sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that goes away: the batch being read ahead finishes, nothing is left running, and
    the connection streams again afterwards."""
    monkeypatch.setattr(service, "STREAM_BATCH", 2)
    monkeypatch.setattr(service, "STREAM_STEP", 2)
    every = ListParams(page=1, per_page=100, full=True, ndjson=True)
    stream = service.stream_services(sessionmaker, ServiceQuery(), every)
    first = await anext(stream)
    assert len(first.splitlines()) == 2
    await stream.aclose()
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    again = [
        line
        async for chunk in service.stream_services(sessionmaker, ServiceQuery(), every)
        for line in chunk.splitlines()
    ]
    assert again[:2] == first.splitlines() and len(again) > 2


async def test_a_stream_whose_request_is_cancelled_lets_its_read_finish(
    client: Client, sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request's task cancelled while it waits for the batch read ahead (the server does
    that when a client goes away): the statement under way is not cancelled with it, so the
    connection is still good afterwards."""
    monkeypatch.setattr(service, "STREAM_BATCH", 2)
    real = queries.service_batch
    reading = asyncio.Event()

    async def slow(session: AsyncSession, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("after") is not None:
            reading.set()
            await session.execute(text("SELECT pg_sleep(0.3)"))
        return await real(session, *args, **kwargs)

    monkeypatch.setattr(queries, "service_batch", slow)
    every = ListParams(page=1, per_page=100, full=False, ndjson=True)
    got: list[bytes] = []

    async def read() -> None:
        async for chunk in service.stream_services(sessionmaker, ServiceQuery(), every):
            got.append(chunk)

    task = asyncio.create_task(read())
    await reading.wait()
    await asyncio.sleep(0.1)  # the second batch's statement is under way; the first is read
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert got and not [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    monkeypatch.setattr(queries, "service_batch", real)
    again = await client.get("/hsds/services", params={"format": "ndjson", "all": "true"})
    assert again.status_code == 200 and again.text.startswith(got[0].decode())
