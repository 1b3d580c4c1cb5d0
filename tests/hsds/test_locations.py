"""service_at_location ids (name-based, not reversible) resolved through what each process keeps:
the listings read once, those created since read after a change, nothing read again for an id that
names nothing while the data stays as it was."""

import uuid
from datetime import datetime, timedelta

import pytest
from litestar import Litestar
from sqlalchemy import inspect, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.database.base import utcnow
from registry.hsds import ids
from registry.hsds.locations import Locations
from registry.models import Listing, Organization
from tests.factories import Client
from tests.hsds.test_api import public_listings

pytestmark = pytest.mark.usefixtures("seeded")


async def copy_of(
    db: AsyncSession, listing: Listing, name: str, *, created: datetime | None = None
) -> Listing:
    """A new listing like `listing`, created now (or at `created`)."""
    await db.refresh(listing)
    kept = {"id", "name", "created_at", "search_vector"}
    values = {a.key: getattr(listing, a.key) for a in inspect(Listing).column_attrs if a.key not in kept}
    made = Listing(id=uuid.uuid4(), name=name, created_at=created or utcnow(), **values)
    db.add(made)
    await db.commit()
    return made


async def test_a_listing_created_after_the_first_lookup_resolves(
    app: Litestar, client: Client, seeded: AsyncSession
) -> None:
    first, second = (await public_listings(seeded))[:2]
    found = await client.get(f"/hsds/service_at_locations/{ids.service_at_location_id(first.id)}")
    assert found.status_code == 200 and found.json()["service_id"] == str(first.id)
    store = app.state.caches.store("hsds_locations")
    kept = store.get("all", None)  # kept for the next lookups
    assert isinstance(kept, Locations) and len(kept) >= 2
    assert store.bytes >= 24 * len(kept)  # weighed as what it holds, for the caches' total
    made = await copy_of(seeded, second, "Harbor Circle, second group")
    answer = await client.get(f"/hsds/service_at_locations/{ids.service_at_location_id(made.id)}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["service"]["name"] == "Harbor Circle, second group"
    assert store.bytes >= 24 * len(kept) and len(kept) >= 3  # and again once it grew


async def test_unknown_hidden_and_archived_ones_are_404(client: Client, seeded: AsyncSession) -> None:
    public = await public_listings(seeded)
    archived, shown = public[0], public[1]
    hidden = next(
        x for x in public if x.organization_id not in (archived.organization_id, shown.organization_id)
    )
    await seeded.execute(update(Listing).where(Listing.id == archived.id).values(archived_at=utcnow()))
    await seeded.execute(
        update(Organization)
        .where(Organization.id == hidden.organization_id)
        .values(verification_status="pending")
    )
    await seeded.commit()
    for wanted in (
        uuid.uuid4(),
        ids.service_at_location_id(archived.id),
        ids.service_at_location_id(hidden.id),
        ids.location_id(shown.id),
    ):
        answer = await client.get(f"/hsds/service_at_locations/{wanted}")
        assert answer.status_code == 404, (wanted, answer.text)
    still = await client.get(f"/hsds/service_at_locations/{ids.service_at_location_id(shown.id)}")
    assert still.status_code == 200


async def test_what_is_kept_is_read_once_per_change(
    seeded: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    public = await public_listings(seeded)
    locations = Locations()
    reads: list[str] = []
    real = locations._read

    async def counted(session: AsyncSession, *, since: datetime | None) -> None:
        reads.append("all" if since is None else "since")
        await real(session, since=since)

    monkeypatch.setattr(locations, "_read", counted)
    assert await locations.listing_for(seeded, ids.service_at_location_id(public[2].id), 7) == public[2].id
    assert len(locations) >= len(public) and reads == ["all"]
    # An id that names nothing: not read again while the data's version stays the same (or goes
    # back, as a replica's may)...
    assert await locations.listing_for(seeded, uuid.uuid4(), 7) is None
    assert await locations.listing_for(seeded, uuid.uuid4(), 6) is None
    assert reads == ["all"]
    # ...read again once it moves, and only the listings created since (within the overlap).
    before = len(locations)
    made = await copy_of(seeded, public[3], "A group made later")
    assert await locations.listing_for(seeded, ids.service_at_location_id(made.id), 8) == made.id
    assert reads == ["all", "since"] and len(locations) == before + 1
    assert await locations.listing_for(seeded, ids.service_at_location_id(public[4].id), 8) == public[4].id
    assert reads == ["all", "since"]
    # A listing written with an older creation time (a bulk load, a clock behind) is not among
    # those created since: the table then holds more listings than are kept, so all are read.
    old = await copy_of(seeded, public[5], "A group loaded late", created=utcnow() - timedelta(days=400))
    assert await locations.listing_for(seeded, ids.service_at_location_id(old.id), 9) == old.id
    assert reads == ["all", "since", "since", "all"] and len(locations) == before + 2


def test_an_id_head_is_the_start_of_the_uuid5() -> None:
    for _ in range(200):
        listing_id = uuid.uuid4()
        derived = ids.service_at_location_id(listing_id)
        assert ids.derived_head("service_at_location", str(listing_id)) == ids.head_of(derived)
        assert derived.bytes[:8] == ids.head_of(derived).to_bytes(8, "big")
