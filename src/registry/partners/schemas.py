"""Request and response shapes for partners: clinicians, treatment programs, evaluators, trainers."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from registry.listings.schemas import (
    Codes,
    ContactRead,
    Contacts,
    Description,
    LocationInput,
    LocationRead,
    Name,
    Precision,
    RadiusKm,
    Status,
    TextList,
)

# Which vocabulary each of a partner's coded fields takes its codes from (also its search filters).
VOCABULARIES = {
    "specialties": "specialty",
    "populations": "population",
    "languages": "language",
    "methods": "evaluation_design",
    "course_topics": "course_topic",
}

PartnerKind = Literal["clinician", "treatment_program", "evaluator", "trainer"]
PARTNER_KINDS: tuple[str, ...] = ("clinician", "treatment_program", "evaluator", "trainer")
Training = Annotated[str, msgspec.Meta(max_length=500)]


class PartnerCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kind: PartnerKind
    name: Name
    description: Description | None = None
    specialties: Codes = msgspec.field(default_factory=list)
    populations: Codes = msgspec.field(default_factory=list)
    languages: Codes = msgspec.field(default_factory=list)
    credentials: Annotated[TextList, msgspec.Meta(description="clinicians and treatment programs")] = (
        msgspec.field(default_factory=list)
    )
    ipv_trained: Annotated[bool, msgspec.Meta(description="clinicians and treatment programs")] = False
    ipv_training: Annotated[Training, msgspec.Meta(description="what IPV training, from whom")] | None = None
    methods: Annotated[Codes, msgspec.Meta(description="evaluators: evaluation_design codes")] = (
        msgspec.field(default_factory=list)
    )
    courses: Annotated[TextList, msgspec.Meta(description="trainers")] = msgspec.field(default_factory=list)
    course_topics: Annotated[
        Codes, msgspec.Meta(description="trainers: what the courses cover (course_topic vocabulary)")
    ] = msgspec.field(default_factory=list)
    certifications: Annotated[TextList, msgspec.Meta(description="trainers")] = msgspec.field(
        default_factory=list
    )
    accepting_partnerships: bool = True
    remote_ok: bool = False
    location: LocationInput | None = None
    location_precision: Annotated[Precision, msgspec.Meta(description="default exact")] | None = None
    service_radius_km: RadiusKm | None = None
    status: Status = "active"
    contacts: Contacts = msgspec.field(default_factory=list)
    organization_id: (
        Annotated[uuid.UUID, msgspec.Meta(description="stewards only: the owning organization")] | None
    ) = None


class PartnerUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET
    specialties: Codes | UnsetType = UNSET
    populations: Codes | UnsetType = UNSET
    languages: Codes | UnsetType = UNSET
    credentials: TextList | UnsetType = UNSET
    ipv_trained: bool | UnsetType = UNSET
    ipv_training: Training | UnsetType | None = UNSET
    methods: Codes | UnsetType = UNSET
    courses: TextList | UnsetType = UNSET
    course_topics: Codes | UnsetType = UNSET
    certifications: TextList | UnsetType = UNSET
    accepting_partnerships: bool | UnsetType = UNSET
    remote_ok: bool | UnsetType = UNSET
    location: LocationInput | UnsetType | None = UNSET
    location_precision: Precision | UnsetType = UNSET
    service_radius_km: RadiusKm | UnsetType | None = UNSET
    status: Status | UnsetType = UNSET
    contacts: Contacts | UnsetType = UNSET


class PartnerRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    organization_id: uuid.UUID
    kind: str
    name: str
    description: str | None
    specialties: list[str]
    populations: list[str]
    languages: list[str]
    credentials: list[str]
    ipv_trained: bool
    ipv_training: str | None
    methods: list[str]
    courses: list[str]
    course_topics: list[str]
    certifications: list[str]
    accepting_partnerships: bool
    remote_ok: bool
    location: LocationRead
    service_radius_km: int | None
    status: str
    contacts: list[ContactRead]
    hidden_contacts: int
    distance_band: str | None
    last_verified_at: datetime
    stale: bool
    archived: bool
    created_at: datetime
    updated_at: datetime
