"""Reports through HTTP on fixture data with known answers, JSON and CSV alike."""

import csv
import io
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import Role
from registry.models import Listing
from tests.factories import Client, bearer, register_org, role_key
from tests.reports.world import build, near

REPORTS = ("programs", "evidence", "partnerships", "coverage")


def table(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in report["tables"] if t["name"] == name)


def row(t: dict[str, Any], **key: str) -> dict[str, Any]:
    return next(r for r in t["rows"] if all(r["key"].get(k) == v for k, v in key.items()))


@pytest.fixture
async def funder(db: AsyncSession) -> str:
    return await role_key(db, Role.FUNDER)


async def test_access_is_for_funders_and_stewards(client: Client, db: AsyncSession, funder: str) -> None:
    steward = await role_key(db)
    _, org_key = await register_org(client)
    for name in REPORTS:
        assert (await client.get(f"/reports/{name}")).status_code == 401
        assert (await client.get(f"/reports/{name}", headers=bearer(org_key))).status_code == 403
        assert (await client.get(f"/reports/{name}", headers=bearer(funder))).status_code == 200
        assert (await client.get(f"/reports/{name}", headers=bearer(steward))).status_code == 200


async def test_stewards_can_issue_funder_keys(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    created = await client.post(
        "/api-keys", json={"role": "funder", "label": "Foundation"}, headers=bearer(steward)
    )
    assert created.status_code == 201
    key = created.json()["key"]
    assert (await client.get("/reports/evidence", headers=bearer(key))).status_code == 200
    _, org_key = await register_org(client)
    assert (
        await client.post("/api-keys", json={"role": "funder"}, headers=bearer(org_key))
    ).status_code == 403


async def test_programs_report_counts_and_groups(client: Client, db: AsyncSession, funder: str) -> None:
    await build(db)
    response = await client.get("/reports/programs", params={"group_by": ["side"]}, headers=bearer(funder))
    assert response.status_code == 200
    body = response.json()
    t = table(body, "programs")
    assert (
        row(t, side="survivors")["values"]["programs"]["value"] == 4
    )  # 3 + Nairobi; archived/unverified out
    assert row(t, side="people_who_use_violence")["values"]["programs"]["value"] == 2
    assert row(t, side="__total__")["values"]["programs"]["value"] == 7
    assert body["parameters"] == {"group_by": ["side"]}
    assert {"computed_at", "suppression"} <= set(body)
    two = await client.get(
        "/reports/programs", params={"group_by": ["format", "side"]}, headers=bearer(funder)
    )
    t2 = table(two.json(), "programs")
    assert row(t2, format="twelve_step", side="people_who_use_violence")["values"]["programs"]["value"] == 2
    for bad in (["side", "side"], ["side", "format", "status"], ["colour"]):
        assert (
            await client.get("/reports/programs", params={"group_by": bad}, headers=bearer(funder))
        ).status_code in (400, 422)


async def test_programs_total_counts_each_program_once(client: Client, db: AsyncSession, funder: str) -> None:
    world = await build(db)
    await db.execute(
        update(Listing)
        .where(Listing.id == world["programs"][0].id)
        .values(formats=["peer_led_support_group", "twelve_step"])
    )
    await db.commit()

    async def programs(*group_by: str) -> tuple[int, int]:
        params = {"group_by": list(group_by)} if group_by else {}
        response = await client.get("/reports/programs", params=params, headers=bearer(funder))
        *groups, total = table(response.json(), "programs")["rows"]  # the total row comes last
        assert all(v == "__total__" for v in total["key"].values())
        return sum(r["values"]["programs"]["value"] for r in groups), total["values"]["programs"]["value"]

    # Every program is in exactly one group of a single-valued dimension: the total is their sum.
    assert await programs() == (7, 7)
    assert await programs("country", "region") == (7, 7)
    # A program with two formats is in two groups, and counted once in the total.
    assert await programs("format") == (8, 7)
    assert await programs("format", "side") == (8, 7)


async def test_evidence_report(client: Client, db: AsyncSession, funder: str) -> None:
    await build(db)
    body = (await client.get("/reports/evidence", headers=bearer(funder))).json()
    stages = table(body, "programs_per_stage")
    assert row(stages, evaluation_stage="published")["values"]["programs"]["value"] == 2
    assert row(stages, evaluation_stage="none")["values"]["programs"]["value"] == 5
    share = table(body, "clinical_partner_share")["rows"][0]["values"]
    assert share["with_clinical_partner"]["value"] == 1
    assert share["programs"]["value"] == 7
    assert share["share"]["value"] == pytest.approx(1 / 7, abs=1e-4)


async def test_partnerships_suppress_small_and_complementary_cells(
    client: Client, db: AsyncSession, funder: str
) -> None:
    await build(db)
    body = (await client.get("/reports/partnerships", headers=bearer(funder))).json()
    t = table(body, "introductions_by_partner_kind")
    clinician = row(t, partner_kind="clinician")["values"]
    evaluator = row(t, partner_kind="evaluator")["values"]
    truth = {
        "clinician": {
            "accepted": 25,
            "declined": 3,
            "pending": 12,
            "expired": 0,
            "withdrawn": 0,
            "closed": 0,
            "requested": 40,
        },
        "evaluator": {
            "accepted": 15,
            "declined": 11,
            "pending": 0,
            "expired": 0,
            "withdrawn": 0,
            "closed": 0,
            "requested": 26,
        },
    }
    for kind, values in (("clinician", clinician), ("evaluator", evaluator)):
        for status, cell in values.items():
            assert near(cell["value"], truth[kind][status]), (kind, status)
    assert clinician["declined"] == {"value": None, "suppressed": True}  # 3: primary
    # Something else in the clinician row is hidden too, or 3 could be worked out from the total.
    hidden = [k for k, c in clinician.items() if c["suppressed"]]
    assert len(hidden) >= 2
    for r in t["rows"]:
        for cell in r["values"].values():
            assert cell["value"] is None or not 1 <= cell["value"] <= 10
    assert body["suppression"]["threshold"] == 11
    assert body["suppression"]["primary"] >= 1
    assert body["suppression"]["complementary"] >= 1
    steps = table(body, "initiators_by_pathway_step")
    step_truth = {"1": 14, "2": 3, "3": 20, "4": 0, "5": 0, "6": 0, "__total__": 37}
    shown = {r["key"]["pathway_step"]: r["values"]["initiators"] for r in steps["rows"]}
    assert shown["2"]["suppressed"] is True
    assert sum(c["suppressed"] for c in shown.values()) >= 2
    assert all(near(c["value"], step_truth[k]) for k, c in shown.items())
    rates = table(body, "acceptance_rate_by_partner_kind")
    for kind, values in (("clinician", clinician), ("evaluator", evaluator)):
        got = row(rates, partner_kind=kind)["values"]["acceptance_rate"]["value"]
        if values["accepted"]["suppressed"] or values["requested"]["suppressed"]:
            assert got is None  # never computed from a hidden count
        else:
            assert got == pytest.approx(truth[kind]["accepted"] / truth[kind]["requested"], abs=1e-4)


async def test_coverage_finds_the_region_without_partners(
    client: Client, db: AsyncSession, funder: str
) -> None:
    await build(db)
    body = (await client.get("/reports/coverage", headers=bearer(funder))).json()
    t = table(body, "coverage_gaps")
    keys = [(r["key"]["country"], r["key"]["region"]) for r in t["rows"]]
    assert ("KE", "30") in keys
    assert ("NL", "09") not in keys  # all three kinds are right there
    kenya = row(t, country="KE")["values"]
    assert kenya["no_clinician_within_50_km"]["value"] == 1
    assert kenya["programs"]["value"] == 1


@pytest.mark.parametrize("name", REPORTS)
async def test_csv_gives_the_same_numbers(client: Client, db: AsyncSession, funder: str, name: str) -> None:
    await build(db)
    as_json = (await client.get(f"/reports/{name}", headers=bearer(funder))).json()
    by_param = await client.get(f"/reports/{name}", params={"format": "csv"}, headers=bearer(funder))
    by_accept = await client.get(f"/reports/{name}", headers={**bearer(funder), "Accept": "text/csv"})
    assert by_param.headers["content-type"].startswith("text/csv")
    assert by_param.text == by_accept.text
    lines = list(csv.DictReader(io.StringIO(by_param.text)))
    expected = []
    for t in as_json["tables"]:
        for r in t["rows"]:
            key = ";".join(f"{k}={'' if v is None else v}" for k, v in r["key"].items())
            for column in t["columns"]:
                cell = r["values"][column]
                value = "" if cell["value"] is None else str(cell["value"])
                expected.append((t["name"], key, column, value, str(cell["suppressed"]).lower()))
    got = [(line["table"], line["key"], line["column"], line["value"], line["suppressed"]) for line in lines]
    assert got == expected


async def test_a_kept_report_is_its_json_weighed_as_what_it_holds(
    app: Any, client: Client, db: AsyncSession, funder: str
) -> None:
    # Each process keeps a report as the JSON it sends, so that a request answered from it
    # encodes nothing, and the caches' budgets count what it holds.
    await build(db)
    first = await client.get("/reports/partnerships", headers=bearer(funder))
    again = await client.get("/reports/partnerships", headers=bearer(funder))
    assert first.status_code == again.status_code == 200
    assert again.headers["content-type"] == "application/json"
    assert again.content == first.content  # the same report, kept (computed_at and all)
    kept = app.state.caches.store("reports")
    (key,) = kept.keys()
    assert kept.get(key, await app.state.caches.version()) == first.content
    assert kept.bytes == len(first.content)
