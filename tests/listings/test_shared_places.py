"""What one API process read or built for searches is reused by the others (caching.shared): a
near search's place (listings.nearby) and a page of results (listings.pages), for the same view
and question and the same version of the data only."""

import random
import uuid
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from registry.listings import nearby, queries
from tests.factories import Client, app_client, bearer, role_key, verified_org
from tests.listings.builders import create_program, north_of
from tests.listings.test_nearby import listing
from tests.matching.fixtures import edit

NEAR = "/programs?near=Utrecht,%20NL&radius_km=25"


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every place a process read from the listings (rather than reused), by its caller's role."""
    read: list[str] = []
    original = nearby._read

    async def counted(session: Any, principal: Any, filters: Any) -> Any:
        read.append(principal.role.value)
        return await original(session, principal, filters)

    monkeypatch.setattr(nearby, "_read", counted)
    return read


async def world(client: Client, db: AsyncSession) -> tuple[str, str, list[dict[str, Any]]]:
    steward = await role_key(db)
    _, key = await verified_org(client, steward, kinds=["peer_program"])
    utrecht = (52.0907, 5.1214)
    programs = []
    for km, formats, side in [
        (1, ["twelve_step"], "people_who_use_violence"),
        (8, ["peer_led_support_group"], "survivors"),
        (20, ["twelve_step", "peer_led_support_group"], "both"),
        (60, ["twelve_step"], "survivors"),  # beyond the radius
    ]:
        point = north_of(utrecht, km)
        body, _ = await create_program(
            client,
            key,
            formats=formats,
            side=side,
            location={"latitude": point[0], "longitude": point[1]},
            contacts=[{"name": "Intake", "email": f"{uuid.uuid4().hex[:6]}@example.org"}],
        )
        programs.append(body)
    return steward, key, programs


async def kept_places(db: AsyncSession) -> list[str]:
    found = await db.execute(text("SELECT cache FROM shared_answer WHERE cache = 'nearby_places'"))
    return list(found.scalars())


async def test_another_process_reuses_a_place_for_the_same_view_and_version(
    client: Client, db: AsyncSession, other_process: Litestar, reads: list[str]
) -> None:
    await world(client, db)
    first = await client.get(NEAR)
    assert first.status_code == 200, first.text
    assert first.json()["total"] == 3
    assert reads == ["anonymous"]
    assert await kept_places(db) == ["nearby_places"]
    async with app_client(other_process) as other:
        # Searches of that place never asked here are answered there from the place kept here,
        # as this process answers them from its own.
        for path in (NEAR + "&format=peer_led_support_group", NEAR + "&side=survivors&per_page=1"):
            again = await other.get(path)
            assert again.status_code == 200
            assert again.json() == (await client.get(path)).json(), path
        assert again.json()["total"] == 1
        assert reads == ["anonymous"]
        # Another radius is another place, read there and kept for this process in turn.
        wider = await other.get(NEAR.replace("25", "100"))
        assert wider.json()["total"] == 4
        assert reads == ["anonymous", "anonymous"]
    assert (await client.get(NEAR.replace("25", "100"))).json() == wider.json()
    assert reads == ["anonymous", "anonymous"]


async def test_a_place_is_not_reused_for_another_view_or_version(
    client: Client, db: AsyncSession, other_process: Litestar, reads: list[str]
) -> None:
    steward, key, programs = await world(client, db)
    assert (await client.get(NEAR)).json()["total"] == 3
    async with app_client(other_process) as other:
        # A steward sees other listings than the public does: a place of its own.
        seen = await other.get(NEAR, headers=bearer(steward))
        assert seen.status_code == 200
        assert reads == ["anonymous", "steward"]
        # A change is a new version of the data: no process reuses the place read before it.
        await edit(client, key, f"/programs/{programs[0]['id']}", {"status": "paused"})
        paused = await other.get(NEAR + "&status=paused")
        assert [item["id"] for item in paused.json()["items"]] == [programs[0]["id"]]
        assert reads == ["anonymous", "steward", "anonymous"]
    fresh = await client.get(NEAR + "&status=paused")
    assert fresh.json() == paused.json()
    assert reads == ["anonymous", "steward", "anonymous"]  # the one the other process read


def test_a_packed_place_unpacks_to_the_same_place() -> None:
    rng = random.Random(7)
    codes = ["women", "men", "youth", "lgbtq"]
    for count in (0, 1, 7, 8, 9, 300):
        rows = [
            listing(
                band_rank=rng.choice([0, 3, 5]),
                remote_capable=rng.choice([True, False, None]),
                side=rng.choice(["survivors", "both", None]),
                populations=rng.sample(codes, rng.randint(0, 3)),
                methods=rng.choice([None, ["pre_post"]]),
                ipv_trained=rng.choice([True, False, None]),
            )
            for _ in range(count)
        ]
        place = nearby.place_of(rows)
        assert nearby.unpack(nearby.pack(place)) == place
        # Flags keep their type: True is not the value 1.
        assert all(type(value) is bool for column, value in place.masks if column in nearby.FLAGS)


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every page of results a process built (rather than reused), by the search that made it
    (listings.pages)."""
    made: list[str] = []
    near_search, sql_search = nearby.search, queries.search

    async def near(*args: Any, **kwargs: Any) -> Any:
        made.append("near")
        return await near_search(*args, **kwargs)

    async def sql(*args: Any, **kwargs: Any) -> Any:
        made.append("sql")
        return await sql_search(*args, **kwargs)

    monkeypatch.setattr(nearby, "search", near)
    monkeypatch.setattr(queries, "search", sql)
    return made


async def test_another_process_reuses_a_page_of_results_for_the_same_view_and_version(
    client: Client, db: AsyncSession, other_process: Litestar, built: list[str]
) -> None:
    steward, key, programs = await world(client, db)
    by_text = f"/programs?q={programs[1]['name']}"
    first = [await client.get(NEAR), await client.get(by_text)]
    assert [r.json()["total"] for r in first] == [3, 1]
    assert built == ["near", "sql"]
    async with app_client(other_process) as other:
        again = [await other.get(NEAR), await other.get(by_text)]
        assert [r.content for r in again] == [r.content for r in first]
        assert built == ["near", "sql"]  # neither built again there
        # A steward's page is not the public's; a change is a new version of the data.
        assert (await other.get(NEAR, headers=bearer(steward))).status_code == 200
        assert built == ["near", "sql", "near"]
        await edit(client, key, f"/programs/{programs[1]['id']}", {"name": "Renamed group"})
        renamed = await other.get(by_text)
        assert renamed.json()["total"] == 0
        assert built == ["near", "sql", "near", "sql"]
    assert (await client.get(by_text)).content == renamed.content
    assert built == ["near", "sql", "near", "sql"]
