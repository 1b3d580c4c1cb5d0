"""The events people are told of, as outbox messages. A message carries the least that does the
job: who asked and the id to read it by through the API; never an initiator's message text,
search terms or any place."""

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import Introduction, Listing, Organization
from registry.notifications.outbox import enqueue

# A listing not re-verified for this long is a month from looking stale: its organization hears once.
REVERIFY_AFTER = timedelta(days=335)  # 11 months
DECISIONS = frozenset({"accepted", "declined", "expired"})


async def _organization_address(session: AsyncSession, organization_id: object) -> str | None:
    address: str | None = await session.scalar(
        select(Organization.notification_email).where(Organization.id == organization_id)
    )
    return address


async def introduction_requested(session: AsyncSession, intro: Introduction, listing: Listing) -> bool:
    """To the asked listing's organization."""
    return await enqueue(
        session,
        event="introduction_requested",
        event_key=f"introduction_requested:{intro.id}",
        recipient=await _organization_address(session, listing.organization_id),
        subject="An introduction was requested",
        body=(
            f'{intro.initiator_name} asked for an introduction to your listing "{listing.name}".\n\n'
            f"Read and answer it through the registry's API with your organization's key:\n"
            f"GET /introductions/{intro.id}\n"
            f"It expires unanswered on {intro.expires_at:%Y-%m-%d}.\n"
        ),
    )


async def introduction_decided(
    session: AsyncSession,
    *,
    intro_id: object,
    outcome: str,
    listing_id: object,
    initiator_email: str | None,
    requester_organization_id: object | None,
) -> bool:
    """To whoever asked (the initiator, or the asking program's organization): accepted, declined
    or expired. Other endings (withdrawn, closed) tell no one: the asker did it, or was told."""
    if outcome not in DECISIONS:
        return False
    recipient = initiator_email
    if requester_organization_id is not None:
        recipient = await _organization_address(session, requester_organization_id)
    name = await session.scalar(select(Listing.name).where(Listing.id == listing_id))
    then = "Read it, with the contacts it now shares," if outcome == "accepted" else "Read it"
    return await enqueue(
        session,
        event=f"introduction_{outcome}",
        event_key=f"introduction_{outcome}:{intro_id}",
        recipient=recipient,
        subject=f"Your introduction request was {outcome}",
        body=(
            f'Your request for an introduction to "{name}" was {outcome}.\n\n'
            f"{then} through the registry's API with your key:\nGET /introductions/{intro_id}\n"
        ),
    )


async def organization_verified(session: AsyncSession, organization: Organization) -> bool:
    return await enqueue(
        session,
        event="organization_verified",
        event_key=f"organization_verified:{organization.id}:{organization.verified_at:%Y%m%dT%H%M%S%f}",
        recipient=organization.notification_email,
        subject="Your organization is verified",
        body=(
            f'"{organization.name}" is verified: its active listings are now public.\n\n'
            f"GET /organizations/{organization.id}\n"
        ),
    )


async def listings_due_for_reverification(session: AsyncSession, now: datetime) -> int:
    """Queue a reminder for each live listing 11 months past its last verification, once per
    verification; how many were queued."""
    since = Listing.last_verified_at
    rows = (
        await session.execute(
            select(
                Listing.id, Listing.name, Listing.kind, since.label("since"), Organization.notification_email
            )
            .join(Organization, Organization.id == Listing.organization_id)
            .where(
                since <= now - REVERIFY_AFTER,
                Listing.status.in_(("active", "planning")),
                Organization.notification_email.is_not(None),
                Organization.verification_status != "suspended",
            )
            .limit(1000)
        )
    ).all()
    queued = 0
    for row in rows:
        path = "programs" if row.kind == "peer_program" else "partners"
        queued += await enqueue(
            session,
            event="listing_reverification_due",
            event_key=f"listing_reverification_due:{row.id}:{row.since:%Y%m%dT%H%M%S%f}",
            recipient=row.notification_email,
            subject="A listing needs re-verifying",
            body=(
                f'Your listing "{row.name}" was last verified on {row.since:%Y-%m-%d}. Listings not '
                "re-verified within a year are shown as stale to the people searching.\n\n"
                f"Re-verify it through the registry's API: POST /{path}/{row.id}/reverify\n"
            ),
        )
    return queued
