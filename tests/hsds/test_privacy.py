"""Only what is public leaves through /hsds: verified organizations' live listings, public
contacts, and for `area` (and `remote`) listings a coarse point and a locality but never an
address. Checked over every answer of every endpoint on the seed data, with a program and a
partner archived first."""

import json
import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.database.base import utcnow
from registry.models import Contact, Listing, Organization
from tests.factories import Client, bearer, role_key
from tests.hsds.conftest import all_pages, get_json

LISTS = ("/services", "/organizations", "/service_at_locations", "/taxonomies", "/taxonomy_terms")


async def every_answer(client: Client, headers: dict[str, str] | None = None) -> list[tuple[str, Any]]:
    """(what, body) for every list (every variant, every page) and every object by id."""
    answers: list[tuple[str, Any]] = [("/", await get_json(client, "/hsds/"))]
    for path in LISTS:
        for params in ({}, {"full": "true"}, {"minimal": "true"}):
            items = await all_pages(client, f"/hsds{path}", **params)
            answers.append((f"{path} {params}", items))
            ndjson = await client.get(f"/hsds{path}", params={"format": "ndjson", "per_page": 100, **params})
            answers.append((f"{path} ndjson {params}", ndjson.text))
        for item in await all_pages(client, f"/hsds{path}"):
            answers.append((f"{path}/{item['id']}", await get_json(client, f"/hsds{path}/{item['id']}")))
    answers.append(
        ("/organizations full_service", await all_pages(client, "/hsds/organizations", full_service="true"))
    )
    return answers


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from walk(child, f"{path}/{key}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from walk(child, f"{path}/{index}")


def services_in(answers: list[tuple[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every service object anywhere in the answers (they carry a status and an organization_id)."""
    for _, body in answers:
        if isinstance(body, str):
            body = [json.loads(line) for line in body.splitlines()]
        for _, value in walk(body):
            if isinstance(value, dict) and "status" in value and "organization_id" in value:
                yield value


async def archive_one_program_and_one_partner(db: AsyncSession) -> set[uuid.UUID]:
    public = (
        select(Listing.id, Listing.kind)
        .join(Organization, Organization.id == Listing.organization_id)
        .where(Organization.verification_status == "verified", Listing.archived_at.is_(None))
        .order_by(Listing.name)
    )
    rows = (await db.execute(public)).all()
    # A partner that a public program names as its clinical partner, so references are covered too.
    referenced = await db.scalar(
        select(Listing.clinical_partner_id)
        .where(Listing.id.in_([r.id for r in rows]), Listing.clinical_partner_id.in_([r.id for r in rows]))
        .limit(1)
    )
    assert referenced is not None
    chosen = {
        next(r.id for r in rows if r.kind == "peer_program"),
        next(r.id for r in rows if r.kind != "peer_program"),
    }
    chosen.add(referenced)
    await db.execute(update(Listing).where(Listing.id.in_(chosen)).values(archived_at=utcnow()))
    await db.commit()
    return chosen


async def test_nothing_restricted_leaves(seeded: AsyncSession, client: Client) -> None:
    db = seeded
    archived = await archive_one_program_and_one_partner(db)
    answers = await every_answer(client)
    text = "\n".join(json.dumps(body) if not isinstance(body, str) else body for _, body in answers)

    # Contacts that are not public: not their details, not even their ids.
    hidden = (await db.scalars(select(Contact).where(Contact.visibility != "public"))).all()
    assert {c.visibility for c in hidden} == {"verified_orgs", "on_introduction"}
    for contact in hidden:
        for secret in (contact.email, contact.phone, str(contact.id)):
            if secret:
                assert secret not in text, f"{contact.visibility} contact detail {secret!r} leaked"
    public = (await db.scalars(select(Contact).where(Contact.visibility == "public"))).all()
    assert any(c.email and c.email in text for c in public), "public contacts should be published"

    # Unverified organizations and everything they list; archived listings.
    unverified = (
        await db.scalars(select(Organization).where(Organization.verification_status != "verified"))
    ).all()
    assert unverified
    hidden_listings = (
        await db.scalars(
            select(Listing).where(
                Listing.organization_id.in_([o.id for o in unverified]) | Listing.id.in_(archived)
            )
        )
    ).all()
    assert len(hidden_listings) > len(archived)
    for secret in [str(o.id) for o in unverified] + [o.name for o in unverified]:
        assert secret not in text, f"unverified organization {secret!r} leaked"
    for listing in hidden_listings:
        assert str(listing.id) not in text, f"hidden listing {listing.name!r} leaked"
        response = await client.get(f"/hsds/services/{listing.id}")
        assert response.status_code == 404

    # Locations: an address only for exact listings, and the stored (coarse) point as it is.
    stored = {row.id: row for row in (await db.scalars(select(Listing))).all()}
    seen = 0
    for service in services_in(answers):
        listing = stored[uuid.UUID(service["id"])]
        for sal in service.get("service_at_locations", []):
            location = sal["location"]
            seen += 1
            assert location["ipv_location_precision"] == listing.location_precision
            assert (location.get("latitude"), location.get("longitude")) == (
                listing.latitude,
                listing.longitude,
            )
            if listing.location_precision != "exact":
                assert "addresses" not in location, listing.name
                assert listing.address is None and listing.postal_code is None
            elif listing.address:
                assert location["addresses"][0]["address_1"] == listing.address
    assert seen > 0
    for _, body in answers:
        for where, value in walk(body):
            if isinstance(value, dict) and "location" in value and isinstance(value["location"], dict):
                location = value["location"]
                if location.get("ipv_location_precision") in ("area", "remote"):
                    assert "addresses" not in location, where
    # Distances are never given as numbers: HSDS has no distance field and none is added.
    assert "distance" not in text


async def test_area_listings_publish_only_the_coarse_point_and_locality(
    seeded: AsyncSession, client: Client
) -> None:
    # The seeds give this survivors' group a street address and a precise point.
    lakeshore = await seeded.scalar(select(Listing).where(Listing.name.like("Lakeshore Co-facilitated%")))
    assert lakeshore is not None and lakeshore.location_precision == "area"
    body = await get_json(client, f"/hsds/services/{lakeshore.id}")
    location = body["service_at_locations"][0]["location"]
    assert (location["latitude"], location["longitude"]) != (41.9216, -87.652)
    assert (location["latitude"], location["longitude"]) == (lakeshore.latitude, lakeshore.longitude)
    assert location["name"] == ", ".join(
        p for p in (lakeshore.locality, lakeshore.region, lakeshore.country) if p
    )
    assert "addresses" not in location and "Example Ave" not in json.dumps(body)
    assert location["description"].startswith("Approximate area only")


async def test_a_steward_sees_the_same_public_subset(seeded: AsyncSession, client: Client) -> None:
    steward = await role_key(seeded)
    for path in ("/hsds/services?full=true&per_page=100", "/hsds/organizations?per_page=100"):
        anonymous = await client.get(path)
        as_steward = await client.get(path, headers=bearer(steward))
        assert anonymous.status_code == as_steward.status_code == 200
        assert anonymous.json() == as_steward.json()
