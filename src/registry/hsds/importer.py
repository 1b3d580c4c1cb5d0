"""Import HSDS services (fully nested, e.g. another directory's or this registry's own export) as
peer programs of unverified organizations.

Each record is imported in a SAVEPOINT of its own: a record that fails leaves nothing behind
(not even the organization it would have created) and the next record goes on. Records are
matched by id, so importing the same file twice changes nothing the second time. Programs are
written through the same services as the API (`create_program`, `update_program`,
`add_evaluation`), as a steward, so validation and the audit log are the API's."""

import asyncio
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from registry.audit import service as audit
from registry.auth.principal import Principal, Role
from registry.config import Settings
from registry.database.sessions import create_engine, create_sessionmaker
from registry.hsds import inbound, queries
from registry.hsds.inbound import NotAProgram, OrganizationDraft, ProgramDraft, Unmappable
from registry.http.errors import RegistryError
from registry.http.etags import etag_for
from registry.listings import service as listings
from registry.listings.schemas import EvaluationCreate
from registry.models import PROGRAM_KIND, Listing, Organization
from registry.organizations.schemas import OrganizationCreate
from registry.programs.schemas import ProgramCreate, ProgramUpdate
from registry.programs.service import create_program, update_program
from registry.taxonomies.vocabulary import STAGE_ORDER

IMPORTER = Principal(role=Role.STEWARD)
CORRECTION_REASON = "Evaluation stage set by an HSDS import"


@dataclass(frozen=True)
class ImportProblem:
    index: int
    record_id: str | None
    name: str | None
    reason: str


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    organizations_created: int = 0
    organizations_updated: int = 0
    # Records not imported at all, and why.
    failed: list[ImportProblem] = field(default_factory=list)
    # Partner listings (clinicians, evaluators ...): not programs, so not imported.
    skipped: list[ImportProblem] = field(default_factory=list)
    # What was left out of records that were imported.
    notes: list[ImportProblem] = field(default_factory=list)

    def add(self, other: "ImportReport") -> None:
        """Fold in the report of a later chunk of the same import."""
        for name in ("created", "updated", "unchanged", "organizations_created", "organizations_updated"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failed += other.failed
        self.skipped += other.skipped
        self.notes += other.notes

    @property
    def imported(self) -> int:
        return self.created + self.updated + self.unchanged


def read_export(path: Path | str) -> list[dict[str, Any]]:
    """HSDS services from a file: a JSON array, an HSDS page (`contents`), one object, or ndjson."""
    path = Path(path)
    text = path.read_text(encoding="utf-8").strip()
    if not text:
        return []
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError:
        data = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    data.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}: line {number}: not JSON ({exc.msg})") from exc
    if isinstance(data, dict):
        data = data["contents"] if isinstance(data.get("contents"), list) else [data]
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON array of services, an HSDS page or ndjson")
    return data


def _identity(record: Any) -> tuple[str | None, str | None]:
    if not isinstance(record, dict):
        return None, None
    record_id, name = record.get("id"), record.get("name")
    return (str(record_id) if record_id is not None else None, str(name) if name is not None else None)


def _reason(exc: Exception) -> str:
    if isinstance(exc, Unmappable):
        return exc.reason
    if isinstance(exc, RegistryError):
        return exc.detail
    if isinstance(exc, SQLAlchemyError):
        return f"the database refused it ({type(exc).__name__})"
    return str(exc)


# Records per transaction. One transaction for a whole export made PostgreSQL slower with every
# record: each record's savepoint is a subtransaction, and past 64 of them in one transaction
# every row visibility check consults pg_subtrans.
CHUNK = 200


async def import_services(
    session: AsyncSession, records: Iterable[dict[str, Any]], *, start: int = 0
) -> ImportReport:
    """Create or update one program (and its organization) per HSDS service; never commits.
    `start`: the first record's position in the export (for the report)."""
    vocab = await queries.vocabulary(session)
    report = ImportReport()
    for index, record in enumerate(records, start):
        record_id, name = _identity(record)
        try:
            draft = inbound.translate(record, vocab)
            async with session.begin_nested():
                outcome, org_outcome = await _apply(session, draft)
        except (Unmappable, RegistryError, msgspec.ValidationError, SQLAlchemyError) as exc:
            problems = report.skipped if isinstance(exc, NotAProgram) else report.failed
            problems.append(ImportProblem(index, record_id, name, _reason(exc)))
            continue
        setattr(report, outcome, getattr(report, outcome) + 1)
        if org_outcome is not None:
            attribute = f"organizations_{org_outcome}"
            setattr(report, attribute, getattr(report, attribute) + 1)
        report.notes.extend(ImportProblem(index, record_id, name, note) for note in draft.notes)
    return report


async def _upsert_organization(session: AsyncSession, draft: OrganizationDraft) -> str | None:
    org = await session.get(Organization, draft.id)
    if org is None:
        if draft.name is None:
            raise Unmappable(
                f"organization {draft.hsds_id} is not in this registry and the record does not describe it"
            )
        data = msgspec.convert(
            {
                "name": draft.name,
                "kinds": [PROGRAM_KIND],
                "website": draft.website,
                "description": draft.description,
            },
            OrganizationCreate,
        )
        org = Organization(
            id=draft.id,
            name=data.name.strip(),
            kinds=[PROGRAM_KIND],
            website=data.website,
            description=data.description,
            verification_status="unverified",
        )
        session.add(org)
        await session.flush()
        audit.record(
            session,
            IMPORTER,
            "create",
            "organization",
            org.id,
            owner_organization_id=org.id,
            changed_fields=["name", "kinds", "website", "description"],
        )
        return "created"
    # An organization this registry already has keeps its verification: a data refresh is not a
    # steward's decision. What the record says about it replaces what is stored.
    wanted: dict[str, Any] = {}
    if draft.name is not None:
        checked = msgspec.convert(
            {
                "name": draft.name,
                "kinds": [PROGRAM_KIND],
                "website": draft.website,
                "description": draft.description,
            },
            OrganizationCreate,
        )
        wanted = {
            "name": checked.name.strip(),
            "website": checked.website,
            "description": checked.description,
        }
    if PROGRAM_KIND not in org.kinds:
        wanted["kinds"] = sorted({*org.kinds, PROGRAM_KIND})
    changed = [name for name, value in wanted.items() if getattr(org, name) != value]
    if not changed:
        return None
    for name in changed:
        setattr(org, name, wanted[name])
    org.version += 1
    audit.record(
        session,
        IMPORTER,
        "update",
        "organization",
        org.id,
        owner_organization_id=org.id,
        changed_fields=changed,
    )
    await session.flush()
    return "updated"


async def _kind_of(session: AsyncSession, listing_id: Any) -> str | None:
    try:
        wanted = uuid.UUID(str(listing_id))
    except ValueError:
        return None
    return await session.scalar(select(Listing.kind).where(Listing.id == wanted))


async def _check_references(session: AsyncSession, draft: ProgramDraft) -> None:
    """Ids of other listings (clinical partner, evaluators) that this registry does not have are
    dropped, keeping the names: they are another directory's ids."""
    body = draft.body
    partner = body.get("clinical_partner_id")
    if partner and await _kind_of(session, partner) not in ("clinician", "treatment_program"):
        draft.notes.append(
            f"clinical partner {partner}: not a clinician or treatment program here, kept the name"
        )
        body["clinical_partner_id"] = None
    for evaluation in draft.evaluations:
        evaluator = evaluation.get("evaluator_id")
        if evaluator and await _kind_of(session, evaluator) != "evaluator":
            draft.notes.append(f"evaluator {evaluator}: not an evaluator listing here, kept the name")
            evaluation.pop("evaluator_id")


async def _apply(session: AsyncSession, draft: ProgramDraft) -> tuple[str, str | None]:
    """Write one draft: ("created" | "updated" | "unchanged", the organization's outcome)."""
    org_outcome = await _upsert_organization(session, draft.organization)
    await _check_references(session, draft)
    existing = await session.scalar(
        select(Listing)
        .where(Listing.id == draft.listing_id)
        .options(selectinload(Listing.contacts))
        .execution_options(populate_existing=True)
    )
    if existing is None:
        listing = await create_program(
            session, IMPORTER, msgspec.convert(draft.body, ProgramCreate), listing_id=draft.listing_id
        )
        for position, evaluation in enumerate(draft.evaluations):
            try:
                data = msgspec.convert(evaluation, EvaluationCreate)
                await listings.add_evaluation(session, IMPORTER, listing, data)
            except (RegistryError, msgspec.ValidationError) as exc:
                raise Unmappable(f"evaluation history [{position}]: {_reason(exc)}") from exc
        if draft.assured_on is not None:
            # Importing confirms nothing: the listing was last confirmed when its source says.
            listing.last_verified_at = datetime.combine(draft.assured_on, time(), UTC)
        return "created", org_outcome
    if existing.kind != PROGRAM_KIND:
        raise Unmappable(f"id {existing.id} is a {existing.kind} listing here, not a peer program")
    if existing.organization_id != draft.organization.id:
        raise Unmappable(
            f"program {existing.id} belongs to another organization here; moving it is not supported"
        )
    if existing.archived_at is not None:
        draft.notes.append("archived here: updated, and stays archived")
    version = existing.version
    body = {k: v for k, v in draft.body.items() if k != "organization_id"}
    body["contacts"] = inbound.merge_contacts(existing.contacts, body["contacts"])
    listing = await update_program(
        session, IMPORTER, existing.id, msgspec.convert(body, ProgramUpdate), etag_for(existing.id, version)
    )
    if draft.stage is not None and draft.stage != listing.evaluation_stage:
        backward = STAGE_ORDER.index(draft.stage) < STAGE_ORDER.index(listing.evaluation_stage)
        move = EvaluationCreate(
            stage=draft.stage, correction=backward, correction_reason=CORRECTION_REASON if backward else None
        )
        await listings.add_evaluation(session, IMPORTER, listing, move)
    return ("unchanged" if listing.version == version else "updated"), org_outcome


def format_report(report: ImportReport) -> str:
    """What `registry import-hsds` prints."""
    total = report.imported + len(report.failed) + len(report.skipped)
    lines = [
        f"imported {report.imported} of {total} records: "
        f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged; "
        f"organizations: {report.organizations_created} created (unverified), "
        f"{report.organizations_updated} updated"
    ]
    if report.failed:
        lines.append(f"not imported ({len(report.failed)}):")
        lines.extend(f"  #{p.index} {p.record_id or '-'} {p.name or ''}: {p.reason}" for p in report.failed)
    if report.skipped:
        lines.append(f"skipped, not peer programs ({len(report.skipped)}):")
        lines.extend(f"  #{p.index} {p.record_id or '-'} {p.name or ''}: {p.reason}" for p in report.skipped)
    if report.notes:
        lines.append(f"imported with omissions ({len(report.notes)}):")
        lines.extend(f"  #{p.index} {p.record_id or '-'}: {p.reason}" for p in report.notes)
    return "\n".join(lines)


def run_import(
    url: str, path: Path | str, settings: Settings | None = None, *, chunk: int = CHUNK
) -> ImportReport:
    """Read `path` and import it into the database at `url`, `chunk` records per transaction (a
    savepoint per record within it). Importing is idempotent: after an interruption, importing
    the same file again completes it. For the CLI: print `format_report(report)`."""
    records = read_export(path)
    settings = settings or Settings.from_env()

    async def run() -> ImportReport:
        engine = create_engine(settings, url)
        report = ImportReport()
        try:
            for first in range(0, len(records), chunk):
                async with create_sessionmaker(engine)() as session, session.begin():
                    report.add(await import_services(session, records[first : first + chunk], start=first))
            return report
        finally:
            await engine.dispose()

    return asyncio.run(run())
