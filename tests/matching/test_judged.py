"""A judged collection of matching scenarios: `POST /matches` as a practitioner starting a group
would judge its answer.

Each scenario builds its own small world through the API (verified organizations, their partners
and programs; a rolled-back transaction per test), asks `POST /matches` one or more questions and
judges the answer the way someone starting an IPV peer-support group would: "A above B", "C
absent", "at most two of one organization", "what it says about itself is true". They are
judgments, not restatements of the scoring formula: where a practitioner would accept either
order, the scenario insists only on what they would insist on (both offered, say).

The places are around Utrecht (NL) unless a scenario says otherwise; the initiator's point is the
centre of a grid cell, which the service keeps as it is, so the distances below are the distances
the service measures.
"""

import json
import math
import re
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from registry.locations.geo import snap_to_grid
from tests.factories import Client, bearer, register_org, role_key, verified_org
from tests.matching.fixtures import create

Json = dict[str, Any]

ALL_KINDS = ["clinician", "treatment_program", "evaluator", "trainer", "peer_program"]
PWUV = "people_who_use_violence"
_LAT, _LON = snap_to_grid(52.0907, 5.1214)
HERE: dict[str, float] = {"latitude": _LAT, "longitude": _LON}  # Utrecht, as the service keeps it
GRONINGEN: dict[str, float] = {"latitude": 53.2194, "longitude": 6.5665}  # ~160 km, same country
KM_PER_DEGREE = 111.195


def at(east_km: float = 0.0, north_km: float = 0.0) -> dict[str, float]:
    """A point this far east and north of HERE."""
    lat = _LAT + north_km / KM_PER_DEGREE
    lon = _LON + east_km / (KM_PER_DEGREE * math.cos(math.radians(lat)))
    return {"latitude": round(lat, 6), "longitude": round(lon, 6)}


class World:
    """One scenario's small world, built through the API."""

    def __init__(self, client: Client, db: AsyncSession, steward: str) -> None:
        self.client = client
        self.db = db
        self.steward = steward

    async def org(self, **overrides: Any) -> tuple[Json, str]:
        """A verified organization that may list every kind; its record and API key."""
        return await verified_org(self.client, self.steward, kinds=ALL_KINDS, **overrides)

    async def key(self) -> str:
        return (await self.org())[1]

    async def partner(self, key: str, name: str, kind: str = "clinician", **fields: Any) -> Json:
        """A partner 3 km east at exact precision unless told otherwise."""
        body: Json = {"kind": kind, "name": name, "location": at(3), "location_precision": "exact"}
        body.update(fields)
        if body["location_precision"] == "remote" and "location" not in fields:
            del body["location"]
        return await create(self.client, key, "/partners", body)

    async def program(self, key: str, name: str, side: str = PWUV, **fields: Any) -> Json:
        """A program 3 km east at exact precision unless told otherwise."""
        body: Json = {"name": name, "side": side, "location": at(3), "location_precision": "exact"}
        body.update(fields)
        return await create(self.client, key, "/programs", body)

    async def evaluate(self, key: str, program: Json, stage: str) -> None:
        response = await self.client.post(
            f"/programs/{program['id']}/evaluations", json={"stage": stage}, headers=bearer(key)
        )
        assert response.status_code == 201, response.text

    async def age(self, listing: Json, days: int) -> None:
        """The listing was last confirmed `days` ago."""
        await self.db.execute(
            text("UPDATE listing SET last_verified_at = now() - make_interval(days => :days) WHERE id = :id"),
            {"days": days, "id": listing["id"]},
        )
        await self.db.commit()

    async def match(self, key: str | None = None, **request: Any) -> Json:
        request.setdefault("location", HERE)
        headers = bearer(key) if key else {}
        response = await self.client.post("/matches", json=request, headers=headers)
        assert response.status_code == 200, response.text
        answer: Json = response.json()
        return answer

    async def match_text(self, key: str | None = None, **request: Any) -> str:
        request.setdefault("location", HERE)
        headers = bearer(key) if key else {}
        response = await self.client.post("/matches", json=request, headers=headers)
        assert response.status_code == 200, response.text
        return response.text


@pytest.fixture
async def world(client: Client, db: AsyncSession) -> World:
    return World(client, db, await role_key(db))


def names(answer: Json, kind: str = "clinician") -> list[str]:
    return [c["listing"]["name"] for c in answer["results"][kind]]


def entry(answer: Json, name: str, kind: str = "clinician") -> Json:
    found = [c for c in answer["results"][kind] if c["listing"]["name"] == name]
    assert found, f"{name} not offered among {names(answer, kind)}"
    result: Json = found[0]
    return result


def codes(result: Json) -> set[str]:
    return {r["code"] for r in result["reasons"]}


def reason_text(result: Json, code: str) -> str:
    found = [r["text"] for r in result["reasons"] if r["code"] == code]
    assert found, f"no {code} among {codes(result)}"
    return str(found[0])


def assert_above(answer: Json, higher: str, lower: str, kind: str = "clinician") -> None:
    ranked = names(answer, kind)
    assert higher in ranked and lower in ranked, f"both {higher} and {lower} expected in {ranked}"
    assert ranked.index(higher) < ranked.index(lower), f"{higher} expected above {lower} in {ranked}"


def every_result(answer: Json) -> list[Json]:
    return [c for results in answer["results"].values() for c in results]


# --- distance and reach --------------------------------------------------------------------------


async def test_ipv_trained_clinician_above_untrained_one_equally_near(world: World) -> None:
    key = await world.key()
    await world.partner(key, "Untrained", location=at(3))
    await world.partner(key, "Trained", location=at(3), ipv_trained=True)
    answer = await world.match(needs=["clinician"])
    assert_above(answer, "Trained", "Untrained")


async def test_trained_clinician_8km_need_not_outrank_untrained_3km_but_both_are_offered(
    world: World,
) -> None:
    # A practitioner would accept either order here: nearer versus trained is a trade-off. What
    # they would not accept is one of the two missing.
    key = await world.key()
    await world.partner(key, "Trained 8 km", location=at(8), ipv_trained=True)
    await world.partner(key, "Untrained 3 km", location=at(3))
    answer = await world.match(needs=["clinician"])
    assert {"Trained 8 km", "Untrained 3 km"} <= set(names(answer))


async def test_nearer_clinician_above_an_otherwise_identical_farther_one(world: World) -> None:
    key = await world.key()
    await world.partner(key, "Far 30 km", location=at(30), ipv_trained=True)
    await world.partner(key, "Near 3 km", location=at(3), ipv_trained=True)
    answer = await world.match(needs=["clinician"])
    assert_above(answer, "Near 3 km", "Far 30 km")
    assert entry(answer, "Near 3 km")["distance_band"] == "under_5_km"
    assert entry(answer, "Far 30 km")["distance_band"] == "25_to_50_km"


async def test_remote_clinician_beyond_the_radius_below_an_identical_one_in_reach(world: World) -> None:
    key = await world.key()
    await world.partner(key, "Remote Groningen", location=GRONINGEN, remote_ok=True, ipv_trained=True)
    await world.partner(key, "In reach 45 km", location=at(45), remote_ok=True, ipv_trained=True)
    answer = await world.match(needs=["clinician"], radius_km=50)
    assert_above(answer, "In reach 45 km", "Remote Groningen")
    remote = entry(answer, "Remote Groningen")
    assert remote["in_reach"] is False and remote["distance_band"] is None
    assert entry(answer, "In reach 45 km")["in_reach"] is True


async def test_growing_the_radius_never_pushes_a_local_clinician_under_a_remote_one(world: World) -> None:
    key = await world.key()
    await world.partner(key, "Local 20 km", location=at(20), remote_ok=True, ipv_trained=True)
    await world.partner(key, "Groningen", location=GRONINGEN, remote_ok=True, ipv_trained=True)
    for radius in (25, 50, 200, 500):
        answer = await world.match(needs=["clinician"], radius_km=radius)
        assert_above(answer, "Local 20 km", "Groningen")


async def test_far_clinician_that_does_not_work_remotely_absent_until_the_radius_reaches_it(
    world: World,
) -> None:
    key = await world.key()
    await world.partner(key, "Groningen in person", location=GRONINGEN, ipv_trained=True)
    await world.partner(key, "Local", location=at(5))
    assert "Groningen in person" not in names(await world.match(needs=["clinician"], radius_km=50))
    wide = await world.match(needs=["clinician"], radius_km=200)
    found = entry(wide, "Groningen in person")
    assert found["in_reach"] is True and found["distance_band"] == "over_100_km"


async def test_without_remote_only_partners_within_the_radius(world: World) -> None:
    key = await world.key()
    await world.partner(key, "Remote Groningen", location=GRONINGEN, remote_ok=True, ipv_trained=True)
    await world.partner(key, "Local", location=at(10))
    answer = await world.match(needs=["clinician"], include_remote=False)
    assert names(answer) == ["Local"]


# --- service radius ------------------------------------------------------------------------------


async def test_partner_that_serves_10km_absent_36km_away(world: World) -> None:
    key = await world.key()
    await world.partner(key, "Serves 10 km", location=at(36), service_radius_km=10, ipv_trained=True)
    await world.partner(key, "Serves anywhere", location=at(36))
    answer = await world.match(needs=["clinician"], radius_km=50)
    assert "Serves anywhere" in names(answer)
    assert "Serves 10 km" not in names(answer)


async def test_partner_that_serves_10km_but_works_remotely_is_offered_36km_away_only_as_remote(
    world: World,
) -> None:
    key = await world.key()
    await world.partner(key, "Serves 10 km", location=at(36), service_radius_km=10, remote_ok=True)
    await world.partner(key, "Serves anywhere", location=at(36), remote_ok=True)
    answer = await world.match(needs=["clinician"], radius_km=50)
    limited = entry(answer, "Serves 10 km")
    assert limited["in_reach"] is False and limited["distance_band"] is None
    assert "10 km" in reason_text(limited, "serves_area_up_to")
    assert "nearby" not in codes(limited)
    assert_above(answer, "Serves anywhere", "Serves 10 km")


async def test_partner_that_serves_50km_is_in_reach_36km_away(world: World) -> None:
    key = await world.key()
    await world.partner(key, "Serves 50 km", location=at(36), service_radius_km=50)
    answer = await world.match(needs=["clinician"], radius_km=50)
    found = entry(answer, "Serves 50 km")
    assert found["in_reach"] is True and found["distance_band"] == "25_to_50_km"
    assert "serves_area_up_to" not in codes(found)


# --- remote: country, continent, elsewhere -------------------------------------------------------


async def test_remote_partners_for_marseille_own_country_then_continent_then_elsewhere(world: World) -> None:
    key = await world.key()
    await world.partner(key, "Montreal", location={"place": "Montreal, CA"}, remote_ok=True)
    await world.partner(key, "Barcelona", location={"place": "Barcelona, ES"}, remote_ok=True)
    await world.partner(key, "Lyon", location={"place": "Lyon, FR"}, remote_ok=True)
    await world.partner(key, "Lyon in person", location={"place": "Lyon, FR"})
    answer = await world.match(location={"place": "Marseille, FR"}, needs=["clinician"], radius_km=50)
    assert names(answer) == ["Lyon", "Barcelona", "Montreal"]
    assert "remote_same_country" in codes(entry(answer, "Lyon"))
    assert "remote_same_continent" in codes(entry(answer, "Barcelona"))
    assert "remote_elsewhere" in codes(entry(answer, "Montreal"))


async def test_remote_partner_that_names_no_place_is_offered_below_one_in_your_country(world: World) -> None:
    key = await world.key()
    await world.partner(key, "Nowhere", location_precision="remote", ipv_trained=True)
    await world.partner(key, "Groningen", location=GRONINGEN, remote_ok=True, ipv_trained=True)
    answer = await world.match(needs=["clinician"])
    assert_above(answer, "Groningen", "Nowhere")
    nowhere = entry(answer, "Nowhere")
    assert nowhere["in_reach"] is False and "remote_elsewhere" in codes(nowhere)
    assert "remote_same_country" not in codes(nowhere)


async def test_thirty_fresh_remote_clinicians_of_the_other_side_do_not_push_out_a_same_side_one(
    world: World,
) -> None:
    survivors_a, survivors_b = await world.key(), await world.key()
    for i in range(30):
        await world.partner(
            survivors_a if i % 2 else survivors_b,
            f"Survivors remote {i:02d}",
            specialties=["survivors", "high_risk_clients"],
            location=GRONINGEN,
            remote_ok=True,
            ipv_trained=True,
        )
    key = await world.key()
    await world.partner(key, "PWUV remote", specialties=[PWUV], location=GRONINGEN, remote_ok=True)
    for per_kind in (1, 5):
        answer = await world.match(needs=["clinician"], side=PWUV, per_kind=per_kind)
        assert names(answer) == ["PWUV remote"]


async def test_online_program_far_away_is_offered_as_remote_an_in_person_one_is_not(world: World) -> None:
    key = await world.key()
    await world.program(key, "Online Groningen", location=GRONINGEN, delivery="online")
    await world.program(key, "In person Groningen", location=GRONINGEN, delivery="in_person")
    answer = await world.match(needs=["peer_program"], side=PWUV)
    assert names(answer, "peer_program") == ["Online Groningen"]
    assert entry(answer, "Online Groningen", "peer_program")["in_reach"] is False


# --- sides kept apart ----------------------------------------------------------------------------


async def _three_sides_of_programs(world: World) -> None:
    key = await world.key()
    await world.program(key, "Survivor circle", side="survivors")
    await world.program(
        key, "Survivor circle online", side="survivors", location=GRONINGEN, delivery="online"
    )
    await world.program(key, "Men's twelve steps", side=PWUV)
    await world.program(key, "PWUV online", side=PWUV, location=GRONINGEN, delivery="online")
    await world.program(key, "Family circle", side="both")


async def test_initiator_for_people_who_use_violence_never_gets_survivor_groups(world: World) -> None:
    await _three_sides_of_programs(world)
    body = await world.match_text(needs=["peer_program"], side=PWUV)
    answer: Json = json.loads(body)
    assert set(names(answer, "peer_program")) == {"Men's twelve steps", "PWUV online", "Family circle"}
    assert "Survivor circle" not in body


async def test_survivor_initiator_never_gets_groups_for_people_who_use_violence(world: World) -> None:
    await _three_sides_of_programs(world)
    answer = await world.match(needs=["peer_program"], side="survivors")
    assert set(names(answer, "peer_program")) == {
        "Survivor circle",
        "Survivor circle online",
        "Family circle",
    }


async def test_initiator_for_both_sides_sees_groups_of_both_sides(world: World) -> None:
    await _three_sides_of_programs(world)
    answer = await world.match(needs=["peer_program"], side="both")
    assert set(names(answer, "peer_program")) == {
        "Survivor circle",
        "Survivor circle online",
        "Men's twelve steps",
        "PWUV online",
        "Family circle",
    }


async def test_partner_serving_only_survivors_not_offered_to_a_pwuv_initiator(world: World) -> None:
    key = await world.key()
    await world.partner(
        key, "Survivors only", specialties=["survivors", "high_risk_clients"], ipv_trained=True
    )
    await world.partner(
        key, "Survivors only remote", specialties=["survivors"], location=GRONINGEN, remote_ok=True
    )
    await world.partner(key, "PWUV", specialties=[PWUV])
    await world.partner(key, "Both sides", specialties=["survivors", PWUV], location_precision="exact")
    await world.partner(key, "Says nothing of sides", specialties=["trauma"])
    answer = await world.match(needs=["clinician"], side=PWUV)
    assert set(names(answer)) == {"PWUV", "Both sides", "Says nothing of sides"}
    assert "no_side_stated" in codes(entry(answer, "Says nothing of sides"))
    assert "same_side" in codes(entry(answer, "PWUV"))


async def test_partners_serving_only_pwuv_not_offered_to_a_survivor_initiator(world: World) -> None:
    key = await world.key()
    await world.partner(key, "PWUV clinician", specialties=[PWUV], ipv_trained=True)
    await world.partner(key, "PWUV treatment", kind="treatment_program", specialties=[PWUV])
    await world.partner(key, "Survivor clinician", specialties=["survivors"], location_precision="exact")
    await world.partner(
        key,
        "Survivor treatment",
        kind="treatment_program",
        specialties=["survivors"],
        location_precision="exact",
    )
    answer = await world.match(needs=["clinician", "treatment_program"], side="survivors")
    assert names(answer) == ["Survivor clinician"]
    assert names(answer, "treatment_program") == ["Survivor treatment"]


async def test_same_side_clinician_above_one_that_states_no_side(world: World) -> None:
    key = await world.key()
    await world.partner(key, "No side", ipv_trained=True)
    await world.partner(key, "PWUV", specialties=[PWUV], ipv_trained=True)
    answer = await world.match(needs=["clinician"], side=PWUV)
    assert_above(answer, "PWUV", "No side")


async def test_survivor_focused_evaluator_not_offered_for_a_pwuv_group(world: World) -> None:
    key = await world.key()
    await world.partner(
        key, "Survivor evaluator", kind="evaluator", specialties=["survivors"], methods=["pre_post"]
    )
    await world.partner(key, "PWUV evaluator", kind="evaluator", specialties=[PWUV], methods=["pre_post"])
    await world.partner(key, "General evaluator", kind="evaluator", methods=["pre_post"])
    answer = await world.match(needs=["evaluator"], side=PWUV)
    assert set(names(answer, "evaluator")) == {"PWUV evaluator", "General evaluator"}


# --- at most two of one organization -------------------------------------------------------------


async def test_ten_remote_clinicians_of_one_organization_take_at_most_two_of_five_places(
    world: World,
) -> None:
    big_org, big = await world.org()
    for i in range(10):
        await world.partner(
            big,
            f"Big remote {i}",
            location=GRONINGEN,
            remote_ok=True,
            ipv_trained=True,
            specialties=["high_risk_clients"],
        )
    for i in range(3):
        await world.partner(await world.key(), f"Small local {i}", location=at(20))
    answer = await world.match(needs=["clinician"], per_kind=5)
    results = answer["results"]["clinician"]
    assert len(results) == 5
    assert sum(1 for c in results if c["listing"]["organization_id"] == big_org["id"]) == 2
    assert {"Small local 0", "Small local 1", "Small local 2"} <= set(names(answer))
    assert answer["held_back"]["clinician"] == 8


async def test_third_place_goes_to_another_organization_and_held_back_says_so(world: World) -> None:
    big = await world.key()
    for i in range(4):
        await world.partner(big, f"Big trained {i}", ipv_trained=True, specialties=["high_risk_clients"])
    await world.partner(await world.key(), "Small untrained", location=at(8))
    answer = await world.match(needs=["clinician"], per_kind=3)
    assert names(answer) == ["Big trained 0", "Big trained 1", "Small untrained"]
    assert answer["held_back"]["clinician"] == 2


async def test_organization_cap_lifted_when_too_few_others(world: World) -> None:
    big = await world.key()
    for i in range(4):
        await world.partner(big, f"Big {i}", ipv_trained=True)
    await world.partner(await world.key(), "Small")
    answer = await world.match(needs=["clinician"], per_kind=5)
    assert set(names(answer)) == {"Big 0", "Big 1", "Big 2", "Big 3", "Small"}
    assert answer["held_back"]["clinician"] == 0


async def test_organization_cap_counts_each_kind_on_its_own(world: World) -> None:
    big = await world.key()
    for i in range(3):
        await world.partner(big, f"Big clinician {i}", ipv_trained=True)
    for i in range(2):
        await world.partner(big, f"Big evaluator {i}", kind="evaluator", methods=["pre_post"])
    await world.partner(await world.key(), "Small clinician")
    await world.partner(await world.key(), "Small evaluator", kind="evaluator")
    answer = await world.match(needs=["clinician", "evaluator"], per_kind=3)
    assert names(answer) == ["Big clinician 0", "Big clinician 1", "Small clinician"]
    assert names(answer, "evaluator") == ["Big evaluator 0", "Big evaluator 1", "Small evaluator"]
    assert answer["held_back"] == {"clinician": 1, "evaluator": 0}


# --- freshness: a factor, never a gate -----------------------------------------------------------


async def test_listing_not_confirmed_for_two_years_is_still_offered_and_says_so(world: World) -> None:
    key = await world.key()
    old = await world.partner(key, "Old listing", ipv_trained=True)
    await world.age(old, 800)
    answer = await world.match(needs=["clinician"])
    found = entry(answer, "Old listing")
    assert "not_recently_verified" in codes(found) and "recently_verified" not in codes(found)


async def test_stale_trained_clinician_above_fresh_untrained_one_equally_near(world: World) -> None:
    key = await world.key()
    stale = await world.partner(key, "Stale trained", ipv_trained=True, specialties=["high_risk_clients"])
    await world.partner(key, "Fresh untrained")
    await world.age(stale, 800)
    answer = await world.match(needs=["clinician"])
    assert_above(answer, "Stale trained", "Fresh untrained")


async def test_fresh_clinician_above_stale_one_when_otherwise_identical(world: World) -> None:
    key = await world.key()
    stale = await world.partner(key, "A stale", ipv_trained=True)
    await world.partner(key, "B fresh", ipv_trained=True)
    await world.age(stale, 800)
    answer = await world.match(needs=["clinician"])
    assert_above(answer, "B fresh", "A stale")
    assert "recently_verified" in codes(entry(answer, "B fresh"))


async def test_fresh_remote_clinicians_do_not_push_out_a_stale_local_trained_one(world: World) -> None:
    local = await world.partner(await world.key(), "Stale local", location=at(4), ipv_trained=True)
    await world.age(local, 800)
    for org in range(3):
        key = await world.key()
        for i in range(2):
            await world.partner(
                key, f"Fresh remote {org}-{i}", location=GRONINGEN, remote_ok=True, ipv_trained=True
            )
    answer = await world.match(needs=["clinician"], per_kind=5)
    assert names(answer)[0] == "Stale local"


# --- language: named, or the country's as a soft preference --------------------------------------


async def test_local_dutch_speaking_clinician_above_english_only_remote_one_in_utrecht(world: World) -> None:
    key = await world.key()
    await world.partner(
        key,
        "English remote",
        location={"place": "London, GB"},
        remote_ok=True,
        languages=["en"],
        ipv_trained=True,
    )
    await world.partner(key, "Dutch local", location=at(12), languages=["nl"], ipv_trained=True)
    answer = await world.match(needs=["clinician"])
    assert_above(answer, "Dutch local", "English remote")


async def test_country_language_preferred_when_none_is_named(world: World) -> None:
    key = await world.key()
    await world.partner(key, "English only", languages=["en"])
    await world.partner(key, "Lists none")
    await world.partner(key, "Dutch", languages=["nl"])
    answer = await world.match(needs=["clinician"])
    assert_above(answer, "Dutch", "English only")
    assert_above(answer, "Dutch", "Lists none")
    assert "nl" in reason_text(entry(answer, "Dutch"), "country_language")
    assert "no_country_language" in codes(entry(answer, "English only"))
    assert "no_languages_listed" in codes(entry(answer, "Lists none"))


async def test_named_language_takes_the_place_of_the_country_languages(world: World) -> None:
    key = await world.key()
    await world.partner(key, "Dutch only", languages=["nl"])
    await world.partner(key, "English", languages=["en", "fr"])
    answer = await world.match(needs=["clinician"], languages=["en"])
    assert_above(answer, "English", "Dutch only")
    assert "en" in reason_text(entry(answer, "English"), "language_match")
    assert "no_shared_language" in codes(entry(answer, "Dutch only"))
    assert not any("country_language" in codes(c) for c in every_result(answer))


async def test_country_language_is_soft_a_near_english_only_clinician_above_a_remote_dutch_one(
    world: World,
) -> None:
    key = await world.key()
    await world.partner(key, "Dutch Groningen", location=GRONINGEN, remote_ok=True, languages=["nl"])
    await world.partner(key, "English 3 km", location=at(3), languages=["en"])
    answer = await world.match(needs=["clinician"])
    assert_above(answer, "English 3 km", "Dutch Groningen")


async def test_any_language_of_belgium_counts_for_an_initiator_in_brussels(world: World) -> None:
    key = await world.key()
    brussels = {"place": "Brussels, BE"}
    await world.partner(key, "English", location=brussels, languages=["en"])
    await world.partner(key, "French", location=brussels, languages=["fr"])
    await world.partner(key, "Dutch", location=brussels, languages=["nl"])
    answer = await world.match(location=brussels, needs=["clinician"])
    assert_above(answer, "French", "English")
    assert_above(answer, "Dutch", "English")
    assert "country_language" in codes(entry(answer, "French"))
    assert "country_language" in codes(entry(answer, "Dutch"))


# --- populations ---------------------------------------------------------------------------------


async def test_clinician_serving_the_named_population_above_one_that_does_not(world: World) -> None:
    key = await world.key()
    await world.partner(key, "Women only", populations=["women"], ipv_trained=True)
    await world.partner(key, "Men", populations=["men"], ipv_trained=True)
    answer = await world.match(needs=["clinician"], populations=["men"])
    assert_above(answer, "Men", "Women only")
    assert "men" in reason_text(entry(answer, "Men"), "population_overlap")
    assert "no_shared_population" in codes(entry(answer, "Women only"))


async def test_serving_more_of_the_named_populations_ranks_higher(world: World) -> None:
    key = await world.key()
    await world.partner(key, "Men", populations=["men"])
    await world.partner(key, "Men, court referred", populations=["men", "court_referred"])
    answer = await world.match(needs=["clinician"], populations=["men", "court_referred"])
    assert_above(answer, "Men, court referred", "Men")
    covered = reason_text(entry(answer, "Men, court referred"), "population_overlap")
    assert "men" in covered and "court_referred" in covered


# --- programs: formats, mentoring ----------------------------------------------------------------


async def test_program_running_the_named_format_above_one_running_another(world: World) -> None:
    key = await world.key()
    await world.program(key, "Psychoeducational", formats=["psychoeducational"])
    await world.program(key, "Twelve steps", formats=["twelve_step"])
    answer = await world.match(needs=["peer_program"], side=PWUV, formats=["twelve_step"])
    assert_above(answer, "Twelve steps", "Psychoeducational", "peer_program")
    assert "format_overlap" in codes(entry(answer, "Twelve steps", "peer_program"))
    assert "no_shared_format" in codes(entry(answer, "Psychoeducational", "peer_program"))


async def test_naming_formats_does_not_change_how_clinicians_score(world: World) -> None:
    key = await world.key()
    await world.partner(key, "Near", location=at(3))
    await world.partner(key, "Trained", location=at(15), ipv_trained=True)
    plain = await world.match(needs=["clinician"], side=PWUV)
    with_formats = await world.match(needs=["clinician"], side=PWUV, formats=["twelve_step"])
    assert [(c["listing"]["name"], c["score"]) for c in plain["results"]["clinician"]] == [
        (c["listing"]["name"], c["score"]) for c in with_formats["results"]["clinician"]
    ]


async def test_program_open_to_mentoring_above_one_that_is_not(world: World) -> None:
    key = await world.key()
    await world.program(key, "Closed door", formats=["twelve_step"])
    await world.program(key, "Open door", formats=["twelve_step"], open_to_mentoring=True)
    answer = await world.match(needs=["peer_program"], side=PWUV)
    assert_above(answer, "Open door", "Closed door", "peer_program")
    assert "open_to_mentoring" in codes(entry(answer, "Open door", "peer_program"))
    assert "open_to_mentoring" not in codes(entry(answer, "Closed door", "peer_program"))


# --- trainers: what their courses cover ----------------------------------------------------------


async def test_trainer_covering_the_needed_topics_above_one_with_many_courses_off_topic(world: World) -> None:
    key = await world.key()
    await world.partner(
        key,
        "Many courses",
        kind="trainer",
        courses=[f"Evaluation module {i}" for i in range(12)],
        course_topics=["evaluation"],
    )
    await world.partner(
        key,
        "One course",
        kind="trainer",
        courses=["Starting a group safely"],
        course_topics=["ipv_basics", "facilitation", "high_risk_clients"],
    )
    answer = await world.match(needs=["trainer"])
    assert_above(answer, "One course", "Many courses", "trainer")
    covered = reason_text(entry(answer, "One course", "trainer"), "courses_cover")
    assert all(t in covered for t in ("ipv_basics", "facilitation", "high_risk_clients"))
    assert "courses_miss" in codes(entry(answer, "Many courses", "trainer"))


async def test_trainer_matched_by_the_topics_asked_for(world: World) -> None:
    key = await world.key()
    await world.partner(
        key, "Basics", kind="trainer", course_topics=["ipv_basics", "facilitation", "high_risk_clients"]
    )
    await world.partner(key, "Trauma", kind="trainer", course_topics=["trauma_informed_practice"])
    answer = await world.match(needs=["trainer"], topics=["trauma_informed_practice"])
    assert_above(answer, "Trauma", "Basics", "trainer")
    assert "courses_miss" in codes(entry(answer, "Basics", "trainer"))


async def test_number_of_courses_listed_does_not_change_a_trainers_score(world: World) -> None:
    key = await world.key()
    topics = ["ipv_basics", "facilitation"]
    await world.partner(
        key, "Twelve courses", kind="trainer", courses=[f"C{i}" for i in range(12)], course_topics=topics
    )
    await world.partner(key, "One course", kind="trainer", courses=["C"], course_topics=topics)
    answer = await world.match(needs=["trainer"])
    many = entry(answer, "Twelve courses", "trainer")
    one = entry(answer, "One course", "trainer")
    assert many["score"] == one["score"]


# --- evaluators ----------------------------------------------------------------------------------


async def test_evaluator_with_an_ipv_focus_above_a_general_one(world: World) -> None:
    key = await world.key()
    await world.partner(key, "General", kind="evaluator", methods=["pre_post"])
    await world.partner(key, "IPV focused", kind="evaluator", methods=["pre_post"], specialties=[PWUV])
    answer = await world.match(needs=["evaluator"])
    assert_above(answer, "IPV focused", "General", "evaluator")
    assert "ipv_focus" in codes(entry(answer, "IPV focused", "evaluator"))
    assert "ipv_focus" not in codes(entry(answer, "General", "evaluator"))


async def test_evaluator_offering_designs_above_one_listing_none(world: World) -> None:
    key = await world.key()
    await world.partner(key, "No designs", kind="evaluator")
    await world.partner(key, "Designs", kind="evaluator", methods=["qualitative", "pre_post"])
    answer = await world.match(needs=["evaluator"])
    assert_above(answer, "Designs", "No designs", "evaluator")
    offered = reason_text(entry(answer, "Designs", "evaluator"), "evaluation_methods")
    assert "qualitative" in offered and "pre_post" in offered
    assert "no_evaluation_methods" in codes(entry(answer, "No designs", "evaluator"))


# --- evaluation evidence -------------------------------------------------------------------------


async def test_evaluation_reasons_name_the_actual_stage_and_evidence_ranks(world: World) -> None:
    key = await world.key()
    await world.program(key, "No evaluation")
    running = await world.program(key, "Pilot running")
    published = await world.program(key, "Published")
    await world.evaluate(key, running, "pilot_planned")
    await world.evaluate(key, running, "pilot_running")
    await world.evaluate(key, published, "published")
    answer = await world.match(needs=["peer_program"], side=PWUV)
    evidence = {
        name: {c for c in codes(entry(answer, name, "peer_program")) if c.startswith("evidence_")}
        for name in ("No evaluation", "Pilot running", "Published")
    }
    assert evidence == {
        "No evaluation": {"evidence_none"},
        "Pilot running": {"evidence_pilot_running"},
        "Published": {"evidence_published"},
    }
    assert_above(answer, "Published", "Pilot running", "peer_program")
    assert_above(answer, "Pilot running", "No evaluation", "peer_program")


# --- negative reasons are true too ---------------------------------------------------------------


async def test_partner_not_accepting_partnerships_says_so_and_ranks_below_an_accepting_one(
    world: World,
) -> None:
    key = await world.key()
    await world.partner(key, "A full", ipv_trained=True, accepting_partnerships=False)
    await world.partner(key, "B open", ipv_trained=True)
    answer = await world.match(needs=["clinician"])
    assert_above(answer, "B open", "A full")
    full = codes(entry(answer, "A full"))
    assert "not_accepting" in full and "accepting_partnerships" not in full
    assert "accepting_partnerships" in codes(entry(answer, "B open"))


async def test_untrained_clinician_claims_no_training_and_no_high_risk_experience(world: World) -> None:
    key = await world.key()
    await world.partner(key, "Untrained")
    await world.partner(key, "Trained", ipv_trained=True, specialties=["high_risk_clients"])
    answer = await world.match(needs=["clinician"])
    untrained = codes(entry(answer, "Untrained"))
    assert "not_ipv_trained" in untrained
    assert not {"ipv_trained", "high_risk_experience"} & untrained
    assert {"ipv_trained", "high_risk_experience"} <= codes(entry(answer, "Trained"))


async def test_distance_reasons_are_true(world: World) -> None:
    key = await world.key()
    await world.partner(key, "4 km", location=at(4))
    await world.partner(key, "20 km", location=at(20))
    await world.partner(key, "75 km", location=at(0, 75))
    answer = await world.match(needs=["clinician"], radius_km=100)
    near, middle, far = (codes(entry(answer, n)) for n in ("4 km", "20 km", "75 km"))
    assert "nearby" in near and "far" not in near
    assert not {"nearby", "far"} & middle
    assert "far" in far and "nearby" not in far
    assert entry(answer, "75 km")["distance_band"] == "50_to_100_km"


async def test_every_reason_and_factor_is_in_the_explanations_catalogue(world: World) -> None:
    key = await world.key()
    await world.partner(key, "Clinician", specialties=[PWUV], languages=["en"], accepting_partnerships=False)
    await world.partner(key, "Remote evaluator", kind="evaluator", location=GRONINGEN, remote_ok=True)
    await world.partner(
        key, "Trainer", kind="trainer", course_topics=["facilitation"], service_radius_km=1, remote_ok=True
    )
    program = await world.program(key, "Program", formats=["twelve_step"], populations=["men"])
    await world.evaluate(key, program, "pilot_completed")
    answer = await world.match(side=PWUV, populations=["men"], formats=["mutual_aid_circle"])
    catalogue = (await world.client.get("/matches/explanations")).json()
    reasons = {r["code"]: r["text"] for r in catalogue["reasons"]}
    factors = {f["code"] for f in catalogue["factors"]}
    results = every_result(answer)
    assert len(results) == 4
    for result in results:
        for reason in result["reasons"]:
            assert reason["code"] in reasons, reason
            pattern = re.escape(reasons[reason["code"]]).replace(r"\{\}", ".+")
            assert re.fullmatch(pattern, reason["text"]), reason
        assert {p["factor"] for p in result["breakdown"]} <= factors


# --- breakdown -----------------------------------------------------------------------------------


async def test_breakdown_contributions_add_up_to_every_score(world: World) -> None:
    key = await world.key()
    stale = await world.partner(
        key, "Stale clinician", specialties=[PWUV], ipv_trained=True, languages=["nl"]
    )
    await world.age(stale, 200)
    await world.partner(key, "Remote clinician", location=GRONINGEN, remote_ok=True, populations=["men"])
    await world.partner(key, "Evaluator", kind="evaluator", methods=["randomised"], location=at(30))
    await world.partner(key, "Trainer", kind="trainer", course_topics=["ipv_basics"], certifications=["Cert"])
    await world.program(key, "Program", formats=["twelve_step"], open_to_mentoring=True)
    await world.program(key, "Online", location={"place": "Lyon, FR"}, delivery="online")
    answer = await world.match(side=PWUV, populations=["men"], formats=["twelve_step"])
    results = every_result(answer)
    assert len(results) == 6
    for result in results:
        parts = result["breakdown"]
        assert sum(p["contribution"] for p in parts) == pytest.approx(result["score"], abs=1e-3)
        assert sum(p["weight"] for p in parts) == pytest.approx(1.0, abs=1e-3)
        for p in parts:
            assert p["contribution"] == pytest.approx(p["weight"] * p["value"], abs=1e-3)
            assert 0.0 <= p["value"] <= 1.0


# --- programs being planned ----------------------------------------------------------------------


async def test_program_being_planned_is_not_offered_by_default(world: World) -> None:
    key = await world.key()
    await world.program(key, "Planned", status="planning", open_to_mentoring=True)
    await world.program(key, "Running")
    answer = await world.match(needs=["peer_program"], side=PWUV)
    assert names(answer, "peer_program") == ["Running"]


async def test_program_being_planned_is_offered_when_asked_for_and_says_so(world: World) -> None:
    key = await world.key()
    await world.program(key, "Planned", status="planning")
    await world.program(key, "Running")
    answer = await world.match(needs=["peer_program"], side=PWUV, include_planning=True)
    assert set(names(answer, "peer_program")) == {"Planned", "Running"}
    assert "planning" in codes(entry(answer, "Planned", "peer_program"))
    assert "planning" not in codes(entry(answer, "Running", "peer_program"))


@pytest.mark.parametrize("first", [True, False])
async def test_programs_being_planned_are_offered_only_to_requests_asking_whichever_came_first(
    world: World, first: bool
) -> None:
    """Lists are read once for requests with and without planned programs (whichever comes first
    reads them): those without must not see the planned ones, in reach or remote, and those with
    must. Each asks a different per_kind, so none is answered from the answers' cache."""
    key = await world.key()
    await world.program(key, "Planned", status="planning")
    await world.program(key, "Planned online", status="planning", location=GRONINGEN, delivery="online")
    await world.program(key, "Running")
    await world.program(key, "Running online", location=GRONINGEN, delivery="online")
    for per_kind, planning in enumerate((first, not first, first, not first), start=5):
        answer = await world.match(
            needs=["peer_program"], side=PWUV, include_planning=planning, per_kind=per_kind
        )
        found = {c["listing"]["name"]: c["in_reach"] for c in answer["results"]["peer_program"]}
        expected = {"Running": True, "Running online": False}
        if planning:
            expected |= {"Planned": True, "Planned online": False}
        assert found == expected


# --- never offered -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["paused", "closed"])
async def test_paused_or_closed_listings_are_never_offered(world: World, status: str) -> None:
    key = await world.key()
    await world.partner(key, f"Clinician {status}", status=status, ipv_trained=True)
    await world.partner(key, f"Remote clinician {status}", status=status, location=GRONINGEN, remote_ok=True)
    await world.program(key, f"Program {status}", status=status, open_to_mentoring=True)
    await world.program(key, f"Online program {status}", status=status, delivery="online")
    answer = await world.match(needs=["clinician", "peer_program"], side=PWUV, include_planning=True)
    assert answer["results"] == {"clinician": [], "peer_program": []}


async def test_partner_being_planned_is_never_offered(world: World) -> None:
    """Only peer programs are offered while being planned, and only when asked for."""
    key = await world.key()
    await world.partner(key, "Clinician planned", status="planning", ipv_trained=True)
    await world.partner(
        key, "Remote clinician planned", status="planning", location=GRONINGEN, remote_ok=True
    )
    await world.partner(key, "Clinician running")
    for planning in (True, False):
        answer = await world.match(needs=["clinician"], include_planning=planning)
        assert names(answer, "clinician") == ["Clinician running"]


async def test_archived_partner_is_never_offered(world: World) -> None:
    key = await world.key()
    archived = await world.partner(key, "Archived", ipv_trained=True, remote_ok=True)
    await world.partner(key, "Kept")
    etag = (await world.client.get(f"/partners/{archived['id']}")).headers["etag"]
    response = await world.client.delete(
        f"/partners/{archived['id']}", headers={**bearer(key), "If-Match": etag}
    )
    assert response.status_code == 204, response.text
    answer = await world.match(needs=["clinician"])
    assert names(answer) == ["Kept"]


async def test_listings_of_an_unverified_organization_are_never_offered(world: World) -> None:
    _, unverified = await register_org(world.client, kinds=ALL_KINDS)
    await world.partner(unverified, "Unverified near", ipv_trained=True)
    await world.partner(unverified, "Unverified remote", location=GRONINGEN, remote_ok=True)
    await world.program(unverified, "Unverified group", open_to_mentoring=True)
    await world.partner(await world.key(), "Verified")
    answer = await world.match(needs=["clinician", "peer_program"], side=PWUV)
    assert names(answer) == ["Verified"]
    assert names(answer, "peer_program") == []


async def test_listings_of_a_suspended_organization_are_never_offered(world: World) -> None:
    org, key = await world.org()
    await world.partner(key, "Suspended near", ipv_trained=True)
    await world.partner(key, "Suspended remote", location=GRONINGEN, remote_ok=True)
    await world.partner(await world.key(), "Other")
    before = await world.match(needs=["clinician"])
    assert "Suspended near" in names(before)
    response = await world.client.post(
        f"/organizations/{org['id']}/suspend", json={"reason": "A fake group"}, headers=bearer(world.steward)
    )
    assert response.status_code == 200, response.text
    after = await world.match(needs=["clinician"])
    assert names(after) == ["Other"]


# --- contacts ------------------------------------------------------------------------------------


async def test_on_introduction_contacts_are_never_in_a_match_answer(world: World) -> None:
    owner = await world.key()
    other = await world.key()
    await world.partner(
        owner,
        "With contacts",
        contacts=[
            {"name": "Dr Private", "email": "private@example.org", "visibility": "on_introduction"},
            {"role": "Desk", "email": "desk@example.org", "visibility": "public"},
            {"role": "Partners", "email": "partners@example.org", "visibility": "verified_orgs"},
        ],
    )
    for caller in (None, other, owner, world.steward):
        body = await world.match_text(caller, needs=["clinician"])
        assert "With contacts" in body
        assert "private@example.org" not in body and "Dr Private" not in body
        assert "desk@example.org" in body
    assert "partners@example.org" not in await world.match_text(None, needs=["clinician"])
    assert "partners@example.org" in await world.match_text(other, needs=["clinician"])
