"""Location privacy through HTTP: `area` listings keep no address and only a coarse point,
distances leave the API as bands only, and `near` reads coordinates, ZIP codes and cities."""

import json
import logging

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from registry.locations.geo import BAND_CODES, distance_band
from tests.factories import Client, bearer, role_key, verified_org
from tests.listings.builders import (
    DENVER,
    UTRECHT,
    assert_only_distance_bands,
    coordinate_texts,
    create_program,
    items_of,
    km_between,
    listing_row,
    north_of,
    with_etag,
)

ADDRESS = "Oudegracht 231, 3511 NK Utrecht"
SECOND_ADDRESS = "Biltstraat 88, 3572 BH Utrecht"


def assert_no_precise_location(response: httpx.Response, point: tuple[float, float], *addresses: str) -> None:
    """Nothing in the answer gives away the address or the precise point."""
    assert response.status_code in (200, 201), response.text
    body = response.text
    for address in addresses:
        for part in address.replace(",", " ").split():
            if len(part) > 3 and not part.isdigit() and part != "Utrecht":
                assert part not in body, (part, response.request.url)
    for value in point:
        for printed in coordinate_texts(value):
            assert printed not in body, (printed, response.request.url)


async def test_an_area_program_never_shows_or_stores_its_address_or_precise_point(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    _, other = await verified_org(client, steward)
    created = await client.post(
        "/programs",
        json={
            "name": "Safe Harbour survivors circle",
            "side": "survivors",
            "location": {"latitude": UTRECHT[0], "longitude": UTRECHT[1], "address": ADDRESS},
        },
        headers=bearer(key),
    )
    assert_no_precise_location(created, UTRECHT, ADDRESS)
    program = created.json()
    path = f"/programs/{program['id']}"
    shown = program["location"]
    assert shown["precision"] == "area"
    assert shown["address"] is None and shown["postal_code"] is None
    coarse = (shown["latitude"], shown["longitude"])
    assert coarse != UTRECHT and 0 < km_between(coarse, UTRECHT) < 4.0
    assert shown["locality"] and shown["country"] == "NL"

    row = await listing_row(db, program["id"])
    assert row.location_precision == "area"
    assert row.address is None and row.postal_code is None
    assert row.latitude is not None and row.longitude is not None
    assert (row.latitude, row.longitude) == coarse
    assert row.latitude != UTRECHT[0] and row.longitude != UTRECHT[1]
    assert km_between((row.latitude, row.longitude), UTRECHT) < 4.0

    responses = []
    for headers in ({}, bearer(key), bearer(other), bearer(steward)):
        responses.append(await client.get(path, headers=headers))
        responses.append(await client.get("/programs", headers=headers))
        for near in ("52.09,5.12", f"{UTRECHT[0]},{UTRECHT[1]}", "Utrecht, NL"):
            responses.append(await client.get("/programs", params={"near": near}, headers=headers))
    etag = responses[0].headers["etag"]
    responses.append(await client.patch(path, json={"name": "Renamed circle"}, headers=with_etag(key, etag)))
    responses.append(await client.post(f"{path}/reverify", headers=bearer(key)))
    for response in responses:
        assert_no_precise_location(response, UTRECHT, ADDRESS)
        [item] = items_of(response)
        assert item["location"] == shown, response.request.url
        assert_only_distance_bands(response.json())

    # Moving the group: the new address and point are as invisible as the old ones.
    moved_to = north_of(UTRECHT, 2.2)
    etag = responses[-1].headers["etag"]
    moved = await client.patch(
        path,
        json={"location": {"latitude": moved_to[0], "longitude": moved_to[1], "address": SECOND_ADDRESS}},
        headers=with_etag(key, etag),
    )
    assert_no_precise_location(moved, moved_to, SECOND_ADDRESS, ADDRESS)
    location = moved.json()["location"]
    assert location["precision"] == "area" and location["address"] is None
    assert km_between((location["latitude"], location["longitude"]), moved_to) < 4.0
    row = await listing_row(db, program["id"])
    assert row.address is None and row.latitude != moved_to[0]
    assert_no_precise_location(await client.get(path), moved_to, SECOND_ADDRESS)

    # Not in any column of the row, nor in the audit log.
    for table in ("listing", "audit_event", "contact", "evaluation_record"):
        dump = "\n".join((await db.execute(text(f"SELECT t::text FROM {table} t"))).scalars().all())  # noqa: S608
        for needle in (
            "Oudegracht",
            "Biltstraat",
            *coordinate_texts(UTRECHT[0]),
            *coordinate_texts(moved_to[0]),
        ):
            assert needle not in dump, (table, needle)


@pytest.mark.parametrize(
    ("side", "delivery", "with_location", "precision"),
    [
        ("survivors", "in_person", True, "area"),
        ("survivors", "hybrid", True, "area"),
        ("both", "in_person", True, "area"),
        ("people_who_use_violence", "in_person", True, "exact"),
        ("survivors", "online", False, "remote"),
        ("people_who_use_violence", "online", False, "remote"),
    ],
)
async def test_default_precision_protects_survivor_groups(
    client: Client, db: AsyncSession, side: str, delivery: str, with_location: bool, precision: str
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    location = (
        {"latitude": UTRECHT[0], "longitude": UTRECHT[1], "address": ADDRESS} if with_location else None
    )
    program, _ = await create_program(client, key, side=side, delivery=delivery, location=location)
    assert program["location"]["precision"] == precision
    row = await listing_row(db, program["id"])
    assert row.location_precision == precision
    if precision == "exact":
        assert row.address == ADDRESS and (row.latitude, row.longitude) == UTRECHT
    else:
        assert row.address is None and row.latitude != UTRECHT[0]


async def test_a_survivor_group_without_a_location_must_say_it_is_remote(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    response = await client.post(
        "/programs",
        json={"name": "Nowhere", "side": "survivors", "delivery": "in_person"},
        headers=bearer(key),
    )
    assert response.status_code == 422
    assert "location" in response.json()["detail"]


async def test_an_exact_listing_publishes_its_address(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    program, _ = await create_program(
        client,
        key,
        side="survivors",
        location_precision="exact",
        location={"latitude": UTRECHT[0], "longitude": UTRECHT[1], "address": ADDRESS},
    )
    for response in (
        await client.get(f"/programs/{program['id']}"),
        await client.get("/programs", params={"near": "Utrecht, NL"}),
    ):
        [item] = items_of(response)
        location = item["location"]
        assert location["precision"] == "exact" and location["address"] == ADDRESS
        assert (location["latitude"], location["longitude"]) == UTRECHT
    row = await listing_row(db, program["id"])
    assert row.address == ADDRESS and (row.latitude, row.longitude) == UTRECHT


async def test_changing_an_exact_listing_to_area_drops_its_address_and_coarsens_its_point(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    program, etag = await create_program(
        client, key, location={"latitude": UTRECHT[0], "longitude": UTRECHT[1], "address": ADDRESS}
    )
    assert program["location"]["address"] == ADDRESS
    changed = await client.patch(
        f"/programs/{program['id']}", json={"location_precision": "area"}, headers=with_etag(key, etag)
    )
    assert_no_precise_location(changed, UTRECHT, ADDRESS)
    assert changed.json()["location"]["precision"] == "area"
    row = await listing_row(db, program["id"])
    assert row.address is None and row.latitude is not None and row.longitude is not None
    assert row.latitude != UTRECHT[0] and km_between((row.latitude, row.longitude), UTRECHT) < 4.0
    # Going back to exact needs the location again: the stored point is coarse now.
    back = await client.patch(
        f"/programs/{program['id']}",
        json={"location_precision": "exact"},
        headers=with_etag(key, changed.headers["etag"]),
    )
    assert back.status_code == 422


async def test_area_listings_from_a_zip_or_a_city_keep_only_a_coarse_point(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    by_zip, _ = await create_program(client, key, side="survivors", location={"postal_code": "80202"})
    location = by_zip["location"]
    assert location["precision"] == "area" and location["postal_code"] is None
    assert location["locality"] == "Denver" and location["country"] == "US"
    assert km_between((location["latitude"], location["longitude"]), DENVER) < 10
    row = await listing_row(db, by_zip["id"])
    assert row.postal_code is None and row.address is None
    assert "80202" not in (await client.get(f"/programs/{by_zip['id']}")).text

    by_city, _ = await create_program(client, key, side="survivors", location={"place": "Utrecht, NL"})
    assert by_city["location"]["locality"] == "Utrecht" and by_city["location"]["precision"] == "area"
    assert km_between((by_city["location"]["latitude"], by_city["location"]["longitude"]), UTRECHT) < 4.0

    unknown = await client.post(
        "/programs",
        json={"name": "Lost", "side": "survivors", "location": {"place": "Atlantis, NL"}},
        headers=bearer(key),
    )
    assert unknown.status_code == 422 and "Atlantis" in unknown.json()["detail"]


# --- distance bands ----------------------------------------------------------------------

# name -> km due north of UTRECHT; every distance sits well inside its band.
SPOTS = {
    "Zulu group": 2.0,
    "Mike group": 3.0,
    "Bravo group": 7.0,
    "Alpha group": 15.0,
    "Echo group": 30.0,
    "Yankee group": 78.0,
    "Faraway group": 300.0,
}


async def _spread_programs(client: Client, key: str) -> None:
    for name, km in SPOTS.items():
        point = north_of(UTRECHT, km)
        await create_program(client, key, name=name, location={"latitude": point[0], "longitude": point[1]})
    await create_program(client, key, name="Online group", delivery="online", location=None)


async def test_near_search_answers_bands_only_ordered_by_band_then_name(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    await _spread_programs(client, key)
    near = f"{UTRECHT[0]},{UTRECHT[1]}"

    response = await client.get("/programs", params={"near": near})
    assert response.status_code == 200, response.text
    assert_only_distance_bands(response.json())
    items = response.json()["items"]
    assert [(p["name"], p["distance_band"]) for p in items] == [
        ("Mike group", "under_5_km"),
        ("Zulu group", "under_5_km"),
        ("Bravo group", "5_to_10_km"),
        ("Alpha group", "10_to_25_km"),
        ("Echo group", "25_to_50_km"),
    ]
    assert response.json()["total"] == 5

    wide = await client.get("/programs", params={"near": near, "radius_km": 500})
    assert_only_distance_bands(wide.json())
    bands = {p["name"]: p["distance_band"] for p in wide.json()["items"]}
    assert bands == {name: distance_band(km) for name, km in SPOTS.items()}
    assert bands["Yankee group"] == "50_to_100_km" and bands["Faraway group"] == "over_100_km"
    assert [p["name"] for p in wide.json()["items"]][-2:] == ["Yankee group", "Faraway group"]

    narrow = await client.get("/programs", params={"near": near, "radius_km": 20})
    assert {p["name"] for p in narrow.json()["items"]} == {
        "Mike group",
        "Zulu group",
        "Bravo group",
        "Alpha group",
    }

    paged = await client.get("/programs", params={"near": near, "per_page": 2, "page": 2})
    assert [p["name"] for p in paged.json()["items"]] == ["Bravo group", "Alpha group"]
    assert paged.json()["total"] == 5
    # Past the last page: no items, and still the total (it cannot ride along with a row).
    beyond = await client.get("/programs", params={"near": near, "per_page": 2, "page": 4})
    assert beyond.json()["items"] == [] and beyond.json()["total"] == 5

    # Remote-capable programs at any distance; one without a point carries no band.
    remote = await client.get("/programs", params={"near": near, "remote_ok": "true"})
    assert_only_distance_bands(remote.json())
    assert [(p["name"], p["distance_band"]) for p in remote.json()["items"]] == [("Online group", None)]

    plain = await client.get("/programs")
    assert_only_distance_bands(plain.json())
    assert {p["distance_band"] for p in plain.json()["items"]} == {None}
    assert plain.json()["total"] == len(SPOTS) + 1


async def test_an_area_listing_is_banded_from_its_coarse_point(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    program, _ = await create_program(
        client, key, side="survivors", location={"latitude": UTRECHT[0], "longitude": UTRECHT[1]}
    )
    coarse = (program["location"]["latitude"], program["location"]["longitude"])
    # From 20 km north of the real meeting place; the band must come from the coarse point.
    origin = north_of(coarse, 20.0)
    response = await client.get("/programs", params={"near": f"{origin[0]},{origin[1]}"})
    assert_only_distance_bands(response.json())
    [item] = response.json()["items"]
    assert item["distance_band"] == distance_band(km_between(origin, coarse)) == "10_to_25_km"


@pytest.mark.parametrize(
    ("near", "found"),
    [
        ("52.09,5.12", "Utrecht group"),
        (" 52.0907 , 5.1214 ", "Utrecht group"),
        ("Utrecht, NL", "Utrecht group"),
        ("utrecht, nl", "Utrecht group"),
        ("80202", "Denver group"),
        ("Denver, CO, US", "Denver group"),
    ],
)
async def test_near_reads_coordinates_zip_codes_and_cities(
    client: Client, db: AsyncSession, near: str, found: str
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    await create_program(client, key, name="Utrecht group")
    await create_program(
        client, key, name="Denver group", location={"latitude": DENVER[0], "longitude": DENVER[1]}
    )
    response = await client.get("/programs", params={"near": near})
    assert response.status_code == 200, response.text
    assert_only_distance_bands(response.json())
    [item] = response.json()["items"]
    assert item["name"] == found and item["distance_band"] == "under_5_km"


@pytest.mark.parametrize(
    ("near", "words"),
    [
        ("Atlantis, NL", "unknown place"),
        ("Springfield, ZZ", "ZZ"),
        ("00000", "00000"),
        ("95,5", "latitude"),
        ("nowhere at all", "near"),
    ],
)
async def test_near_that_names_no_place_is_422_saying_so(client: Client, near: str, words: str) -> None:
    response = await client.get("/programs", params={"near": near})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    detail = response.json()["detail"]
    assert "near" in detail and words in detail


@pytest.mark.parametrize("radius", ["500.5", "501", "10000", "0", "-5", "far"])
async def test_radius_is_bounded(client: Client, radius: str) -> None:
    response = await client.get("/programs", params={"near": "Utrecht, NL", "radius_km": radius})
    assert response.status_code in (400, 422)
    assert "radius_km" in response.json()["detail"]


async def test_band_codes_are_the_documented_ones() -> None:
    assert BAND_CODES == (
        "under_5_km",
        "5_to_10_km",
        "10_to_25_km",
        "25_to_50_km",
        "50_to_100_km",
        "over_100_km",
    )


async def test_an_area_partner_keeps_no_address_either(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    created = await client.post(
        "/partners",
        json={
            "kind": "clinician",
            "name": "Home practice",
            "location_precision": "area",
            "location": {"latitude": UTRECHT[0], "longitude": UTRECHT[1], "address": ADDRESS},
        },
        headers=bearer(key),
    )
    assert_no_precise_location(created, UTRECHT, ADDRESS)
    partner = created.json()
    assert partner["location"]["precision"] == "area" and partner["location"]["address"] is None
    for response in (
        await client.get(f"/partners/{partner['id']}"),
        await client.get("/partners"),
        await client.get("/partners", params={"near": "Utrecht, NL"}),
    ):
        assert_no_precise_location(response, UTRECHT, ADDRESS)
        assert_only_distance_bands(response.json())
    row = await listing_row(db, partner["id"])
    assert row.address is None and row.latitude is not None and row.latitude != UTRECHT[0]


async def test_the_apps_logs_hold_no_search_terms_coordinates_or_addresses(
    client: Client, db: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    from registry.http.access_log import JsonFormatter

    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    caplog.set_level(logging.DEBUG)
    await create_program(
        client,
        key,
        side="survivors",
        description="Meets behind the library",
        location={"latitude": UTRECHT[0], "longitude": UTRECHT[1], "address": ADDRESS},
    )
    await client.get("/programs", params={"near": f"{UTRECHT[0]},{UTRECHT[1]}", "q": "library"})
    await client.get("/partners", params={"near": "80202", "q": "library"})
    await client.get("/programs", params={"near": "Atlantis, NL"})
    formatter = JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records if r.name.startswith("registry")]
    assert any(json.loads(line).get("path") == "/programs" for line in lines)
    for line in lines:
        for needle in ("library", "Oudegracht", "80202", "Atlantis", *coordinate_texts(UTRECHT[0])):
            assert needle not in line, line
