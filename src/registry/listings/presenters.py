"""Listing rows -> response structs, with contacts filtered by the caller's rights."""

from collections.abc import Iterable

from registry.auth.principal import Principal
from registry.database.base import utcnow
from registry.listings.schemas import ContactRead, EvaluationRead, LocationRead
from registry.listings.visibility import contact_visible, is_stale
from registry.models import Contact, EvaluationRecord, Listing
from registry.partners.schemas import PartnerRead
from registry.programs.schemas import ClinicalPartner, Evaluation, ProgramRead, Schedule


def location_read(listing: Listing) -> LocationRead:
    return LocationRead(
        precision=listing.location_precision,
        latitude=listing.latitude,
        longitude=listing.longitude,
        address=listing.address if listing.location_precision == "exact" else None,
        postal_code=listing.postal_code if listing.location_precision == "exact" else None,
        locality=listing.locality,
        region=listing.region,
        country=listing.country,
    )


def contacts_read(listing: Listing, principal: Principal) -> tuple[list[ContactRead], int]:
    reads = contact_reads(listing.contacts, principal)
    return reads, len(listing.contacts) - len(reads)


def contact_read(c: Contact) -> ContactRead:
    return ContactRead(
        id=c.id,
        name=c.name,
        role=c.role,
        email=c.email,
        phone=c.phone,
        preferred_method=c.preferred_method,
        visibility=c.visibility,
    )


def contact_reads(contacts: Iterable[Contact], principal: Principal) -> list[ContactRead]:
    """The contacts this caller may see, as response structs."""
    return [contact_read(c) for c in contacts if contact_visible(c, principal)]


def visible_reads(reads: Iterable[ContactRead], principal: Principal) -> list[ContactRead]:
    """Of contacts already read (all of a listing's), those this caller may see."""
    return [c for c in reads if contact_visible(c, principal)]


def evaluation_read(record: EvaluationRecord) -> EvaluationRead:
    return EvaluationRead(
        id=record.id,
        stage=record.stage,
        previous_stage=record.previous_stage,
        is_correction=record.is_correction,
        correction_reason=record.correction_reason,
        design=record.design,
        outcomes=record.outcomes,
        participant_count=record.participant_count,
        evaluator_id=record.evaluator_id,
        evaluator_name=record.evaluator_name,
        started_on=record.started_on,
        ended_on=record.ended_on,
        findings_summary=record.findings_summary,
        publication=record.publication,
        recorded_at=record.recorded_at,
    )


def program_read(
    listing: Listing,
    principal: Principal,
    *,
    band: str | None = None,
    history: list[EvaluationRecord] | None = None,
) -> ProgramRead:
    contacts, hidden = contacts_read(listing, principal)
    evaluation = Evaluation(stage=listing.evaluation_stage)
    if history is not None:
        evaluation.history = [evaluation_read(r) for r in history]
    partner = None
    if listing.clinical_partner_id or listing.clinical_partner_name:
        partner = ClinicalPartner(id=listing.clinical_partner_id, name=listing.clinical_partner_name)
    return ProgramRead(
        id=listing.id,
        organization_id=listing.organization_id,
        kind=listing.kind,
        name=listing.name,
        description=listing.description,
        side=listing.side,
        formats=listing.formats,
        group_type=listing.group_type,
        delivery=listing.delivery,
        populations=listing.populations,
        languages=listing.languages,
        location=location_read(listing),
        service_radius_km=listing.service_radius_km,
        status=listing.status,
        founded_on=listing.founded_on,
        clinical_partner=partner,
        capacity=listing.capacity,
        schedule=Schedule(
            text=listing.schedule_text,
            weekdays=listing.schedule_weekdays,  # type: ignore[arg-type]
            frequency=listing.schedule_frequency,  # type: ignore[arg-type]
        ),
        open_to_mentoring=listing.open_to_mentoring,
        evaluation=evaluation,
        contacts=contacts,
        hidden_contacts=hidden,
        distance_band=band,
        last_verified_at=listing.last_verified_at,
        stale=is_stale(listing.last_verified_at, utcnow()),
        archived=listing.archived_at is not None,
        created_at=listing.created_at,
        updated_at=listing.updated_at,
    )


def partner_read(listing: Listing, principal: Principal, *, band: str | None = None) -> PartnerRead:
    contacts, hidden = contacts_read(listing, principal)
    return PartnerRead(
        id=listing.id,
        organization_id=listing.organization_id,
        kind=listing.kind,
        name=listing.name,
        description=listing.description,
        specialties=listing.specialties,
        populations=listing.populations,
        languages=listing.languages,
        credentials=listing.credentials,
        ipv_trained=listing.ipv_trained,
        ipv_training=listing.ipv_training,
        methods=listing.methods,
        courses=listing.courses,
        course_topics=listing.course_topics,
        certifications=listing.certifications,
        accepting_partnerships=listing.accepting_partnerships,
        remote_ok=listing.remote_ok,
        location=location_read(listing),
        service_radius_km=listing.service_radius_km,
        status=listing.status,
        contacts=contacts,
        hidden_contacts=hidden,
        distance_band=band,
        last_verified_at=listing.last_verified_at,
        stale=is_stale(listing.last_verified_at, utcnow()),
        archived=listing.archived_at is not None,
        created_at=listing.created_at,
        updated_at=listing.updated_at,
    )
