"""Near searches answered from the listings kept around a place (`nearby`) give exactly what SQL
(`queries.search`) gives: the same listings in the same order, the same bands and totals, for
every filter `nearby.serves` accepts and for callers who may see different listings."""

import asyncio
import dataclasses
import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import ANONYMOUS, Principal, Role
from registry.caching.caches import Caches
from registry.listings import code_lists, nearby, queries
from registry.listings.presenters import AnyListing
from registry.listings.queries import ListingFilters
from registry.listings.visibility import listing_view
from registry.models import Listing
from registry.partners.presenters import partner_read
from registry.partners.schemas import PARTNER_KINDS
from registry.programs.presenters import program_read
from registry.programs.service import KINDS as PROGRAM_KINDS
from registry.taxonomies.vocabulary import DEFAULT_TERMS
from tests.factories import Client, register_org, role_key, verified_org
from tests.listings.builders import UTRECHT, create_partner, create_program, north_of, with_etag

CODES = {name: [code for code, _, _ in terms] for name, terms in DEFAULT_TERMS.items()}
# Repeated names (and names that sort differently by case or accent) test the order's ties.
NAMES = ("Harbour Group", "harbour group", "Åland Circle", "Beacon", "Beacon", "Zeeland Peers")
DISTANCES_KM = (0, 3, 8, 20, 40, 49, 55, 70)
STATUSES = ("planning", "active", "paused", "closed")
CONTACT_VISIBILITIES = ("public", "verified_orgs", "on_introduction")


def some(rng: random.Random, vocabulary: str, most: int = 2) -> list[str]:
    return rng.sample(CODES[vocabulary], rng.randint(0, most))


def place(rng: random.Random) -> dict[str, float]:
    lat, lon = north_of(UTRECHT, rng.choice(DISTANCES_KM))
    return {"latitude": lat, "longitude": lon}


async def seed(client: Client, db: AsyncSession) -> dict[str, Principal]:
    """Programs and partners of three organizations (one unverified) around Utrecht, one archived;
    answers the callers to search as."""
    rng = random.Random(7)
    steward = await role_key(db)
    owners = []
    for verified in (True, True, False):
        org, key = await (verified_org(client, steward) if verified else register_org(client))
        owners.append((org, key))
    for number in range(18):
        _, key = owners[number % 3]
        delivery = rng.choice(CODES["delivery"])
        body: dict[str, Any] = {
            "name": rng.choice(NAMES),
            "side": rng.choice(CODES["side"]),
            "formats": some(rng, "format"),
            "populations": some(rng, "population"),
            "languages": some(rng, "language") or ["nl"],
            "delivery": delivery,
            "status": rng.choice(STATUSES),
            "open_to_mentoring": rng.random() < 0.5,
            "location": place(rng),
        }
        if rng.random() < 0.6:
            body["group_type"] = rng.choice(CODES["group_type"])
        # Contacts of every visibility, several to a listing: a page shows them in their order.
        body["contacts"] = [
            {"name": f"Contact {number}-{k}", "email": f"c{number}-{k}@example.org", "visibility": visibility}
            for k, visibility in enumerate(rng.choices(CONTACT_VISIBILITIES, k=rng.randint(0, 3)))
        ]
        if delivery == "online" and rng.random() < 0.5:
            del body["location"]  # a remote program: no place, never within a radius
        program, etag = await create_program(client, key, **body)
        if number == 4:
            archived = await client.delete(f"/programs/{program['id']}", headers=with_etag(key, etag))
            assert archived.status_code == 204, archived.text
    for number in range(12):
        _, key = owners[number % 3]
        kind = rng.choice(("clinician", "treatment_program", "evaluator", "trainer"))
        extra: dict[str, Any] = {"methods": some(rng, "evaluation_design")} if kind == "evaluator" else {}
        if kind in ("clinician", "treatment_program"):
            extra["ipv_trained"] = rng.random() < 0.5
        await create_partner(
            client,
            key,
            kind,
            name=rng.choice(NAMES),
            specialties=some(rng, "specialty", 3),
            populations=some(rng, "population"),
            languages=some(rng, "language") or ["en"],
            accepting_partnerships=rng.random() < 0.7,
            status=rng.choice(STATUSES),
            location=place(rng),
            **extra,
        )
    (verified_one, _), _, (unverified, _) = owners
    return {
        "anonymous": ANONYMOUS,
        "verified organization": Principal(
            role=Role.ORGANIZATION, organization_id=uuid.UUID(verified_one["id"]), organization_verified=True
        ),
        "unverified organization": Principal(
            role=Role.ORGANIZATION, organization_id=uuid.UUID(unverified["id"])
        ),
        "steward": Principal(role=Role.STEWARD),
    }


def random_filters(rng: random.Random) -> ListingFilters:
    programs = rng.random() < 0.6
    if programs:
        kinds: Sequence[str] = PROGRAM_KINDS
        equals_from = {
            "side": "side",
            "group_type": "group_type",
            "delivery": "delivery",
            "status": None,
            "evaluation_stage": "evaluation_stage",
        }
        overlaps_from = {"formats": "format", "populations": "population", "languages": "language"}
        flags: tuple[str, ...] = ("open_to_mentoring",)
    else:
        kinds = rng.choice((PARTNER_KINDS, ("clinician",), ("evaluator",), ("trainer", "clinician")))
        equals_from = {"status": None}
        overlaps_from = {
            "specialties": "specialty",
            "populations": "population",
            "languages": "language",
            "methods": "evaluation_design",
        }
        flags = ("accepting_partnerships", "ipv_trained")
    equals = {
        column: rng.choice(CODES[vocabulary] if vocabulary else STATUSES)
        for column, vocabulary in equals_from.items()
        if rng.random() < 0.25
    }
    overlaps: dict[str, Sequence[str]] = {
        column: some(rng, vocabulary, 3) for column, vocabulary in overlaps_from.items() if rng.random() < 0.4
    }
    return ListingFilters(
        kinds=kinds,
        equals=equals,
        overlaps=overlaps,
        flags={flag: rng.random() < 0.5 for flag in flags if rng.random() < 0.3},
        near=UTRECHT,
        radius_km=rng.choice((10.0, 25.0, 50.0, 60.0)),
        remote_ok=rng.choice((None, None, False)),
    )


# Each listing of the page (id, band, its contacts' ids in order), and the total.
Answer = tuple[list[tuple[uuid.UUID, str | None, list[uuid.UUID]]], int]


SQL_SEARCH = queries.search


# The kept places of the tests that compare them with SQL (each test starts with them empty).
CACHES = Caches()


@pytest.fixture(autouse=True)
def no_kept_places() -> None:
    CACHES.clear()


def answer(rows: Sequence[tuple[AnyListing, str | None]], total: int) -> Answer:
    return [(listing.id, band, [contact.id for contact in listing.contacts]) for listing, band in rows], total


async def by_sql(db: AsyncSession, who: Principal, filters: ListingFilters, offset: int) -> Answer:
    db.expunge_all()  # each path loads its listings and their contacts itself
    return answer(*await SQL_SEARCH(db, who, filters, limit=3, offset=offset))


async def kept(db: AsyncSession, who: Principal, filters: ListingFilters, offset: int) -> Answer:
    db.expunge_all()
    return answer(*await nearby.search(db, who, filters, 1, CACHES, limit=3, offset=offset))


@pytest.fixture
def left_to_sql(monkeypatch: pytest.MonkeyPatch) -> list[ListingFilters]:
    """The searches `nearby` handed to SQL (`by_sql` calls SQL directly, not through this)."""
    handed: list[ListingFilters] = []

    async def counted(*args: Any, **kwargs: Any) -> Any:
        handed.append(args[2])
        return await SQL_SEARCH(*args, **kwargs)

    monkeypatch.setattr(queries, "search", counted)
    return handed


async def test_every_filter_and_caller_gets_what_sql_answers(
    client: Client, db: AsyncSession, left_to_sql: list[ListingFilters]
) -> None:
    callers = await seed(client, db)
    rng = random.Random(11)
    totals: list[int] = []
    for _ in range(40):
        filters = random_filters(rng)
        assert nearby.serves(filters)
        for who in callers.values():
            expected_total = 0
            for offset in (0, 3, 6, 30):
                expected = await by_sql(db, who, filters, offset)
                assert await kept(db, who, filters, offset) == expected, (filters, who, offset)
                expected_total = expected[1]
            totals.append(expected_total)
    # The cases are not all empty (nor all alike): the comparison above means something.
    assert max(totals) > 6 and 0 in totals and len(set(totals)) > 5
    shown = await kept(db, callers["steward"], ListingFilters(kinds=PROGRAM_KINDS, near=UTRECHT), 0)
    assert any(len(contacts) > 1 for _, _, contacts in shown[0])
    assert left_to_sql == []  # every answer above came from the kept places
    # What callers may see differs, and so does what is kept for them.
    everything = ListingFilters(kinds=PROGRAM_KINDS, near=UTRECHT, radius_km=60.0)
    seen = {name: (await kept(db, who, everything, 0))[1] for name, who in callers.items()}
    assert seen["anonymous"] < seen["unverified organization"] <= seen["steward"], seen


async def test_a_kept_page_shows_each_caller_what_the_sql_page_shows(
    client: Client, db: AsyncSession, left_to_sql: list[ListingFilters]
) -> None:
    """A kept place's page reads its listings as records (JSON from PostgreSQL), the SQL search as
    ORM rows: presented, they are the same, contacts as each caller may see them included."""
    callers = await seed(client, db)
    seen: list[Any] = []
    for kinds, present in ((PROGRAM_KINDS, program_read), (PARTNER_KINDS, partner_read)):
        filters = ListingFilters(kinds=kinds, near=UTRECHT, radius_km=60.0)
        for who in callers.values():
            db.expunge_all()
            rows, total = await nearby.search(db, who, filters, 1, CACHES, limit=20, offset=0)
            db.expunge_all()
            expected_rows, expected_total = await SQL_SEARCH(db, who, filters, limit=20, offset=0)
            shown = [present(listing, who, band=band) for listing, band in rows]
            assert shown == [present(listing, who, band=band) for listing, band in expected_rows]
            assert total == expected_total
            seen += shown
    assert left_to_sql == []  # every page above was a kept place's
    # Pages with contacts shown, and with contacts hidden from the caller: the comparison covers both.
    assert any(item.contacts for item in seen) and any(item.hidden_contacts for item in seen)


async def test_a_listing_changed_since_its_place_was_read_is_never_shown(
    client: Client, db: AsyncSession, left_to_sql: list[ListingFilters]
) -> None:
    callers = await seed(client, db)
    filters = ListingFilters(kinds=PROGRAM_KINDS, near=UTRECHT, radius_km=60.0)
    twelve_step = ListingFilters(
        kinds=PROGRAM_KINDS, near=UTRECHT, radius_km=60.0, overlaps={"formats": ["twelve_step"]}
    )
    for who in (callers["anonymous"], callers["steward"]):
        CACHES.clear()
        first, total = await kept(db, who, filters, 0)
        assert first and total > 3
        # Changed behind the kept place's back (the version it was read at still holds): archived
        # (which even its owner and stewards no longer find), or no longer of the format asked.
        await db.execute(
            update(Listing).where(Listing.id == first[0][0]).values(archived_at=datetime.now(UTC))
        )
        again = await kept(db, who, filters, 0)
        assert again == await by_sql(db, who, filters, 0)
        assert first[0][0] not in [entry[0] for entry in again[0]] and again[1] == total - 1

        CACHES.clear()  # read again, without the archived one
        shown, _ = await kept(db, who, twelve_step, 0)
        assert shown
        await db.execute(
            update(Listing).where(Listing.id == shown[0][0]).values(formats=["psychoeducational"])
        )
        assert await kept(db, who, twelve_step, 0) == await by_sql(db, who, twelve_step, 0)

        CACHES.clear()  # read again; then one moves out of the radius (to Groningen, 170 km)
        shown, total = await kept(db, who, filters, 0)
        await db.execute(
            update(Listing).where(Listing.id == shown[0][0]).values(latitude=53.2194, longitude=6.5665)
        )
        again = await kept(db, who, filters, 0)
        assert again == await by_sql(db, who, filters, 0)
        assert shown[0][0] not in [entry[0] for entry in again[0]] and again[1] == total - 1
    assert len(left_to_sql) == 6  # each change sent one search to SQL


async def test_a_place_with_too_many_listings_is_left_to_sql(
    client: Client, db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    callers = await seed(client, db)
    monkeypatch.setattr(nearby, "MAX_KEPT", 2)
    filters = ListingFilters(kinds=PROGRAM_KINDS, near=UTRECHT, radius_km=60.0)
    for who in callers.values():
        assert await kept(db, who, filters, 0) == await by_sql(db, who, filters, 0)
    key = (listing_view(ANONYMOUS), PROGRAM_KINDS, UTRECHT, 60.0)
    assert CACHES.get("nearby_too_big", key, None) and CACHES.get("nearby_places", key, 1) is None


def listing(**values: Any) -> tuple[Any, ...]:
    """A row as `place_of` takes it: id (its bytes), band rank, name, remote_capable, *EQUALS,
    *OVERLAPS (given as lists), *FLAGS."""
    row: dict[str, Any] = {
        "id": uuid.uuid4().bytes,
        "band_rank": 0,
        "name": "A group",
        "remote_capable": False,
        "side": None,
        "group_type": None,
        "delivery": None,
        "status": "active",
        "evaluation_stage": "none",
        "formats": [],
        "populations": [],
        "languages": [],
        "specialties": [],
        "methods": None,
        "open_to_mentoring": False,
        "accepting_partnerships": True,
        "ipv_trained": None,
    }
    assert list(row)[4:] == [*nearby.EQUALS, *nearby.OVERLAPS, *nearby.FLAGS]
    row.update(values)
    for column in nearby.OVERLAPS:  # each list as one text, as it is read (code_lists)
        row[column] = None if row[column] is None else code_lists.SEPARATOR.join(row[column])
    return tuple(row.values())


def test_each_filter_means_what_it_means_in_sql() -> None:
    women = listing(populations=["women", "youth"], side="survivors", open_to_mentoring=True)
    men = listing(populations=["men", "men"], side=None, open_to_mentoring=False, band_rank=4)
    unknown = listing(remote_capable=None, ipv_trained=None, open_to_mentoring=None)
    remote = listing(remote_capable=True, ipv_trained=True)
    everyone = [women, men, unknown, remote]
    place = nearby.place_of(everyone)
    assert place.count == 4 and place.bands == bytes([0, 4, 0, 0])
    assert place.ids == b"".join(row[0] for row in everyone)

    def passing(**kwargs: Any) -> list[tuple[Any, ...]]:
        mask = nearby.passing(place, ListingFilters(kinds=PROGRAM_KINDS, near=UTRECHT, **kwargs))
        return [everyone[i] for i in nearby.positions(mask, 0, 10)]

    assert passing() == everyone
    assert passing(equals={"side": "survivors"}) == [women]  # NULL = 'x' is never true
    assert passing(equals={"side": "both"}) == []  # a value nobody holds
    assert passing(overlaps={"populations": ["youth", "lgbtq"]}) == [women]
    assert passing(overlaps={"populations": ["men", "women"]}) == [women, men]
    assert passing(overlaps={"populations": []}) == everyone  # no codes: no filter
    assert passing(overlaps={"formats": ["twelve_step"]}) == []  # an empty list overlaps nothing
    assert passing(overlaps={"methods": ["pre_post"]}) == []  # nor does NULL
    assert passing(flags={"open_to_mentoring": False}) == [men, remote]  # IS FALSE: not NULL
    assert passing(flags={"ipv_trained": True}) == [remote]
    assert passing(remote_ok=False) == [women, men]  # NOT NULL is not true either
    # Filters combine with AND, and the order of the list is kept.
    assert passing(flags={"open_to_mentoring": True}, overlaps={"populations": ["women"]}) == [women]


def test_positions_walk_the_set_bits_in_order() -> None:
    assert nearby.positions(0, 0, 5) == []
    assert nearby.positions(0b1011_0010, 0, 10) == [1, 4, 5, 7]
    assert nearby.positions(0b1011_0010, 1, 3) == [4, 5]
    assert nearby.positions(0b1011_0010, 4, 9) == []
    wide = (1 << 19_999) | (1 << 5_000) | 1
    assert nearby.positions(wide, 0, 20) == [0, 5_000, 19_999]


def test_text_dates_owners_and_remote_only_searches_stay_with_sql() -> None:
    near = ListingFilters(kinds=PROGRAM_KINDS, near=UTRECHT, overlaps={"formats": ["twelve_step"]})
    assert nearby.serves(near)
    assert nearby.serves(ListingFilters(kinds=PARTNER_KINDS, near=UTRECHT, remote_ok=False))
    for other in (
        ListingFilters(kinds=PROGRAM_KINDS),  # no place
        ListingFilters(kinds=PROGRAM_KINDS, near=UTRECHT, q="harbour"),
        ListingFilters(kinds=PROGRAM_KINDS, near=UTRECHT, modified_after=datetime.now(UTC)),
        ListingFilters(kinds=PROGRAM_KINDS, near=UTRECHT, organization_id=uuid.uuid4()),
        ListingFilters(kinds=PROGRAM_KINDS, near=UTRECHT, remote_ok=True),
        ListingFilters(kinds=PROGRAM_KINDS, near=UTRECHT, equals={"name": "Beacon"}),
    ):
        assert not nearby.serves(other), other


async def test_a_place_is_read_once_however_many_searches_ask_for_it_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads: list[str] = []

    async def read(session: Any, principal: Principal, filters: ListingFilters) -> nearby.Place:
        reads.append("read")
        await asyncio.sleep(0.05)
        if len(reads) == 1 and filters.radius_km == 1.0:
            raise RuntimeError("the database went away")
        return nearby.place_of([listing()])

    monkeypatch.setattr(nearby, "_read", read)
    filters = ListingFilters(kinds=PROGRAM_KINDS, near=UTRECHT, radius_km=10.0)
    caches = Caches()
    places = await asyncio.gather(*(nearby._place(None, ANONYMOUS, filters, 1, caches) for _ in range(5)))  # type: ignore[arg-type]
    assert len(reads) == 1 and all(place is places[0] for place in places)
    # Another version of the data is another read.
    await nearby._place(None, ANONYMOUS, filters, 2, caches)  # type: ignore[arg-type]
    assert len(reads) == 2

    # When the one reading fails, it says so, and the others go to SQL on their own (none of them
    # reads the place again while the database is in trouble).
    reads.clear()
    failing = ListingFilters(kinds=PROGRAM_KINDS, near=UTRECHT, radius_km=1.0)
    outcomes = await asyncio.gather(
        *(nearby._place(None, ANONYMOUS, failing, 1, caches) for _ in range(3)),  # type: ignore[arg-type]
        return_exceptions=True,
    )
    assert isinstance(outcomes[0], RuntimeError) and outcomes[1:] == [None, None]
    assert len(reads) == 1


async def test_a_place_too_big_to_keep_is_not_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[str] = []

    async def read(session: Any, principal: Principal, filters: ListingFilters) -> nearby.Place | None:
        reads.append("read")
        return None  # more than MAX_KEPT

    monkeypatch.setattr(nearby, "_read", read)
    filters = ListingFilters(kinds=PROGRAM_KINDS, near=UTRECHT, radius_km=500.0)
    caches = Caches()
    for version in (1, 1, 2):
        place = await nearby._place(None, ANONYMOUS, filters, version, caches)  # type: ignore[arg-type]
        assert place is None
    assert len(reads) == 1


def test_a_filter_nearby_does_not_know_leaves_the_search_to_sql() -> None:
    # Every field of ListingFilters is either handled by nearby or makes `serves` false when set.
    near = ListingFilters(kinds=PROGRAM_KINDS, near=UTRECHT)
    handled = {"kinds", "equals", "overlaps", "flags", "near", "radius_km", "remote_ok"}
    samples: dict[str, Any] = {
        "q": "harbour",
        "modified_after": datetime.now(UTC),
        "organization_id": uuid.uuid4(),
    }
    for field in dataclasses.fields(ListingFilters):
        if field.name not in handled:
            assert field.name in samples, f"{field.name}: a new filter; teach nearby or this test"
            assert not nearby.serves(dataclasses.replace(near, **{field.name: samples[field.name]}))
