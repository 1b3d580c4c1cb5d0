"""What the match caches keep must never change an answer: candidates searched once out to the
shared radius serve smaller radii exactly, and the shown fields and contacts of chosen listings
follow each caller's visibility and every change to the listing."""

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from registry.matching import queries, service
from tests.factories import Client, bearer, register_org
from tests.matching.fixtures import UTRECHT, build_world, create

NEEDS = ["clinician", "evaluator", "trainer", "peer_program", "treatment_program"]


async def answer(client: Client, headers: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
    response = await client.post("/matches", json={"location": UTRECHT, **body}, headers=headers or {})
    assert response.status_code == 200, response.text
    results: dict[str, Any] = response.json()["results"]
    return results


@pytest.fixture
def searches(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float]]:
    """Every candidate search that reached the database: near (its radius) or remote (its limit)."""
    seen: list[tuple[str, float]] = []
    nearest, freshest_remote = queries.nearest, queries.freshest_remote

    async def near(*args: Any, **kwargs: Any) -> Any:
        seen.append(("near", kwargs["radius_km"]))
        return await nearest(*args, **kwargs)

    async def remote(*args: Any, **kwargs: Any) -> Any:
        seen.append(("remote", kwargs["limit"]))
        return await freshest_remote(*args, **kwargs)

    monkeypatch.setattr(queries, "nearest", near)
    monkeypatch.setattr(queries, "freshest_remote", remote)
    return seen


async def test_smaller_radii_are_cut_from_one_shared_search(
    client: Client, db: AsyncSession, searches: list[tuple[str, float]]
) -> None:
    await build_world(client, db)
    radii = [10, 25, 50, 100, 30, 160]
    fresh = {}
    for radius in radii:
        service.forget_cached_matches()
        fresh[radius] = await answer(client, needs=NEEDS, radius_km=radius, per_kind=20, include_remote=False)
    # ~20 km (Amersfoort), ~47 km (Rotterdam): the radius decides, however the cache was filled.
    assert "Clinician PWUV" not in str(fresh[10]) and "Clinician PWUV" in str(fresh[25])
    assert fresh[25] != fresh[50] != fresh[160]
    service.forget_cached_matches()
    searches.clear()
    for radius in [100, *radii]:
        # A different need each time, so that no whole answer is reused.
        asked: dict[str, Any] = {"needs": NEEDS, "radius_km": radius, "per_kind": 20, "include_remote": False}
        cut = await answer(client, **asked, languages=["nl"])
        full = await answer(client, **asked)
        assert full == fresh[radius]
        assert {k: sorted(c["listing"]["id"] for c in v) for k, v in cut.items()} == {
            k: sorted(c["listing"]["id"] for c in v) for k, v in full.items()
        }
    # One search out to the shared radius served 10-100 km; 160 km needed its own.
    assert searches == [("near", service.SHARED_RADIUS_KM), ("near", 160)]


async def test_remote_partners_come_from_one_pool_or_the_database_alike(
    client: Client, db: AsyncSession, searches: list[tuple[str, float]], monkeypatch: pytest.MonkeyPatch
) -> None:
    await build_world(client, db)
    asks: list[dict[str, Any]] = [
        {"radius_km": radius, "needs": NEEDS, "per_kind": 20} for radius in (10, 25, 50, 200, 500)
    ]
    asks.append({"location": None, "needs": NEEDS, "per_kind": 20})  # remote partners only
    fresh = []
    for ask in asks:
        service.forget_cached_matches()
        fresh.append(await answer(client, **ask))
    assert "Clinician Remote" in str(fresh[0])  # Groningen, ~160 km: remote beyond 10 km
    # One pool of the freshest remote-capable listings serves every point and radius.
    service.forget_cached_matches()
    searches.clear()
    assert [await answer(client, **ask) for ask in asks] == fresh
    assert [s for s in searches if s[0] == "remote"] == [("remote", service.REMOTE_POOL)]
    # A pool too small to be sure sends the request to the database: the same answers.
    monkeypatch.setattr(service, "REMOTE_POOL", 1)
    service.forget_cached_matches()
    searches.clear()
    assert [await answer(client, **ask) for ask in asks] == fresh
    assert ("remote", queries.REMOTE_CANDIDATES_PER_KIND) in searches


async def test_shown_contacts_follow_the_caller_and_every_change(client: Client, db: AsyncSession) -> None:
    world = await build_world(client, db)
    body = {
        "kind": "clinician",
        "name": "Clinician Contacts",
        "location_precision": "exact",
        "location": UTRECHT,
        "specialties": ["survivors"],
        "contacts": [
            {"role": "Desk", "email": "open@example.org", "visibility": "public"},
            {"role": "Peers", "email": "peers-only@example.org", "visibility": "verified_orgs"},
        ],
    }
    partner = await create(client, world["org_key"], "/partners", body)
    verified = bearer(world["org_key"])
    _, unverified_key = await register_org(client, kinds=["clinician"])
    # The verified organization's answer fills the caches first; the others must not see more.
    for headers, sees_peers in ((verified, True), ({}, False), (bearer(unverified_key), False)):
        results = await answer(client, headers, needs=["clinician"], per_kind=20)
        text = str(results)
        assert "open@example.org" in text
        assert ("peers-only@example.org" in text) is sees_peers

    async def change(body: dict[str, Any]) -> None:
        current = await client.get(f"/partners/{partner['id']}", headers=verified)
        changed = await client.patch(
            f"/partners/{partner['id']}", json=body, headers={**verified, "If-Match": current.headers["etag"]}
        )
        assert changed.status_code == 200, changed.text

    # A contact made private is gone at once, though nothing else about the listing changed.
    await change(
        {"contacts": [{"role": "Desk", "email": "open@example.org", "visibility": "on_introduction"}]}
    )
    for headers in (verified, {}):
        assert "open@example.org" not in str(await answer(client, headers, needs=["clinician"], per_kind=20))
    # A new contact and a new name show at once.
    await change(
        {
            "name": "Clinician Renamed",
            "contacts": [{"role": "Desk", "email": "moved@example.org", "visibility": "public"}],
        }
    )
    text = str(await answer(client, needs=["clinician"], per_kind=20))
    assert "moved@example.org" in text
    assert "Clinician Renamed" in text and "Clinician Contacts" not in text


async def test_remote_partners_follow_every_change_to_them(client: Client, db: AsyncSession) -> None:
    """Cuts of the remote pool are reused per place: a new pool (after any change) must replace them."""
    world = await build_world(client, db)
    remote = world["remote_clinician"]
    owner = bearer(world["org_key"])
    ask: dict[str, Any] = {"needs": ["clinician"], "radius_km": 10, "per_kind": 20, "include_remote": True}

    async def change(body: dict[str, Any]) -> None:
        current = await client.get(f"/partners/{remote['id']}", headers=owner)
        changed = await client.patch(
            f"/partners/{remote['id']}", json=body, headers={**owner, "If-Match": current.headers["etag"]}
        )
        assert changed.status_code == 200, changed.text

    assert "Clinician Remote" in str(await answer(client, **ask))  # Groningen: remote beyond 10 km
    await change({"status": "paused"})
    assert "Clinician Remote" not in str(await answer(client, **ask))
    await change({"status": "active", "name": "Clinician Remote Renamed"})
    assert "Clinician Remote Renamed" in str(await answer(client, **ask))


async def test_chosen_listings_show_their_contacts_in_order_and_none_when_none_may_leave(
    client: Client, db: AsyncSession
) -> None:
    world = await build_world(client, db)
    base = {"location_precision": "exact", "location": UTRECHT, "specialties": ["survivors"]}
    listed = [f"desk{n}@example.org" for n in (3, 1, 2)]
    await create(
        client,
        world["org_key"],
        "/partners",
        {
            **base,
            "kind": "trainer",
            "name": "Trainer Many Contacts",
            "contacts": [
                {"name": f"Person {email[4]}", "role": "Desk", "email": email, "visibility": "public"}
                for email in listed
            ],
        },
    )
    await create(
        client,
        world["org_key"],
        "/partners",
        {
            **base,
            "kind": "trainer",
            "name": "Trainer Private Contacts",
            "contacts": [{"role": "Desk", "email": "hidden@example.org", "visibility": "on_introduction"}],
        },
    )
    for _ in range(2):  # read, then from the cache
        results = await answer(client, needs=["trainer"], per_kind=20)
        by_name = {c["listing"]["name"]: c["listing"] for c in results["trainer"]}
        shown = by_name["Trainer Many Contacts"]["contacts"]
        assert [c["email"] for c in shown] == listed
        assert shown[0] | {"id": None} == {
            "id": None,
            "name": "Person 3",
            "role": "Desk",
            "email": "desk3@example.org",
            "phone": None,
            "preferred_method": None,
            "visibility": "public",
        }
        assert by_name["Trainer Private Contacts"]["contacts"] == []
        assert by_name["Trainer Private Contacts"]["description"] is None
