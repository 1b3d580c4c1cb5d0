"""Request and response shapes for organizations and API keys."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

ORGANIZATION_KINDS = ("peer_program", "clinician", "treatment_program", "evaluator", "trainer")
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=60, pattern=r"^[a-z0-9_]+$")]

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"\S")]
Website = Annotated[str, msgspec.Meta(max_length=500, pattern=r"^https?://\S+$")]
CountryCode = Annotated[str, msgspec.Meta(min_length=2, max_length=2, pattern=r"^[A-Z]{2}$")]
Description = Annotated[str, msgspec.Meta(max_length=5000)]
Kinds = Annotated[
    list[Code],
    msgspec.Meta(min_length=1, max_length=5, description="partner kinds: " + ", ".join(ORGANIZATION_KINDS)),
]
Email = Annotated[
    str,
    msgspec.Meta(
        max_length=320,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="where the registry writes to the organization (introductions, reminders); "
        "not a public contact: only the organization and stewards read it",
    ),
]
KeyLabel = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class OrganizationCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    kinds: Kinds
    website: Website | None = None
    country: CountryCode | None = None
    description: Description | None = None
    notification_email: Email | None = None


class OrganizationUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name | UnsetType = UNSET
    kinds: Kinds | UnsetType = UNSET
    website: Website | UnsetType | None = UNSET
    country: CountryCode | UnsetType | None = UNSET
    description: Description | UnsetType | None = UNSET
    notification_email: Email | UnsetType | None = UNSET


class OrganizationRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    kinds: list[str]
    website: str | None
    country: str | None
    description: str | None
    verification_status: Annotated[str, msgspec.Meta(description="unverified, verified or suspended")]
    verified_at: datetime | None
    suspended_at: datetime | None
    suspension_reason: Annotated[
        str | None, msgspec.Meta(description="only stewards see suspended organizations")
    ]
    created_at: datetime
    updated_at: datetime
    notification_email: Annotated[
        str | UnsetType | None,
        msgspec.Meta(description="present only to the organization itself and to stewards"),
    ] = UNSET


Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=1000, pattern=r"\S")]


class Suspension(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reason: Annotated[Reason, msgspec.Meta(description="why, for the audit log and other stewards")]


class Reinstatement(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reason: Reason | None = None


class ApiKeyCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    label: KeyLabel | None = None


class RoleKeyCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    role: Literal["funder", "steward"]
    label: KeyLabel | None = None


class ApiKeyRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    prefix: str
    role: str
    organization_id: uuid.UUID | None
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


class NewApiKey(msgspec.Struct, kw_only=True):
    """A freshly created key. `key` is shown only in this response; store it now."""

    id: uuid.UUID
    key: str
    prefix: str
    role: str
    organization_id: uuid.UUID | None
    label: str | None
    created_at: datetime


class OrganizationRegistered(msgspec.Struct, kw_only=True):
    organization: OrganizationRead
    api_key: NewApiKey
