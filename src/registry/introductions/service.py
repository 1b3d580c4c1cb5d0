"""Introductions with consent: contacts are revealed only to the two sides of an accepted one."""

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from registry.audit import service as audit
from registry.auth.dependencies import require_role
from registry.auth.principal import Principal, Role
from registry.database.base import utcnow
from registry.http.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests
from registry.initiators.service import get_own
from registry.introductions.schemas import (
    IntroductionCreate,
    IntroductionInitiator,
    IntroductionListing,
    IntroductionRead,
)
from registry.listings.presenters import contact_read
from registry.listings.schemas import ContactRead
from registry.listings.service import get_listing
from registry.listings.visibility import public_listing, revealed_on_introduction
from registry.models import AuditEvent, Introduction, Listing, Organization
from registry.notifications import events as notify

EXPIRES_AFTER = timedelta(days=30)
DAILY_LIMIT = 10
PENDING_PER_ORGANIZATION = 3
DAILY_REVEALS = 200
ENTITY = "introduction"


async def expire_pending(session: AsyncSession) -> None:
    """Pending introductions older than 30 days become expired (lazily, before any read), and
    whoever asked is told."""
    expired = await session.execute(
        update(Introduction)
        .where(Introduction.status == "pending", Introduction.expires_at <= func.now())
        .values(status="expired", decided_at=Introduction.expires_at)
        .returning(
            Introduction.id,
            Introduction.listing_id,
            Introduction.initiator_email,
            Introduction.requester_organization_id,
        )
    )
    for row in expired.all():
        await notify.introduction_decided(
            session,
            intro_id=row.id,
            outcome="expired",
            listing_id=row.listing_id,
            initiator_email=row.initiator_email,
            requester_organization_id=row.requester_organization_id,
        )


def sides_meet(asking: str | None, asked: str | None) -> bool:
    """Sides are kept apart (DOMAIN.md rule 8): a group for one side and a group for the other do
    not mentor each other; `both` meets either."""
    return asking is None or asked is None or asking == asked or "both" in (asking, asked)


async def create_introduction(
    session: AsyncSession, principal: Principal, data: IntroductionCreate
) -> tuple[Introduction, Listing]:
    if principal.role is Role.ORGANIZATION or data.from_program_id is not None:
        return await _between_groups(session, principal, data)
    initiator = await get_own(session, principal)
    listing = await session.scalar(
        select(Listing)
        .join(Organization, Organization.id == Listing.organization_id)
        .where(Listing.id == data.target_id, public_listing())
    )
    if listing is None:
        raise NotFound(f"No program or partner {data.target_id} is listed.")
    await expire_pending(session)
    now = utcnow()
    # Serialize one initiator's requests so two parallel ones cannot both slip under the caps.
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(str(initiator.id)))))
    recent = (
        await session.execute(
            select(func.count(), func.min(Introduction.created_at)).where(
                Introduction.initiator_id == initiator.id, Introduction.created_at > now - timedelta(days=1)
            )
        )
    ).one()
    if recent[0] >= DAILY_LIMIT:
        retry = max(1, int((recent[1] + timedelta(days=1) - now).total_seconds()) + 1)
        raise TooManyRequests(
            f"At most {DAILY_LIMIT} introductions a day; try again later.",
            headers={"Retry-After": str(retry)},
        )
    pending = await session.scalar(
        select(func.count()).where(
            Introduction.initiator_id == initiator.id,
            Introduction.organization_id == listing.organization_id,
            Introduction.status == "pending",
        )
    )
    if (pending or 0) >= PENDING_PER_ORGANIZATION:
        raise TooManyRequests(
            f"At most {PENDING_PER_ORGANIZATION} pending introductions to one organization; "
            "wait for an answer or withdraw one.",
            headers={"Retry-After": "86400"},
        )
    intro = Introduction(
        initiator_id=initiator.id,
        listing_id=listing.id,
        organization_id=listing.organization_id,
        message=data.message,
        status="pending",
        initiator_name=initiator.display_name,
        initiator_email=initiator.email,
        initiator_locality=initiator.locality,
        created_at=now,
        expires_at=now + EXPIRES_AFTER,
    )
    session.add(intro)
    await session.flush()
    audit.record(
        session,
        principal,
        "create",
        ENTITY,
        intro.id,
        owner_organization_id=listing.organization_id,
        changed_fields=["message"],
    )
    await notify.introduction_requested(session, intro, listing)
    return intro, listing


async def _between_groups(
    session: AsyncSession, principal: Principal, data: IntroductionCreate
) -> tuple[Introduction, Listing]:
    """A verified organization asks, for one of its programs, another organization's program."""
    require_role(principal, Role.ORGANIZATION)
    if not principal.organization_verified:
        raise Forbidden("Only verified organizations can ask other programs for an introduction.")
    if data.from_program_id is None:
        raise InvalidInput(
            "from_program_id: say which of your programs asks", extra={"field": "from_program_id"}
        )
    asking = await get_listing(session, principal, data.from_program_id, ("peer_program",))
    if not principal.owns(asking.organization_id):
        raise Forbidden("An organization asks for its own programs only.")
    listing = await session.scalar(
        select(Listing)
        .join(Organization, Organization.id == Listing.organization_id)
        .where(Listing.id == data.target_id, Listing.kind == "peer_program", public_listing())
    )
    if listing is None:
        raise NotFound(f"No program {data.target_id} is listed.")
    if listing.organization_id == principal.organization_id:
        raise InvalidInput("target_id: ask another organization's program", extra={"field": "target_id"})
    if not sides_meet(asking.side, listing.side):
        raise InvalidInput(
            "target_id: a group for one side of IPV and a group for the other are kept apart",
            extra={"field": "target_id"},
        )
    await expire_pending(session)
    now = utcnow()
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtext(f"asks:{principal.organization_id}")))
    )
    asked_today = await session.scalar(
        select(func.count()).where(
            Introduction.requester_organization_id == principal.organization_id,
            Introduction.created_at > now - timedelta(days=1),
        )
    )
    if (asked_today or 0) >= DAILY_LIMIT:
        raise TooManyRequests(f"At most {DAILY_LIMIT} introductions a day.", headers={"Retry-After": "3600"})
    pending = await session.scalar(
        select(func.count()).where(
            Introduction.requester_organization_id == principal.organization_id,
            Introduction.organization_id == listing.organization_id,
            Introduction.status == "pending",
        )
    )
    if (pending or 0) >= PENDING_PER_ORGANIZATION:
        raise TooManyRequests(
            f"At most {PENDING_PER_ORGANIZATION} pending introductions to one organization.",
            headers={"Retry-After": "86400"},
        )
    intro = Introduction(
        requester_listing_id=asking.id,
        requester_organization_id=asking.organization_id,
        listing_id=listing.id,
        organization_id=listing.organization_id,
        message=data.message,
        status="pending",
        initiator_name=asking.name,
        initiator_locality=asking.locality,
        created_at=now,
        expires_at=now + EXPIRES_AFTER,
    )
    session.add(intro)
    await session.flush()
    audit.record(
        session,
        principal,
        "create",
        ENTITY,
        intro.id,
        owner_organization_id=listing.organization_id,
        changed_fields=["message", "requester_listing_id"],
    )
    await notify.introduction_requested(session, intro, listing)
    return intro, listing


def _side(principal: Principal, intro: Introduction) -> str | None:
    """Which side of the introduction the caller is: the one that asked ("initiator": an initiator,
    or the organization whose program asked) or the asked listing's organization."""
    if principal.role is Role.INITIATOR and principal.initiator_id is not None:
        return "initiator" if intro.initiator_id == principal.initiator_id else None
    if principal.organization_id is not None and principal.organization_id == intro.organization_id:
        return "organization"
    if principal.organization_id is not None and principal.organization_id == intro.requester_organization_id:
        return "initiator"
    return None


async def get_introduction(session: AsyncSession, principal: Principal, intro_id: uuid.UUID) -> Introduction:
    require_role(principal, Role.INITIATOR, Role.ORGANIZATION)
    await expire_pending(session)
    intro = await session.get(Introduction, intro_id, populate_existing=True)
    if intro is None or _side(principal, intro) is None:
        raise NotFound(f"No introduction {intro_id} is yours.")
    return intro


async def list_introductions(
    session: AsyncSession, principal: Principal, *, status: str | None, limit: int, offset: int
) -> tuple[Sequence[Introduction], int]:
    require_role(principal, Role.INITIATOR, Role.ORGANIZATION)
    await expire_pending(session)
    stmt = select(Introduction)
    if principal.role is Role.INITIATOR:
        stmt = stmt.where(Introduction.initiator_id == principal.initiator_id)
    else:
        mine = principal.organization_id
        stmt = stmt.where(
            (Introduction.organization_id == mine) | (Introduction.requester_organization_id == mine)
        )
    if status is not None:
        stmt = stmt.where(Introduction.status == status)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (
        await session.scalars(
            stmt.order_by(Introduction.created_at.desc(), Introduction.id).limit(limit).offset(offset)
        )
    ).all()
    return rows, total


async def decide(
    session: AsyncSession, principal: Principal, intro_id: uuid.UUID, action: str
) -> Introduction:
    """accept / decline (the listing's organization) or withdraw (the initiator), pending only."""
    intro = await get_introduction(session, principal, intro_id)
    side = _side(principal, intro)
    needed = "initiator" if action == "withdraw" else "organization"
    if side != needed:
        raise Forbidden(f"Only the {needed} side can {action} an introduction.")
    if intro.status != "pending":
        raise Conflict(f"The introduction is {intro.status}; only pending ones can be changed.")
    intro.status = {"accept": "accepted", "decline": "declined", "withdraw": "withdrawn"}[action]
    intro.decided_at = utcnow()
    audit.record(
        session,
        principal,
        action,
        ENTITY,
        intro.id,
        owner_organization_id=intro.organization_id,
        changed_fields=["status"],
    )
    await session.flush()
    await notify.introduction_decided(
        session,
        intro_id=intro.id,
        outcome=intro.status,
        listing_id=intro.listing_id,
        initiator_email=intro.initiator_email,
        requester_organization_id=intro.requester_organization_id,
    )
    return intro


async def _check_reveal_cap(session: AsyncSession, principal: Principal) -> None:
    actor = AuditEvent.actor_key_id == principal.key_id
    count = await session.scalar(
        select(func.count()).where(
            actor, AuditEvent.action == "contact_reveal", AuditEvent.at > utcnow() - timedelta(days=1)
        )
    )
    if (count or 0) >= DAILY_REVEALS:
        raise TooManyRequests(
            f"At most {DAILY_REVEALS} contact reveals a day.", headers={"Retry-After": "3600"}
        )


async def present(
    session: AsyncSession, principal: Principal, intro: Introduction, *, reveal: bool
) -> IntroductionRead:
    """The introduction as this side may see it; contacts only after acceptance (and audited)."""
    listing = await session.scalar(
        select(Listing).where(Listing.id == intro.listing_id).options(selectinload(Listing.contacts))
    )
    assert listing is not None
    side = _side(principal, intro)
    accepted = intro.status == "accepted"
    contacts: list[ContactRead] = []
    email = None
    asking = None
    if intro.requester_listing_id is not None:
        asking = await session.scalar(
            select(Listing)
            .where(Listing.id == intro.requester_listing_id)
            .options(selectinload(Listing.contacts))
        )
    if accepted and reveal:
        await _check_reveal_cap(session, principal)
        if side == "initiator":
            contacts = [contact_read(c) for c in listing.contacts if revealed_on_introduction(c)]
        elif side == "organization" and asking is not None:
            contacts = [contact_read(c) for c in asking.contacts if revealed_on_introduction(c)]
        elif side == "organization":
            email = intro.initiator_email
        audit.record(
            session,
            principal,
            "contact_reveal",
            ENTITY,
            intro.id,
            owner_organization_id=intro.organization_id,
            changed_fields=["contacts" if side == "initiator" else "initiator_email"],
        )
    return IntroductionRead(
        id=intro.id,
        status=intro.status,
        requester_program=None
        if asking is None
        else IntroductionListing(
            id=asking.id, kind=asking.kind, name=asking.name, organization_id=asking.organization_id
        ),
        message=intro.message,
        created_at=intro.created_at,
        expires_at=intro.expires_at,
        decided_at=intro.decided_at,
        listing=IntroductionListing(
            id=listing.id, kind=listing.kind, name=listing.name, organization_id=listing.organization_id
        ),
        initiator=IntroductionInitiator(
            display_name=intro.initiator_name, locality=intro.initiator_locality, email=email
        ),
        contacts=contacts,
    )
