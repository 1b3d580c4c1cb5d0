"""Shapes for initiators' minimal profiles."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from registry.listings.schemas import Code, Codes, Email, LocationInput

# Which vocabulary each of an initiator's (and a match request's) coded fields takes its codes from.
VOCABULARIES = {"side": "side", "formats": "format", "populations": "population", "languages": "language"}

NeedKind = Literal["clinician", "treatment_program", "evaluator", "trainer", "peer_program"]
Needs = Annotated[list[NeedKind], msgspec.Meta(max_length=5)]
DisplayName = Annotated[
    str, msgspec.Meta(min_length=1, max_length=100, pattern=r"\S", description="a pseudonym is fine")
]
VISIBLE = (
    "list your place (locality and distance band), side, formats, needs and step to the verified "
    "organizations of programs near you (GET /programs/{id}/peers); off by default: otherwise you "
    "count only in protected totals"
)
PathwayStep = Annotated[int, msgspec.Meta(ge=1, le=6, description="the step of the six you are on")]


class InitiatorCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    display_name: DisplayName
    email: Annotated[Email, msgspec.Meta(description="used only for introductions you ask for")]
    location: (
        Annotated[
            LocationInput, msgspec.Meta(description="stored only as a coarse point (5 km grid) and locality")
        ]
        | None
    ) = None
    side: Code | None = None
    formats: Codes = msgspec.field(default_factory=list)
    populations: Codes = msgspec.field(default_factory=list)
    languages: Codes = msgspec.field(default_factory=list)
    pathway_step: PathwayStep = 1
    needs: Needs = msgspec.field(default_factory=list)
    visible_to_programs: Annotated[bool, msgspec.Meta(description=VISIBLE)] = False


class InitiatorUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    display_name: DisplayName | UnsetType = UNSET
    email: Email | UnsetType = UNSET
    location: LocationInput | UnsetType | None = UNSET
    side: Code | UnsetType | None = UNSET
    formats: Codes | UnsetType = UNSET
    populations: Codes | UnsetType = UNSET
    languages: Codes | UnsetType = UNSET
    pathway_step: PathwayStep | UnsetType = UNSET
    needs: Needs | UnsetType = UNSET
    visible_to_programs: Annotated[bool, msgspec.Meta(description=VISIBLE)] | UnsetType = UNSET


class CoarseLocation(msgspec.Struct, kw_only=True):
    latitude: float | None
    longitude: float | None
    locality: str | None
    region: str | None
    country: str | None


class InitiatorRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    display_name: str
    email: str
    location: CoarseLocation
    side: str | None
    formats: list[str]
    populations: list[str]
    languages: list[str]
    pathway_step: int
    needs: list[str]
    visible_to_programs: bool
    created_at: datetime
    updated_at: datetime


class InitiatorRegistered(msgspec.Struct, kw_only=True):
    initiator: InitiatorRead
    key: Annotated[str, msgspec.Meta(description="your initiator key, shown only this once")]
