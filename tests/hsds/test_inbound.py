"""Pure import mapping: an HSDS service -> what the program services accept."""

from typing import Any

import pytest

from registry.hsds import ids, inbound
from registry.hsds.inbound import Unmappable
from tests.hsds.builders import VOCAB, contact


def service(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": "s1",
        "name": "Circle",
        "organization_id": "o1",
        "attributes": [{"taxonomy_term_id": str(ids.term_id("side", "people_who_use_violence"))}],
        "service_at_locations": [{"location": {"location_type": "physical", "name": "Denver, CO, US"}}],
    }
    record.update(overrides)
    return record


@pytest.mark.parametrize(
    ("code", "name", "expected"),
    [
        ("en", None, "en"),
        ("eng", None, "en"),
        ("es-MX", None, "es"),
        ("ase", None, "asl"),
        (None, "spanish", "es"),
        ("xx", "Klingon", None),
        (None, None, None),
    ],
)
def test_language_codes(code: str | None, name: str | None, expected: str | None) -> None:
    assert inbound.language_code(code, name, VOCAB) == expected


def test_terms_are_found_by_id_or_by_taxonomy_and_code() -> None:
    notes: list[str] = []
    found = inbound.attribute_terms(
        [
            {"taxonomy_term_id": str(ids.term_id("format", "twelve_step"))},
            {"taxonomy_term": {"code": "co_facilitated", "taxonomy_detail": {"name": "format"}}},
            {"link_type": "population", "taxonomy_term": {"code": "men"}},
            {"taxonomy_term": {"code": "men", "taxonomy": "population"}},
            {"taxonomy_term": {"code": "chess", "taxonomy": "hobby", "name": "Chess"}},
        ],
        VOCAB,
        notes,
    )
    assert found == {"format": ["twelve_step", "co_facilitated"], "population": ["men"]}
    assert notes == ["attribute 'Chess': not a term of this registry's vocabularies, left out"]


def test_a_minimal_record_becomes_a_program() -> None:
    draft = inbound.translate(service(), VOCAB)
    assert draft.listing_id == ids.imported_id("service", "s1")
    assert draft.organization.id == ids.imported_id("organization", "o1") and draft.organization.name is None
    body = draft.body
    assert (body["side"], body["delivery"], body["status"], body["location_precision"]) == (
        "people_who_use_violence",
        "in_person",
        "active",
        "exact",
    )
    assert body["location"] == {"place": "Denver, CO, US"}
    assert body["contacts"] == [] and body["schedule"] is None and draft.evaluations == []


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ([], "not a JSON object"),
        (service(id=None), "no id"),
        (service(name=" "), "no name"),
        (service(attributes=[]), "no side attribute"),
        (service(organization_id=None), "no organization_id"),
        (service(service_at_locations=[]), "no location"),
        (
            service(service_at_locations=[{"location": {"location_type": "physical", "name": "Atlantis"}}]),
            "no coordinates, US ZIP code or known",
        ),
    ],
)
def test_unmappable_records(record: Any, reason: str) -> None:
    with pytest.raises(Unmappable, match=reason):
        inbound.translate(record, VOCAB)


def test_partner_listings_are_not_programs() -> None:
    record = service(ipv_listing_kind="evaluator")
    with pytest.raises(inbound.NotAProgram, match="a evaluator listing"):
        inbound.translate(record, VOCAB)


def test_online_without_a_location_is_remote() -> None:
    attributes = [*service()["attributes"], {"taxonomy_term_id": str(ids.term_id("delivery", "online"))}]
    draft = inbound.translate(service(attributes=attributes, service_at_locations=[]), VOCAB)
    assert (draft.body["location"], draft.body["location_precision"], draft.body["delivery"]) == (
        None,
        "remote",
        "online",
    )
    virtual = service(service_at_locations=[{"location": {"location_type": "virtual", "name": "Zoom"}}])
    draft = inbound.translate(virtual, VOCAB)
    assert (draft.body["location"], draft.body["location_precision"], draft.body["delivery"]) == (
        None,
        "remote",
        "online",
    )


def test_the_location_form_that_reproduces_the_point_wins() -> None:
    # The registry stores a ZIP code's centroid; its own export gives that point and the ZIP back.
    from registry.locations.geo import resolve_postal_code

    centroid = resolve_postal_code("80202")
    address = {
        "address_1": "1550 Example Blvd",
        "city": "Denver",
        "state_province": "CO",
        "postal_code": "80202",
        "country": "US",
    }
    location = {
        "location_type": "physical",
        "latitude": round(centroid.latitude, 6),
        "longitude": round(centroid.longitude, 6),
        "addresses": [address],
        "ipv_location_precision": "exact",
    }
    notes: list[str] = []
    chosen = inbound.choose_location(
        service(service_at_locations=[{"location": location}]), "survivors", "in_person", notes
    )
    assert chosen == ({"postal_code": "80202", "address": "1550 Example Blvd"}, "exact")
    # Elsewhere in the city: the point itself, with its address.
    moved = location | {"latitude": 39.7, "longitude": -104.95}
    chosen = inbound.choose_location(
        service(service_at_locations=[{"location": moved}]), "survivors", "in_person", notes
    )
    assert chosen == ({"latitude": 39.7, "longitude": -104.95, "address": "1550 Example Blvd"}, "exact")
    # Without the profile's precision a survivors' group is an area, and keeps no address.
    plain = {k: v for k, v in moved.items() if k != "ipv_location_precision"}
    chosen = inbound.choose_location(
        service(service_at_locations=[{"location": plain}]), "survivors", "in_person", notes
    )
    assert chosen == ({"latitude": 39.7, "longitude": -104.95}, "area")
    assert notes == []


def test_schedules() -> None:
    notes: list[str] = []
    assert inbound.schedule(
        {"schedules": [{"freq": "MONTHLY", "byday": "1TU,-1FR", "description": "Monthly"}]}, notes
    ) == {"text": "Monthly", "weekdays": ["tue", "fri"], "frequency": "monthly"}
    ours = {"freq": "MONTHLY", "interval": 1, "ipv_frequency": "monthly", "ipv_weekdays": ["sat"]}
    assert inbound.schedule({"schedules": [ours, {}]}, notes) == {
        "text": None,
        "weekdays": ["sat"],
        "frequency": "monthly",
    }
    assert inbound.schedule({"schedules": [{"freq": "DAILY"}]}, notes) is None
    assert notes == ["2 schedules: kept the first"]


def test_evaluation_history_is_read_from_metadata() -> None:
    def entry(field: str, value: str, action: str = "evaluation") -> dict[str, str]:
        return {"field_name": field, "replacement_value": value, "last_action_type": action}

    notes: list[str] = []
    history = inbound.evaluations(
        {
            "metadata": [
                entry("last_verified_at", "2025-01-01T00:00:00Z", "verified"),
                entry("evaluation_design", "orphan detail, before any stage"),
                entry("evaluation_stage", "pilot_running"),
                entry("evaluation_outcomes", "stigma,empowerment"),
                entry("evaluation_participant_count", "many"),
                entry("evaluation_stage", "pilot_planned", "correction"),
                entry("evaluation_correction_reason", "Wrong group", "correction"),
            ]
        },
        notes,
    )
    assert history == [
        {"stage": "pilot_running", "outcomes": ["stigma", "empowerment"]},
        {"stage": "pilot_planned", "correction": True, "correction_reason": "Wrong group"},
    ]
    assert notes == ["evaluation participant count 'many': not a number, left out"]


def test_merged_contacts_keep_hidden_ones_in_place() -> None:
    existing = [
        contact("on_introduction", email="a@x.org"),
        contact("public", email="b@x.org"),
        contact("verified_orgs", email="c@x.org"),
        contact("public", email="d@x.org"),
    ]
    imported = [{"role": "New", "email": "n1@x.org", "visibility": "public"}]
    merged = inbound.merge_contacts(existing, imported)
    assert [c["email"] for c in merged] == ["a@x.org", "n1@x.org", "c@x.org"]
    assert [c["visibility"] for c in merged] == ["on_introduction", "public", "verified_orgs"]
    two = [
        *imported,
        {"role": "Two", "email": "n2@x.org", "visibility": "public"},
        {"role": "Three", "email": "n3@x.org", "visibility": "public"},
    ]
    assert [c["email"] for c in inbound.merge_contacts(existing, two)] == [
        "a@x.org",
        "n1@x.org",
        "c@x.org",
        "n2@x.org",
        "n3@x.org",
    ]
