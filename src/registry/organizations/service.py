"""Organization registration, verification, edits and API keys."""

import uuid
from collections.abc import Sequence

import msgspec
from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.audit import service as audit
from registry.auth.keys import generate_key, hash_key, visible_prefix
from registry.auth.principal import Principal, Role
from registry.database import routing
from registry.database.base import utcnow
from registry.http.errors import Conflict, Forbidden, InvalidInput, NotFound
from registry.http.etags import check_if_match
from registry.listings.visibility import PUBLIC_ORGANIZATION
from registry.models import ApiKey, Introduction, Organization
from registry.notifications import events as notify
from registry.organizations.schemas import (
    ORGANIZATION_KINDS,
    ApiKeyCreate,
    NewApiKey,
    OrganizationCreate,
    OrganizationUpdate,
)

ENTITY = "organization"
# Keys an organization may hold at once (revoke one to make another).
MAX_ACTIVE_KEYS = 10


def check_kinds(kinds: list[str]) -> list[str]:
    unknown = sorted(set(kinds) - set(ORGANIZATION_KINDS))
    if unknown:
        raise InvalidInput(
            f"kinds: unknown code(s) {', '.join(unknown)}; allowed: {', '.join(ORGANIZATION_KINDS)}",
            extra={"field": "kinds", "allowed": list(ORGANIZATION_KINDS)},
        )
    return sorted(set(kinds))


def visible_organizations(principal: Principal) -> Select[Organization]:
    """The one visibility rule for organizations: verified ones, plus your own; stewards see all."""
    stmt = select(Organization)
    if principal.is_steward:
        return stmt
    visible = Organization.verification_status == PUBLIC_ORGANIZATION
    if principal.organization_id is not None:
        visible = visible | (Organization.id == principal.organization_id)
    return stmt.where(visible)


async def get_organization(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID, *, lock: bool = False
) -> Organization:
    stmt = visible_organizations(principal).where(Organization.id == organization_id)
    org = await session.scalar(stmt.with_for_update() if lock else stmt)
    if org is None:
        raise NotFound(f"No organization {organization_id} is visible to you.")
    return org


async def list_organizations(
    session: AsyncSession,
    principal: Principal,
    *,
    verification_status: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Organization], int]:
    stmt = visible_organizations(principal)
    if verification_status is not None:
        stmt = stmt.where(Organization.verification_status == verification_status)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (
        await session.scalars(stmt.order_by(Organization.name, Organization.id).limit(limit).offset(offset))
    ).all()
    return rows, total


async def _issue_key(
    session: AsyncSession,
    *,
    role: Role,
    organization_id: uuid.UUID | None,
    label: str | None,
) -> NewApiKey:
    key = generate_key()
    row = ApiKey(
        prefix=visible_prefix(key),
        key_hash=hash_key(key),
        role=role.value,
        organization_id=organization_id,
        label=label,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    routing.wrote_as(row.id)  # the new key's first reads follow this write
    return NewApiKey(
        id=row.id,
        key=key,
        prefix=row.prefix,
        role=row.role,
        organization_id=organization_id,
        label=label,
        created_at=row.created_at,
    )


async def register_organization(
    session: AsyncSession, principal: Principal, data: OrganizationCreate
) -> tuple[Organization, NewApiKey]:
    org = Organization(
        name=data.name.strip(),
        kinds=check_kinds(data.kinds),
        website=data.website,
        country=data.country,
        description=data.description,
        notification_email=data.notification_email,
        verification_status="unverified",
    )
    session.add(org)
    await session.flush()
    key = await _issue_key(session, role=Role.ORGANIZATION, organization_id=org.id, label="first key")
    # The registering caller is anonymous; attribute the event to the new organization's key.
    actor = Principal(role=Role.ORGANIZATION, key_id=key.id, organization_id=org.id)
    audit.record(
        session,
        actor,
        "create",
        ENTITY,
        org.id,
        owner_organization_id=org.id,
        changed_fields=msgspec.structs.asdict(data).keys(),
    )
    return org, key


def _require_editor(principal: Principal, org: Organization) -> None:
    if not (principal.is_steward or principal.owns(org.id)):
        raise Forbidden("Only the organization itself or a steward can change it.")


async def update_organization(
    session: AsyncSession,
    principal: Principal,
    organization_id: uuid.UUID,
    data: OrganizationUpdate,
    if_match: str | None,
) -> Organization:
    org = await get_organization(session, principal, organization_id)
    _require_editor(principal, org)
    check_if_match(if_match, org.id, org.version)
    changes = {
        name: value for name, value in msgspec.structs.asdict(data).items() if value is not msgspec.UNSET
    }
    if "kinds" in changes:
        changes["kinds"] = check_kinds(changes["kinds"])
    if "name" in changes:
        changes["name"] = changes["name"].strip()
    changed = [name for name, value in changes.items() if getattr(org, name) != value]
    for name in changed:
        setattr(org, name, changes[name])
    if changed:
        org.version += 1
        audit.record(
            session,
            principal,
            "update",
            ENTITY,
            org.id,
            owner_organization_id=org.id,
            changed_fields=changed,
        )
        await session.flush()
    return org


async def verify_organization(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID
) -> Organization:
    org = await get_organization(session, principal, organization_id, lock=True)
    if org.verification_status == "suspended":
        raise Conflict("The organization is suspended: reinstate it (POST .../reinstate) instead.")
    if org.verification_status != "verified":
        org.verification_status = "verified"
        org.verified_at = utcnow()
        org.version += 1
        audit.record(
            session,
            principal,
            "verify",
            ENTITY,
            org.id,
            owner_organization_id=org.id,
            changed_fields=["verification_status", "verified_at"],
        )
        await session.flush()
        await notify.organization_verified(session, org)
    return org


async def suspend_organization(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID, reason: str
) -> Organization:
    """Take an organization down at once: its listings leave every public answer (only verified
    organizations' are public), its keys stop working (auth), pending introductions to it close.
    Nothing is deleted."""
    org = await get_organization(session, principal, organization_id, lock=True)
    if org.verification_status == "suspended":
        raise Conflict("The organization is already suspended.")
    org.verification_status = "suspended"
    org.suspended_at = utcnow()
    org.suspension_reason = reason.strip()
    org.version += 1
    closed = await session.execute(
        update(Introduction)
        .where(Introduction.organization_id == org.id, Introduction.status == "pending")
        .values(status="closed", decided_at=func.now())
        .returning(Introduction.id)
    )
    for (intro_id,) in closed:
        audit.record(
            session,
            principal,
            "close",
            "introduction",
            intro_id,
            owner_organization_id=org.id,
            changed_fields=["status"],
            note="organization suspended",
        )
    audit.record(
        session,
        principal,
        "suspend",
        ENTITY,
        org.id,
        owner_organization_id=org.id,
        changed_fields=["verification_status", "suspended_at", "suspension_reason"],
        note=org.suspension_reason,
    )
    await session.flush()
    return org


async def reinstate_organization(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID, reason: str | None
) -> Organization:
    org = await get_organization(session, principal, organization_id, lock=True)
    if org.verification_status != "suspended":
        raise Conflict("The organization is not suspended.")
    org.verification_status = "verified" if org.verified_at is not None else "unverified"
    org.suspended_at = None
    org.suspension_reason = None
    org.version += 1
    audit.record(
        session,
        principal,
        "reinstate",
        ENTITY,
        org.id,
        owner_organization_id=org.id,
        changed_fields=["verification_status", "suspended_at", "suspension_reason"],
        note=reason.strip() if reason else None,
    )
    await session.flush()
    return org


async def create_org_key(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID, data: ApiKeyCreate
) -> NewApiKey:
    org = await get_organization(session, principal, organization_id)
    if not principal.owns(org.id):
        raise Forbidden("Only the organization itself can create its keys.")
    # Serialize one organization's key creations so that two at once cannot pass the cap together.
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"api_keys:{org.id}"))))
    active = await session.scalar(
        select(func.count()).where(ApiKey.organization_id == org.id, ApiKey.revoked_at.is_(None))
    )
    if (active or 0) >= MAX_ACTIVE_KEYS:
        raise Conflict(
            f"An organization holds at most {MAX_ACTIVE_KEYS} active keys; revoke one "
            "(DELETE /api-keys/{id}) before creating another."
        )
    key = await _issue_key(session, role=Role.ORGANIZATION, organization_id=org.id, label=data.label)
    audit.record(
        session,
        principal,
        "create",
        "api_key",
        key.id,
        owner_organization_id=org.id,
        changed_fields=["label"] if data.label else [],
    )
    return key


async def list_org_keys(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID
) -> Sequence[ApiKey]:
    org = await get_organization(session, principal, organization_id)
    _require_editor(principal, org)
    return (
        await session.scalars(
            select(ApiKey).where(ApiKey.organization_id == org.id).order_by(ApiKey.created_at, ApiKey.id)
        )
    ).all()


async def revoke_key(session: AsyncSession, principal: Principal, key_id: uuid.UUID) -> None:
    if not (principal.is_steward or principal.organization_id is not None):
        raise NotFound(f"No API key {key_id} is visible to you.")
    stmt = select(ApiKey).where(ApiKey.id == key_id)
    if not principal.is_steward:
        # Keys of other organizations are invisible, not merely forbidden.
        stmt = stmt.where(ApiKey.organization_id == principal.organization_id)
    key = await session.scalar(stmt.with_for_update())
    if key is None:
        raise NotFound(f"No API key {key_id} is visible to you.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(
            session,
            principal,
            "revoke",
            "api_key",
            key.id,
            owner_organization_id=key.organization_id,
            changed_fields=["revoked_at"],
        )
        await session.flush()


async def create_role_key(
    session: AsyncSession, principal: Principal | None, role: Role, label: str | None
) -> NewApiKey:
    """Keys that belong to no organization (stewards, funders); issued by the CLI or a steward."""
    key = await _issue_key(session, role=role, organization_id=None, label=label)
    if principal is not None:
        audit.record(
            session,
            principal,
            "create",
            "api_key",
            key.id,
            owner_organization_id=None,
            changed_fields=["role"],
        )
    return key
