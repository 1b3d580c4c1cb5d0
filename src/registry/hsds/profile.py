"""The IPV profile of HSDS 3.0: its document (profile.md, served at /hsds/profile) and its schema
modifications, JSON Merge Patches (RFC 7386) onto the HSDS schema file of the same name, as the
HSDS profiles reference asks (served at /hsds/profile/<name>.json)."""

from functools import cache
from importlib.resources import files
from typing import Any

PROFILE_VERSION = "1.0.0"

_KINDS = ["peer_program", "clinician", "treatment_program", "evaluator", "trainer"]
_WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _prop(name: str, title: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"name": name, "title": title, "description": description, **schema}


def _text_list(name: str, title: str, description: str) -> dict[str, Any]:
    return _prop(name, title, description, type="array", items={"type": "string"})


SERVICE_PATCH: dict[str, Any] = {
    "properties": {
        "ipv_listing_kind": _prop(
            "ipv_listing_kind",
            "Listing kind",
            "peer_program for a peer-support group; otherwise the kind of partner (partner_kind vocabulary).",
            type="string",
            enum=_KINDS,
        ),
        "ipv_service_radius_km": _prop(
            "ipv_service_radius_km",
            "Service radius",
            "How far from its location the listing serves, in km.",
            type="integer",
            minimum=0,
            maximum=500,
        ),
        "ipv_stale": _prop(
            "ipv_stale",
            "Stale",
            "True when the organization has not re-verified the listing for more than 12 months.",
            type="boolean",
        ),
        "ipv_founded_on": _prop(
            "ipv_founded_on",
            "Founded on",
            "Peer programs: when the group started.",
            type="string",
            format="date",
        ),
        "ipv_capacity": _prop(
            "ipv_capacity",
            "Capacity",
            "Peer programs: how many members a group takes.",
            type="integer",
            minimum=1,
        ),
        "ipv_open_to_mentoring": _prop(
            "ipv_open_to_mentoring",
            "Open to mentoring",
            "Peer programs: willing to mentor people starting a new group.",
            type="boolean",
        ),
        "ipv_clinical_partner_id": _prop(
            "ipv_clinical_partner_id",
            "Clinical partner",
            "Peer programs: the service id of the clinician or treatment program partnering with it.",
            type="string",
            format="uuid",
        ),
        "ipv_clinical_partner_name": _prop(
            "ipv_clinical_partner_name",
            "Clinical partner name",
            "Peer programs: the clinical partner's name.",
            type="string",
        ),
        "ipv_accepting_partnerships": _prop(
            "ipv_accepting_partnerships",
            "Accepting partnerships",
            "Partners: open to partnering with new peer programs.",
            type="boolean",
        ),
        "ipv_remote_ok": _prop(
            "ipv_remote_ok", "Works remotely", "Partners: can work with programs remotely.", type="boolean"
        ),
        "ipv_trained": _prop(
            "ipv_trained",
            "IPV trained",
            "Clinicians and treatment programs: trained in intimate partner violence.",
            type="boolean",
        ),
        "ipv_training": _prop(
            "ipv_training",
            "IPV training",
            "Clinicians and treatment programs: what IPV training, from whom.",
            type="string",
        ),
        "ipv_credentials": _text_list(
            "ipv_credentials", "Credentials", "Clinicians and treatment programs: professional credentials."
        ),
        "ipv_courses": _text_list("ipv_courses", "Courses", "Trainers: the courses offered."),
        "ipv_certifications": _text_list(
            "ipv_certifications", "Certifications", "Trainers: the certifications awarded."
        ),
    }
}

LOCATION_PATCH: dict[str, Any] = {
    "properties": {
        "ipv_location_precision": _prop(
            "ipv_location_precision",
            "Location precision",
            "exact: a public address and point; area: only a coarse point (a grid cell of at least "
            "5 km, or a city centre) and the locality, never an address; remote: online, at most a "
            "coarse home area.",
            type="string",
            enum=["exact", "area", "remote"],
        )
    }
}

CONTACT_PATCH: dict[str, Any] = {
    "properties": {
        "ipv_preferred_method": _prop(
            "ipv_preferred_method",
            "Preferred method",
            "How the contact prefers to be reached.",
            type="string",
            enum=["email", "phone"],
        )
    }
}

SCHEDULE_PATCH: dict[str, Any] = {
    "properties": {
        "ipv_frequency": _prop(
            "ipv_frequency",
            "Meeting frequency",
            "How often the group meets; irregular and monthly-on-a-weekday have no exact RRULE.",
            type="string",
            enum=["weekly", "biweekly", "monthly", "irregular"],
        ),
        "ipv_weekdays": _prop(
            "ipv_weekdays",
            "Meeting days",
            "The days the group meets, whatever the frequency.",
            type="array",
            items={"type": "string", "enum": _WEEKDAYS},
        ),
    }
}

TAXONOMY_TERM_PATCH: dict[str, Any] = {
    "properties": {
        "ipv_retired": _prop(
            "ipv_retired",
            "Retired",
            "A retired term stays on the listings that have it but is not used for new ones.",
            type="boolean",
        )
    }
}

PATCHES: dict[str, dict[str, Any]] = {
    "service.json": SERVICE_PATCH,
    "location.json": LOCATION_PATCH,
    "contact.json": CONTACT_PATCH,
    "schedule.json": SCHEDULE_PATCH,
    "taxonomy_term.json": TAXONOMY_TERM_PATCH,
}


@cache
def document() -> str:
    return (files("registry.hsds") / "profile.md").read_text(encoding="utf-8")
