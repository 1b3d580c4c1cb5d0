"""What the match caches keep must never change an answer: candidates are read once per place and
version, and the shown fields and contacts of chosen listings follow each caller's visibility and
every change to the listing."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from registry.matching import queries, service
from tests.factories import Client, bearer, register_org
from tests.matching.fixtures import ROTTERDAM, UTRECHT, build_world, create, edit

NEEDS = ["clinician", "evaluator", "trainer", "peer_program", "treatment_program"]


async def answer(client: Client, headers: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
    response = await client.post("/matches", json={"location": UTRECHT, **body}, headers=headers or {})
    assert response.status_code == 200, response.text
    results: dict[str, Any] = response.json()["results"]
    return results


@pytest.fixture
def searches(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every candidate read that reached the database: ("near", kind) or ("remote", kind)."""
    seen: list[tuple[str, str]] = []
    in_radius, remote_capable = queries.in_radius, queries.remote_capable

    async def near(session: Any, kind: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(("near", kind))
        return await in_radius(session, kind, *args, **kwargs)

    async def remote(session: Any, kind: str, **kwargs: Any) -> AsyncIterator[Any]:
        seen.append(("remote", kind))
        async for rows in remote_capable(session, kind, **kwargs):
            yield rows

    monkeypatch.setattr(queries, "in_radius", near)
    monkeypatch.setattr(queries, "remote_capable", remote)
    return seen


async def test_candidates_are_read_once_per_place_and_version_whatever_is_asked(
    client: Client, db: AsyncSession, searches: list[tuple[str, str]]
) -> None:
    world = await build_world(client, db)
    asks: list[dict[str, Any]] = [
        {"needs": ["clinician"], "side": side, "languages": languages}
        for side in ("survivors", "people_who_use_violence", None)
        for languages in (["nl"], ["en"], [])
    ]
    first = [await answer(client, None, **ask) for ask in asks]
    # Nine different questions: each kind's listings near the point and its remote pool, read once.
    assert sorted(searches) == [("near", "clinician"), ("remote", "clinician")]
    assert [await answer(client, None, **ask) for ask in asks] == first
    assert len(searches) == 2
    # Any change to listings moves the version: read again, and the answers follow.
    await edit(
        client,
        world["org_key"],
        f"/partners/{world['remote_clinician']['id']}",
        {"name": "Clinician Remote II"},
    )
    again = await answer(client, None, **asks[3])  # people who use violence, as the partner
    assert "Clinician Remote II" in str(again)
    assert len(searches) == 4


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
        await edit(client, world["org_key"], f"/partners/{partner['id']}", body)

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
    ask: dict[str, Any] = {"needs": ["clinician"], "radius_km": 10, "per_kind": 20, "include_remote": True}

    async def change(body: dict[str, Any]) -> None:
        await edit(client, world["org_key"], f"/partners/{remote['id']}", body)

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


async def test_a_starting_server_reads_every_kinds_remote_pool_before_the_first_match(
    app: Any, sessionmaker: Any, client: Client, searches: list[tuple[str, str]]
) -> None:
    from registry.matching.service import warm_pools

    caches = app.state.caches
    await warm_pools(caches)
    version = await caches.version()
    kept = caches.store("match_remote").keys()
    assert sorted(kept) == sorted(queries.KNOWN_KINDS)
    assert all(caches.get("match_remote", key, version) is not None for key in kept)
    searches.clear()
    await answer(client, needs=["clinician", "evaluator"])
    await answer(client, needs=["peer_program", "trainer"], include_planning=True)
    assert not [s for s in searches if s[0] == "remote"]  # the pools were ready, for either


def test_the_shown_fields_are_read_in_the_order_details_takes_them() -> None:
    assert queries.DETAIL_FIELDS[0] == "id"
    assert queries.DETAIL_FIELDS[1:] == service.Details.__struct_fields__[:-1]
    assert service.Details.__struct_fields__[-1] == "contacts"


async def test_a_list_read_for_a_wider_radius_answers_a_narrower_one_as_its_own_read_would(
    client: Client, db: AsyncSession, app: Litestar, searches: list[tuple[str, str]]
) -> None:
    """A kind's list kept for a wider radius around the same point serves a narrower one without a
    read: only its rows within the narrower radius are in reach, and the remote ones beyond it are
    offered as remote partners, exactly as when the narrower radius is read on its own."""
    world = await build_world(client, db)
    for name, remote in [("Online Rotterdam", True), ("Office Rotterdam", False)]:
        await create(
            client,
            world["org_key"],
            "/partners",
            {
                "name": name,
                "kind": "clinician",
                "location_precision": "exact",
                "location": ROTTERDAM,  # ~47 km
                "specialties": ["people_who_use_violence"],
                "remote_ok": remote,
            },
        )

    async def forget() -> None:
        app.state.caches.clear()
        await db.execute(text("DELETE FROM shared_answer"))
        await db.commit()

    asks = [
        {"needs": ["clinician", "evaluator", "peer_program"], "include_remote": remote, "radius_km": radius}
        for radius in (1, 10, 25, 50)
        for remote in (True, False)
    ]
    alone = []
    for ask in asks:
        await forget()
        alone.append(await answer(client, None, per_kind=10, **ask))
    await forget()
    await answer(client, None, per_kind=10, **{**asks[0], "radius_km": 100})
    read = len(searches)
    assert [await answer(client, None, per_kind=10, **ask) for ask in asks] == alone
    assert len(searches) == read  # no list read again: the 100 km ones served
    # What the narrower radii change is there to be seen: in reach, remote, or not offered.
    names = [{c["listing"]["name"]: c["in_reach"] for c in found["clinician"]} for found in alone]
    assert names[4]["Online Rotterdam"] is False and "Office Rotterdam" not in names[4]
    assert names[6]["Online Rotterdam"] is True and names[6]["Office Rotterdam"] is True
    assert "Clinician PWUV" not in names[2] and names[4]["Clinician PWUV"] is True  # ~20 km


async def test_radii_up_to_the_same_read_radius_share_one_read(
    client: Client, db: AsyncSession, app: Litestar, searches: list[tuple[str, str]]
) -> None:
    """A list is read for the next of READ_RADII_KM at or beyond the radius asked: 30 and 45 km share
    the 50 km read, 60 and 80 km the 100 km one, and each answer is the one its own read gives."""
    await build_world(client, db)
    radii = [30, 45, 50, 60, 80, 100]
    together = [await answer(client, None, needs=["clinician"], radius_km=r) for r in radii]
    assert [s for s in searches if s[0] == "near"] == [("near", "clinician")] * 2
    for radius, found in zip(radii, together, strict=True):
        app.state.caches.clear()
        await db.execute(text("DELETE FROM shared_answer"))
        await db.commit()
        assert await answer(client, None, needs=["clinician"], radius_km=radius) == found


def test_a_list_is_read_for_the_next_read_radius_at_or_beyond_the_one_asked() -> None:
    assert [service.read_radius(r) for r in (0.5, 10, 10.5, 25, 26, 99.9, 100, 101, 500)] == [
        10,
        10,
        25,
        25,
        50,
        100,
        100,
        200,
        500,
    ]
    assert service.read_radius(800) == 800  # beyond the last one (a program's own service radius)


async def test_lists_are_read_once_with_and_without_programs_being_planned(
    client: Client, db: AsyncSession, searches: list[tuple[str, str]]
) -> None:
    """A request that includes programs being planned reads the lists and pools that one without it
    read (and the other way round): each holds both, and a request offers those it asks for."""
    await build_world(client, db)
    others = ["clinician", "evaluator", "trainer", "treatment_program"]
    first = await answer(client, None, needs=others, include_planning=True)
    read = sorted(searches)
    assert read == sorted([(way, kind) for kind in others for way in ("near", "remote")])
    assert await answer(client, None, needs=others, include_planning=False) == first
    assert sorted(searches) == read  # nothing read again
    await answer(client, None, needs=["peer_program", *others], include_planning=False)
    await answer(client, None, needs=["peer_program", *others], include_planning=True)
    assert sorted(searches) == sorted([*read, ("near", "peer_program"), ("remote", "peer_program")])
