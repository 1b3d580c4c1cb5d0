"""The HSDS importer: the registry's own export round-trips with no loss of the mapped fields,
importing twice changes nothing, another directory's records are mapped as far as they can be,
and a bad record is reported and leaves nothing behind while the good ones go in."""

import asyncio
import copy
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import selectinload

from registry.config import Settings
from registry.database.migrations import upgrade
from registry.hsds import ids
from registry.hsds.importer import format_report, import_services, read_export, run_import
from registry.models import AuditEvent, EvaluationRecord, Listing, Organization
from tests.factories import Client
from tests.hsds.conftest import all_pages

# What the export carries and the import brings back, on the listing and its records.
LISTING_FIELDS = (
    "organization_id",
    "kind",
    "name",
    "description",
    "status",
    "side",
    "formats",
    "group_type",
    "delivery",
    "populations",
    "languages",
    "location_precision",
    "latitude",
    "longitude",
    "address",
    "postal_code",
    "locality",
    "region",
    "country",
    "service_radius_km",
    "remote_ok",
    "founded_on",
    "capacity",
    "open_to_mentoring",
    "clinical_partner_id",
    "clinical_partner_name",
    "schedule_text",
    "schedule_weekdays",
    "schedule_frequency",
    "evaluation_stage",
)
EVALUATION_FIELDS = (
    "stage",
    "previous_stage",
    "is_correction",
    "correction_reason",
    "design",
    "outcomes",
    "participant_count",
    "evaluator_id",
    "evaluator_name",
    "started_on",
    "ended_on",
    "findings_summary",
    "publication",
)
CONTACT_FIELDS = ("name", "role", "email", "phone", "preferred_method", "visibility")


async def snapshot(
    db: AsyncSession, listing_ids: list[uuid.UUID], *, public_contacts: bool
) -> dict[str, Any]:
    rows = (
        await db.scalars(
            select(Listing)
            .where(Listing.id.in_(listing_ids))
            .options(selectinload(Listing.contacts))
            .execution_options(populate_existing=True)
        )
    ).all()
    records = (
        await db.scalars(
            select(EvaluationRecord)
            .where(EvaluationRecord.listing_id.in_(listing_ids))
            .order_by(EvaluationRecord.listing_id, EvaluationRecord.recorded_at, EvaluationRecord.id)
        )
    ).all()
    result: dict[str, Any] = {}
    for listing in rows:
        contacts = [c for c in listing.contacts if c.visibility == "public" or not public_contacts]
        result[str(listing.id)] = {
            **{name: getattr(listing, name) for name in LISTING_FIELDS},
            "contacts": [{name: getattr(c, name) for name in CONTACT_FIELDS} for c in contacts],
            "evaluations": [
                {name: getattr(r, name) for name in EVALUATION_FIELDS}
                for r in records
                if r.listing_id == listing.id
            ],
        }
    return result


def comparable(service: dict[str, Any]) -> dict[str, Any]:
    """An exported service without what a re-created row cannot keep: row ids of contacts and
    evaluation records (and the ids derived from them), and the times of the re-creation."""
    service = copy.deepcopy(service)
    service.pop("last_modified")
    for contact in service.get("contacts", []):
        contact.pop("id")
        for phone in contact.get("phones", []):
            phone.pop("id")
            phone.pop("contact_id")
    for entry in service.get("metadata", []):
        entry.pop("id")
        entry.pop("last_action_date")
        if entry["field_name"] == "last_verified_at":
            entry.pop("replacement_value")
    return service


async def export(client: Client) -> list[dict[str, Any]]:
    return await all_pages(client, "/hsds/services", full="true")


async def audit_count(db: AsyncSession) -> int:
    return (await db.scalar(select(func.count()).select_from(AuditEvent))) or 0


def programs_of(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["ipv_listing_kind"] == "peer_program"]


async def test_the_registry_export_round_trips_without_loss(seeded: AsyncSession, client: Client) -> None:
    db = seeded
    records = await export(client)
    programs = programs_of(records)
    program_ids = [uuid.UUID(r["id"]) for r in programs]
    assert len(programs) >= 30 and len(records) > len(programs)
    before = await snapshot(db, program_ids, public_contacts=True)
    assert any(p["evaluations"] for p in before.values()) and any(p["contacts"] for p in before.values())
    assert {p["location_precision"] for p in before.values()} == {"exact", "area", "remote"}

    await db.execute(delete(Listing).where(Listing.id.in_(program_ids)))
    report = await import_services(db, records)
    assert report.failed == [] and report.notes == []
    assert (report.created, report.updated, report.unchanged) == (len(programs), 0, 0)
    assert len(report.skipped) == len(records) - len(programs)
    assert all("only peer programs are imported" in p.reason for p in report.skipped)
    assert report.organizations_created == report.organizations_updated == 0
    await db.commit()

    after = await snapshot(db, program_ids, public_contacts=False)
    assert after == before
    # ... and the registry publishes them again exactly as before.
    again = {r["id"]: r for r in programs_of(await export(client))}
    for original in programs:
        assert comparable(again[original["id"]]) == comparable(original), original["name"]

    events = await audit_count(db)
    second = await import_services(db, records)
    assert (second.created, second.updated, second.unchanged) == (0, 0, len(programs))
    assert await audit_count(db) == events


async def test_importing_the_export_into_the_same_registry_changes_nothing(
    seeded: AsyncSession, client: Client
) -> None:
    db = seeded
    records = await export(client)
    programs = programs_of(records)
    ids_ = [uuid.UUID(r["id"]) for r in programs]
    before = await snapshot(db, ids_, public_contacts=False)
    versions = dict(
        (await db.execute(select(Listing.id, Listing.version).where(Listing.id.in_(ids_)))).tuples().all()
    )
    events = await audit_count(db)

    report = await import_services(db, records)

    assert (report.created, report.updated, report.unchanged) == (0, 0, len(programs))
    # Contacts the export never carried (verified_orgs, on_introduction) are still there.
    assert await snapshot(db, ids_, public_contacts=False) == before
    assert any(c["visibility"] != "public" for p in before.values() for c in p["contacts"])
    assert (
        dict(
            (await db.execute(select(Listing.id, Listing.version).where(Listing.id.in_(ids_)))).tuples().all()
        )
        == versions
    )
    assert await audit_count(db) == events


async def test_a_changed_record_updates_the_program_and_keeps_hidden_contacts(
    seeded: AsyncSession, client: Client
) -> None:
    db = seeded
    harbor = next(r for r in await export(client) if r["name"] == "Harbor Circle Tuesday Survivors' Group")
    program_id = uuid.UUID(harbor["id"])
    changed = copy.deepcopy(harbor)
    changed["name"] = "Harbor Circle Tuesday Evening Group"
    changed["contacts"][0]["email"] = "new-intake@harborcircle.example.org"
    changed["attributes"] = [a for a in changed["attributes"] if a["link_type"] != "format"] + [
        {"taxonomy_term_id": str(ids.term_id("format", "mutual_aid_circle"))}
    ]
    for attribute in changed["attributes"]:
        if attribute.get("link_type") == "evaluation_stage":
            attribute["taxonomy_term_id"] = str(ids.term_id("evaluation_stage", "formally_evaluated"))
            attribute.pop("taxonomy_term")

    report = await import_services(db, [changed])

    assert (report.created, report.updated, report.unchanged) == (0, 1, 0), report
    listing = await db.scalar(
        select(Listing)
        .where(Listing.id == program_id)
        .options(selectinload(Listing.contacts))
        .execution_options(populate_existing=True)
    )
    assert listing is not None
    assert listing.name == "Harbor Circle Tuesday Evening Group" and listing.formats == ["mutual_aid_circle"]
    assert [(c.visibility, c.email) for c in listing.contacts] == [
        ("public", "new-intake@harborcircle.example.org"),
        ("on_introduction", "facilitators@harborcircle.example.org"),
    ]
    assert listing.evaluation_stage == "formally_evaluated"
    last = (
        await db.scalars(
            select(EvaluationRecord)
            .where(EvaluationRecord.listing_id == program_id)
            .order_by(EvaluationRecord.recorded_at.desc(), EvaluationRecord.id.desc())
        )
    ).first()
    assert last is not None and (last.previous_stage, last.stage, last.is_correction) == (
        "pilot_completed",
        "formally_evaluated",
        False,
    )
    actions = (
        await db.scalars(
            select(AuditEvent.action).where(
                AuditEvent.entity_id == program_id, AuditEvent.actor_role == "steward"
            )
        )
    ).all()
    assert {"update", "evaluation"} <= set(actions)


def foreign_record(**overrides: Any) -> dict[str, Any]:
    """A service as another HSDS directory might publish it: its own ids and vocabularies."""
    record: dict[str, Any] = {
        "id": "svc-42",
        "name": "Riverside Survivors Circle",
        "description": "A peer support circle for survivors of partner abuse.",
        "status": "active",
        "organization": {
            "id": "org-7",
            "name": "Riverside Collective",
            "description": "A volunteer collective.",
            "website": "https://riverside.example.org",
        },
        "attributes": [
            {"taxonomy_term": {"code": "survivors", "taxonomy": "side", "name": "Survivors"}},
            {"taxonomy_term": {"code": "peer_led_support_group", "taxonomy": "format", "name": "Peer-led"}},
            {"taxonomy_term": {"code": "yoga", "taxonomy": "activities", "name": "Yoga"}},
        ],
        "languages": [{"code": "eng"}, {"name": "Spanish"}, {"code": "xx", "name": "Klingon"}],
        "service_at_locations": [
            {
                "location": {
                    "location_type": "physical",
                    "latitude": 45.5231,
                    "longitude": -122.6765,
                    "addresses": [
                        {
                            "address_1": "1 Main St",
                            "city": "Portland",
                            "state_province": "OR",
                            "postal_code": "97205",
                            "country": "US",
                        }
                    ],
                }
            },
            {"location": {"location_type": "virtual", "url": "https://meet.example.org"}},
        ],
        "contacts": [
            {
                "name": "Intake",
                "email": "intake@riverside.example.org",
                "phones": [{"number": "+1 503 555 0100"}],
            },
            {"name": "Nobody to reach"},
            {"title": "Front desk", "phones": [{"number": "call us!"}]},
        ],
        "phones": [{"number": "503-555-0199", "description": "Hotline"}],
        "schedules": [
            {"freq": "WEEKLY", "interval": 2, "byday": "TU,TH", "description": "Every other Tue and Thu"}
        ],
    }
    record.update(overrides)
    return record


async def test_another_directorys_record_is_mapped_as_far_as_it_can_be(
    seeded: AsyncSession, client: Client
) -> None:
    db = seeded
    report = await import_services(db, [foreign_record()])
    assert (report.created, report.organizations_created) == (1, 1) and report.failed == []
    notes = " | ".join(n.reason for n in report.notes)
    for expected in ("'Yoga'", "'Klingon'", "contacts[1]: no email or phone", "contacts[2]"):
        assert expected in notes

    program_id = ids.imported_id("service", "svc-42")
    org = await db.get(Organization, ids.imported_id("organization", "org-7"))
    assert program_id == uuid.uuid5(ids.NAMESPACE, "hsds:service:svc-42")
    assert org is not None and org.verification_status == "unverified" and org.kinds == ["peer_program"]
    assert (org.name, org.website) == ("Riverside Collective", "https://riverside.example.org")
    listing = await db.scalar(
        select(Listing).where(Listing.id == program_id).options(selectinload(Listing.contacts))
    )
    assert listing is not None and listing.organization_id == org.id and listing.kind == "peer_program"
    assert (listing.side, listing.formats, listing.delivery) == (
        "survivors",
        ["peer_led_support_group"],
        "hybrid",
    )
    assert listing.languages == ["en", "es"]
    # A survivors' group: the precise point and the street address are not kept.
    assert listing.location_precision == "area" and listing.address is None and listing.postal_code is None
    assert (listing.latitude, listing.longitude) != (45.5231, -122.6765)
    assert abs((listing.latitude or 0) - 45.52) < 0.1 and listing.country == "US"
    assert (listing.schedule_frequency, listing.schedule_weekdays) == ("biweekly", ["tue", "thu"])
    assert [(c.name, c.role, c.email, c.phone, c.visibility) for c in listing.contacts] == [
        ("Intake", None, "intake@riverside.example.org", "+1 503 555 0100", "public"),
        (None, "Hotline", None, "503-555-0199", "public"),
    ]
    # Unverified: not published until a steward verifies the organization.
    assert (await client.get(f"/hsds/services/{program_id}")).status_code == 404

    again = await import_services(db, [foreign_record()])
    assert (again.created, again.updated, again.unchanged, again.organizations_created) == (0, 0, 1, 0)


async def test_bad_records_are_reported_and_leave_nothing_behind(seeded: AsyncSession) -> None:
    db = seeded
    half = foreign_record(
        id="svc-half",
        organization={"id": "org-half", "name": "Half Collective", "description": "Never imported."},
        metadata=[
            {
                "field_name": "evaluation_stage",
                "replacement_value": "published",
                "last_action_type": "evaluation",
            },
            {
                "field_name": "evaluation_stage",
                "replacement_value": "pilot_running",
                "last_action_type": "evaluation",
            },
        ],
    )
    records: list[Any] = [
        "not an object",
        foreign_record(id="svc-no-side", attributes=[]),
        foreign_record(id="svc-unknown-org", organization=None, organization_id="org-nowhere"),
        half,
        foreign_record(
            id="svc-capacity", ipv_capacity=0, organization={"id": "org-7", "name": "Riverside Collective"}
        ),
        {
            "id": "svc-clinic",
            "name": "A clinic",
            "attributes": [{"taxonomy_term_id": str(ids.term_id("partner_kind", "clinician"))}],
        },
        foreign_record(),
        {
            "id": "svc-nowhere",
            "name": "Nowhere",
            "organization": {"id": "org-7", "name": "Riverside Collective"},
            "attributes": [{"taxonomy_term_id": str(ids.term_id("side", "survivors"))}],
        },
    ]
    report = await import_services(db, records)

    assert report.created == 1 and report.organizations_created == 1
    reasons = {p.index: p.reason for p in report.failed}
    assert reasons[0] == "not a JSON object"
    assert "no side attribute" in reasons[1]
    assert "org-nowhere is not in this registry" in reasons[2]
    assert reasons[3].startswith("evaluation history [1]: stage: a program at 'published' can only move")
    assert "capacity" in reasons[4]
    assert "no location" in reasons[7]
    assert [p.index for p in report.skipped] == [5]
    assert {p.record_id for p in report.failed} == {
        None,
        "svc-no-side",
        "svc-unknown-org",
        "svc-half",
        "svc-capacity",
        "svc-nowhere",
    }
    # The failed record that had already created its program and organization left neither.
    assert await db.get(Listing, ids.imported_id("service", "svc-half")) is None
    assert await db.get(Organization, ids.imported_id("organization", "org-half")) is None
    assert await db.get(Listing, ids.imported_id("service", "svc-capacity")) is None
    assert await db.get(Listing, ids.imported_id("service", "svc-42")) is not None

    printed = format_report(report)
    assert printed.splitlines()[0].startswith("imported 1 of 8 records: 1 created, 0 updated, 0 unchanged")
    assert "not imported (6):" in printed and "skipped, not peer programs (1):" in printed


def test_read_export_reads_arrays_pages_objects_and_ndjson(tmp_path: Path) -> None:
    records = [foreign_record(), foreign_record(id="svc-43")]
    cases = {
        "array.json": json.dumps(records),
        "page.json": json.dumps({"total_items": 2, "contents": records}),
        "lines.ndjson": "\n".join(json.dumps(r) for r in records) + "\n\n",
    }
    for name, content in cases.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
        assert read_export(tmp_path / name) == records, name
    (tmp_path / "one.json").write_text(json.dumps(records[0]), encoding="utf-8")
    assert read_export(tmp_path / "one.json") == [records[0]]
    (tmp_path / "empty.json").write_text("  \n", encoding="utf-8")
    assert read_export(tmp_path / "empty.json") == []
    (tmp_path / "broken.ndjson").write_text(json.dumps(records[0]) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        read_export(tmp_path / "broken.ndjson")
    (tmp_path / "number.json").write_text("42", encoding="utf-8")
    with pytest.raises(ValueError, match="expected a JSON array"):
        read_export(tmp_path / "number.json")


@pytest.fixture
async def scratch_database_url(engine: AsyncEngine, database_url: str) -> AsyncIterator[str]:
    """A database of its own: run_import commits."""
    name = f"registry_hsds_{uuid.uuid4().hex[:12]}"
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    parts = urlsplit(database_url)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def test_run_import_commits_and_is_idempotent(scratch_database_url: str, tmp_path: Path) -> None:
    url = scratch_database_url
    await asyncio.to_thread(upgrade, url)
    path = tmp_path / "export.ndjson"
    path.write_text(json.dumps(foreign_record()) + "\n" + json.dumps("junk") + "\n", encoding="utf-8")
    settings = Settings(database_url=url)

    first = await asyncio.to_thread(run_import, url, path, settings)
    second = await asyncio.to_thread(run_import, url, path, settings)

    assert (first.created, len(first.failed), second.unchanged, second.created) == (1, 1, 1, 0)
    assert format_report(second).splitlines()[0] == (
        "imported 1 of 2 records: 0 created, 0 updated, 1 unchanged; "
        "organizations: 0 created (unverified), 0 updated"
    )
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(Listing)) == 1
            assert await conn.scalar(select(Organization.verification_status)) == "unverified"
    finally:
        await engine.dispose()


async def test_an_export_is_imported_chunk_by_chunk_with_one_report(
    scratch_database_url: str, tmp_path: Path
) -> None:
    """Several transactions (a few records each), one report whose record numbers are the export's."""
    url = scratch_database_url
    await asyncio.to_thread(upgrade, url)
    records: list[Any] = [
        foreign_record(
            id=f"svc-{n}", name=f"Chunked Circle {n}", organization={"id": f"org-{n}", "name": f"Org {n}"}
        )
        for n in range(7)
    ]
    records.insert(3, "junk")
    path = tmp_path / "export.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    settings = Settings(database_url=url)

    first = await asyncio.to_thread(lambda: run_import(url, path, settings, chunk=3))
    again = await asyncio.to_thread(lambda: run_import(url, path, settings, chunk=2))

    assert (first.created, first.organizations_created, [p.index for p in first.failed]) == (7, 7, [3])
    assert (again.unchanged, again.created) == (7, 0)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(Listing)) == 7
    finally:
        await engine.dispose()
