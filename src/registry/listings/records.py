"""One listing, its contacts and its evaluation history, read in one statement as JSON and decoded
into structs that the presenters read as they read ORM rows (attribute for attribute): the hot
read path of `GET /programs/{id}` and `GET /partners/{id}`. Who may see the listing is decided
in the statement by `visibility.listing_visible_sql`; which contacts, by the presenters."""

import functools
import uuid
from datetime import date, datetime
from typing import Any

import msgspec

from registry.auth.principal import Principal
from registry.database.reads import Reads
from registry.listings.visibility import listing_visible_sql


class ContactRecord(msgspec.Struct, kw_only=True, gc=False):
    id: uuid.UUID
    position: int
    name: str | None
    role: str | None
    email: str | None
    phone: str | None
    preferred_method: str | None
    visibility: str


class EvaluationRecord(msgspec.Struct, kw_only=True, gc=False):
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


class ListingRecord(msgspec.Struct, kw_only=True):
    """The `listing` row's columns (as `to_jsonb` names them), its contacts and evaluations."""

    id: uuid.UUID
    organization_id: uuid.UUID
    kind: str
    name: str
    description: str | None
    status: str
    side: str | None
    formats: list[str]
    group_type: str | None
    delivery: str | None
    populations: list[str]
    languages: list[str]
    specialties: list[str]
    founded_on: date | None
    clinical_partner_id: uuid.UUID | None
    clinical_partner_name: str | None
    capacity: int | None
    schedule_text: str | None
    schedule_weekdays: list[str]
    schedule_frequency: str | None
    open_to_mentoring: bool
    evaluation_stage: str
    credentials: list[str]
    ipv_training: str | None
    ipv_trained: bool
    methods: list[str]
    courses: list[str]
    course_topics: list[str]
    certifications: list[str]
    accepting_partnerships: bool
    remote_ok: bool
    location_precision: str
    latitude: float | None
    longitude: float | None
    address: str | None
    postal_code: str | None
    locality: str | None
    region: str | None
    country: str | None
    service_radius_km: int | None
    last_verified_at: datetime
    archived_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    contacts: list[ContactRecord]
    evaluations: list[EvaluationRecord] = []  # none read (listing_json); msgspec copies it


def listing_json(listing: str, *, evaluations: bool = True) -> str:
    """SQL for a ListingRecord of the `listing` row (a table or alias name) as JSON text; without
    its `evaluations` (left empty) when a presenter does not read them."""
    history = f"""
        'evaluations', coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.recorded_at, e.id)
                                 FROM evaluation_record e WHERE e.listing_id = {listing}.id), '[]'::jsonb),"""
    return f"""
    (to_jsonb({listing}) - 'search_vector' || jsonb_build_object({history if evaluations else ""}
        'contacts', coalesce((SELECT jsonb_agg(to_jsonb(c) ORDER BY c.position)
                              FROM contact c WHERE c.listing_id = {listing}.id), '[]'::jsonb)))::text"""


@functools.cache
def _statement(visible: str) -> str:
    return f"""
    SELECT {listing_json("l")}
    FROM listing l
    WHERE l.id = $1 AND l.kind = ANY($2::text[]) AND {visible}
    """


# A ListingRecord from its JSON text (listing_json's)
decode = msgspec.json.Decoder(ListingRecord).decode


async def listing_record(
    reads: Reads, principal: Principal, listing_id: uuid.UUID, kinds: tuple[str, ...]
) -> ListingRecord | None:
    visible, extra = listing_visible_sql(principal, "$3")
    args: list[Any] = [listing_id, list(kinds), *extra]
    found = await reads.fetchval(_statement(visible), *args)
    return None if found is None else decode(found)
