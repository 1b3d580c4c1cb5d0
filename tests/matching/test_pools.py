"""The lists matching ranks hold numbers, not listings: a kind's remote pool is read a part at a
time, the listings a request keeps are read again by id (through the rule of what matching may
offer), and a list finds its own rows by listing id."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession

from registry.listings import code_lists
from registry.matching import arrays, queries, scoring, service
from tests.factories import Client, bearer
from tests.matching.fixtures import GRONINGEN, ROTTERDAM, UTRECHT, build_world, create


def pool_of(ids: list[str]) -> arrays.Candidates:
    return arrays.Candidates.of(
        scoring.Candidate(id=i, kind="clinician", name=i, organization_id="o", remote_capable=True)
        for i in ids
    )


@given(
    st.lists(st.text("abc0123456789-", min_size=1, max_size=8), unique=True, max_size=30),
    st.lists(st.text("abc0123456789-", min_size=1, max_size=10), max_size=30),
)
def test_a_list_finds_the_rows_of_the_listings_it_holds_and_only_those(
    held: list[str], asked: list[str]
) -> None:
    found = pool_of(held)
    rows = found.rows_of(asked)
    assert sorted(found.id(int(r)) for r in rows) == sorted(a for a in asked if a in held)
    assert [found.id(r) for r in range(len(held))] == held


def test_a_list_answers_for_its_rows_organization_and_values() -> None:
    found = arrays.Candidates.of(
        [
            scoring.Candidate(id="x", kind="clinician", name="X", organization_id="o1", remote_capable=True),
            scoring.Candidate(
                id="y", kind="clinician", name="Y", organization_id="o2", remote_capable=False, country="NL"
            ),
        ]
    )
    assert [found.organization_id(0), found.organization_id(1)] == ["o1", "o2"]
    places = found.tables.places
    assert places.example(1).country == "NL" and places.example(0).country is None
    assert found.remote_capable.tolist() == [True, False]
    assert len(arrays.Candidates.of([])) == 0 and not len(pool_of([]).rows_of(["x"]))
    assert np.array_equal(found.rows_of(["y", "nope", "x"]), [1, 0])


CODES = ("survivors", "people_who_use_violence", "high_risk_clients", "women", "en", "nl", "pre_post")


def codes() -> st.SearchStrategy[str | None]:
    """A code list as read (code_lists.codes_of): NULL, or its codes joined."""
    return st.none() | st.lists(st.sampled_from(CODES), max_size=3).map(code_lists.SEPARATOR.join)


VERIFIED = datetime(2026, 1, 1, tzinfo=UTC)
# A row of queries.COLUMNS, few values each, so that rows share some of them and differ in others.
rows = st.tuples(
    st.uuids().map(str),
    st.sampled_from(sorted(queries.KNOWN_KINDS)),
    st.sampled_from(["A", "B"]),
    st.sampled_from([str(uuid.UUID(int=1)), str(uuid.UUID(int=2))]),
    st.sampled_from([None, "NL", "US", "KE"]),
    st.none() | st.integers(1, 300),
    st.sampled_from(["active", "planning"]),
    st.sampled_from([None, "survivors", "people_who_use_violence", "both"]),
    codes(),
    codes(),
    codes(),
    codes(),
    st.booleans(),
    codes(),
    codes(),
    st.none() | st.integers(0, 2),
    st.sampled_from(sorted(scoring.STAGE_EVIDENCE)),
    st.booleans(),
    st.booleans(),
    st.none()
    | st.sampled_from([datetime(2026, 1, 1, tzinfo=UTC) - timedelta(days=d) for d in (0, 100, 400)]),
    st.none() | st.booleans(),
)


def listed(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row of queries.COLUMNS (a listing read again by id) as a list reads it (LIST_COLUMNS)."""
    return tuple(v for name, v in zip(queries.COLUMNS, row, strict=True) if name in queries.LIST_COLUMNS)


def same_lists(drawn: list[Any], size: int) -> None:
    """The list of the rows read as columns, `size` rows a part (as a remote pool is read), is the
    list of their candidates."""
    by_candidate = arrays.Candidates.of(map(service.to_candidate, drawn))
    by_columns = arrays.Candidates()
    for first in range(0, len(drawn), size):
        by_columns.add(service._part([listed(row) for row in drawn[first : first + size]]))
    by_columns.done()
    for name in (
        "ids",
        "organizations",
        "accepting",
        "verified",
        "remote_capable",
        "service_radius_m",
        "planned",
    ):
        assert np.array_equal(getattr(by_columns, name), getattr(by_candidate, name)), name
    for key, made, expected in zip(arrays._KEYS, by_columns.tables, by_candidate.tables, strict=True):
        assert np.array_equal(made.ids, expected.ids)
        assert [key(c) for c in made.examples] == [key(c) for c in expected.examples]
        # What a list keeps holds none of the rows' own texts (service.example_of).
        assert all((c.id, c.name, c.organization_id) == ("", "", "") for c in made.examples)


@given(st.lists(rows, max_size=40), st.integers(1, 40))
def test_a_list_read_as_columns_is_the_list_of_its_rows_candidates(drawn: list[Any], size: int) -> None:
    same_lists(drawn, size)


@given(rows, rows)
def test_each_column_a_value_depends_on_is_a_part_of_its_source(
    row: tuple[Any, ...], other: tuple[Any, ...]
) -> None:
    """Rows are made into candidates only for values new to their list (service._part says what
    each table's value depends on): two rows told apart by one column only must not share a value
    that this column changes."""
    for column in range(1, len(queries.COLUMNS)):
        same_lists([row, (*row[:column], other[column], *row[column + 1 :])], 2)


@given(rows)
def test_a_lists_example_of_a_row_is_its_candidate_as_the_tables_read_it(row: tuple[Any, ...]) -> None:
    """An example stands for its value in a list's tables (arrays.Table): each table's key reads the
    same of it as of the row's candidate, and it keeps none of the listing's own texts."""
    example, candidate = service.example_of(listed(row)), service.to_candidate(row)
    for key in arrays._KEYS:
        assert key(example) == key(candidate)
    assert (example.id, example.name, example.organization_id) == ("", "", "")


def test_an_id_longer_than_a_list_keeps_is_refused() -> None:
    with pytest.raises(ValueError, match="at most 36"):
        pool_of(["x" * 37])


def test_a_kept_listing_no_longer_offered_is_left_out_of_the_list() -> None:
    """The lists hold numbers: the listings a request keeps are found again by id, and one that
    matching may no longer offer (paused, hidden, archived since its list was read) is not there."""
    kept = [
        scoring.Candidate(
            id=f"c{n}", kind="clinician", name=f"C{n}", organization_id=f"o{n}", remote_capable=True
        )
        for n in range(3)
    ]
    question = service.Question(scoring.Need(), None, 50.0, True, False, 5, scoring.Weights())
    ranking = service.Ranking(question, datetime.now(UTC))
    found = arrays.Candidates.of(kept)
    for row in range(3):
        ranking.offer(0.5, found, row, scoring.Placement(None, False, "elsewhere"))
    assert ranking.wanted() == ["c0", "c1", "c2"]
    still = {c.id: c for c in kept if c.id != "c1"}
    chosen, held = ranking.chosen(still)
    assert [s.candidate.id for s in chosen] == ["c0", "c2"] and held == 0


async def ask(client: Client, **body: Any) -> dict[str, Any]:
    response = await client.post("/matches", json={"location": UTRECHT, **body})
    assert response.status_code == 200, response.text
    results: dict[str, Any] = response.json()["results"]
    return results


async def test_a_remote_pool_read_a_part_at_a_time_holds_every_remote_listing(
    client: Client, db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await build_world(client, db)
    remote = {"Clinician Remote"}
    for n, place in enumerate([GRONINGEN, ROTTERDAM, GRONINGEN]):
        made = await create(
            client,
            world["org_key"],
            "/partners",
            {
                "name": f"Clinician Online {n}",
                "kind": "clinician",
                "location_precision": "exact",
                "location": place,
                "specialties": ["people_who_use_violence"],
                "remote_ok": True,
            },
        )
        remote.add(made["name"])
    monkeypatch.setattr(queries, "REMOTE_PART", 2)  # four remote clinicians: three parts
    reads: list[int] = []
    remote_capable = queries.remote_capable

    async def counted(*args: Any, **kwargs: Any) -> Any:
        async for rows in remote_capable(*args, **kwargs):
            reads.append(len(rows))
            yield rows

    monkeypatch.setattr(queries, "remote_capable", counted)
    # 1 km around Utrecht: nobody in reach, so every one of them comes as a remote partner.
    found = await ask(client, needs=["clinician"], include_remote=True, radius_km=1, per_kind=10)
    assert {c["listing"]["name"] for c in found["clinician"]} == remote
    assert reads == [2, 2]  # a full part, then the rest; a short part ends the read


async def test_listings_read_again_by_id_are_only_those_matching_may_offer(
    client: Client, db: AsyncSession, app: Litestar
) -> None:
    world = await build_world(client, db)
    planned = await create(
        client,
        world["org_key"],
        "/programs",
        {"name": "Circle To Be", "side": "survivors", "location": UTRECHT, "status": "planning"},
    )
    archived = await create(
        client,
        world["org_key"],
        "/partners",
        {"name": "Clinician Gone", "kind": "clinician", "location": UTRECHT, "location_precision": "exact"},
    )
    path, headers = f"/partners/{archived['id']}", bearer(world["org_key"])
    etag = (await client.get(path, headers=headers)).headers["etag"]
    gone = await client.delete(path, headers={**headers, "If-Match": etag})
    assert gone.status_code == 204, gone.text
    names = {
        key: world[key]["id"]
        for key in ("pwuv_clinician", "paused_clinician", "unverified_clinician", "survivor_program")
    }
    ids = [*names.values(), planned["id"], archived["id"]]
    reads = app.state.caches.reads

    async def offered(planning: bool) -> set[str]:
        return {row[2] for row in await queries.by_id(reads, ids, planning=planning)}

    assert await offered(False) == {"Clinician PWUV", "Survivor Circle Amersfoort"}
    # The columns are those service.to_candidate reads (queries.COLUMNS names them); a list reads
    # them all but the name (LIST_COLUMNS; those in a radius then their distance).
    row = (await queries.by_id(reads, ids, planning=False))[0]
    assert tuple(row.keys()) == queries.COLUMNS
    assert set(queries.COLUMNS) - set(queries.LIST_COLUMNS) == {"name"}
    (row, *_) = await queries.in_radius(reads, "clinician", (52.09, 5.12), 50.0)
    assert tuple(row.keys()) == (*queries.LIST_COLUMNS, "d")
    async for rows in queries.remote_capable(reads, "clinician"):
        assert tuple(rows[0].keys()) == queries.LIST_COLUMNS
    assert await offered(True) == {"Clinician PWUV", "Survivor Circle Amersfoort", "Circle To Be"}
    assert await queries.by_id(reads, [], planning=False) == []


def test_a_list_weighs_at_least_the_arrays_it_holds() -> None:
    """The caches' budgets (match_candidates, match_remote) are kept by weight: a list must not
    weigh less than its arrays, including the order by id that finding rows makes."""
    found = pool_of([str(uuid.uuid4()) for _ in range(2_000)])
    found.rows_of([found.id(5)])
    held = [*vars(found).values(), *(t.ids for t in found.tables)]
    held += [v for value in held if isinstance(value, tuple) for v in value]  # cached pairs
    arrays_held = [a for a in held if isinstance(a, np.ndarray)]
    assert len(arrays_held) >= 8
    assert found.weight() >= sum(a.nbytes for a in arrays_held)


_START = datetime(2026, 1, 1, tzinfo=UTC)
_DAY = timedelta(days=1)


@given(
    st.lists(st.none() | st.integers(0, 800 * 24 * 60), min_size=1, max_size=20),
    st.lists(st.integers(-1, 40), min_size=1, max_size=40),
)
def test_a_lists_freshness_is_made_again_as_soon_as_a_row_turns_older(
    verified_minutes_before: list[int | None], steps: list[int]
) -> None:
    """A list keeps its rows' freshness from one request to the next while no verification has
    crossed 90 or 365 days since: asked at any moment, it says what scoring says of each row."""
    verified = [None if m is None else _START - timedelta(minutes=m) for m in verified_minutes_before]
    found = arrays.Candidates.of(
        scoring.Candidate(
            id=f"c{i}",
            kind="clinician",
            name="C",
            organization_id="o",
            remote_capable=True,
            last_verified_at=at,
        )
        for i, at in enumerate(verified)
    )
    moves = {-1: -_DAY, 0: timedelta(microseconds=1), 1: timedelta(minutes=7), 2: 30 * _DAY, 3: 91 * _DAY}
    now = _START
    for step in steps:
        # A move (a microsecond, minutes, days; back once), or to the very moment a row turns 90 or
        # 365 days old (the next step may be the microsecond after it).
        at = verified[(step // 2) % len(verified)]
        if step in moves:
            now += moves[step]
        elif at is not None:
            now = at + timedelta(days=90 if step % 2 else 365)
        assert found.freshness(now).tolist() == [scoring.freshness(v, now) for v in verified]


async def test_a_listing_read_for_matching_has_exactly_its_codes(
    client: Client, db: AsyncSession, app: Litestar
) -> None:
    """Code lists are read as one text each (code_lists.SEPARATOR): the candidate made of the row
    holds the listing's codes, and none for an empty list."""
    world = await build_world(client, db)
    made = await create(
        client,
        world["org_key"],
        "/partners",
        {
            "name": "Many Codes",
            "kind": "trainer",
            "location": UTRECHT,
            "location_precision": "exact",
            "specialties": ["survivors", "high_risk_clients"],
            "populations": ["women", "lgbtq", "court_referred"],
            "languages": ["nl", "en"],
            "course_topics": ["ipv_basics", "facilitation", "high_risk_clients"],
            "methods": [],
        },
    )
    (row,) = await queries.by_id(app.state.caches.reads, [made["id"]], planning=False)
    candidate = service.to_candidate(row)
    assert (candidate.id, candidate.organization_id) == (made["id"], made["organization_id"])
    for field in ("specialties", "populations", "languages", "course_topics", "methods"):
        assert getattr(candidate, field) == frozenset(made[field]), field
    assert candidate.methods == candidate.formats == frozenset()


@given(
    st.lists(st.text("abc0123456789-", min_size=1, max_size=8), unique=True, max_size=30),
    st.lists(st.text("abc0123456789-", min_size=1, max_size=40), max_size=30),
)
def test_a_list_says_the_row_of_each_id_asked_in_order(held: list[str], asked: list[str]) -> None:
    found = pool_of(held)
    rows = found.positions(asked)
    assert [found.id(int(r)) if r >= 0 else None for r in rows] == [a if a in held else None for a in asked]
