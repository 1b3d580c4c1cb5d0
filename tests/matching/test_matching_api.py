"""POST /matches and GET /programs/{id}/peers on a data set with known answers."""

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry.locations.geo import BAND_CODES
from tests.factories import Client, bearer, register_org
from tests.matching.fixtures import UTRECHT, build_world


def names(results: list[dict[str, Any]]) -> list[str]:
    return [c["listing"]["name"] for c in results]


def numbers_named_distance(value: Any) -> list[str]:
    found = []
    if isinstance(value, dict):
        for k, v in value.items():
            if "distance" in k and k != "distance_band":
                found.append(k)
            found += numbers_named_distance(v)
    elif isinstance(value, list):
        for v in value:
            found += numbers_named_distance(v)
    return found


async def test_ranking_and_hard_filters(client: Client, db: AsyncSession) -> None:
    await build_world(client, db)
    response = await client.post(
        "/matches",
        json={
            "location": UTRECHT,
            "needs": ["clinician"],
            "side": "people_who_use_violence",
            "radius_km": 50,
        },
    )
    assert response.status_code == 200, response.text
    clinicians = response.json()["results"]["clinician"]
    ranked = names(clinicians)
    # Sides kept apart: the survivors' clinician is not offered, however near and high-risk trained.
    assert "Clinician PWUV" in ranked and "Clinician Survivors" not in ranked
    # Remote-capable outside the radius is in; plain far, paused and unverified are out.
    assert "Clinician Remote" in ranked
    assert not {"Clinician Far", "Clinician Paused", "Clinician Unverified"} & set(ranked)
    for c in clinicians:
        assert 0 <= c["score"] <= 1
        assert c["distance_band"] in (*BAND_CODES, None)
        assert all({"code", "text"} <= set(r) for r in c["reasons"])
    top = clinicians[0]
    assert {"same_side", "ipv_trained"} <= {r["code"] for r in top["reasons"]}
    assert numbers_named_distance(response.json()) == []


async def test_survivor_side_reverses_the_order(client: Client, db: AsyncSession) -> None:
    await build_world(client, db)
    response = await client.post(
        "/matches", json={"location": UTRECHT, "needs": ["clinician"], "side": "survivors"}
    )
    ranked = names(response.json()["results"]["clinician"])
    assert ranked[0] == "Clinician Survivors"


async def test_without_remote_and_per_kind(client: Client, db: AsyncSession) -> None:
    await build_world(client, db)
    response = await client.post(
        "/matches",
        json={
            "location": UTRECHT,
            "needs": ["clinician", "evaluator", "trainer", "peer_program"],
            "include_remote": False,
            "per_kind": 1,
        },
    )
    results = response.json()["results"]
    assert set(results) == {"clinician", "evaluator", "trainer", "peer_program"}
    assert all(len(v) <= 1 for v in results.values())
    assert names(results["evaluator"]) == ["Evaluator Near"]
    small = await client.post(
        "/matches",
        json={"location": UTRECHT, "needs": ["clinician"], "include_remote": False, "radius_km": 10},
    )
    assert "Clinician Remote" not in names(small.json()["results"]["clinician"])
    assert "Clinician PWUV" not in names(small.json()["results"]["clinician"])  # ~20 km away


async def test_contacts_in_matches_exclude_on_introduction(client: Client, db: AsyncSession) -> None:
    await build_world(client, db)
    response = await client.post("/matches", json={"location": UTRECHT, "needs": ["clinician"]})
    assert "secret-pwuv@example.org" not in response.text
    assert "desk@example.org" in response.text


async def test_bad_match_requests(client: Client) -> None:
    cases = [
        {"location": UTRECHT, "radius_km": 501},
        {"location": UTRECHT, "per_kind": 21},
        {"location": UTRECHT, "needs": ["astrologer"]},
        {"location": {"place": "Atlantis, XX"}},
        {"location": UTRECHT, "side": "nobody"},
        {"location": UTRECHT, "unknown": 1},
        {"include_remote": False},
    ]
    for body in cases:
        response = await client.post("/matches", json=body)
        assert 400 <= response.status_code < 500, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_initiator_profile_gives_defaults(client: Client, db: AsyncSession) -> None:
    await build_world(client, db)
    created = await client.post(
        "/initiators",
        json={
            "display_name": "Sam",
            "email": "sam@example.org",
            "location": UTRECHT,
            "side": "people_who_use_violence",
            "needs": ["clinician"],
            "pathway_step": 1,
        },
    )
    assert created.status_code == 201
    key = created.json()["key"]
    response = await client.post("/matches", json={}, headers=bearer(key))
    assert response.status_code == 200
    body = response.json()
    assert list(body["results"]) == ["clinician"]
    assert body["query"]["side"] == "people_who_use_violence"
    assert names(body["results"]["clinician"])[0] == "Clinician PWUV"


async def test_match_logs_hold_no_search_terms(client: Client, db: AsyncSession, caplog: Any) -> None:
    await build_world(client, db)
    caplog.set_level("INFO")
    await client.post("/matches", json={"location": {"latitude": 52.0911, "longitude": 5.1219}})
    logged = "\n".join(
        r.getMessage() + json.dumps(getattr(r, "fields", {}))
        for r in caplog.records
        if r.name.startswith("registry")
    )
    assert "52.0911" not in logged
    assert "5.1219" not in logged


async def test_peers_for_the_owner_only(client: Client, db: AsyncSession) -> None:
    w = await build_world(client, db)
    key = w["org_key"]
    other = await client.post(
        "/programs",
        json={
            "name": "Twelve Steps Amersfoort",
            "side": "people_who_use_violence",
            "formats": ["twelve_step"],
            "location": {"latitude": 52.1561, "longitude": 5.3878},
        },
        headers=bearer(key),
    )
    assert other.status_code == 201
    for name, listed in (("Kim", True), ("Ash", False)):
        await client.post(
            "/initiators",
            json={
                "display_name": name,
                "email": f"{name.lower()}@example.org",
                "location": UTRECHT,
                "side": "people_who_use_violence",
                "formats": ["twelve_step"],
                "needs": ["peer_program"],
                "pathway_step": 1 if listed else 2,
                "visible_to_programs": listed,
            },
        )
    pid = w["pwuv_program"]["id"]
    response = await client.get(f"/programs/{pid}/peers", headers=bearer(key))
    assert response.status_code == 200, response.text
    body = response.json()
    peer_names = [c["listing"]["name"] for c in body["programs"]]
    assert "Twelve Steps Amersfoort" in peer_names
    assert "Survivor Circle Amersfoort" not in peer_names  # other side
    assert "Twelve Steps Utrecht" not in peer_names  # itself
    # Kim chose to be listed to programs; Ash did not, and counts only in protected totals.
    assert [(i["pathway_step"], i["needs"]) for i in body["initiators"]] == [(1, ["peer_program"])]
    assert body["initiator_needs"] == [
        {"need": "peer_program", "initiators": {"value": None, "suppressed": True}}
    ]
    for words in ("kim@example.org", "Kim", "Ash"):
        assert words not in response.text
    assert (await client.get(f"/programs/{pid}/peers")).status_code == 401
    _, stranger = await register_org(client)
    assert (await client.get(f"/programs/{pid}/peers", headers=bearer(stranger))).status_code == 403
