"""Search pages are shared while nothing they show changes, and only between callers who may
see the same listings: a write (through the API, or announced by PostgreSQL) replaces them."""

from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.listings import nearby, queries
from registry.models import Listing
from tests.factories import Client, bearer, register_org, role_key, verified_org
from tests.listings.builders import create_program, items_of, with_etag

NEAR = {"near": "Utrecht, NL", "format": "twelve_step"}


@pytest.fixture
def searches(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every page of listings computed (in SQL, or from the listings kept around a place)."""
    seen: list[object] = []
    for module in (queries, nearby):
        search = module.search

        async def counted(*args: Any, search: Any = search, **kwargs: Any) -> Any:
            seen.append(args[2])
            return await search(*args, **kwargs)

        monkeypatch.setattr(module, "search", counted)
    return seen


def names(response: Any) -> list[str]:
    return [item["name"] for item in items_of(response)]


async def test_the_same_search_is_answered_once_until_a_listing_changes(
    client: Client, db: AsyncSession, searches: list[object]
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    program, etag = await create_program(client, key, name="Harbour Group")
    first = await client.get("/programs", params=NEAR)
    again = await client.get("/programs", params=NEAR)
    assert names(first) == ["Harbour Group"] and again.content == first.content
    assert first.headers["content-type"] == "application/json"
    assert len(searches) == 1
    # Another page, or other filters, are other answers.
    await client.get("/programs", params={**NEAR, "page": 2})
    await client.get("/programs", params={**NEAR, "radius_km": 20})
    assert len(searches) == 3

    renamed = await client.patch(
        f"/programs/{program['id']}", json={"name": "Harbour Circle"}, headers=with_etag(key, etag)
    )
    assert renamed.status_code == 200, renamed.text
    assert names(await client.get("/programs", params=NEAR)) == ["Harbour Circle"]
    archived = await client.delete(
        f"/programs/{program['id']}", headers=with_etag(key, renamed.headers["etag"])
    )
    assert archived.status_code == 204, archived.text
    assert names(await client.get("/programs", params=NEAR)) == []


async def test_pages_are_shared_only_by_callers_who_see_the_same_listings(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    org, key = await register_org(client)
    await create_program(client, key, name="Unpublished Group")  # not verified yet: not public
    for _ in range(2):  # cold, then warm, in this order and the other
        for headers, expected in (
            ({}, []),
            (bearer(key), ["Unpublished Group"]),  # its own organization sees it
            (bearer(steward), ["Unpublished Group"]),
            ({}, []),
        ):
            assert names(await client.get("/programs", params=NEAR, headers=headers)) == expected
    verified = await client.post(f"/organizations/{org['id']}/verify", headers=bearer(steward))
    assert verified.status_code == 200, verified.text
    assert names(await client.get("/programs", params=NEAR)) == ["Unpublished Group"]


async def test_a_page_is_served_again_only_while_nothing_changed(
    client: Client, db: AsyncSession, searches: list[object]
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    await create_program(client, key, name="Quay Group")
    program, _ = await create_program(client, key, name="Quay Annex")
    for _ in range(3):
        assert names(await client.get("/programs", params=NEAR)) == ["Quay Annex", "Quay Group"]
    assert len(searches) == 1
    # A change by another process, which this one hears of from nowhere but the tables.
    await db.execute(update(Listing).where(Listing.id == program["id"]).values(name="Quay Circle"))
    await db.flush()
    assert names(await client.get("/programs", params=NEAR)) == ["Quay Circle", "Quay Group"]
    assert len(searches) == 2
