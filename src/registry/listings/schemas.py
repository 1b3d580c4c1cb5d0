"""Shapes shared by programs and partners: location, contacts, evaluation records."""

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

Code = Annotated[str, msgspec.Meta(min_length=1, max_length=60, pattern=r"^[a-z0-9_]+$")]
Codes = Annotated[list[Code], msgspec.Meta(max_length=30)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"\S")]
ShortText = Annotated[str, msgspec.Meta(max_length=200)]
Description = Annotated[str, msgspec.Meta(max_length=5000)]
Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]
RadiusKm = Annotated[int, msgspec.Meta(ge=0, le=500, description="how far the listing serves, km")]
Precision = Literal["exact", "area", "remote"]
Visibility = Literal["public", "verified_orgs", "on_introduction"]
Status = Literal["planning", "active", "paused", "closed"]
Email = Annotated[str, msgspec.Meta(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Phone = Annotated[str, msgspec.Meta(max_length=50, pattern=r"^[0-9+()./ -]{3,50}$")]
TextList = Annotated[
    list[Annotated[str, msgspec.Meta(min_length=1, max_length=200)]], msgspec.Meta(max_length=30)
]


class LocationInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One of: latitude+longitude (optionally an address), a US ZIP code, or "City, CC".

    For `area` listings only a coarse point (a 5 km grid cell's centre, or the city centre) and
    the locality are kept: the address and the precise point are discarded, never stored."""

    latitude: Latitude | None = None
    longitude: Longitude | None = None
    address: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    postal_code: Annotated[str, msgspec.Meta(max_length=20)] | None = None
    place: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class LocationRead(msgspec.Struct, kw_only=True):
    precision: str
    latitude: float | None
    longitude: float | None
    address: str | None
    postal_code: str | None
    locality: str | None
    region: str | None
    country: str | None


class ContactInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: ShortText | None = None
    role: ShortText | None = None
    email: Email | None = None
    phone: Phone | None = None
    preferred_method: Literal["email", "phone"] | None = None
    visibility: Visibility = "on_introduction"


Contacts = Annotated[list[ContactInput], msgspec.Meta(max_length=20)]


class ContactRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str | None
    role: str | None
    email: str | None
    phone: str | None
    preferred_method: str | None
    visibility: str


class EvaluationCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    stage: Code
    design: Code | None = None
    outcomes: Codes = msgspec.field(default_factory=list)
    participant_count: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] | None = None
    evaluator_id: uuid.UUID | None = None
    evaluator_name: ShortText | None = None
    started_on: date | None = None
    ended_on: date | None = None
    findings_summary: Annotated[str, msgspec.Meta(max_length=10_000)] | None = None
    publication: (
        Annotated[str, msgspec.Meta(max_length=500, pattern=r"^(https?://\S+|10\.\d{4,9}/\S+)$")] | None
    ) = None
    correction: bool = False
    correction_reason: Annotated[str, msgspec.Meta(max_length=1000)] | None = None


class EvaluationRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    stage: str
    previous_stage: str
    is_correction: bool
    correction_reason: str | None
    design: str | None
    outcomes: list[str]
    participant_count: int | None
    evaluator_id: uuid.UUID | None
    evaluator_name: str | None
    started_on: date | None
    ended_on: date | None
    findings_summary: str | None
    publication: str | None
    recorded_at: datetime
