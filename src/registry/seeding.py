"""Load the starter data set in seeds/ idempotently (stable ids): organizations.json upserted by id
(`"verified": true` verifies), then partners.json and programs.json through the API's own services
(a listing whose id exists is left alone; a program's `"evaluations"` are appended in order). A
row the registry rejects raises SeedError naming the file and the row's id."""

import json
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from registry.audit import service as audit
from registry.auth.principal import Principal, Role
from registry.database.base import utcnow
from registry.http.errors import RegistryError
from registry.listings import service as listings
from registry.listings.schemas import EvaluationCreate
from registry.models import Listing, Organization
from registry.organizations.schemas import OrganizationCreate
from registry.organizations.service import check_kinds
from registry.partners.schemas import PartnerCreate
from registry.partners.service import create_partner
from registry.programs.schemas import ProgramCreate
from registry.programs.service import create_program
from registry.taxonomies.service import check_codes

ORGANIZATIONS = "organizations.json"
PARTNERS = "partners.json"
PROGRAMS = "programs.json"

# Seeds are loaded as a steward: any organization may own a listing, and every row is audited.
SEEDER = Principal(role=Role.STEWARD)

_ORG_FIELDS = (
    "name",
    "kinds",
    "website",
    "country",
    "description",
    "notification_email",
    "verification_status",
    "verified_at",
)


class SeedError(ValueError):
    """A seed file or row the registry rejects."""

    def __init__(self, path: Path, row_id: str | None, detail: str) -> None:
        self.path = path
        self.row_id = row_id
        self.detail = detail
        where = f"{path}: row {row_id}" if row_id is not None else str(path)
        super().__init__(f"{where}: {detail}")


def seeds_dir() -> Path:
    if configured := os.environ.get("REGISTRY_SEEDS_DIR"):
        return Path(configured)
    beside_source = Path(__file__).resolve().parents[2] / "seeds"
    return beside_source if beside_source.is_dir() else Path.cwd() / "seeds"


def _read(name: str, directory: Path) -> list[Any]:
    path = directory / name
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SeedError(path, None, f"not valid JSON: {exc}") from exc
    if not isinstance(data, list):
        raise SeedError(path, None, "must hold a JSON array")
    return data


def _describe(row: Any, index: int) -> str:
    row_id = row.get("id") if isinstance(row, dict) else None
    return str(row_id) if row_id is not None else f"#{index} (no id)"


@contextmanager
def _row(path: Path, index: int, row: Any) -> Iterator[None]:
    """Turn whatever goes wrong with one row into a SeedError naming the file and the row."""
    try:
        yield
    except SeedError:
        raise
    except RegistryError as exc:
        raise SeedError(path, _describe(row, index), exc.detail) from exc
    except (msgspec.ValidationError, ValueError, KeyError, TypeError, SQLAlchemyError) as exc:
        raise SeedError(path, _describe(row, index), str(exc)) from exc


def _split(row: Any, *extra: str) -> tuple[uuid.UUID, dict[str, Any], dict[str, Any]]:
    """(id, body for the create schema, the extra keys), for a row that must be an object with an id."""
    if not isinstance(row, dict):
        raise ValueError("each row must be a JSON object")
    if "id" not in row:
        raise ValueError("id: required (seed rows have fixed ids)")
    row_id = uuid.UUID(str(row["id"]))
    body = {k: v for k, v in row.items() if k != "id" and k not in extra}
    return row_id, body, {k: row[k] for k in extra if k in row}


def _check_unique(path: Path, rows: Sequence[Any], seen: dict[str, Path]) -> None:
    for index, row in enumerate(rows):
        row_id = _describe(row, index)
        if isinstance(row, dict) and "id" in row:
            if row_id in seen:
                raise SeedError(path, row_id, f"id already used in {seen[row_id].name}")
            seen[row_id] = path


async def _upsert_organizations(session: AsyncSession, path: Path, rows: Sequence[Any]) -> int:
    wanted: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        with _row(path, index, row):
            org_id, body, extra = _split(row, "verified")
            verified = extra.get("verified", False)
            if not isinstance(verified, bool):
                raise ValueError("verified: expected true or false")
            data = msgspec.convert(body, OrganizationCreate)
            wanted.append(
                {
                    "id": org_id,
                    "name": data.name.strip(),
                    "kinds": check_kinds(data.kinds),
                    "website": data.website,
                    "country": data.country,
                    "description": data.description,
                    "notification_email": data.notification_email,
                    "verification_status": "verified" if verified else "unverified",
                }
            )
    if not wanted:
        return 0
    columns = [getattr(Organization, name) for name in ("id", *_ORG_FIELDS)]
    existing = {
        r.id: r._asdict()
        for r in await session.execute(select(*columns).where(Organization.id.in_([w["id"] for w in wanted])))
    }
    now = utcnow()
    for values in wanted:
        old = existing.get(values["id"])
        if values["verification_status"] != "verified":
            values["verified_at"] = None
        elif old is not None and old["verification_status"] == "verified" and old["verified_at"]:
            values["verified_at"] = old["verified_at"]  # keep when it was verified
        else:
            values["verified_at"] = now
        changed = list(_ORG_FIELDS) if old is None else [f for f in _ORG_FIELDS if old[f] != values[f]]
        if not changed:
            continue
        stmt = insert(Organization).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Organization.id],
            set_={
                **{name: stmt.excluded[name] for name in _ORG_FIELDS},
                "version": Organization.version + 1,
                "updated_at": func.now(),
            },
        )
        await session.execute(stmt)
        audit.record(
            session,
            SEEDER,
            "create" if old is None else "update",
            "organization",
            values["id"],
            owner_organization_id=values["id"],
            changed_fields=changed,
        )
    return len(wanted)


async def _existing_listings(session: AsyncSession, rows: Sequence[Any]) -> dict[uuid.UUID, str]:
    ids = []
    for row in rows:
        try:
            ids.append(uuid.UUID(str(row["id"])))
        except (TypeError, KeyError, ValueError):
            continue  # reported with the row's other problems below
    if not ids:
        return {}
    found = await session.execute(select(Listing.id, Listing.kind).where(Listing.id.in_(ids)))
    return {row.id: row.kind for row in found}


def _already_there(existing: dict[uuid.UUID, str], listing_id: uuid.UUID, kind: str) -> bool:
    if listing_id not in existing:
        return False
    if existing[listing_id] != kind:
        raise ValueError(f"a {existing[listing_id]} listing with id {listing_id} already exists")
    return True


# A seed row may say its listing was last confirmed this many days ago (a stale listing to show).
VERIFIED_DAYS_AGO = "verified_days_ago"


def _verified_ago(listing: Listing, extra: dict[str, Any]) -> None:
    if VERIFIED_DAYS_AGO in extra:
        listing.last_verified_at = utcnow() - timedelta(days=int(extra[VERIFIED_DAYS_AGO]))


async def _load_partners(session: AsyncSession, path: Path, rows: Sequence[Any]) -> int:
    existing = await _existing_listings(session, rows)
    created = 0
    for index, row in enumerate(rows):
        with _row(path, index, row):
            listing_id, body, extra = _split(row, VERIFIED_DAYS_AGO)
            data = msgspec.convert(body, PartnerCreate)
            if _already_there(existing, listing_id, data.kind):
                continue
            listing = await create_partner(session, SEEDER, data, listing_id=listing_id)
            _verified_ago(listing, extra)
            created += 1
    return created


async def _add_evaluations(
    session: AsyncSession, listing: Listing, evaluations: list[EvaluationCreate]
) -> None:
    for position, data in enumerate(evaluations):
        try:
            # The same vocabulary check the evaluations endpoint makes before the service runs.
            await check_codes(
                session,
                {
                    "stage": ("evaluation_stage", [data.stage]),
                    "design": ("evaluation_design", [data.design] if data.design else []),
                    "outcomes": ("outcome", data.outcomes),
                },
            )
            await listings.add_evaluation(session, SEEDER, listing, data)
        except RegistryError as exc:
            raise ValueError(f"evaluations[{position}]: {exc.detail}") from exc


async def _load_programs(session: AsyncSession, path: Path, rows: Sequence[Any]) -> tuple[int, int]:
    existing = await _existing_listings(session, rows)
    created = evaluations_added = 0
    for index, row in enumerate(rows):
        with _row(path, index, row):
            listing_id, body, extra = _split(row, "evaluations", VERIFIED_DAYS_AGO)
            data = msgspec.convert(body, ProgramCreate)
            evaluations = msgspec.convert(extra.get("evaluations", []), list[EvaluationCreate])
            if _already_there(existing, listing_id, "peer_program"):
                continue
            listing = await create_program(session, SEEDER, data, listing_id=listing_id)
            await _add_evaluations(session, listing, evaluations)
            _verified_ago(listing, extra)
            created += 1
            evaluations_added += len(evaluations)
    return created, evaluations_added


async def database_is_empty(session: AsyncSession) -> bool:
    return (await session.scalar(select(func.count()).select_from(Organization))) == 0


async def load_seeds(session: AsyncSession, directory: Path | None = None) -> dict[str, int]:
    """Upsert the seeded organizations and create the seeded listings that do not exist yet.

    Returns how many rows each file holds (all of them exist afterwards) and how many listings
    and evaluation records this run created (zero on a second run)."""
    directory = directory or seeds_dir()
    files = {name: _read(name, directory) for name in (ORGANIZATIONS, PARTNERS, PROGRAMS)}
    seen: dict[str, Path] = {}
    for name, rows in files.items():
        _check_unique(directory / name, rows, seen)
    counts = {
        "organizations": await _upsert_organizations(session, directory / ORGANIZATIONS, files[ORGANIZATIONS])
    }
    # Partners first: programs name them as clinical partners and evaluators.
    new_partners = await _load_partners(session, directory / PARTNERS, files[PARTNERS])
    new_programs, new_evaluations = await _load_programs(session, directory / PROGRAMS, files[PROGRAMS])
    counts["partners"] = len(files[PARTNERS])
    counts["programs"] = len(files[PROGRAMS])
    counts["new listings"] = new_partners + new_programs
    counts["new evaluation records"] = new_evaluations
    await session.flush()  # what was set after the services flushed (`verified_days_ago`)
    return counts
