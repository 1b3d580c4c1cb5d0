"""service_at_location ids (name-based, not reversible) resolved through what each process keeps:
the listings read once, those created since read after a change, nothing read again for an id that
names nothing while the data stays as it was."""

import uuid

import pytest
from sqlalchemy import inspect, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.database.base import utcnow
from registry.hsds import ids
from registry.hsds.locations import Locations
from registry.models import Listing
from tests.factories import Client
from tests.hsds.test_api import public_listings

pytestmark = pytest.mark.usefixtures("seeded")


async def copy_of(db: AsyncSession, listing: Listing, name: str) -> Listing:
    """A new listing like `listing`, created now."""
    await db.refresh(listing)
    kept = {"id", "name", "created_at", "search_vector"}
    values = {a.key: getattr(listing, a.key) for a in inspect(Listing).column_attrs if a.key not in kept}
    made = Listing(id=uuid.uuid4(), name=name, created_at=utcnow(), **values)
    db.add(made)
    await db.commit()
    return made


async def test_a_listing_created_after_the_first_lookup_resolves(
    client: Client, seeded: AsyncSession
) -> None:
    first, second = (await public_listings(seeded))[:2]
    found = await client.get(f"/hsds/service_at_locations/{ids.service_at_location_id(first.id)}")
    assert found.status_code == 200 and found.json()["service_id"] == str(first.id)
    made = await copy_of(seeded, second, "Harbor Circle, second group")
    answer = await client.get(f"/hsds/service_at_locations/{ids.service_at_location_id(made.id)}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["service"]["name"] == "Harbor Circle, second group"


async def test_unknown_hidden_and_archived_ones_are_404(client: Client, seeded: AsyncSession) -> None:
    public = await public_listings(seeded)
    await seeded.execute(update(Listing).where(Listing.id == public[0].id).values(archived_at=utcnow()))
    await seeded.commit()
    for wanted in (uuid.uuid4(), ids.service_at_location_id(public[0].id), ids.location_id(public[1].id)):
        answer = await client.get(f"/hsds/service_at_locations/{wanted}")
        assert answer.status_code == 404, (wanted, answer.text)
    still = await client.get(f"/hsds/service_at_locations/{ids.service_at_location_id(public[1].id)}")
    assert still.status_code == 200


async def test_what_is_kept_is_read_once_per_change(
    seeded: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    public = await public_listings(seeded)
    locations = Locations()
    reads: list[int] = []
    real = locations._read

    async def counted(session: AsyncSession) -> None:
        reads.append(1)
        await real(session)

    monkeypatch.setattr(locations, "_read", counted)
    assert await locations.listing_for(seeded, ids.service_at_location_id(public[2].id), 7) == public[2].id
    assert len(locations) >= len(public) and len(reads) == 1
    # An id that names nothing: not read again while the data's version stays the same...
    assert await locations.listing_for(seeded, uuid.uuid4(), 7) is None
    assert len(reads) == 1
    # ...read again once it moves, and only the listings created since (within the overlap).
    before = len(locations)
    made = await copy_of(seeded, public[3], "A group made later")
    assert await locations.listing_for(seeded, ids.service_at_location_id(made.id), 8) == made.id
    assert len(reads) == 2 and len(locations) == before + 1
    assert await locations.listing_for(seeded, ids.service_at_location_id(public[4].id), 8) == public[4].id
    assert len(reads) == 2


def test_an_id_head_is_the_start_of_the_uuid5() -> None:
    for _ in range(200):
        listing_id = uuid.uuid4()
        derived = ids.service_at_location_id(listing_id)
        assert ids.derived_head("service_at_location", str(listing_id)) == ids.head_of(derived)
        assert derived.bytes[:8] == ids.head_of(derived).to_bytes(8, "big")
