"""Shapes for match requests and answers."""

import uuid
from typing import Annotated, Literal

import msgspec

from registry.listings.schemas import Codes, ContactRead, LocationInput
from registry.matching.scoring import Factor, ReasonCode
from registry.reports.schemas import CellRead

NeedKind = Literal["clinician", "treatment_program", "evaluator", "trainer", "peer_program"]
SideCode = Annotated[str, msgspec.Meta(max_length=60, pattern=r"^[a-z0-9_]+$")]


class MatchRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Anything left out is taken from your profile when you send an initiator key. Side is kept
    apart: with `side`, nothing that serves only the other side is offered."""

    location: LocationInput | None = None
    radius_km: Annotated[float, msgspec.Meta(gt=0, le=500)] | None = None
    needs: Annotated[list[NeedKind], msgspec.Meta(min_length=1, max_length=5)] | None = None
    side: SideCode | None = None
    populations: Codes | None = None
    formats: Codes | None = None
    languages: Codes | None = None
    include_remote: bool = True
    include_planning: Annotated[
        bool, msgspec.Meta(description="also programs still being planned (status planning)")
    ] = False
    topics: (
        Annotated[
            Codes,
            msgspec.Meta(
                description="what trainers' courses should cover (course_topic vocabulary); "
                "default: ipv_basics, facilitation, high_risk_clients"
            ),
        ]
        | None
    ) = None
    per_kind: Annotated[int, msgspec.Meta(ge=1, le=20)] = 5


class ReasonRead(msgspec.Struct, kw_only=True):
    code: Annotated[ReasonCode, msgspec.Meta(description="GET /matches/explanations lists every code")]
    text: str


class ScorePart(msgspec.Struct, kw_only=True):
    """One factor of a score: its weight (the weights of a result sum to 1), its value in [0, 1]
    and their product; a result's contributions add up to its score."""

    factor: Factor
    weight: float
    value: float
    contribution: float


class MatchListing(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    kind: str
    name: str
    organization_id: uuid.UUID
    description: str | None
    side: str | None
    specialties: list[str]
    formats: list[str]
    populations: list[str]
    languages: list[str]
    evaluation_stage: str
    open_to_mentoring: bool
    accepting_partnerships: bool
    remote_ok: bool
    location_precision: str
    locality: str | None
    region: str | None
    country: str | None
    contacts: list[ContactRead]


class MatchCandidate(msgspec.Struct, kw_only=True):
    score: float
    distance_band: str | None
    in_reach: Annotated[bool, msgspec.Meta(description="within your radius (false: works remotely)")]
    breakdown: list[ScorePart]
    reasons: list[ReasonRead]
    listing: MatchListing


class MatchQueryEcho(msgspec.Struct, kw_only=True):
    radius_km: float
    needs: list[str]
    side: str | None
    populations: list[str]
    formats: list[str]
    languages: list[str]
    include_remote: bool
    include_planning: bool
    topics: list[str]
    per_kind: int
    locality: str | None
    region: str | None
    country: str | None


class MatchResponse(msgspec.Struct, kw_only=True):
    query: MatchQueryEcho
    results: dict[str, list[MatchCandidate]]
    held_back: Annotated[
        dict[str, int],
        msgspec.Meta(
            description="per kind, how many results were left out because two of the same organization "
            "were already listed (at most two per organization, unless too few others)"
        ),
    ]


class Explanation(msgspec.Struct, kw_only=True):
    code: str
    text: str


class Explanations(msgspec.Struct, kw_only=True):
    factors: list[Explanation]
    reasons: list[Explanation]


class InitiatorNeed(msgspec.Struct, kw_only=True):
    """An initiator nearby, without identity: what they are starting and need."""

    distance_band: str | None
    locality: str | None
    side: str | None
    formats: list[str]
    populations: list[str]
    languages: list[str]
    needs: list[str]
    pathway_step: int


class NeedCount(msgspec.Struct, kw_only=True):
    """How many initiators nearby who did not choose to be listed need this (`""`: named no
    need), as the reports count people: from the day's release, perturbed, 1 to 10 hidden."""

    need: str
    initiators: CellRead


class PeersResponse(msgspec.Struct, kw_only=True):
    programs: list[MatchCandidate]
    initiators: Annotated[
        list[InitiatorNeed], msgspec.Meta(description="initiators nearby who chose to be listed to programs")
    ]
    initiator_needs: list[NeedCount]
