"""Transient rows (as the HSDS reads decode them) and a vocabulary for the pure mapping tests (no
database)."""

import uuid
from datetime import UTC, date, datetime
from typing import Any

from registry.hsds.mapping import Term, Vocabulary
from registry.listings.records import ContactRecord, EvaluationRecord, ListingRecord
from registry.models import Contact
from registry.taxonomies.vocabulary import DEFAULT_TERMS

NOW = datetime(2025, 5, 4, 12, 30, tzinfo=UTC)
ORG = uuid.UUID("11111111-1111-4111-8111-111111111111")

VOCAB = Vocabulary(
    {
        (taxonomy, code): Term(taxonomy=taxonomy, code=code, label=label, description=description or None)
        for taxonomy, terms in DEFAULT_TERMS.items()
        for code, label, description in terms
    }
)


def listing(**overrides: Any) -> ListingRecord:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "organization_id": ORG,
        "kind": "peer_program",
        "name": "Harbor Circle",
        "description": "A survivors' circle.",
        "status": "active",
        "side": "survivors",
        "formats": ["peer_led_support_group"],
        "group_type": "open_group",
        "delivery": "in_person",
        "populations": ["women"],
        "languages": ["en"],
        "specialties": [],
        "methods": [],
        "credentials": [],
        "courses": [],
        "certifications": [],
        "ipv_trained": False,
        "ipv_training": None,
        "accepting_partnerships": True,
        "remote_ok": False,
        "founded_on": date(2019, 3, 1),
        "capacity": 12,
        "open_to_mentoring": True,
        "clinical_partner_id": None,
        "clinical_partner_name": None,
        "schedule_text": None,
        "schedule_weekdays": [],
        "schedule_frequency": None,
        "evaluation_stage": "none",
        "location_precision": "area",
        "latitude": 47.6062,
        "longitude": -122.3321,
        "address": None,
        "postal_code": None,
        "locality": "Seattle",
        "region": "WA",
        "country": "US",
        "service_radius_km": None,
        "last_verified_at": NOW,
        "updated_at": NOW,
        "created_at": NOW,
        "archived_at": None,
        "version": 1,
        "course_topics": [],
        "contacts": [],
        "evaluations": [],
    }
    values.update(overrides)
    return ListingRecord(**values)


def contact(visibility: str, **overrides: Any) -> Contact:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "position": 0,
        "name": None,
        "role": "Intake",
        "email": f"{visibility}@example.org",
        "phone": "+1 206 555 0100",
        "preferred_method": "phone",
        "visibility": visibility,
    }
    values.update(overrides)
    return Contact(**values)


def contact_record(visibility: str, **overrides: Any) -> ContactRecord:
    """`contact` as the HSDS reads read it."""
    made = contact(visibility, **overrides)
    return ContactRecord(**{name: getattr(made, name) for name in ContactRecord.__struct_fields__})


def record(stage: str, previous: str, **overrides: Any) -> EvaluationRecord:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "stage": stage,
        "previous_stage": previous,
        "is_correction": False,
        "correction_reason": None,
        "design": None,
        "outcomes": [],
        "participant_count": None,
        "evaluator_id": None,
        "evaluator_name": None,
        "started_on": None,
        "ended_on": None,
        "findings_summary": None,
        "publication": None,
        "recorded_at": NOW,
    }
    values.update(overrides)
    return EvaluationRecord(**values)
