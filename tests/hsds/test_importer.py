"""The HSDS importer: the registry's own export round-trips with no loss of the mapped fields,
importing twice changes nothing, another directory's records are mapped as far as they can be,
and a bad record is reported and leaves nothing behind while the good ones go in."""

import asyncio
import copy
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import selectinload

from registry.config import Settings
from registry.database.migrations import upgrade
from registry.hsds import ids, importer, queries
from registry.hsds.importer import format_report, import_services, iter_export, read_export, run_import
from registry.hsds.inbound import ProgramDraft
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


# --- the importer's batches: the same rows as importing record by record -------------------------

# What differs between two runs of the same import: generated ids and the times of the run.
RUN_COLUMNS = {"created_at", "updated_at", "at", "recorded_at"}
IMPORTED_TABLES = (
    ("organization", "id", ()),
    ("listing", "id", ()),
    ("contact", "listing_id, position", ("id",)),
    ("evaluation_record", "listing_id, recorded_at, id", ("id",)),
    ("audit_event", "id", ("id",)),
    ("evaluation_tally", "fact, code, quarter", ("id",)),
    ("demand_place", "country, region, lat, lon", ("id",)),
)


async def written(db: AsyncSession, audit_after: int) -> dict[str, list[dict[str, Any]]]:
    """Every row an import writes or counts (the reports' tallies), as comparable values."""
    found: dict[str, list[dict[str, Any]]] = {}
    for table, order, generated in IMPORTED_TABLES:
        where = f"WHERE id > {audit_after}" if table == "audit_event" else ""
        query = f"SELECT * FROM {table} {where} ORDER BY {order}"  # noqa: S608 - the tables above
        rows = (await db.execute(text(query))).mappings().all()
        found[table] = []
        for row in rows:
            values = {k: v for k, v in row.items() if k not in RUN_COLUMNS and k not in generated}
            verified = values.get("last_verified_at")
            if verified is not None and verified.time() != datetime.min.time():
                values["last_verified_at"] = "the time of the import"
            found[table].append(values)
    return found


async def test_batches_write_what_importing_record_by_record_writes(
    seeded: AsyncSession, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New programs are written a batch at a time; everything else by the services, record by
    record. Whatever a batch holds (updates, an organization created then renamed, one id twice,
    failures, junk; batches of 7), the rows, the audit log, the tallies and the report are those of
    importing each record in a savepoint of its own through the services."""
    db = seeded
    records: list[Any] = await export(client)
    programs = programs_of(records)
    await db.execute(delete(Listing).where(Listing.id.in_([uuid.UUID(r["id"]) for r in programs[::2]])))
    await db.commit()
    renamed_org = copy.deepcopy(programs[1])
    renamed_org["organization"]["description"] = "Described anew by the import."
    twice = copy.deepcopy(programs[0])
    twice["name"] = "Imported Twice, Renamed the Second Time"
    records[5:5] = [
        foreign_record(id="svc-new", organization={"id": "org-new", "name": "New Collective"}),
        foreign_record(id="svc-renamed", organization={"id": "org-new", "name": "Renamed Collective"}),
        "junk",
        renamed_org,
        foreign_record(
            id="svc-half",
            organization={"id": "org-half", "name": "Half Collective"},
            metadata=[
                {
                    "field_name": "evaluation_stage",
                    "replacement_value": stage,
                    "last_action_type": "evaluation",
                }
                for stage in ("published", "pilot_running")
            ],
        ),
        twice,
        foreign_record(id="svc-no-org", organization=None, organization_id="org-nowhere"),
    ]
    records.append(twice)
    monkeypatch.setattr(importer, "CHUNK", 7)
    mark = await db.scalar(select(func.max(AuditEvent.id))) or 0

    in_batches = await db.begin_nested()
    batched = await import_services(db, records)
    after_batches = await written(db, mark)
    await in_batches.rollback()
    one_by_one = await db.begin_nested()
    vocab = await queries.vocabulary(db)
    reference = await importer._import_one_by_one(db, list(enumerate(records)), vocab)
    after_one_by_one = await written(db, mark)
    await one_by_one.rollback()

    assert batched.created > len(programs) // 3 and batched.updated == 1 and batched.unchanged > 0
    assert batched.organizations_created == 1 and batched.organizations_updated >= 2
    assert {p.record_id for p in batched.failed} == {None, "svc-half", "svc-no-org"}
    assert batched == reference
    assert format_report(batched) == format_report(reference)
    assert after_batches == after_one_by_one
    assert any(after_batches["evaluation_tally"]) and any(after_batches["demand_place"])


REFUSE_BY_NAME = """
    CREATE FUNCTION refuse_by_name() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'refused';
    END $$"""


async def test_a_record_the_database_refuses_fails_alone(seeded: AsyncSession) -> None:
    """A write the database refuses in a batch of new programs rolls the batch back, and its records
    go in again one by one: only the refused one is left out, with nothing of it behind."""
    db = seeded
    await db.execute(text(REFUSE_BY_NAME))
    await db.execute(
        text(
            "CREATE TRIGGER refuse_by_name BEFORE INSERT OR UPDATE ON listing FOR EACH ROW "
            "WHEN (NEW.name = 'Refused Circle') EXECUTE FUNCTION refuse_by_name()"
        )
    )

    def record(n: int, name: str | None = None) -> dict[str, Any]:
        return foreign_record(
            id=f"svc-r{n}", name=name or f"Circle {n}", organization={"id": f"org-r{n}", "name": f"Org {n}"}
        )

    events = await audit_count(db)
    report = await import_services(db, [record(0), record(1), record(2, "Refused Circle"), record(3)])

    assert (report.created, report.organizations_created) == (3, 3)
    assert [(p.index, p.record_id) for p in report.failed] == [(2, "svc-r2")]
    assert report.failed[0].reason.startswith("the database refused it (")
    assert {p.index for p in report.notes} == {0, 1, 3}
    assert await db.get(Listing, ids.imported_id("service", "svc-r2")) is None
    assert await db.get(Organization, ids.imported_id("organization", "org-r2")) is None
    for n in (0, 1, 3):
        assert await db.get(Listing, ids.imported_id("service", f"svc-r{n}")) is not None
    assert await audit_count(db) == events + 6  # an organization and a program each

    # An update the database refuses (written by the services, in a savepoint of its own).
    again = await import_services(db, [record(4), record(0, "Refused Circle"), record(5)])
    assert (again.created, again.updated, [p.index for p in again.failed]) == (2, 0, [1])
    listing = await db.get(Listing, ids.imported_id("service", "svc-r0"))
    assert listing is not None and listing.name == "Circle 0"


def test_iter_export_reads_what_read_export_reads(tmp_path: Path) -> None:
    """run_import reads ndjson a line at a time; it must read every file as read_export does, and
    refuse the same files with the same error before anything is imported."""
    records = [foreign_record(), foreign_record(id="svc-43"), foreign_record(id="svc-44")]
    lines = [json.dumps(r) for r in records]
    cases = {
        "array.json": json.dumps(records),
        "pretty.json": json.dumps(records, indent=2),
        "page.json": json.dumps({"total_items": 3, "contents": records}),
        "one.json": json.dumps(records[0]),
        "one-line.ndjson": lines[0] + "\n",
        "lines.ndjson": "\n".join(lines) + "\n\n",
        "crlf.ndjson": "\r\n".join(lines),
        "blank-lines.ndjson": "\n \n" + "\n\n".join(lines) + "\n  \n",
        "values.ndjson": '{"a": NaN}\n"text"\n42\n',
        "empty.json": "  \n",
        "broken.ndjson": "\n\n" + lines[0] + "\n\n{oops\n" + lines[1],
        "number.json": "42",
        "bom.ndjson": "\ufeff" + "\n".join(lines),
    }
    for name, content in cases.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    (tmp_path / "latin1.ndjson").write_bytes(b'{"name": "caf\xe9"}\n{"name": "tea"}\n')

    def outcome(read: Callable[[Path], Iterable[Any]], path: Path) -> tuple[str, str]:
        try:
            return "read", repr(list(read(path)))
        except ValueError as exc:
            return type(exc).__name__, str(exc)

    for path in sorted(tmp_path.iterdir()):
        assert outcome(iter_export, path) == outcome(read_export, path), path.name


async def test_records_are_read_ahead_in_order_with_the_terms_of_the_chunk(db: AsyncSession) -> None:
    """run_import reads and translates the next records while it waits for the database: they come
    in the export's order, translated with the terms of the chunk then imported (a record
    translated with older terms is translated again), and a file that fails to read stops it."""
    vocab = await queries.vocabulary(db)
    newer = type(vocab)(dict(vocab.terms))  # the same terms, read again: another vocabulary
    records: list[Any] = [foreign_record(id=f"svc-{n}") for n in range(5)]

    def reading() -> Iterator[Any]:
        yield from records
        raise OSError("the disk went away")

    ahead = importer._Ahead(reading(), limit=3)
    work = asyncio.create_task(ahead.work())
    try:
        ahead.use(vocab)
        first = ahead.take(1)
        await asyncio.sleep(0.05)  # waiting, as for the database: three more are read and translated
        assert [r.index for r in ahead.ready] == [1, 2, 3]
        assert all(r.vocab is vocab and isinstance(r.translated, ProgramDraft) for r in ahead.ready)
        ahead.use(newer)
        second = ahead.take(2)
        drafts = [r.translated for r in second]
        report = await importer._Batch(db, newer).run(second)
        assert report.created == 2
        assert all(
            isinstance(r.translated, ProgramDraft) and r.translated is not d
            for r, d in zip(second, drafts, strict=True)
        )
        with pytest.raises(OSError, match="disk"):
            ahead.take(5)
    finally:
        work.cancel()
    assert [r.index for r in first + second] == [0, 1, 2]
    assert [r.record["id"] for r in first + second] == ["svc-0", "svc-1", "svc-2"]
