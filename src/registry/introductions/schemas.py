"""Shapes for introductions: an initiator asks, the listing's organization answers."""

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from registry.listings.schemas import ContactRead


class IntroductionCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An initiator (initiator key) asks for a program or partner; or a verified organization asks,
    for one of its programs (`from_program_id`), another program for mentoring between groups."""

    target_id: Annotated[uuid.UUID, msgspec.Meta(description="a program or partner id")]
    message: Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=r"\S")]
    from_program_id: (
        Annotated[
            uuid.UUID, msgspec.Meta(description="organizations: your program that asks (target: a program)")
        ]
        | None
    ) = None


class IntroductionListing(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    kind: str
    name: str
    organization_id: uuid.UUID


class IntroductionInitiator(msgspec.Struct, kw_only=True):
    display_name: str
    locality: str | None
    email: Annotated[str | None, msgspec.Meta(description="shown to the organization once accepted")]


class IntroductionRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    status: str
    requester_program: Annotated[
        IntroductionListing | None,
        msgspec.Meta(description="the program that asked (mentoring between groups)"),
    ]
    message: str
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    listing: IntroductionListing
    initiator: IntroductionInitiator
    contacts: Annotated[
        list[ContactRead],
        msgspec.Meta(
            description="once accepted: the listing's contacts, shown to the side that asked; for mentoring "
            "between groups, the asking program's contacts, shown to the listing's organization"
        ),
    ]
