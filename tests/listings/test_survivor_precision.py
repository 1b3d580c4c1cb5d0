"""A listing that comes to serve survivors is never `exact` by accident: on create, on a side or
specialty change, on a location change and on HSDS import, programs and partners alike, the
`area` default applies unless that same request chooses `exact`; the address and the precise
point then leave the database in that transaction, and the audit log says so."""

import importlib.util
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from registry.hsds import ids
from registry.hsds.importer import import_services
from registry.locations.geo import snap_to_grid
from tests.factories import Client, bearer, role_key, verified_org
from tests.listings.builders import (
    UTRECHT,
    audit_rows,
    create_partner,
    create_program,
    km_between,
    listing_row,
    with_etag,
)

ADDRESS = "Oudegracht 231, 3511 NK Utrecht"
EXACT = {"latitude": UTRECHT[0], "longitude": UTRECHT[1], "address": ADDRESS}
COARSE = snap_to_grid(*UTRECHT)


async def org_key(client: Client, db: AsyncSession) -> str:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    return key


async def assert_coarsened(client: Client, db: AsyncSession, path: str, listing_id: str) -> None:
    """Anonymous readers see an area listing, and the row holds no address nor precise point."""
    public = await client.get(f"{path}/{listing_id}")
    assert public.status_code == 200, public.text
    location = public.json()["location"]
    assert location["precision"] == "area"
    assert location["address"] is None and location["postal_code"] is None
    assert (location["latitude"], location["longitude"]) == COARSE
    assert ADDRESS.split()[0] not in public.text
    row = await listing_row(db, listing_id)
    assert row.location_precision == "area"
    assert row.address is None and row.postal_code is None
    assert (row.latitude, row.longitude) == COARSE
    coarsened = [e for e in await audit_rows(db, listing_id) if e.action == "location_coarsened"]
    assert len(coarsened) == 1
    assert coarsened[0].note is not None and "survivors" in coarsened[0].note
    assert {"address", "latitude", "longitude", "location_precision"} <= set(coarsened[0].changed_fields)


async def assert_exact(db: AsyncSession, listing_id: str) -> None:
    row = await listing_row(db, listing_id)
    assert (row.location_precision, row.address, (row.latitude, row.longitude)) == ("exact", ADDRESS, UTRECHT)


@pytest.mark.parametrize("side", ["survivors", "both"])
async def test_a_side_change_to_serving_survivors_drops_the_address(
    client: Client, db: AsyncSession, side: str
) -> None:
    key = await org_key(client, db)
    program, etag = await create_program(client, key, location=EXACT)
    assert program["location"]["precision"] == "exact"
    changed = await client.patch(
        f"/programs/{program['id']}", json={"side": side}, headers=with_etag(key, etag)
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["location"]["precision"] == "area"
    await assert_coarsened(client, db, "/programs", program["id"])


async def test_the_same_request_may_keep_exact_on_purpose(client: Client, db: AsyncSession) -> None:
    key = await org_key(client, db)
    program, etag = await create_program(client, key, location=EXACT)
    changed = await client.patch(
        f"/programs/{program['id']}",
        json={"side": "survivors", "location_precision": "exact"},
        headers=with_etag(key, etag),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["location"]["address"] == ADDRESS
    await assert_exact(db, program["id"])
    # A later edit that touches neither side nor place leaves the choice alone.
    renamed = await client.patch(
        f"/programs/{program['id']}",
        json={"name": "Renamed"},
        headers=with_etag(key, changed.headers["etag"]),
    )
    assert renamed.status_code == 200
    await assert_exact(db, program["id"])


async def test_a_new_place_for_a_survivor_group_is_area_unless_chosen_again(
    client: Client, db: AsyncSession
) -> None:
    key = await org_key(client, db)
    program, etag = await create_program(
        client, key, side="survivors", location=EXACT, location_precision="exact"
    )
    await assert_exact(db, program["id"])
    moved = await client.patch(
        f"/programs/{program['id']}", json={"location": EXACT}, headers=with_etag(key, etag)
    )
    assert moved.status_code == 200, moved.text
    await assert_coarsened(client, db, "/programs", program["id"])


async def test_a_survivor_group_created_without_a_precision_is_area(client: Client, db: AsyncSession) -> None:
    key = await org_key(client, db)
    program, _ = await create_program(client, key, side="both", location=EXACT)
    assert program["location"]["precision"] == "area"
    row = await listing_row(db, program["id"])
    assert row.address is None and (row.latitude, row.longitude) == COARSE


async def test_partners_that_serve_survivors_default_to_area(client: Client, db: AsyncSession) -> None:
    key = await org_key(client, db)
    created = await create_partner(client, key, specialties=["survivors", "trauma"], location=EXACT)
    assert created["location"]["precision"] == "area"
    row = await listing_row(db, created["id"])
    assert row.address is None and (row.latitude, row.longitude) == COARSE
    chosen = await create_partner(
        client, key, specialties=["survivors"], location=EXACT, location_precision="exact"
    )
    await assert_exact(db, chosen["id"])


async def test_a_partner_that_comes_to_serve_survivors_drops_its_address(
    client: Client, db: AsyncSession
) -> None:
    key = await org_key(client, db)
    partner = await create_partner(client, key, specialties=["people_who_use_violence"], location=EXACT)
    await assert_exact(db, partner["id"])
    etag = (await client.get(f"/partners/{partner['id']}", headers=bearer(key))).headers["etag"]
    changed = await client.patch(
        f"/partners/{partner['id']}",
        json={"specialties": ["people_who_use_violence", "survivors"]},
        headers=with_etag(key, etag),
    )
    assert changed.status_code == 200, changed.text
    await assert_coarsened(client, db, "/partners", partner["id"])


def hsds_record(side: str) -> dict[str, Any]:
    return {
        "id": "svc-precision",
        "name": "Lakeside Group",
        "status": "active",
        "organization": {"id": "org-precision", "name": "Lakeside Collective"},
        "attributes": [{"taxonomy_term": {"code": side, "taxonomy": "side", "name": side}}],
        "service_at_locations": [
            {
                "location": {
                    "location_type": "physical",
                    "latitude": UTRECHT[0],
                    "longitude": UTRECHT[1],
                    "addresses": [{"address_1": "Oudegracht 231", "city": "Utrecht", "country": "NL"}],
                }
            }
        ],
    }


async def test_an_import_that_turns_a_program_to_survivors_drops_its_address(db: AsyncSession) -> None:
    first = await import_services(db, [hsds_record("people_who_use_violence")])
    assert first.created == 1, first
    listing_id = ids.imported_id("service", "svc-precision")
    row = await listing_row(db, str(listing_id))
    assert row.location_precision == "exact" and row.address is not None
    again = await import_services(db, [hsds_record("survivors")])
    assert again.updated == 1, again
    row = await listing_row(db, str(listing_id))
    assert (row.location_precision, row.address, row.postal_code) == ("area", None, None)
    assert km_between((row.latitude or 0, row.longitude or 0), UTRECHT) > 0.1


async def test_the_database_refuses_an_address_on_a_listing_that_is_not_exact(
    client: Client, db: AsyncSession
) -> None:
    key = await org_key(client, db)
    program, _ = await create_program(client, key, side="survivors", location=EXACT)
    with pytest.raises(Exception, match="ck_listing_address_only_when_exact"):
        async with db.begin_nested():
            await db.execute(
                text("UPDATE listing SET address = 'x' WHERE id = :id"), {"id": uuid.UUID(program["id"])}
            )


def migration_0015() -> Any:
    path = Path(__file__).parents[2] / "migrations" / "versions" / "0015_survivor_listings_are_area.py"
    spec = importlib.util.spec_from_file_location("migration_0015", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_migration_brings_existing_survivor_listings_under_the_rule(
    client: Client, db: AsyncSession
) -> None:
    key = await org_key(client, db)
    # Rows as an earlier version could leave them: exact survivor listings with an address.
    program, _ = await create_program(client, key, location=EXACT)
    partner = await create_partner(client, key, specialties=["trauma"], location=EXACT)
    untouched, _ = await create_program(client, key, location=EXACT)
    await db.execute(
        text("UPDATE listing SET side = 'survivors' WHERE id = :id"), {"id": uuid.UUID(program["id"])}
    )
    await db.execute(
        text("UPDATE listing SET specialties = '{survivors}' WHERE id = :id"),
        {"id": uuid.UUID(partner["id"])},
    )
    changed = await (await db.connection()).run_sync(migration_0015().bring_under_rule)
    assert changed == 2
    await assert_coarsened(client, db, "/programs", program["id"])
    await assert_coarsened(client, db, "/partners", partner["id"])
    await assert_exact(db, untouched["id"])
