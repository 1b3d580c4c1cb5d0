"""Listing rows -> response structs, with contacts filtered by the caller's rights."""

from collections.abc import Iterable
from typing import Any, TypeVar

import msgspec

from registry.auth.principal import Principal
from registry.database.base import utcnow
from registry.listings.records import ContactRecord, ListingRecord
from registry.listings.records import EvaluationRecord as EvaluationRow
from registry.listings.schemas import ContactRead, EvaluationRead, LocationRead
from registry.listings.visibility import contact_visible, is_stale
from registry.models import Contact, EvaluationRecord, Listing


def location_read(listing: "AnyListing") -> LocationRead:
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


def contacts_read(listing: "AnyListing", principal: Principal) -> tuple[list[ContactRead], int]:
    reads = contact_reads(listing.contacts, principal)
    return reads, len(listing.contacts) - len(reads)


def contact_read(c: Contact | ContactRecord) -> ContactRead:
    return ContactRead(
        id=c.id,
        name=c.name,
        role=c.role,
        email=c.email,
        phone=c.phone,
        preferred_method=c.preferred_method,
        visibility=c.visibility,
    )


def contact_reads(contacts: Iterable[Contact | ContactRecord], principal: Principal) -> list[ContactRead]:
    """The contacts this caller may see, as response structs."""
    return [contact_read(c) for c in contacts if contact_visible(c, principal)]


def visible_reads(reads: Iterable[ContactRead], principal: Principal) -> list[ContactRead]:
    """Of contacts already read (all of a listing's), those this caller may see."""
    return [c for c in reads if contact_visible(c, principal)]


def evaluation_read(record: EvaluationRecord | EvaluationRow) -> EvaluationRead:
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


R = TypeVar("R", bound=msgspec.Struct)
# A listing as the ORM loads it, or as the hot read path decodes it (the same attributes).
AnyListing = Listing | ListingRecord


def listing_read(listing: "AnyListing", read_type: type[R], principal: Principal, **computed: Any) -> R:
    """A kind's read struct of `listing`: the fields it shares with the listing as they are, the
    place and contacts as this caller may see them, and whatever the kind works out (`computed`)."""
    contacts, hidden = contacts_read(listing, principal)
    computed = {
        "location": location_read(listing),
        "contacts": contacts,
        "hidden_contacts": hidden,
        "stale": is_stale(listing.last_verified_at, utcnow()),
        "archived": listing.archived_at is not None,
        **computed,
    }
    values = {name: getattr(listing, name) for name in read_type.__struct_fields__ if name not in computed}
    return msgspec.convert({**values, **computed}, read_type, from_attributes=True)
