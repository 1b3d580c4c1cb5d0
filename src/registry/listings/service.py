"""Creating, reading, changing and archiving listings (programs and partners alike)."""

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from registry.audit import service as audit
from registry.auth.dependencies import require_role
from registry.auth.principal import Principal, Role
from registry.database.base import utcnow
from registry.http.errors import Forbidden, InvalidInput, NotFound
from registry.http.etags import check_if_match
from registry.listings.location import COARSENED_NOTE, StoredLocation
from registry.listings.schemas import ContactInput, EvaluationCreate
from registry.listings.visibility import listing_visible
from registry.models import Contact, EvaluationRecord, Listing, Organization
from registry.taxonomies.service import check_codes
from registry.taxonomies.vocabulary import STAGE_ORDER

ENTITY = "listing"
LOCATION_COLUMNS = ("latitude", "longitude", "address", "postal_code", "locality", "region", "country")


def stored_of(listing: Listing) -> StoredLocation:
    """The location a listing holds now, as `location.to_stored` would have made it."""
    return StoredLocation(
        precision=listing.location_precision, **{c: getattr(listing, c) for c in LOCATION_COLUMNS}
    )


def _contact_rows(contacts: Sequence[ContactInput]) -> list[Contact]:
    rows = []
    for position, c in enumerate(contacts):
        if not (c.email or c.phone):
            raise InvalidInput(
                f"contacts[{position}]: give an email or a phone", extra={"field": f"contacts[{position}]"}
            )
        if not (c.name or c.role):
            raise InvalidInput(
                f"contacts[{position}]: give a name or a role", extra={"field": f"contacts[{position}]"}
            )
        rows.append(
            Contact(
                position=position,
                name=c.name,
                role=c.role,
                email=c.email,
                phone=c.phone,
                preferred_method=c.preferred_method,
                visibility=c.visibility,
            )
        )
    return rows


def _contact_identity(c: Contact) -> tuple[str | None, ...]:
    return (c.name, c.role, c.email, c.phone)


def _reachable_at(c: Contact) -> set[str]:
    """How a contact can be reached: the same address or number means the same contact."""
    return {x.strip().lower() for x in (c.email, c.phone) if x}


def _visibility_changed(old: Sequence[Contact], new: Sequence[Contact]) -> bool:
    for after in new:
        for before in old:
            if _reachable_at(after) & _reachable_at(before) and after.visibility != before.visibility:
                return True
    return False


def _owner_for_create(principal: Principal, organization_id: uuid.UUID | None) -> uuid.UUID:
    require_role(principal, Role.ORGANIZATION, Role.STEWARD)
    if principal.is_steward:
        if organization_id is None:
            raise InvalidInput("organization_id: stewards must say which organization owns the listing")
        return organization_id
    assert principal.organization_id is not None
    if organization_id is not None and organization_id != principal.organization_id:
        raise Forbidden("An organization can only create listings of its own.")
    return principal.organization_id


async def get_listing(
    session: AsyncSession,
    principal: Principal,
    listing_id: uuid.UUID,
    kinds: Sequence[str],
    *,
    lock: bool = False,
) -> Listing:
    stmt = (
        select(Listing)
        .where(Listing.id == listing_id, Listing.kind.in_(kinds), listing_visible(principal))
        .options(selectinload(Listing.contacts))
    )
    if lock:
        stmt = stmt.with_for_update(of=Listing)
    listing = await session.scalar(stmt)
    if listing is None:
        raise NotFound(f"No listing {listing_id} of this kind is visible to you.")
    return listing


def _require_editor(principal: Principal, listing: Listing) -> None:
    if not (principal.is_steward or principal.owns(listing.organization_id)):
        raise Forbidden("Only the organization that owns this listing (or a steward) can change it.")


async def create_listing(
    session: AsyncSession,
    principal: Principal,
    *,
    kind: str,
    organization_id: uuid.UUID | None,
    values: Mapping[str, Any],
    location: StoredLocation,
    contacts: Sequence[ContactInput],
    listing_id: uuid.UUID | None = None,
) -> Listing:
    owner = _owner_for_create(principal, organization_id)
    if principal.is_steward and await session.get(Organization, owner) is None:
        raise InvalidInput(f"organization_id: no organization {owner}")
    listing = Listing(
        id=listing_id or uuid.uuid4(),
        kind=kind,
        organization_id=owner,
        location_precision=location.precision,
        **{c: getattr(location, c) for c in LOCATION_COLUMNS},
        **values,
    )
    listing.contacts = _contact_rows(contacts)
    session.add(listing)
    await session.flush()
    audit.record(
        session,
        principal,
        "create",
        ENTITY,
        listing.id,
        owner_organization_id=owner,
        changed_fields=[*values.keys(), "location", *(["contacts"] if contacts else [])],
    )
    return listing


async def update_listing(
    session: AsyncSession,
    principal: Principal,
    listing: Listing,
    *,
    if_match: str | None,
    values: Mapping[str, Any],
    location: StoredLocation | None,
    contacts: Sequence[ContactInput] | None,
    coarsened: bool = False,
) -> Listing:
    """Apply a change. `coarsened`: the survivor default brought an exact location to `area`
    (`location.survivor_default`), which the audit log says in words."""
    _require_editor(principal, listing)
    check_if_match(if_match, listing.id, listing.version)
    changed = [name for name, value in values.items() if getattr(listing, name) != value]
    for name in changed:
        setattr(listing, name, values[name])
    if location is not None:
        new = {
            "location_precision": location.precision,
            **{c: getattr(location, c) for c in LOCATION_COLUMNS},
        }
        moved = [name for name, value in new.items() if getattr(listing, name) != value]
        for name in moved:
            setattr(listing, name, new[name])
        if moved:
            changed.append("location")
        if coarsened:
            audit.record(
                session,
                principal,
                "location_coarsened",
                ENTITY,
                listing.id,
                owner_organization_id=listing.organization_id,
                changed_fields=["address", "latitude", "longitude", "location_precision", "postal_code"],
                note=COARSENED_NOTE,
            )
    if contacts is not None:
        rows = _contact_rows(contacts)
        if [(_contact_identity(c), c.visibility, c.preferred_method) for c in listing.contacts] != [
            (_contact_identity(c), c.visibility, c.preferred_method) for c in rows
        ]:
            visibility_changed = _visibility_changed(listing.contacts, rows)
            listing.contacts = rows
            changed.append("contacts")
            if visibility_changed:
                audit.record(
                    session,
                    principal,
                    "contact_visibility",
                    ENTITY,
                    listing.id,
                    owner_organization_id=listing.organization_id,
                    changed_fields=["contacts.visibility"],
                )
    if changed:
        listing.version += 1
        listing.updated_at = utcnow()
        audit.record(
            session,
            principal,
            "update",
            ENTITY,
            listing.id,
            owner_organization_id=listing.organization_id,
            changed_fields=changed,
        )
        await session.flush()
    return listing


async def archive_listing(
    session: AsyncSession, principal: Principal, listing: Listing, *, if_match: str | None
) -> None:
    _require_editor(principal, listing)
    check_if_match(if_match, listing.id, listing.version)
    if listing.archived_at is None:
        listing.archived_at = utcnow()
        listing.version += 1
        audit.record(
            session,
            principal,
            "archive",
            ENTITY,
            listing.id,
            owner_organization_id=listing.organization_id,
            changed_fields=["archived_at"],
        )
        await session.flush()


async def reverify_listing(session: AsyncSession, principal: Principal, listing: Listing) -> Listing:
    _require_editor(principal, listing)
    listing.last_verified_at = utcnow()
    listing.version += 1
    audit.record(
        session,
        principal,
        "reverify",
        ENTITY,
        listing.id,
        owner_organization_id=listing.organization_id,
        changed_fields=["last_verified_at"],
    )
    await session.flush()
    return listing


def check_stage_move(current: str, new: str, *, correction: bool, reason: str | None) -> None:
    """Stages move forward along the path; going back (or sideways) needs an explicit correction."""
    if new not in STAGE_ORDER:
        raise InvalidInput(f"stage: unknown code {new!r} (allowed: {', '.join(STAGE_ORDER)})")
    forward = STAGE_ORDER.index(new) > STAGE_ORDER.index(current)
    if correction:
        if not reason:
            raise InvalidInput("correction_reason: say what the correction fixes")
        return
    if not forward:
        raise InvalidInput(
            f"stage: a program at {current!r} can only move forward "
            f"({', '.join(STAGE_ORDER[STAGE_ORDER.index(current) + 1 :]) or 'no later stage'}); "
            "send correction=true with a correction_reason to correct an earlier record"
        )


def evaluation_codes(data: EvaluationCreate) -> dict[str, tuple[str, list[str]]]:
    """The vocabulary codes an evaluation names, as check_codes takes them."""
    return {
        "stage": ("evaluation_stage", [data.stage]),
        "design": ("evaluation_design", [data.design] if data.design else []),
        "outcomes": ("outcome", data.outcomes),
    }


def check_evaluation(stage_now: str, data: EvaluationCreate) -> None:
    """What an evaluation must be besides its codes: a move allowed from `stage_now`, dates in order."""
    check_stage_move(stage_now, data.stage, correction=data.correction, reason=data.correction_reason)
    if data.started_on and data.ended_on and data.ended_on < data.started_on:
        raise InvalidInput("ended_on: before started_on")


async def add_evaluation(
    session: AsyncSession, principal: Principal, listing: Listing, data: EvaluationCreate
) -> EvaluationRecord:
    _require_editor(principal, listing)
    await check_codes(session, evaluation_codes(data))
    check_evaluation(listing.evaluation_stage, data)
    evaluator_name = data.evaluator_name
    if data.evaluator_id is not None:
        evaluator = await get_listing(session, principal, data.evaluator_id, ["evaluator"])
        evaluator_name = evaluator_name or evaluator.name
    record = EvaluationRecord(
        listing_id=listing.id,
        stage=data.stage,
        previous_stage=listing.evaluation_stage,
        is_correction=data.correction,
        correction_reason=data.correction_reason,
        design=data.design,
        outcomes=sorted(set(data.outcomes)),
        participant_count=data.participant_count,
        evaluator_id=data.evaluator_id,
        evaluator_name=evaluator_name,
        started_on=data.started_on,
        ended_on=data.ended_on,
        findings_summary=data.findings_summary,
        publication=data.publication,
        recorded_by_key_id=principal.key_id,
    )
    session.add(record)
    listing.evaluation_stage = data.stage
    listing.version += 1
    listing.updated_at = utcnow()
    await session.flush()
    audit.record(
        session,
        principal,
        "evaluation",
        ENTITY,
        listing.id,
        owner_organization_id=listing.organization_id,
        changed_fields=["evaluation_stage", "evaluations"],
    )
    return record


async def list_evaluations(session: AsyncSession, listing_id: uuid.UUID) -> Sequence[EvaluationRecord]:
    return (
        await session.scalars(
            select(EvaluationRecord)
            .where(EvaluationRecord.listing_id == listing_id)
            .order_by(EvaluationRecord.recorded_at, EvaluationRecord.id)
        )
    ).all()
