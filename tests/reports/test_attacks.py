"""The four ways of recovering a hidden count of people, run as an attacker would run them: a
funder reading reports (with `Cache-Control: no-cache`), anyone creating initiators and asking for
introductions, a verified organization with a program of its own, and the public listings. Each
attack works out, from what it read and what it knows, every value the hidden count could have; it
must never be left with a single value from 1 to 10.

The attacker knows the published method: how far a shown count may be from the truth
(`suppression.perturbation`, 0 when a report does not say) and that totals add up."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.app import create_app
from registry.auth.principal import Role
from registry.config import Settings
from registry.locations.geo import resolve_place
from tests.factories import Client, app_client, bearer, role_key, verified_org

FRESH = {"Cache-Control": "no-cache"}
NAIROBI = {"place": "Nairobi, KE"}
KISUMU = {"place": "Kisumu, KE"}


def candidates(low: float, high: float) -> list[int]:
    """The counts from 1 to 10 that an interval leaves possible."""
    return [n for n in range(1, 11) if low <= n <= high]


def table(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in report["tables"] if t["name"] == name)


def cell(t: dict[str, Any], column: str, **key: str) -> int | None:
    for row in t["rows"]:
        if all(row["key"].get(k) == v for k, v in key.items()):
            value = row["values"][column]["value"]
            return None if value is None else int(value)
    return 0  # a combination the table does not list holds nobody


def slack(report: dict[str, Any]) -> int:
    return int(report["suppression"].get("perturbation", 0))


@dataclass
class World:
    client: Client
    steward: str
    funder: str
    orgs: dict[str, tuple[dict[str, Any], str]]
    partners: dict[str, str]  # kind -> listing id
    initiators: list[str]  # keys
    truth: dict[str, int]

    async def report(self, name: str) -> dict[str, Any]:
        response = await self.client.get(f"/reports/{name}", headers={**bearer(self.funder), **FRESH})
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    async def initiator(self, step: int, location: dict[str, str], **extra: Any) -> str:
        body = {"display_name": "A", "email": "a@example.org", "pathway_step": step, "location": location}
        response = await self.client.post("/initiators", json={**body, **extra})
        assert response.status_code == 201, response.text
        return str(response.json()["key"])


@pytest.fixture
async def attackable(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> Litestar:
    # Building the world asks for more than a minute's worth of creates; the attacks are not about rates.
    return create_app(msgspec.structs.replace(settings, rate_limit_scale=100.0), sessionmaker=sessionmaker)


@pytest.fixture
async def world(attackable: Litestar, db: AsyncSession) -> Any:
    """A clinician and a trainer in Utrecht, an evaluator alone in Amsterdam (public listing data).
    Introductions (pending, accepted, declined): clinician 5, 20, 3; evaluator 20, 15, 12; trainer
    30, 12, 0. Initiators in Nairobi at steps 1 (14), 2 (3) and 3 (30), and 4 more in Kisumu."""
    steward = await role_key(db)
    funder = await role_key(db, Role.FUNDER)
    async with app_client(attackable) as client:
        orgs = {}
        partners = {}
        for kind, place in (
            ("clinician", "Utrecht, NL"),
            ("evaluator", "Amsterdam, NL"),
            ("trainer", "Utrecht, NL"),
        ):
            org, key = await verified_org(client, steward, kinds=[kind])
            created = await client.post(
                "/partners",
                json={
                    "kind": kind,
                    "name": f"The {kind}",
                    "location": {"place": place},
                    "location_precision": "exact",
                },
                headers=bearer(key),
            )
            assert created.status_code == 201, created.text
            orgs[kind] = (org, key)
            partners[kind] = created.json()["id"]
        w = World(client, steward, funder, orgs, partners, [], {})
        for n in range(47):
            w.initiators.append(await w.initiator(1 if n < 14 else 2 if n < 17 else 3, NAIROBI))
        for _ in range(4):
            await w.initiator(3, KISUMU)
        plan = {"clinician": (5, 20, 3), "evaluator": (20, 15, 12), "trainer": (30, 12, 0)}
        for kind, (pending, accepted, declined) in plan.items():
            for n in range(pending + accepted + declined):
                response = await client.post(
                    "/introductions",
                    json={"target_id": partners[kind], "message": "hello"},
                    headers=bearer(w.initiators[n]),
                )
                assert response.status_code == 201, response.text
                if n >= pending:
                    action = "accept" if n < pending + accepted else "decline"
                    decided = await client.post(
                        f"/introductions/{response.json()['id']}/{action}", headers=bearer(orgs[kind][1])
                    )
                    assert decided.status_code == 200
        w.truth = {"pending clinicians": 5, "step 2": 3, "kisumu": 4}
        yield w


def kind_alone_in_a_region(listings: Iterable[dict[str, Any]], kind: str) -> tuple[str, str] | None:
    """From public listing data: a region where every listing is of `kind`, if there is one."""
    regions: dict[tuple[str, str], set[str]] = {}
    for listing in listings:
        place = (listing["location"]["country"], listing["location"]["region"])
        regions.setdefault(place, set()).add(listing["kind"])
    return next((place for place, kinds in regions.items() if kinds == {kind}), None)


async def test_linked_tables_and_public_listings_do_not_pin_a_hidden_count(world: World) -> None:
    """Attack 1: pending introductions to clinicians = all pending - the other kinds' pending,
    taking a kind's count from the region table when that kind is alone in its region."""
    report = await world.report("partnerships")
    d = slack(report)
    by_kind = table(report, "introductions_by_partner_kind")
    by_region = table(report, "introductions_by_region")
    assert cell(by_kind, "pending", partner_kind="clinician") is None  # hidden: 5 is a small count
    listings = (await world.client.get("/partners", params={"per_page": 100})).json()["items"]
    total = cell(by_kind, "pending", partner_kind="__total__")
    others = []
    for kind in ("evaluator", "trainer", "treatment_program", "peer_program"):
        value = cell(by_kind, "pending", partner_kind=kind)
        if value is None and (region := kind_alone_in_a_region(listings, kind)) is not None:
            value = cell(by_region, "pending", country=region[0], region=region[1])
        others.append(value)
    # In this world the attack has all it needs: only what is published stands in its way.
    assert total is not None and None not in others, (total, others)
    known = [v for v in others if v is not None]
    # Each shown value may be off by d; a combination nobody asked for is a known zero.
    possible = candidates(
        total - d - sum(v + d if v else 0 for v in known),
        total + d - sum(max(v - d, 0) if v else 0 for v in known),
    )
    assert world.truth["pending clinicians"] in possible
    assert len(possible) > 1, f"the hidden count is pinned to {possible}"


async def test_reading_before_and_after_a_change_of_ones_own_pins_nothing(world: World) -> None:
    """Attack 2: read, add one initiator at an empty step (own, so known), read again; combine
    the two readings, knowing what changed, to work out the hidden initiators at step 2."""
    before = table(await world.report("partnerships"), "initiators_by_pathway_step")
    await world.initiator(4, NAIROBI)  # step 4 held nobody
    report = await world.report("partnerships")
    after = table(report, "initiators_by_pathway_step")
    d = slack(report)
    steps = [str(s) for s in range(1, 7)]
    delta = {s: int(s == "4") for s in steps} | {"__total__": 1}

    def reading(t: dict[str, Any], s: str) -> tuple[float, float]:
        value = cell(t, "initiators", pathway_step=s)
        return (0, float("inf")) if value is None else (max(value - d, 0), value + d)

    # What each count was before the change, from both readings.
    bounds = {}
    for s in [*steps, "__total__"]:
        low1, high1 = reading(before, s)
        low2, high2 = reading(after, s)
        bounds[s] = (max(low1, low2 - delta[s]), min(high1, high2 - delta[s]))
    others = [s for s in steps if s != "2"]
    total_low, total_high = bounds["__total__"]
    possible = candidates(
        max(bounds["2"][0], total_low - sum(bounds[s][1] for s in others)),
        min(bounds["2"][1], total_high - sum(bounds[s][0] for s in others)),
    )
    assert world.truth["step 2"] in possible
    assert len(possible) > 1, f"the hidden count is pinned to {possible}"


async def test_adding_initiators_one_by_one_never_shows_what_a_cell_held(world: World) -> None:
    """Attack 3: add initiators in Kisumu one at a time until its hidden cell shows; then what it
    held = what it shows - what was added."""
    kisumu = resolve_place("Kisumu, KE")
    for added in range(1, 13):
        await world.initiator(3, KISUMU)
        report = await world.report("coverage")
        gaps = table(report, "coverage_gaps")
        where = {"country": kisumu.country or "", "region": kisumu.region or ""}
        assert any(row["key"] == where for row in gaps["rows"]), "Kisumu is a gap the report lists"
        shown = cell(gaps, "initiators", **where)
        if shown is None or shown == 0:
            continue
        d = slack(report)
        possible = candidates(shown - d - added, shown + d - added)
        assert world.truth["kisumu"] in possible
        assert len(possible) > 1, f"after {added} added, the hidden count is pinned to {possible}"


async def test_a_program_nearby_is_told_only_what_initiators_chose_to_show(world: World) -> None:
    """Attack 4: a verified organization puts a probe program in Kisumu and reads its peers."""
    client = world.client
    _, key = await verified_org(client, world.steward)
    probe = await client.post(
        "/programs",
        json={"name": "Probe", "side": "survivors", "location": KISUMU, "service_radius_km": 50},
        headers=bearer(key),
    )
    assert probe.status_code == 201, probe.text
    for caller in (key, world.steward):
        peers = await client.get(f"/programs/{probe.json()['id']}/peers", headers=bearer(caller))
        assert peers.status_code == 200, peers.text
        body = peers.json()
        listed = len(body["initiators"])  # a row per initiator: a count of people
        assert not 1 <= listed <= 10, f"{listed} initiators listed one by one"
        for need in body.get("initiator_needs", []):
            value = need["initiators"]["value"]
            assert value is None or value == 0 or value >= 11, need
