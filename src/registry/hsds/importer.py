"""Import HSDS services (fully nested, e.g. another directory's or this registry's own export) as
peer programs of unverified organizations.

Each record is imported as if in a SAVEPOINT of its own: a record that fails leaves nothing
behind (not even the organization it would have created) and the next record goes on. Records
are matched by id, so importing the same file twice changes nothing the second time. Programs
are written with the rules of the API's own services (`create_program`, `update_program`,
`add_evaluation`), as a steward, so validation and the audit log are the API's.

How, fast: records are taken a batch at a time. A record that creates a program (the common case)
is checked completely in Python first, with what the batch needs from the database read in one
query each (existing listings, organizations, listings named as partners), and only then becomes
rows; the rows of the whole batch are written with one INSERT per table. Anything else (an update,
an organization to change) goes through `create_program` / `update_program` themselves, in a
savepoint of its own, after the rows before it are written. Should the database refuse the
batch's rows, the batch is rolled back and imported again record by record, each in a savepoint,
which is what leaves exactly the failing records out. `run_import` reads an ndjson export a line
at a time, and reads and translates the next records while it waits for the database."""

import asyncio
import collections
import contextlib
import functools
import gc
import json
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, cast

import msgspec
from sqlalchemy import ColumnElement, Table, Uuid, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, selectinload
from sqlalchemy.sql.schema import CallableColumnDefault, ScalarElementColumnDefault

from registry.audit import service as audit
from registry.auth.principal import Principal, Role
from registry.config import Settings
from registry.database.base import utcnow
from registry.database.sessions import create_engine, create_sessionmaker
from registry.hsds import inbound, queries
from registry.hsds.inbound import NotAProgram, OrganizationDraft, ProgramDraft, Unmappable
from registry.hsds.mapping import Vocabulary
from registry.http.errors import InvalidInput, RegistryError
from registry.http.etags import etag_for
from registry.listings import location as locations
from registry.listings import service as listings
from registry.listings.schemas import EvaluationCreate
from registry.models import (
    PROGRAM_KIND,
    AuditEvent,
    Contact,
    EvaluationRecord,
    Listing,
    Organization,
    TaxonomyTerm,
)
from registry.organizations.schemas import OrganizationCreate
from registry.programs.schemas import VOCABULARIES, ProgramCreate, ProgramUpdate
from registry.programs.service import (
    _PLAIN,
    _clinical_partner,
    _schedule_values,
    create_program,
    default_precision,
    update_program,
    works_remotely,
)
from registry.taxonomies.service import check_codes, check_fields
from registry.taxonomies.vocabulary import STAGE_ORDER

IMPORTER = Principal(role=Role.STEWARD)
CORRECTION_REASON = "Evaluation stage set by an HSDS import"
PARTNER_KINDS = ("clinician", "treatment_program")


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

    def count(
        self, index: int, record: Any, draft: ProgramDraft, outcome: str, org_outcome: str | None
    ) -> None:
        """A record imported: its outcome, its organization's, and what was left out of it."""
        setattr(self, outcome, getattr(self, outcome) + 1)
        if org_outcome is not None:
            attribute = f"organizations_{org_outcome}"
            setattr(self, attribute, getattr(self, attribute) + 1)
        record_id, name = _identity(record)
        self.notes.extend(ImportProblem(index, record_id, name, note) for note in draft.notes)

    def refuse(self, index: int, record: Any, exc: Exception) -> None:
        """A record not imported."""
        record_id, name = _identity(record)
        problems = self.skipped if isinstance(exc, NotAProgram) else self.failed
        problems.append(ImportProblem(index, record_id, name, _reason(exc)))


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


def _lines(path: Path) -> Generator[str, None, None]:
    """The file's lines as `str.splitlines` of its stripped text gives them, from the first one
    that is not blank (`read_export` numbers them so), read one at a time."""
    started = False
    with path.open("rb") as f:
        for raw in f:
            for line in raw.decode("utf-8").splitlines():
                if started or line.strip():
                    started = True
                    yield line


def _is_json(line: str) -> bool:
    try:
        msgspec.json.decode(line, type=msgspec.Raw)  # checks the syntax without building anything
    except msgspec.DecodeError:
        try:
            json.loads(line)  # NaN, Infinity, lone surrogates ... (msgspec refuses what json takes)
        except json.JSONDecodeError:
            return False
    return True


def _decode(line: str) -> Any:
    try:
        return msgspec.json.decode(line)
    except msgspec.DecodeError:
        return json.loads(line)


def _is_ndjson(path: Path) -> bool:
    """Whether `read_export` reads the file as ndjson, each line of it good JSON: two lines or more
    that are not blank, each one a JSON value (then the whole text is not one)."""
    lines = _lines(path)
    try:
        count = 0
        for line in lines:
            if line.strip():
                if not _is_json(line):
                    return False
                count += 1
        return count > 1
    except UnicodeDecodeError:
        return False
    finally:
        lines.close()


def iter_export(path: Path | str) -> Iterator[Any]:
    """`read_export`'s records, one at a time: ndjson is read line by line instead of whole (the
    file is checked first, so a line that is not JSON still stops the import before anything is
    written, with `read_export`'s error); every other form, and any file the check finds wrong,
    is read by `read_export` itself."""
    path = Path(path)
    if not _is_ndjson(path):
        return iter(read_export(path))
    return (_decode(line) for line in _lines(path) if line.strip())


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


# What a record may fail with and still let the import go on.
RECORD_ERRORS = (Unmappable, RegistryError, msgspec.ValidationError, SQLAlchemyError)

# Records per transaction (run_import) and per batch (import_services). One transaction for a
# whole export made PostgreSQL slower with every record: a savepoint is a subtransaction, and past
# 64 of them in one transaction every row visibility check consults pg_subtrans. A batch takes one
# savepoint, and one more per record that is not a new program.
CHUNK = 200


async def import_services(session: AsyncSession, records: Iterable[Any], *, start: int = 0) -> ImportReport:
    """Create or update one program (and its organization) per HSDS service; never commits.
    `start`: the first record's position in the export (for the report)."""
    return await _import(session, [_Record(index, record) for index, record in enumerate(records, start)])


@dataclass
class _Record:
    """A record of the export, and what `inbound.translate` made of it with `vocab` (when it was
    translated ahead, see _Ahead)."""

    index: int
    record: Any
    vocab: Vocabulary | None = None
    translated: ProgramDraft | Exception | None = None


async def _import(
    session: AsyncSession, records: list[_Record], ahead: "_Ahead | None" = None
) -> ImportReport:
    vocab = await _vocabulary(session)
    if ahead is not None:
        ahead.use(vocab)
    report = ImportReport()
    for first in range(0, len(records), CHUNK):
        report.add(await _import_batch(session, records[first : first + CHUNK], vocab))
    return report


_TERM_COLUMNS = (
    TaxonomyTerm.taxonomy,
    TaxonomyTerm.code,
    TaxonomyTerm.label,
    TaxonomyTerm.description,
    TaxonomyTerm.position,
    TaxonomyTerm.retired_at,
)
# The terms last read and the vocabulary made of them (`queries.vocabulary`).
_vocabulary_read: tuple[list[tuple[Any, ...]], Vocabulary] | None = None


async def _vocabulary(session: AsyncSession) -> Vocabulary:
    """`queries.vocabulary`, made again only when a term has changed since it was last made (an
    import reads the terms for every chunk)."""
    global _vocabulary_read

    async def terms() -> list[tuple[Any, ...]]:
        rows = await session.execute(select(*_TERM_COLUMNS).order_by(*_TERM_COLUMNS[:2]))
        return [tuple(row) for row in rows]

    before = await terms()
    if _vocabulary_read is not None and _vocabulary_read[0] == before:
        return _vocabulary_read[1]
    vocab = await queries.vocabulary(session)
    if await terms() == before:  # nothing changed while it was made
        _vocabulary_read = before, vocab
    return vocab


async def _import_batch(session: AsyncSession, batch: list[_Record], vocab: Vocabulary) -> ImportReport:
    try:
        async with session.begin_nested():
            return await _Batch(session, vocab).run(batch)
    except (SQLAlchemyError, _Unwritable):
        # The database refused a write of the batch (or a read): it is rolled back whole, and the
        # records go in again one by one, each in a savepoint, which leaves out only the failing.
        pass
    return await _import_one_by_one(session, [(r.index, r.record) for r in batch], vocab)


async def _import_one_by_one(
    session: AsyncSession, batch: list[tuple[int, Any]], vocab: Vocabulary
) -> ImportReport:
    report = ImportReport()
    for index, record in batch:
        try:
            draft = inbound.translate(record, vocab)
            async with session.begin_nested():
                outcome, org_outcome = await _apply(session, draft)
        except RECORD_ERRORS as exc:
            report.refuse(index, record, exc)
            continue
        report.count(index, record, draft, outcome, org_outcome)
    return report


# --- one record at a time, with the API's services ----------------------------------------------


def _described(draft: OrganizationDraft) -> OrganizationCreate:
    """What a record says of its organization, checked as the API checks a new one (it names it)."""
    return msgspec.convert(
        {
            "name": draft.name,
            "kinds": [PROGRAM_KIND],
            "website": draft.website,
            "description": draft.description,
        },
        OrganizationCreate,
    )


def _new_organization(draft: OrganizationDraft) -> OrganizationCreate:
    """An organization this registry does not have, as the record describes it."""
    if draft.name is None:
        raise Unmappable(
            f"organization {draft.hsds_id} is not in this registry and the record does not describe it"
        )
    return _described(draft)


async def _upsert_organization(session: AsyncSession, draft: OrganizationDraft) -> str | None:
    org = await session.get(Organization, draft.id)
    if org is None:
        data = _new_organization(draft)
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
    changed = _organization_changes(org.name, org.kinds, org.website, org.description, draft)
    if not changed:
        return None
    for name, value in changed.items():
        setattr(org, name, value)
    org.version += 1
    audit.record(
        session,
        IMPORTER,
        "update",
        "organization",
        org.id,
        owner_organization_id=org.id,
        changed_fields=list(changed),
    )
    await session.flush()
    return "updated"


def _organization_changes(
    name: str, kinds: list[str], website: str | None, description: str | None, draft: OrganizationDraft
) -> dict[str, Any]:
    """What a record changes of an organization this registry has: it keeps its verification (a
    data refresh is not a steward's decision), and what the record says about it replaces what is
    stored."""
    wanted: dict[str, Any] = {}
    if draft.name is not None:
        checked = _described(draft)
        wanted = {
            "name": checked.name.strip(),
            "website": checked.website,
            "description": checked.description,
        }
    if PROGRAM_KIND not in kinds:
        wanted["kinds"] = sorted({*kinds, PROGRAM_KIND})
    stored = {"name": name, "kinds": kinds, "website": website, "description": description}
    return {key: value for key, value in wanted.items() if stored[key] != value}


# Listings named by records (clinical partners, evaluators), read for a batch: id -> (kind, name),
# and the ids asked about (those not found are not in this registry).
@dataclass
class _Named:
    asked: set[uuid.UUID] = field(default_factory=set)
    found: dict[uuid.UUID, tuple[str, str]] = field(default_factory=dict)


def _listing_id(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


async def _kind_of(session: AsyncSession, listing_id: Any, named: _Named | None = None) -> str | None:
    wanted = _listing_id(listing_id)
    if wanted is None:
        return None
    if named is not None and wanted in named.asked:
        found = named.found.get(wanted)
        return found[0] if found else None
    return await session.scalar(select(Listing.kind).where(Listing.id == wanted))


async def _check_references(session: AsyncSession, draft: ProgramDraft, named: _Named | None = None) -> None:
    """Ids of other listings (clinical partner, evaluators) that this registry does not have are
    dropped, keeping the names: they are another directory's ids."""
    body = draft.body
    partner = body.get("clinical_partner_id")
    if partner and await _kind_of(session, partner, named) not in PARTNER_KINDS:
        draft.notes.append(
            f"clinical partner {partner}: not a clinician or treatment program here, kept the name"
        )
        body["clinical_partner_id"] = None
    for evaluation in draft.evaluations:
        evaluator = evaluation.get("evaluator_id")
        if evaluator and await _kind_of(session, evaluator, named) != "evaluator":
            draft.notes.append(f"evaluator {evaluator}: not an evaluator listing here, kept the name")
            evaluation.pop("evaluator_id")


async def _apply(
    session: AsyncSession, draft: ProgramDraft, named: _Named | None = None
) -> tuple[str, str | None]:
    """Write one draft: ("created" | "updated" | "unchanged", the organization's outcome)."""
    org_outcome = await _upsert_organization(session, draft.organization)
    await _check_references(session, draft, named)
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


# --- a batch at a time: new programs as rows ------------------------------------------------------


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


_ORGANIZATION, _LISTING, _CONTACT = _table(Organization), _table(Listing), _table(Contact)
_EVALUATION, _AUDIT = _table(EvaluationRecord), _table(AuditEvent)


@dataclass(frozen=True)
class _Org:
    """An organization as stored (or as a record of the batch creates it)."""

    name: str
    kinds: tuple[str, ...]
    website: str | None
    description: str | None


@dataclass
class _Rows:
    """What records of a batch create and is not written yet, a list of rows per table, each row
    with the same columns: one INSERT per table writes them."""

    organizations: list[dict[str, Any]] = field(default_factory=list)
    listings: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    audit_events: list[dict[str, Any]] = field(default_factory=list)

    def extend(self, other: "_Rows") -> None:
        self.organizations += other.organizations
        self.listings += other.listings
        self.contacts += other.contacts
        self.evaluations += other.evaluations
        self.audit_events += other.audit_events

    async def write(self, session: AsyncSession) -> None:
        # Parents first; one statement per table, so that the tables' statement triggers run once.
        for table, rows in (
            (_ORGANIZATION, self.organizations),
            (_LISTING, self.listings),
            (_CONTACT, self.contacts),
            (_EVALUATION, self.evaluations),
            (_AUDIT, self.audit_events),
        ):
            if rows:
                await _insert(session, table, rows)
                rows.clear()


class _Unwritable(Exception):
    """Rows that could not be sent (text that is not Unicode): the records go in one by one."""


def _python_defaults(table: Table) -> dict[str, Callable[[], Any]]:
    """The defaults SQLAlchemy gives columns in Python (ids, times, empty lists ...), which an INSERT
    of its own must give as the ORM would."""
    defaults: dict[str, Callable[[], Any]] = {}
    for column in table.columns:
        default = column.default
        if isinstance(default, ScalarElementColumnDefault):
            defaults[column.name] = functools.partial(lambda value: value, default.arg)
        elif isinstance(default, CallableColumnDefault):
            make: Callable[[Any], Any] = default.arg  # takes the execution context, unused by ours
            defaults[column.name] = functools.partial(make, None)
    return defaults


_DEFAULTS = {
    table.name: _python_defaults(table) for table in (_ORGANIZATION, _LISTING, _CONTACT, _EVALUATION, _AUDIT)
}


async def _insert(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT the rows (each with the same columns) in one statement that takes them all as one
    JSON parameter: the same statement whatever the number of rows, so it is prepared once. Rows
    are inserted in the order given (audit events are numbered so)."""
    missing = [(name, make) for name, make in _DEFAULTS[table.name].items() if name not in rows[0]]
    for row in rows:
        for name, make in missing:
            row[name] = make()
    columns = ", ".join(f'"{name}"' for name in rows[0])
    try:
        payload = msgspec.json.encode(rows).decode()
    except (msgspec.EncodeError, UnicodeError) as exc:
        raise _Unwritable(str(exc)) from exc
    await session.execute(
        text(
            f'INSERT INTO "{table.name}" ({columns}) SELECT {columns} '  # noqa: S608 - names of our columns
            f'FROM jsonb_populate_recordset(NULL::"{table.name}", CAST(:rows AS jsonb)) WITH ORDINALITY AS r '
            "ORDER BY r.ordinality"
        ),
        {"rows": payload},
    )


class _Clock:
    """The time of each row written, strictly increasing: a listing's evaluation records are
    ordered by the time they were recorded, as when each was written by a statement of its own."""

    def __init__(self) -> None:
        self.last = utcnow()

    def now(self) -> datetime:
        self.last = max(utcnow(), self.last + timedelta(microseconds=1))
        return self.last


def _audit_row(
    at: datetime,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID,
    owner: uuid.UUID,
    changed: Iterable[str],
) -> dict[str, Any]:
    """What `audit.record` adds, as a row."""
    return {
        "at": at,
        "actor_role": IMPORTER.role.value,
        "actor_key_id": IMPORTER.key_id,
        "actor_organization_id": IMPORTER.organization_id,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "owner_organization_id": owner,
        "changed_fields": sorted(set(changed)),
        "note": None,
    }


def _one_of(column: InstrumentedAttribute[uuid.UUID], ids: Iterable[uuid.UUID]) -> ColumnElement[bool]:
    """`column IN (ids)` as `column = ANY($1)`: one statement whatever the number of ids, so it is
    prepared once."""
    return column == any_(bindparam("ids", list(ids), type_=ARRAY(Uuid)))


class _Slow(Exception):
    """This record is not a new program of a known (or new) organization: the services write it."""


def _translate(record: Any, vocab: Vocabulary) -> ProgramDraft | Exception:
    try:
        return inbound.translate(record, vocab)
    except Exception as exc:  # what a record fails with, or (any other) what stops the import
        return exc


class _Ahead:
    """The export's records, read and translated ahead, a record at a time, whenever the import
    waits for the database (a task of the same event loop: never while it works itself). With
    the vocabulary of the chunk before: a record is translated again if the terms have changed."""

    def __init__(self, records: Iterator[Any], limit: int) -> None:
        self.records = records
        self.limit = limit
        self.count = 0
        self.ready: collections.deque[_Record] = collections.deque()
        self.vocab: Vocabulary | None = None
        self.end: BaseException | None = None  # StopIteration, or what reading the file raised
        self.wanted = asyncio.Event()

    def _read(self) -> _Record | None:
        if self.end is not None:
            return None
        try:
            record = next(self.records)
        except Exception as exc:  # StopIteration included
            self.end = exc
            return None
        self.count += 1
        return _Record(self.count - 1, record)

    def use(self, vocab: Vocabulary) -> None:
        """Translate with these terms from now on (the chunk's)."""
        self.vocab = vocab
        self.wanted.set()

    def take(self, n: int) -> list[_Record]:
        """The next n records (fewer at the end of the export)."""
        taken: list[_Record] = []
        while len(taken) < n:
            item = self.ready.popleft() if self.ready else self._read()
            if item is None:
                if not isinstance(self.end, StopIteration):
                    raise cast(BaseException, self.end)
                break
            taken.append(item)
        self.wanted.set()
        return taken

    async def work(self) -> None:
        while True:
            vocab = self.vocab
            if vocab is None or len(self.ready) >= self.limit or self.end is not None:
                self.wanted.clear()
                await self.wanted.wait()
                continue
            item = self._read()
            if item is not None:
                item.vocab, item.translated = vocab, _translate(item.record, vocab)
                self.ready.append(item)
            await asyncio.sleep(0)


class _Batch:
    def __init__(self, session: AsyncSession, vocab: Vocabulary) -> None:
        self.session = session
        self.vocab = vocab
        self.active: dict[str, set[str]] = {}
        for (taxonomy, code), term in vocab.terms.items():
            if not term.retired:
                self.active.setdefault(taxonomy, set()).add(code)
        self.rows = _Rows()
        self.clock = _Clock()
        # Listings that exist, or that a record of this batch wrote: a record for one is written
        # by the services. Organizations as they are now (None: not in this registry); one a
        # record changed through the services is read again when next needed.
        self.listings: set[uuid.UUID] = set()
        self.organizations: dict[uuid.UUID, _Org | None] = {}
        self.named = _Named()
        # (organization, what a record says of it) found to change nothing
        self.unchanged: set[tuple[_Org, OrganizationDraft]] = set()

    async def run(self, batch: list[_Record]) -> ImportReport:
        report = ImportReport()
        drafts: list[tuple[int, Any, ProgramDraft | Exception]] = []
        for item in batch:
            if item.vocab is not self.vocab or item.translated is None:
                item.translated = _translate(item.record, self.vocab)
            drafts.append((item.index, item.record, item.translated))
        await self._read([d for _, _, d in drafts if isinstance(d, ProgramDraft)])
        for index, record, draft in drafts:
            if isinstance(draft, Exception):
                if not isinstance(draft, RECORD_ERRORS):
                    raise draft
                report.refuse(index, record, draft)
                continue
            try:
                rows, org_outcome = await self._new_program(draft)
            except _Slow:
                await self.rows.write(self.session)
                self.listings.add(draft.listing_id)
                self.organizations.pop(draft.organization.id, None)
                try:
                    async with self.session.begin_nested():
                        outcome, org_outcome = await _apply(self.session, draft, self.named)
                except RECORD_ERRORS as exc:
                    report.refuse(index, record, exc)
                    continue
                report.count(index, record, draft, outcome, org_outcome)
                continue
            except (Unmappable, RegistryError, msgspec.ValidationError) as exc:
                report.refuse(index, record, exc)
                continue
            self.rows.extend(rows)
            self.listings.add(draft.listing_id)
            report.count(index, record, draft, "created", org_outcome)
        await self.rows.write(self.session)
        return report

    async def _read(self, drafts: list[ProgramDraft]) -> None:
        """What the batch's records need from the database, one query each."""
        session = self.session
        listing_ids = {d.listing_id for d in drafts}
        if listing_ids:
            self.listings |= set(
                await session.scalars(select(Listing.id).where(_one_of(Listing.id, listing_ids)))
            )
        org_ids = {d.organization.id for d in drafts}
        self.organizations = dict.fromkeys(org_ids)
        if org_ids:
            await self._read_organizations(org_ids)
        for draft in drafts:
            for value in (
                draft.body.get("clinical_partner_id"),
                *(e.get("evaluator_id") for e in draft.evaluations),
            ):
                if value and (named := _listing_id(value)) is not None:
                    self.named.asked.add(named)
        if self.named.asked:
            rows = await session.execute(
                select(Listing.id, Listing.kind, Listing.name).where(_one_of(Listing.id, self.named.asked))
            )
            self.named.found = {row.id: (row.kind, row.name) for row in rows}

    async def _read_organizations(self, org_ids: set[uuid.UUID]) -> None:
        columns = (
            Organization.id,
            Organization.name,
            Organization.kinds,
            Organization.website,
            Organization.description,
        )
        for row in await self.session.execute(select(*columns).where(_one_of(Organization.id, org_ids))):
            self.organizations[row.id] = _Org(row.name, tuple(row.kinds), row.website, row.description)

    async def _listing_name(self, listing_id: uuid.UUID, kinds: tuple[str, ...]) -> str:
        """The name of the listing `listings.get_listing` finds (or its NotFound): as the batch
        read it, when it did."""
        found = self.named.found.get(listing_id)
        if found is not None and found[0] in kinds:
            return found[1]
        return (await listings.get_listing(self.session, IMPORTER, listing_id, kinds)).name

    async def _check(self, fields: Mapping[str, tuple[str, list[str]]]) -> None:
        """`check_codes`: in memory when every code is an active term (the vocabulary was read
        with the batch); otherwise by `check_codes` itself, for its error."""
        for taxonomy, codes in fields.values():
            active = self.active.get(taxonomy, set())
            if any(code not in active for code in codes):
                await check_codes(self.session, fields)
                return

    async def _new_program(self, draft: ProgramDraft) -> tuple[_Rows, str | None]:
        """`_apply` of a record that creates a program, as rows (nothing written), checked as the
        services check it and in the same order, so a record fails with the same reason. Raises
        _Slow for any other record."""
        if draft.listing_id in self.listings:
            raise _Slow  # an update: _apply checks the record from the start, in its order
        rows = _Rows()
        org = draft.organization
        if org.id not in self.organizations:
            await self._read_organizations({org.id})
            self.organizations.setdefault(org.id, None)
        stored_org = self.organizations[org.id]
        org_outcome: str | None = None
        clock = self.clock
        if stored_org is None:
            data = _new_organization(org)
            new_org = _Org(data.name.strip(), (PROGRAM_KIND,), data.website, data.description)
            now = clock.now()
            rows.organizations.append(
                {
                    "id": org.id,
                    "name": new_org.name,
                    "kinds": list(new_org.kinds),
                    "website": new_org.website,
                    "description": new_org.description,
                    "verification_status": "unverified",
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            rows.audit_events.append(
                _audit_row(
                    now, "create", "organization", org.id, org.id, ["name", "kinds", "website", "description"]
                )
            )
            org_outcome = "created"
        elif (stored_org, org) not in self.unchanged:
            if _organization_changes(
                stored_org.name, list(stored_org.kinds), stored_org.website, stored_org.description, org
            ):
                raise _Slow
            self.unchanged.add((stored_org, org))
        await _check_references(self.session, draft, self.named)

        # create_program
        program = msgspec.convert(draft.body, ProgramCreate)
        values = {name: getattr(program, name) for name in _PLAIN}
        for name in ("formats", "populations", "languages"):
            values[name] = sorted(set(values[name]))
        coded: dict[str, tuple[str, list[str]]] = {}
        for name, taxonomy in VOCABULARIES.items():
            if name in values:
                value = values[name]
                coded[name] = (
                    taxonomy,
                    [] if value is None else [value] if isinstance(value, str) else list(value),
                )
        if any(
            code not in self.active.get(taxonomy, set())
            for taxonomy, codes in coded.values()
            for code in codes
        ):
            await check_fields(self.session, values, VOCABULARIES)
        precision = program.location_precision or default_precision(
            program.side, program.delivery, program.location is not None
        )
        # to_stored, as inbound found it when choosing the location
        stored = None
        if program.location is not None:
            stored = inbound.stored_location(draft.body["location"], precision)
        if stored is None:
            stored = locations.to_stored(program.location, precision)  # or its error
        values |= _schedule_values(program.schedule)
        partner = program.clinical_partner_id
        if partner is None:
            values |= await _clinical_partner(self.session, IMPORTER, None, program.clinical_partner_name)
        else:
            partner_name = await self._listing_name(partner, PARTNER_KINDS)
            values |= {
                "clinical_partner_id": partner,
                "clinical_partner_name": program.clinical_partner_name or partner_name,
            }
        values["remote_ok"] = works_remotely(program.delivery, precision)
        # create_listing (a steward names the owner, which exists: read, or created above)
        if program.organization_id is None:
            raise InvalidInput("organization_id: stewards must say which organization owns the listing")
        owner = program.organization_id
        if owner != org.id:
            raise _Slow
        contacts = listings._contact_rows(program.contacts)
        listing_id = draft.listing_id
        now = clock.now()
        listing = {
            "id": listing_id,
            "kind": PROGRAM_KIND,
            "organization_id": owner,
            "location_precision": stored.precision,
            **{c: getattr(stored, c) for c in listings.LOCATION_COLUMNS},
            **values,
        }
        rows.audit_events.append(
            _audit_row(
                now,
                "create",
                listings.ENTITY,
                listing_id,
                owner,
                [*values.keys(), "location", *(["contacts"] if program.contacts else [])],
            )
        )
        rows.contacts.extend(
            {
                "listing_id": listing_id,
                "position": c.position,
                "name": c.name,
                "role": c.role,
                "email": c.email,
                "phone": c.phone,
                "preferred_method": c.preferred_method,
                "visibility": c.visibility,
            }
            for c in contacts
        )
        # add_evaluation, for each record of the history
        stage, version = "none", 1
        for position, evaluation in enumerate(draft.evaluations):
            try:
                data_ = msgspec.convert(evaluation, EvaluationCreate)
                await self._check(listings.evaluation_codes(data_))
                listings.check_evaluation(stage, data_)
                evaluator_name = data_.evaluator_name
                if data_.evaluator_id is not None:
                    evaluator = await self._listing_name(data_.evaluator_id, ("evaluator",))
                    evaluator_name = evaluator_name or evaluator
            except (RegistryError, msgspec.ValidationError) as exc:
                raise Unmappable(f"evaluation history [{position}]: {_reason(exc)}") from exc
            now = clock.now()
            rows.evaluations.append(
                {
                    "listing_id": listing_id,
                    "stage": data_.stage,
                    "previous_stage": stage,
                    "is_correction": data_.correction,
                    "correction_reason": data_.correction_reason,
                    "design": data_.design,
                    "outcomes": sorted(set(data_.outcomes)),
                    "participant_count": data_.participant_count,
                    "evaluator_id": data_.evaluator_id,
                    "evaluator_name": evaluator_name,
                    "started_on": data_.started_on,
                    "ended_on": data_.ended_on,
                    "findings_summary": data_.findings_summary,
                    "publication": data_.publication,
                    "recorded_at": now,
                    "recorded_by_key_id": IMPORTER.key_id,
                }
            )
            rows.audit_events.append(
                _audit_row(
                    now, "evaluation", listings.ENTITY, listing_id, owner, ["evaluation_stage", "evaluations"]
                )
            )
            stage, version = data_.stage, version + 1
        listing |= {
            "evaluation_stage": stage,
            "version": version,
            # Importing confirms nothing: the listing was last confirmed when its source says.
            "last_verified_at": (
                datetime.combine(draft.assured_on, time(), UTC) if draft.assured_on is not None else now
            ),
            "created_at": now,
            "updated_at": now,
        }
        rows.listings.append(listing)
        if stored_org is None:
            self.organizations[org.id] = new_org
        return rows, org_outcome


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


# The tables' statement triggers (the reports' tallies) join the rows a statement wrote with the
# tables they belong to. PostgreSQL plans such a query once per connection, with the statistics of
# the time: in a new database, for empty tables (a sequential scan of the organizations for each
# row written, slower with every organization imported). An import brings the statistics of the
# tables it fills up to date whenever it has doubled what it read, which makes the connection plan
# those queries again, for tables of the size they have come to.
REPLAN_FROM = 1000
# Records read between two garbage collections (see run_import).
COLLECT_EVERY = 50_000


# The columns those queries select and join by: statistics of every column of the listings (their
# texts, search vectors, arrays) take seconds to gather.
_ANALYZE = text(
    "ANALYZE organization (id, verification_status), "
    "listing (id, organization_id, kind, archived_at, status, latitude, longitude), "
    "evaluation_record (listing_id)"
)


async def _analyze(engine: AsyncEngine) -> None:
    try:
        async with engine.connect() as conn:
            # Never long: autovacuum may be at it, or someone's VACUUM; statistics can wait.
            await conn.execute(text("SET LOCAL lock_timeout = '1s'"))
            await conn.execute(_ANALYZE)
            await conn.commit()
    except SQLAlchemyError:
        pass


def run_import(
    url: str, path: Path | str, settings: Settings | None = None, *, chunk: int = CHUNK
) -> ImportReport:
    """Read `path` and import it into the database at `url`, `chunk` records per transaction.
    Importing is idempotent: after an interruption, importing the same file again completes it.
    For the CLI: print `format_report(report)`."""
    records = iter_export(path)
    settings = settings or Settings.from_env()

    async def run() -> ImportReport:
        engine = create_engine(settings, url)
        report = ImportReport()
        ahead = _Ahead(records, limit=2 * chunk)
        reading = asyncio.create_task(ahead.work())
        try:
            first, replan_at = 0, REPLAN_FROM
            while part := ahead.take(chunk):
                if first >= replan_at:
                    await _analyze(engine)
                    replan_at *= 2
                async with create_sessionmaker(engine)() as session, session.begin():
                    report.add(await _import(session, part, ahead))
                first += len(part)
                if first // COLLECT_EVERY > (first - len(part)) // COLLECT_EVERY:
                    gc.collect()
            return report
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading
            await engine.dispose()

    # The records of a batch live long enough to reach the collector's oldest generation, whose
    # collections then look through every object (the gazetteer's too) every few batches: a
    # quarter of the import's time, for garbage an import hardly makes (reference cycles: none
    # found after 20,000 records). It collects once every COLLECT_EVERY records instead.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return asyncio.run(run())
    finally:
        if collecting:
            gc.enable()
