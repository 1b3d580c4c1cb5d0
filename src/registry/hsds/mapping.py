"""Registry rows -> HSDS 3.0 objects, and the HSDS `Page` envelope. Pure functions.

What may leave is decided by the registry's own privacy rules, reused here: `location_read`
(no address unless `exact`) and `contact_visible` for an anonymous caller; which listings leave
at all is the queries' business (`public_listing`). Fields the IPV profile adds start with `ipv_`
(profile.md)."""

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any, Final

from registry.auth.principal import ANONYMOUS
from registry.database.base import utcnow
from registry.hsds import ids
from registry.hsds.records import OrganizationRecord
from registry.listings.presenters import location_read
from registry.listings.records import ContactRecord, EvaluationRecord, ListingRecord
from registry.listings.visibility import contact_visible, is_stale
from registry.models import PROGRAM_KIND, Organization
from registry.taxonomies.vocabulary import TAXONOMIES

Json = dict[str, Any]

HSDS_VERSION = "3.0"

# The registry's listing status <-> HSDS service status (both ways one to one).
STATUS_TO_HSDS: dict[str, str] = {
    "planning": "inactive",
    "active": "active",
    "paused": "temporarily closed",
    "closed": "defunct",
}
HSDS_TO_STATUS: dict[str, str] = {hsds: registry for registry, hsds in STATUS_TO_HSDS.items()}

# Vocabularies attached to services as HSDS attributes, and the listing column holding the codes.
# Languages are HSDS `languages` instead; outcomes come from the evaluation records.
ATTRIBUTE_COLUMNS: dict[str, str] = {
    "partner_kind": "kind",
    "side": "side",
    "format": "formats",
    "group_type": "group_type",
    "delivery": "delivery",
    "population": "populations",
    "specialty": "specialties",
    "evaluation_design": "methods",
    "evaluation_stage": "evaluation_stage",
}
# Partners carry an evaluation_stage column too (always "none"); it means nothing for them.
PROGRAM_ONLY_TAXONOMIES = frozenset({"evaluation_stage"})

WEEKDAYS: dict[str, str] = {
    "mon": "MO",
    "tue": "TU",
    "wed": "WE",
    "thu": "TH",
    "fri": "FR",
    "sat": "SA",
    "sun": "SU",
}
# registry frequency -> iCal (freq, interval); "irregular" has no RRULE.
FREQUENCIES: dict[str, tuple[str, int]] = {
    "weekly": ("WEEKLY", 1),
    "biweekly": ("WEEKLY", 2),
    "monthly": ("MONTHLY", 1),
}

AREA_NOTE = (
    "Approximate area only (a point snapped to a grid of at least 5 km, or a city centre): "
    "the meeting place is not published."
)
REMOTE_NOTE = "Meets online or by phone."
STALE_ALERT = "This listing has not been re-verified by its organization for more than 12 months."
UPDATED_BY = "IPV peer-support registry"

# Evaluation record -> the metadata entries after its `evaluation_stage` entry (profile.md).
EVALUATION_DETAILS: tuple[str, ...] = (
    "evaluation_design",
    "evaluation_outcomes",
    "evaluation_participant_count",
    "evaluation_evaluator_id",
    "evaluation_evaluator_name",
    "evaluation_started_on",
    "evaluation_ended_on",
    "evaluation_findings_summary",
    "evaluation_publication",
    "evaluation_correction_reason",
)


@dataclass(frozen=True, kw_only=True)
class Term:
    taxonomy: str
    code: str
    label: str
    description: str | None = None
    retired: bool = False

    @cached_property
    def id(self) -> uuid.UUID:
        return ids.term_id(self.taxonomy, self.code)

    @cached_property
    def id_text(self) -> str:
        return str(self.id)

    @cached_property
    def json(self) -> Json:
        """`term_object(self)`, made once: every attribute naming this term shares it (read-only)."""
        return term_object(self)


@dataclass(frozen=True)
class Vocabulary:
    """A snapshot of every vocabulary term, retired ones included (old listings keep them)."""

    terms: Mapping[tuple[str, str], Term]

    def term(self, taxonomy: str, code: str) -> Term:
        # Terms are never deleted, so a code without a term would be a data error; show the code.
        return self.terms.get((taxonomy, code)) or Term(taxonomy=taxonomy, code=code, label=code)

    @cached_property
    def by_id(self) -> dict[uuid.UUID, Term]:
        return {term.id: term for term in self.terms.values()}

    def label(self, taxonomy: str, code: str) -> str:
        return self.term(taxonomy, code).label


@dataclass(frozen=True, kw_only=True)
class ServiceRow:
    """One listing (its contacts and evaluation history within it) and what else its HSDS service
    is made of. The listing's contacts may be any of its contacts: the mapping keeps the public
    ones."""

    listing: ListingRecord
    organization: OrganizationRecord
    # Which other listings it names (clinical partner, evaluators) are public themselves.
    public_refs: frozenset[uuid.UUID] = frozenset()


_EMPTY: Final[list[Any]] = []  # compared with, never changed


def clean(obj: Json) -> Json:
    """Drop absent values: HSDS fields are optional but never null."""
    return {k: v for k, v in obj.items() if v is not None and v != _EMPTY}


def iso_datetime(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def iso_date(value: date | datetime) -> str:
    if isinstance(value, datetime):
        value = value.astimezone(UTC).date()
    return value.isoformat()


def place_name(locality: str | None, region: str | None, country: str | None) -> str | None:
    """ "Seattle, WA, US": what people read, and what `resolve_place` reads back on import."""
    return ", ".join(part for part in (locality, region, country) if part) or None


# --- taxonomies --------------------------------------------------------------------------------


def taxonomy_object(name: str) -> Json:
    return {"id": str(ids.taxonomy_id(name)), "name": name, "description": TAXONOMIES[name], "version": "1"}


def taxonomy_minimal(name: str) -> Json:
    return {"id": str(ids.taxonomy_id(name)), "name": name, "description": TAXONOMIES[name]}


def term_object(term: Term, *, full: bool = False) -> Json:
    obj: Json = {
        "id": term.id_text,
        "code": term.code,
        "name": term.label,
        "description": term.description or term.label,
        "taxonomy": term.taxonomy,
        "taxonomy_id": str(ids.taxonomy_id(term.taxonomy)),
        "language": "en",
        "ipv_retired": term.retired,
    }
    if full and term.taxonomy in TAXONOMIES:
        obj["taxonomy_detail"] = taxonomy_object(term.taxonomy)
    return obj


def term_minimal(term: Term) -> Json:
    return {"id": term.id_text, "name": term.label, "description": term.description or term.label}


def attribute_objects(link_id: str, link_entity: str, terms: Sequence[Term]) -> list[Json]:
    made = ids.derived_each("attribute", link_id, [term.id_text for term in terms])
    return [
        {
            "id": attribute_id,
            "link_id": link_id,
            "link_type": term.taxonomy,
            "link_entity": link_entity,
            "taxonomy_term_id": term.id_text,
            "taxonomy_term": term.json,
        }
        for attribute_id, term in zip(made, terms, strict=True)
    ]


def attribute_codes(
    listing: ListingRecord, evaluations: Iterable[EvaluationRecord] = ()
) -> list[tuple[str, str]]:
    """(taxonomy, code) of every term describing the listing, in a stable order."""
    pairs: list[tuple[str, str]] = []
    program = listing.kind == PROGRAM_KIND
    for taxonomy, column in ATTRIBUTE_COLUMNS.items():
        value = getattr(listing, column)
        if not value or (not program and taxonomy in PROGRAM_ONLY_TAXONOMIES):
            continue
        if isinstance(value, list):
            pairs += [(taxonomy, code) for code in value]
        else:
            pairs.append((taxonomy, value))
    outcomes = sorted({outcome for record in evaluations for outcome in record.outcomes})
    pairs += [("outcome", code) for code in outcomes]
    return pairs


# --- services ----------------------------------------------------------------------------------


def _eligibility(listing: ListingRecord, vocab: Vocabulary) -> str | None:
    parts = []
    if listing.side:
        parts.append(f"Side: {vocab.label('side', listing.side)}.")
    if listing.populations:
        parts.append(
            "Populations: " + ", ".join(vocab.label("population", p) for p in listing.populations) + "."
        )
    return " ".join(parts) or None


def public_ref(ref: uuid.UUID | None, public_refs: frozenset[uuid.UUID]) -> str | None:
    """The id of another listing, if that listing is public: a hidden or archived partner is
    named (the program's own words) but not pointed at."""
    return str(ref) if ref is not None and ref in public_refs else None


def referenced_ids(listing: ListingRecord, evaluations: Iterable[EvaluationRecord] = ()) -> set[uuid.UUID]:
    refs = {record.evaluator_id for record in evaluations} | {listing.clinical_partner_id}
    return {ref for ref in refs if ref is not None}


def _extensions(listing: ListingRecord, public_refs: frozenset[uuid.UUID], stale: bool) -> Json:
    """The profile's one-to-one additions to a service (profile.md, service.json)."""
    common: Json = {
        "ipv_listing_kind": listing.kind,
        "ipv_service_radius_km": listing.service_radius_km,
        "ipv_stale": stale,
    }
    if listing.kind == PROGRAM_KIND:
        return common | {
            "ipv_founded_on": iso_date(listing.founded_on) if listing.founded_on else None,
            "ipv_capacity": listing.capacity,
            "ipv_open_to_mentoring": listing.open_to_mentoring,
            "ipv_clinical_partner_id": public_ref(listing.clinical_partner_id, public_refs),
            "ipv_clinical_partner_name": listing.clinical_partner_name,
        }
    return common | {
        "ipv_accepting_partnerships": listing.accepting_partnerships,
        "ipv_remote_ok": listing.remote_ok,
        "ipv_trained": listing.ipv_trained,
        "ipv_training": listing.ipv_training,
        "ipv_credentials": list(listing.credentials),
        "ipv_courses": list(listing.courses),
        "ipv_certifications": list(listing.certifications),
    }


def service_summary(
    listing: ListingRecord,
    organization: OrganizationRecord | None,
    vocab: Vocabulary,
    public_refs: frozenset[uuid.UUID] = frozenset(),
) -> Json:
    """A service's one-to-one fields (what a page of /services holds)."""
    return clean(_summary(listing, str(listing.id), organization, vocab, public_refs))


def _summary(
    listing: ListingRecord,
    service_id: str,
    organization: OrganizationRecord | None,
    vocab: Vocabulary,
    public_refs: frozenset[uuid.UUID],
) -> Json:
    stale = is_stale(listing.last_verified_at, utcnow())
    obj: Json = {
        "id": service_id,
        "organization_id": str(listing.organization_id),
        "name": listing.name,
        "description": listing.description,
        "status": STATUS_TO_HSDS.get(listing.status, "active"),
        "accreditations": "; ".join([*listing.credentials, *listing.certifications]) or None,
        "eligibility_description": _eligibility(listing, vocab),
        "assured_date": iso_date(listing.last_verified_at),
        "alert": STALE_ALERT if stale else None,
        "last_modified": iso_datetime(listing.updated_at),
        **_extensions(listing, public_refs, stale),
    }
    if organization is not None:
        obj["organization"] = organization_summary(organization)
    return obj


def service_minimal(listing: ListingRecord) -> Json:
    # HSDS asks for id and last_modified; name and status are required by service_list.json.
    return {
        "id": str(listing.id),
        "name": listing.name,
        "status": STATUS_TO_HSDS.get(listing.status, "active"),
        "last_modified": iso_datetime(listing.updated_at),
    }


def service_full(row: ServiceRow, vocab: Vocabulary, *, with_locations: bool = True) -> Json:
    """A fully nested service (/services/{id}, and pages with full=true)."""
    listing = row.listing
    service_id = str(listing.id)
    obj = _summary(listing, service_id, row.organization, vocab, row.public_refs)
    if with_locations:
        location = location_object(listing, full=True, service_id=service_id)
        obj["service_at_locations"] = [
            {
                "id": ids.derived("service_at_location", service_id),
                "service_id": service_id,
                "location_id": location["id"],
                "location": location,
            }
        ]
    obj["languages"] = language_objects(listing, vocab, service_id=service_id)
    obj["contacts"] = contact_objects(listing, listing.contacts, service_id=service_id)
    obj["schedules"] = schedule_objects(listing, service_id=service_id)
    obj["service_areas"] = service_area_objects(listing, service_id=service_id)
    terms = [vocab.term(taxonomy, code) for taxonomy, code in attribute_codes(listing, listing.evaluations)]
    obj["attributes"] = attribute_objects(service_id, "service", terms)
    obj["metadata"] = service_metadata(listing, listing.evaluations, row.public_refs, service_id=service_id)
    return clean(obj)


# The helpers below take the service's id as text when their caller has it (a full service is
# made of several of them), else make it.


def language_objects(
    listing: ListingRecord, vocab: Vocabulary, *, service_id: str | None = None
) -> list[Json]:
    service_id = service_id or str(listing.id)
    made = ids.derived_each("language", service_id, listing.languages)
    return [
        {
            "id": language_id,
            "service_id": service_id,
            "name": vocab.label("language", code),
            "code": code,
        }
        for language_id, code in zip(made, listing.languages, strict=True)
    ]


def contact_objects(
    listing: ListingRecord, contacts: Iterable[ContactRecord], *, service_id: str | None = None
) -> list[Json]:
    """Public contacts only: `verified_orgs` and `on_introduction` ones never leave here."""
    result = []
    service_id = service_id or str(listing.id)
    for contact in contacts:
        if not contact_visible(contact, ANONYMOUS):
            continue
        contact_id = str(contact.id)
        phones = []
        if contact.phone:
            phones.append(
                {
                    "id": ids.derived("phone", contact_id),
                    "contact_id": contact_id,
                    "number": contact.phone,
                    "type": "voice",
                }
            )
        result.append(
            clean(
                {
                    "id": contact_id,
                    "service_id": service_id,
                    "name": contact.name,
                    "title": contact.role,
                    "email": contact.email,
                    "phones": phones,
                    "ipv_preferred_method": contact.preferred_method,
                }
            )
        )
    return result


def schedule_objects(listing: ListingRecord, *, service_id: str | None = None) -> list[Json]:
    weekdays = list(listing.schedule_weekdays or [])
    if not (listing.schedule_text or weekdays or listing.schedule_frequency):
        return []
    freq, interval = FREQUENCIES.get(listing.schedule_frequency or "", (None, None))
    byday = ",".join(WEEKDAYS[d] for d in weekdays if d in WEEKDAYS) if freq == "WEEKLY" else None
    service_id = service_id or str(listing.id)
    return [
        clean(
            {
                "id": ids.derived("schedule", service_id),
                "service_id": service_id,
                "description": listing.schedule_text,
                "freq": freq,
                "interval": interval,
                "byday": byday or None,
                # iCal cannot say "monthly, on a Tuesday" without the week of the month.
                "ipv_frequency": listing.schedule_frequency,
                "ipv_weekdays": weekdays,
            }
        )
    ]


def service_area_objects(listing: ListingRecord, *, service_id: str | None = None) -> list[Json]:
    if not listing.service_radius_km:
        return []
    service_id = service_id or str(listing.id)
    place = place_name(listing.locality, listing.region, listing.country)
    name = f"Within {listing.service_radius_km} km" + (f" of {place}" if place else "")
    return [
        {
            "id": ids.derived("service_area", service_id),
            "service_id": service_id,
            "name": name,
            "description": "How far the listing serves, measured from its published (coarse) point.",
        }
    ]


def location_object(listing: ListingRecord, *, full: bool, service_id: str | None = None) -> Json:
    """The listing's one location. `area` and `remote` listings publish the stored coarse point and
    the locality but never an address; only `exact` ones carry an address."""
    shown = location_read(listing)
    virtual = shown.precision == "remote"
    place = place_name(shown.locality, shown.region, shown.country)
    description = REMOTE_NOTE if virtual else AREA_NOTE if shown.precision == "area" else None
    service_id = service_id or str(listing.id)
    location_id = ids.derived("location", service_id)
    obj: Json = {
        "id": location_id,
        "location_type": "virtual" if virtual else "physical",
        "organization_id": str(listing.organization_id),
        "name": place or ("Online" if virtual else None),
        "description": description,
        "latitude": shown.latitude,
        "longitude": shown.longitude,
        "ipv_location_precision": shown.precision,
    }
    if full and shown.precision == "exact" and shown.address:
        obj["addresses"] = [
            {
                "id": ids.derived("address", service_id),
                "location_id": location_id,
                "address_1": shown.address,
                "city": shown.locality or "",
                "state_province": shown.region or "",
                "postal_code": shown.postal_code or "",
                "country": shown.country or "",
                "address_type": "physical",
            }
        ]
    return clean(obj)


def _metadata(
    key: str,
    resource_id: str,
    resource_type: str,
    *,
    when: date | datetime,
    action: str,
    field_name: str,
    previous: str,
    replacement: str,
) -> Json:
    return _entry(
        ids.derived("metadata", key, field_name),
        resource_id,
        resource_type,
        iso_date(when),
        action,
        field_name,
        previous,
        replacement,
    )


def _entry(
    entry_id: str,
    resource_id: str,
    resource_type: str,
    day: str,
    action: str,
    field_name: str,
    previous: str,
    replacement: str,
) -> Json:
    return {
        "id": entry_id,
        "resource_id": resource_id,
        "resource_type": resource_type,
        "last_action_date": day,
        "last_action_type": action,
        "field_name": field_name,
        "previous_value": previous,
        "replacement_value": replacement,
        "updated_by": UPDATED_BY,
    }


def evaluation_details(
    record: EvaluationRecord, public_refs: frozenset[uuid.UUID] = frozenset()
) -> list[tuple[str, str]]:
    values: dict[str, object] = {
        "evaluation_design": record.design,
        "evaluation_outcomes": ",".join(record.outcomes) if record.outcomes else None,
        "evaluation_participant_count": record.participant_count,
        "evaluation_evaluator_id": public_ref(record.evaluator_id, public_refs),
        "evaluation_evaluator_name": record.evaluator_name,
        "evaluation_started_on": iso_date(record.started_on) if record.started_on else None,
        "evaluation_ended_on": iso_date(record.ended_on) if record.ended_on else None,
        "evaluation_findings_summary": record.findings_summary,
        "evaluation_publication": record.publication,
        "evaluation_correction_reason": record.correction_reason,
    }
    return [(name, str(values[name])) for name in EVALUATION_DETAILS if values[name] is not None]


def service_metadata(
    listing: ListingRecord,
    evaluations: Iterable[EvaluationRecord],
    public_refs: frozenset[uuid.UUID] = frozenset(),
    *,
    service_id: str | None = None,
) -> list[Json]:
    """Verification, then the evaluation history oldest first: each record is an
    `evaluation_stage` entry (previous -> new stage) followed by its details (profile.md)."""
    service_id = service_id or str(listing.id)
    entries = [
        _metadata(
            service_id,
            service_id,
            "service",
            when=listing.last_verified_at,
            action="verified",
            field_name="last_verified_at",
            previous="",
            replacement=iso_datetime(listing.last_verified_at),
        )
    ]
    for record in evaluations:
        action = "correction" if record.is_correction else "evaluation"
        changes = [("evaluation_stage", record.previous_stage, record.stage)]
        changes.extend((name, "", value) for name, value in evaluation_details(record, public_refs))
        made = ids.derived_each("metadata", str(record.id), [name for name, _, _ in changes])
        day = iso_date(record.recorded_at)
        entries.extend(
            _entry(entry_id, service_id, "service", day, action, name, previous, replacement)
            for entry_id, (name, previous, replacement) in zip(made, changes, strict=True)
        )
    return entries


# --- service at location -----------------------------------------------------------------------


def service_at_location_minimal(listing: ListingRecord) -> Json:
    service_id = str(listing.id)
    return {
        "id": ids.derived("service_at_location", service_id),
        "service_id": service_id,
        "location_id": ids.derived("location", service_id),
    }


def service_at_location_summary(
    listing: ListingRecord,
    organization: OrganizationRecord,
    vocab: Vocabulary,
    public_refs: frozenset[uuid.UUID],
) -> Json:
    return service_at_location_minimal(listing) | {
        "location": location_object(listing, full=False),
        "service": service_summary(listing, organization, vocab, public_refs),
    }


def service_at_location_full(row: ServiceRow, vocab: Vocabulary) -> Json:
    return service_at_location_minimal(row.listing) | {
        "location": location_object(row.listing, full=True),
        "service": service_full(row, vocab, with_locations=False),
    }


# --- organizations -----------------------------------------------------------------------------


def organization_minimal(org: Organization | OrganizationRecord) -> Json:
    return {"id": str(org.id), "name": org.name, "description": org.description or ""}


def organization_summary(org: Organization | OrganizationRecord) -> Json:
    return clean(organization_minimal(org) | {"website": org.website})


def organization_full(org: Organization, services: list[Json], vocab: Vocabulary) -> Json:
    obj = organization_summary(org)
    obj["attributes"] = attribute_objects(
        str(org.id), "organization", [vocab.term("partner_kind", kind) for kind in org.kinds]
    )
    if org.verification_status == "verified" and org.verified_at is not None:
        obj["metadata"] = [
            _metadata(
                str(org.id),
                str(org.id),
                "organization",
                when=org.verified_at,
                action="verified",
                field_name="verification_status",
                previous="unverified",
                replacement="verified",
            )
        ]
    obj["services"] = services
    return obj


# --- pages -------------------------------------------------------------------------------------


def page_envelope(contents: list[Json], *, total: int, page: int, per_page: int) -> Json:
    total_pages = math.ceil(total / per_page)
    return {
        "total_items": total,
        "total_pages": total_pages,
        "page_number": page,
        "size": len(contents),
        "first_page": page == 1,
        "last_page": page >= total_pages,
        "empty": not contents,
        "contents": contents,
    }
