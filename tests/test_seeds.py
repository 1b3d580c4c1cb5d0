"""The starter data set in seeds/: it loads through the services, twice without changes, covers the
vocabularies, keeps the privacy rules, and shows through the anonymous API."""

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import AuditEvent, Contact, EvaluationRecord, Listing, Organization
from registry.partners.schemas import PARTNER_KINDS
from registry.seeding import SeedError, load_seeds, seeds_dir
from registry.taxonomies.vocabulary import DEFAULT_TERMS, STAGE_ORDER
from tests.factories import Client

SEEDS = seeds_dir()


def rows(name: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((SEEDS / name).read_text(encoding="utf-8"))
    return data


def ids(name: str) -> set[uuid.UUID]:
    return {uuid.UUID(row["id"]) for row in rows(name)}


def codes(taxonomy: str) -> set[str]:
    return {code for code, _, _ in DEFAULT_TERMS[taxonomy]}


@pytest.fixture
async def fresh(db: AsyncSession) -> AsyncSession:
    """The test's session without any seeded rows (another test may have committed them), so the
    first load goes through the services; the test's transaction puts them back afterwards."""
    await db.execute(delete(Listing).where(Listing.id.in_(ids("partners.json") | ids("programs.json"))))
    await db.execute(delete(Organization).where(Organization.id.in_(ids("organizations.json"))))
    return db


async def row_counts(db: AsyncSession) -> dict[str, int]:
    counts = {}
    for model in (Organization, Listing, Contact, EvaluationRecord, AuditEvent):
        counts[model.__tablename__] = (await db.scalar(select(func.count()).select_from(model))) or 0
    return counts


async def seeded_listings(db: AsyncSession) -> list[Listing]:
    wanted = ids("partners.json") | ids("programs.json")
    return list((await db.scalars(select(Listing).where(Listing.id.in_(wanted)))).all())


async def test_loading_twice_creates_nothing_the_second_time(fresh: AsyncSession) -> None:
    db = fresh
    before = await row_counts(db)
    first = await load_seeds(db)
    after_first = await row_counts(db)
    second = await load_seeds(db)
    after_second = await row_counts(db)

    n_partners, n_programs = len(rows("partners.json")), len(rows("programs.json"))
    n_evaluations = sum(len(p.get("evaluations", [])) for p in rows("programs.json"))
    assert first == {
        "organizations": len(rows("organizations.json")),
        "partners": n_partners,
        "programs": n_programs,
        "new listings": n_partners + n_programs,
        "new evaluation records": n_evaluations,
    }
    assert second == {**first, "new listings": 0, "new evaluation records": 0}
    assert after_first["listing"] - before["listing"] == n_partners + n_programs
    assert after_first["evaluation_record"] - before["evaluation_record"] == n_evaluations
    assert after_first["contact"] > before["contact"]
    # Same rows, and nothing even touched: no audit events, no version bumps.
    assert after_second == after_first
    versions = {o.id: o.version for o in (await db.scalars(select(Organization))).all()}
    assert all(versions[i] == 1 for i in ids("organizations.json"))


async def test_a_changed_organization_row_is_refreshed_and_audited(
    fresh: AsyncSession, tmp_path: Path
) -> None:
    db = fresh
    await load_seeds(db)
    shutil.copytree(SEEDS, tmp_path, dirs_exist_ok=True)
    orgs = rows("organizations.json")
    orgs[0]["description"] = "Changed by a newer seed file."
    (tmp_path / "organizations.json").write_text(json.dumps(orgs), encoding="utf-8")
    events = await row_counts(db)

    await load_seeds(db, tmp_path)
    org = await db.get(Organization, uuid.UUID(orgs[0]["id"]), populate_existing=True)
    assert org is not None and org.description == "Changed by a newer seed file." and org.version == 2
    assert (await row_counts(db))["audit_event"] == events["audit_event"] + 1


async def test_seeds_cover_the_vocabularies_and_places(fresh: AsyncSession) -> None:
    db = fresh
    await load_seeds(db)
    orgs = list(
        (await db.scalars(select(Organization).where(Organization.id.in_(ids("organizations.json"))))).all()
    )
    listings = await seeded_listings(db)
    programs = [x for x in listings if x.kind == "peer_program"]
    partners = [x for x in listings if x.kind != "peer_program"]

    assert len({o.country for o in orgs}) >= 8
    assert sorted(o.verification_status for o in orgs).count("unverified") == 2
    assert all(o.verified_at is not None for o in orgs if o.verification_status == "verified")
    assert {kind for o in orgs for kind in o.kinds} == codes("partner_kind")
    assert {x.kind for x in listings} == {"peer_program", *PARTNER_KINDS}
    assert {p.country for p in programs} >= {"US", "NL", "GB", "CA", "AU", "DE", "KE", "BR", "IN", "ZA"}
    assert {p.region for p in programs if p.country == "US"} >= {"WA", "CO", "IL", "GA", "NM"}

    assert {f for p in programs for f in p.formats} == codes("format")
    assert {p.side for p in programs} == codes("side")
    assert {p.group_type for p in programs} - {None} == codes("group_type")
    assert {p.delivery for p in programs} == codes("delivery")
    assert {p.evaluation_stage for p in programs} == set(STAGE_ORDER)
    assert {p.status for p in programs} >= {"active", "planning", "paused"}
    assert {p.location_precision for p in programs} == {"exact", "area", "remote"}
    assert len({pop for p in programs for pop in p.populations}) >= 10
    assert len({lang for p in programs for lang in p.languages}) >= 12
    assert any(p.open_to_mentoring for p in programs) and any(p.schedule_weekdays for p in programs)
    assert any(p.side == "people_who_use_violence" and "twelve_step" in p.formats for p in programs)

    by_id = {x.id: x for x in listings}
    clinical_partners = [by_id[p.clinical_partner_id] for p in programs if p.clinical_partner_id is not None]
    assert clinical_partners and {x.kind for x in clinical_partners} == {"clinician", "treatment_program"}
    assert {s for x in partners for s in x.specialties} >= {
        "survivors",
        "people_who_use_violence",
        "high_risk_clients",
        "trauma",
        "substance_use",
    }
    assert any(x.remote_ok for x in partners) and any(not x.accepting_partnerships for x in partners)
    clinicians = [x for x in partners if x.kind == "clinician"]
    assert all(x.ipv_trained and x.credentials and x.ipv_training for x in clinicians)
    assert all(x.methods for x in partners if x.kind == "evaluator")
    assert all(x.courses for x in partners if x.kind == "trainer")

    records = (await db.scalars(select(EvaluationRecord).where(EvaluationRecord.listing_id.in_(by_id)))).all()
    assert {r.design for r in records} - {None} == codes("evaluation_design")
    assert {o for r in records for o in r.outcomes} == codes("outcome")
    assert any(r.participant_count for r in records) and any(r.publication for r in records)
    evaluated_by = [r for r in records if r.evaluator_id is not None]
    assert evaluated_by and {by_id[r.evaluator_id].kind for r in evaluated_by if r.evaluator_id} == {
        "evaluator"
    }
    # The service fills in the evaluator's name from the listing.
    assert all(r.evaluator_name for r in evaluated_by)

    contacts = (await db.scalars(select(Contact).where(Contact.listing_id.in_(by_id)))).all()
    assert {c.listing_id for c in contacts} == set(by_id)
    assert {c.visibility for c in contacts} == {"public", "verified_orgs", "on_introduction"}
    assert all(c.email is None or c.email.endswith(".example.org") for c in contacts)


async def test_survivor_groups_never_store_an_exact_place(fresh: AsyncSession) -> None:
    db = fresh
    await load_seeds(db)
    programs = [x for x in await seeded_listings(db) if x.kind == "peer_program"]
    survivors = [p for p in programs if p.side in ("survivors", "both")]
    assert len(survivors) >= 10
    for p in survivors:
        assert p.location_precision in ("area", "remote"), p.name
        assert p.address is None and p.postal_code is None, p.name
    # The seed file gave one of them a street address and a precise point: both were dropped.
    given = [
        r for r in rows("programs.json") if r["side"] == "survivors" and "address" in r.get("location", {})
    ]
    assert given
    for row in given:
        stored = next(p for p in survivors if p.id == uuid.UUID(row["id"]))
        assert (stored.latitude, stored.longitude) != (
            row["location"]["latitude"],
            row["location"]["longitude"],
        )


async def test_anonymous_api_lists_only_verified_organizations_listings(
    db: AsyncSession, client: Client
) -> None:
    await load_seeds(db)
    await db.commit()
    unverified = {uuid.UUID(o["id"]) for o in rows("organizations.json") if not o.get("verified")}
    assert len(unverified) == 2

    for path, name in (("/programs", "programs.json"), ("/partners", "partners.json")):
        response = await client.get(path, params={"per_page": 100})
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        shown = {uuid.UUID(item["id"]) for item in items}
        public = {uuid.UUID(r["id"]) for r in rows(name) if uuid.UUID(r["organization_id"]) not in unverified}
        hidden = {uuid.UUID(r["id"]) for r in rows(name)} - public
        assert public <= shown, path
        assert hidden and not hidden & shown, path
        for item in items:
            assert all(c["visibility"] == "public" for c in item["contacts"])
            if item.get("side") in ("survivors", "both"):
                assert item["location"]["precision"] in ("area", "remote")
                assert item["location"]["address"] is None

    twelve_step = await client.get(
        "/programs", params={"format": "twelve_step", "side": "people_who_use_violence", "per_page": 100}
    )
    assert twelve_step.json()["total"] >= 3


def broken_copy(tmp_path: Path, name: str, index: int, **changes: Any) -> tuple[Path, str]:
    shutil.copytree(SEEDS, tmp_path, dirs_exist_ok=True)
    data = rows(name)
    data[index].update(changes)
    (tmp_path / name).write_text(json.dumps(data), encoding="utf-8")
    return tmp_path, str(data[index]["id"])


@pytest.mark.parametrize(
    ("name", "index", "changes", "message"),
    [
        ("programs.json", 3, {"formats": ["twelve_steps"]}, "unknown code(s) twelve_steps"),
        ("programs.json", 5, {"location": {"place": "Atlantis, XX"}}, "location"),
        (
            "programs.json",
            0,
            {"evaluations": [{"stage": "published"}, {"stage": "pilot_running"}]},
            "evaluations[1]",
        ),
        (
            "programs.json",
            0,
            {"evaluations": [{"stage": "pilot_running", "outcomes": ["happiness"]}]},
            "happiness",
        ),
        ("programs.json", 1, {"clinical_partner_id": str(uuid.UUID(int=7))}, "No listing"),
        ("partners.json", 0, {"methods": ["randomised"]}, "methods: not an attribute of a clinician"),
        ("partners.json", 2, {"surprise": True}, "unknown field"),
        ("organizations.json", 1, {"kinds": ["funder"]}, "kinds"),
        ("organizations.json", 1, {"verified": "yes"}, "verified"),
    ],
)
async def test_a_bad_row_names_its_file_and_id(
    fresh: AsyncSession, tmp_path: Path, name: str, index: int, changes: dict[str, Any], message: str
) -> None:
    directory, row_id = broken_copy(tmp_path, name, index, **changes)
    with pytest.raises(SeedError) as raised:
        await load_seeds(fresh, directory)
    assert raised.value.path.name == name and raised.value.row_id == row_id
    assert name in str(raised.value) and row_id in str(raised.value)
    assert message in str(raised.value)


async def test_ids_must_be_unique_across_the_files(fresh: AsyncSession, tmp_path: Path) -> None:
    shutil.copytree(SEEDS, tmp_path, dirs_exist_ok=True)
    programs = rows("programs.json")
    programs[4]["id"] = rows("partners.json")[0]["id"]
    (tmp_path / "programs.json").write_text(json.dumps(programs), encoding="utf-8")
    with pytest.raises(SeedError, match=r"already used in partners\.json"):
        await load_seeds(fresh, tmp_path)
