"""The lists matching ranks hold numbers, not listings: a kind's remote pool is read a part at a
time, the listings a request keeps are read again by id (through the rule of what matching may
offer), and a list finds its own rows by listing id."""

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession

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
    assert found.places.example(1).country == "NL" and found.places.example(0).country is None
    assert found.remote_capable.tolist() == [True, False]
    assert len(arrays.Candidates.of([])) == 0 and not len(pool_of([]).rows_of(["x"]))
    assert np.array_equal(found.rows_of(["y", "nope", "x"]), [1, 0])


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
    assert await offered(True) == {"Clinician PWUV", "Survivor Circle Amersfoort", "Circle To Be"}
    assert await queries.by_id(reads, [], planning=False) == []
