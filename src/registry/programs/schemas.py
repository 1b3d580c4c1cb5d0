"""Request and response shapes for peer-support programs."""

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from registry.listings.schemas import (
    Code,
    Codes,
    ContactRead,
    Contacts,
    Description,
    EvaluationRead,
    LocationInput,
    LocationRead,
    Name,
    Precision,
    RadiusKm,
    ShortText,
    Status,
)

# Which vocabulary each of a program's coded fields takes its codes from (also its search filters).
VOCABULARIES = {
    "side": "side",
    "formats": "format",
    "group_type": "group_type",
    "delivery": "delivery",
    "populations": "population",
    "languages": "language",
    "evaluation_stage": "evaluation_stage",
}

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Frequency = Literal["weekly", "biweekly", "monthly", "irregular"]
Capacity = Annotated[int, msgspec.Meta(ge=1, le=10_000)]


class Schedule(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    text: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    weekdays: Annotated[list[Weekday], msgspec.Meta(max_length=7)] = msgspec.field(default_factory=list)
    frequency: Frequency | None = None


class ProgramCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    side: Annotated[Code, msgspec.Meta(description="side vocabulary")]
    description: Description | None = None
    formats: Codes = msgspec.field(default_factory=list)
    group_type: Code | None = None
    delivery: Code = "in_person"
    populations: Codes = msgspec.field(default_factory=list)
    languages: Codes = msgspec.field(default_factory=list)
    location: LocationInput | None = None
    location_precision: (
        Annotated[
            Precision,
            msgspec.Meta(description="default: area for survivor and both-sides programs, else exact"),
        ]
        | None
    ) = None
    service_radius_km: RadiusKm | None = None
    status: Status = "active"
    founded_on: date | None = None
    clinical_partner_id: uuid.UUID | None = None
    clinical_partner_name: ShortText | None = None
    capacity: Capacity | None = None
    schedule: Schedule | None = None
    open_to_mentoring: bool = False
    contacts: Contacts = msgspec.field(default_factory=list)
    organization_id: (
        Annotated[uuid.UUID, msgspec.Meta(description="stewards only: the owning organization")] | None
    ) = None


class ProgramUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name | UnsetType = UNSET
    side: Code | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET
    formats: Codes | UnsetType = UNSET
    group_type: Code | UnsetType | None = UNSET
    delivery: Code | UnsetType = UNSET
    populations: Codes | UnsetType = UNSET
    languages: Codes | UnsetType = UNSET
    location: LocationInput | UnsetType | None = UNSET
    location_precision: Precision | UnsetType = UNSET
    service_radius_km: RadiusKm | UnsetType | None = UNSET
    status: Status | UnsetType = UNSET
    founded_on: date | UnsetType | None = UNSET
    clinical_partner_id: uuid.UUID | UnsetType | None = UNSET
    clinical_partner_name: ShortText | UnsetType | None = UNSET
    capacity: Capacity | UnsetType | None = UNSET
    schedule: Schedule | UnsetType | None = UNSET
    open_to_mentoring: bool | UnsetType = UNSET
    contacts: Contacts | UnsetType = UNSET


class ClinicalPartner(msgspec.Struct, kw_only=True):
    id: uuid.UUID | None
    name: str | None


class Evaluation(msgspec.Struct, kw_only=True, omit_defaults=True):
    stage: str
    history: list[EvaluationRead] | UnsetType = UNSET


class ProgramRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    organization_id: uuid.UUID
    kind: str
    name: str
    description: str | None
    side: str | None
    formats: list[str]
    group_type: str | None
    delivery: str | None
    populations: list[str]
    languages: list[str]
    location: LocationRead
    service_radius_km: int | None
    status: str
    founded_on: date | None
    clinical_partner: ClinicalPartner | None
    capacity: int | None
    schedule: Schedule
    open_to_mentoring: bool
    evaluation: Evaluation
    contacts: list[ContactRead]
    hidden_contacts: int
    distance_band: str | None
    last_verified_at: datetime
    stale: bool
    archived: bool
    created_at: datetime
    updated_at: datetime
