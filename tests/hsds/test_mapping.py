"""Pure mapping: registry rows -> HSDS objects, the page envelope, ids and query parameters."""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.hsds import filters, ids, mapping
from registry.hsds.mapping import ServiceRow
from registry.hsds.records import OrganizationRecord
from registry.http.errors import InvalidInput
from registry.listings.schemas import Status
from registry.models import Organization
from tests.hsds.builders import NOW, ORG, VOCAB, contact_record, listing, record


def org_record() -> OrganizationRecord:
    return OrganizationRecord(
        id=ORG, name="Harbor Circle Peer Network", description=None, website="https://harbor.example.org"
    )


def org() -> Organization:
    return Organization(
        id=ORG,
        name="Harbor Circle Peer Network",
        kinds=["peer_program", "trainer"],
        website="https://harbor.example.org",
        country="US",
        description=None,
        verification_status="verified",
        verified_at=NOW,
    )


def test_statuses_map_one_to_one_onto_hsds() -> None:
    assert set(mapping.STATUS_TO_HSDS) == set(get_args(Status))
    assert set(mapping.STATUS_TO_HSDS.values()) == {"active", "inactive", "defunct", "temporarily closed"}
    assert {mapping.HSDS_TO_STATUS[h]: h for h in mapping.HSDS_TO_STATUS}.keys() == set(get_args(Status))


def test_an_area_location_has_a_coarse_point_and_a_locality_but_no_address() -> None:
    # Even a row that (wrongly) held an address would not publish it: the precision decides.
    row = listing(location_precision="area", address="1 Secret St", postal_code="98101")
    location = mapping.location_object(row, full=True)
    assert location == {
        "id": str(ids.location_id(row.id)),
        "location_type": "physical",
        "organization_id": str(ORG),
        "name": "Seattle, WA, US",
        "description": mapping.AREA_NOTE,
        "latitude": 47.6062,
        "longitude": -122.3321,
        "ipv_location_precision": "area",
    }


def test_an_exact_location_has_its_address() -> None:
    row = listing(location_precision="exact", address="1550 Example Blvd, Denver", postal_code="80202")
    (address,) = mapping.location_object(row, full=True)["addresses"]
    assert address["address_1"] == "1550 Example Blvd, Denver" and address["postal_code"] == "80202"
    assert (address["city"], address["state_province"], address["country"]) == ("Seattle", "WA", "US")
    assert "addresses" not in mapping.location_object(row, full=False)
    assert "addresses" not in mapping.location_object(listing(location_precision="exact"), full=True)


def test_a_remote_location_is_virtual() -> None:
    row = listing(
        location_precision="remote", latitude=None, longitude=None, locality=None, region=None, country=None
    )
    assert mapping.location_object(row, full=True) == {
        "id": str(ids.location_id(row.id)),
        "location_type": "virtual",
        "organization_id": str(ORG),
        "name": "Online",
        "description": mapping.REMOTE_NOTE,
        "ipv_location_precision": "remote",
    }


@pytest.mark.parametrize(
    ("frequency", "weekdays", "expected"),
    [
        ("weekly", ["tue", "thu"], {"freq": "WEEKLY", "interval": 1, "byday": "TU,TH"}),
        ("biweekly", ["wed"], {"freq": "WEEKLY", "interval": 2, "byday": "WE"}),
        ("monthly", ["sat"], {"freq": "MONTHLY", "interval": 1}),
        ("irregular", [], {}),
        (None, ["mon"], {}),
    ],
)
def test_schedules_become_rrules_where_ical_can_say_it(
    frequency: str | None, weekdays: list[str], expected: dict[str, object]
) -> None:
    row = listing(schedule_frequency=frequency, schedule_weekdays=weekdays, schedule_text="Evenings")
    (schedule,) = mapping.schedule_objects(row)
    rrule = {k: schedule[k] for k in ("freq", "interval", "byday") if k in schedule}
    assert rrule == expected
    assert schedule["description"] == "Evenings" and schedule.get("ipv_weekdays", []) == weekdays
    assert schedule.get("ipv_frequency") == frequency
    assert mapping.schedule_objects(listing()) == []


def test_only_public_contacts_are_mapped() -> None:
    row = listing()
    public = contact_record("public")
    mapped = mapping.contact_objects(
        row, [contact_record("on_introduction"), public, contact_record("verified_orgs")]
    )
    assert mapped == [
        {
            "id": str(public.id),
            "service_id": str(row.id),
            "title": "Intake",
            "email": "public@example.org",
            "phones": [
                {
                    "id": str(ids.derived_id("phone", public.id)),
                    "contact_id": str(public.id),
                    "number": "+1 206 555 0100",
                    "type": "voice",
                }
            ],
            "ipv_preferred_method": "phone",
        }
    ]


def test_attributes_are_the_listing_terms_and_measured_outcomes() -> None:
    program = listing(evaluation_stage="pilot_running", populations=["women", "lgbtq"])
    history = [record("pilot_running", "none", outcomes=["stigma", "empowerment"])]
    assert mapping.attribute_codes(program, history) == [
        ("partner_kind", "peer_program"),
        ("side", "survivors"),
        ("format", "peer_led_support_group"),
        ("group_type", "open_group"),
        ("delivery", "in_person"),
        ("population", "women"),
        ("population", "lgbtq"),
        ("evaluation_stage", "pilot_running"),
        ("outcome", "empowerment"),
        ("outcome", "stigma"),
    ]
    evaluator = listing(
        kind="evaluator",
        side=None,
        formats=[],
        group_type=None,
        delivery=None,
        populations=[],
        methods=["randomised"],
        specialties=["trauma"],
    )
    assert mapping.attribute_codes(evaluator) == [
        ("partner_kind", "evaluator"),
        ("specialty", "trauma"),
        ("evaluation_design", "randomised"),
    ]


def test_evaluation_history_and_verification_become_metadata() -> None:
    program = listing(evaluation_stage="pilot_planned")
    evaluator = uuid.uuid4()
    first = record(
        "pilot_completed",
        "none",
        design="pre_post",
        outcomes=["stigma", "empowerment"],
        participant_count=31,
        evaluator_id=evaluator,
        evaluator_name="Cascade Lab",
        started_on=date(2022, 10, 4),
        ended_on=date(2023, 4, 11),
        findings_summary="Steady.",
    )
    second = record(
        "pilot_planned",
        "pilot_completed",
        is_correction=True,
        correction_reason="Recorded against the wrong group",
        recorded_at=NOW + timedelta(days=1),
    )
    entries = mapping.service_metadata(program, [first, second], frozenset({evaluator}))
    assert [
        (e["field_name"], e["previous_value"], e["replacement_value"], e["last_action_type"]) for e in entries
    ] == [
        ("last_verified_at", "", "2025-05-04T12:30:00Z", "verified"),
        ("evaluation_stage", "none", "pilot_completed", "evaluation"),
        ("evaluation_design", "", "pre_post", "evaluation"),
        ("evaluation_outcomes", "", "stigma,empowerment", "evaluation"),
        ("evaluation_participant_count", "", "31", "evaluation"),
        ("evaluation_evaluator_id", "", str(evaluator), "evaluation"),
        ("evaluation_evaluator_name", "", "Cascade Lab", "evaluation"),
        ("evaluation_started_on", "", "2022-10-04", "evaluation"),
        ("evaluation_ended_on", "", "2023-04-11", "evaluation"),
        ("evaluation_findings_summary", "", "Steady.", "evaluation"),
        ("evaluation_stage", "pilot_completed", "pilot_planned", "correction"),
        ("evaluation_correction_reason", "", "Recorded against the wrong group", "correction"),
    ]
    assert entries[-1]["last_action_date"] == "2025-05-05"
    assert all(e["resource_id"] == str(program.id) and e["resource_type"] == "service" for e in entries)
    assert len({e["id"] for e in entries}) == len(entries)
    # An evaluator listing that is not public is named but not pointed at.
    hidden = mapping.service_metadata(program, [first])
    assert "evaluation_evaluator_id" not in {e["field_name"] for e in hidden}


def test_a_service_and_its_extensions() -> None:
    partner = uuid.uuid4()
    program = listing(
        clinical_partner_id=partner,
        clinical_partner_name="Dana Whitfield",
        last_verified_at=NOW - timedelta(days=400),
        status="paused",
    )
    summary = mapping.service_summary(program, org_record(), VOCAB, frozenset({partner}))
    assert summary["status"] == "temporarily closed"
    assert summary["assured_date"] == (NOW - timedelta(days=400)).date().isoformat()
    assert summary["alert"] == mapping.STALE_ALERT and summary["ipv_stale"] is True
    assert summary["eligibility_description"] == "Side: Survivors. Populations: Women."
    assert summary["ipv_clinical_partner_id"] == str(partner)
    assert summary["organization"] == {
        "id": str(ORG),
        "name": "Harbor Circle Peer Network",
        "description": "",
        "website": "https://harbor.example.org",
    }
    assert "ipv_clinical_partner_id" not in mapping.service_summary(program, None, VOCAB)
    trainer = listing(kind="trainer", side=None, courses=["Peer facilitation"], certifications=["Cert A"])
    mapped = mapping.service_summary(trainer, None, VOCAB)
    assert mapped["accreditations"] == "Cert A" and mapped["ipv_courses"] == ["Peer facilitation"]
    assert "ipv_capacity" not in mapped and "ipv_open_to_mentoring" not in mapped
    assert None not in mapped.values()


def test_a_full_service_nests_everything() -> None:
    program = listing(
        languages=["en", "es"], contacts=[contact_record("public"), contact_record("verified_orgs")]
    )
    full = mapping.service_full(ServiceRow(listing=program, organization=org_record()), VOCAB)
    assert [c["email"] for c in full["contacts"]] == ["public@example.org"]
    assert [lang["name"] for lang in full["languages"]] == ["English", "Spanish"]
    (sal,) = full["service_at_locations"]
    assert sal["id"] == str(ids.service_at_location_id(program.id))
    assert sal["location"]["id"] == sal["location_id"] == str(ids.location_id(program.id))
    attribute = full["attributes"][0]
    assert attribute["link_id"] == str(program.id) and attribute["link_entity"] == "service"
    assert attribute["taxonomy_term"]["taxonomy_id"] == str(ids.taxonomy_id("partner_kind"))


def test_an_organization() -> None:
    full = mapping.organization_full(org(), [], VOCAB)
    assert [a["taxonomy_term"]["code"] for a in full["attributes"]] == ["peer_program", "trainer"]
    assert full["metadata"][0]["replacement_value"] == "verified" and full["services"] == []


@pytest.mark.parametrize(
    ("total", "page", "size", "expected"),
    [
        (0, 1, 0, {"total_pages": 0, "first_page": True, "last_page": True, "empty": True}),
        (25, 1, 10, {"total_pages": 3, "first_page": True, "last_page": False, "empty": False}),
        (25, 3, 5, {"total_pages": 3, "first_page": False, "last_page": True, "empty": False}),
        (25, 9, 0, {"total_pages": 3, "first_page": False, "last_page": True, "empty": True}),
    ],
)
def test_page_envelope(total: int, page: int, size: int, expected: dict[str, object]) -> None:
    envelope = mapping.page_envelope(
        [{"id": str(i)} for i in range(size)], total=total, page=page, per_page=10
    )
    assert envelope == {
        "total_items": total,
        "page_number": page,
        "size": size,
        "contents": envelope["contents"],
        **expected,
    }


def test_ids_are_stable_and_distinct() -> None:
    listing_id = uuid.uuid4()
    assert ids.service_at_location_id(listing_id) == ids.service_at_location_id(listing_id)
    assert len({ids.service_at_location_id(listing_id), ids.location_id(listing_id), listing_id}) == 3
    assert ids.taxonomy_id("side") != ids.term_id("side", "both")
    given = uuid.uuid4()
    assert ids.imported_id("service", str(given)) == given
    assert (
        ids.imported_id("service", "abc")
        == ids.imported_id("service", "abc")
        != ids.imported_id("organization", "abc")
    )


@pytest.mark.parametrize(
    ("postcode", "proximity", "point", "radius_km"),
    [
        ("80202", "10000", (39.7, -104.99), 10.0),
        ("80202", None, (39.7, -104.99), None),
        (None, "52.1, 5.12, 2500", (52.1, 5.12), 2.5),
        (None, None, None, None),
    ],
)
def test_proximity(
    postcode: str | None, proximity: str | None, point: tuple[float, float] | None, radius_km: float | None
) -> None:
    found_point, found_radius = filters.parse_proximity(postcode, proximity)
    if point is None:
        assert found_point is None
    else:
        assert found_point is not None and found_point == pytest.approx(point, abs=0.1)
    assert found_radius == radius_km


@pytest.mark.parametrize(
    ("postcode", "proximity", "message"),
    [
        (None, "5000", "give a postcode too"),
        ("80202", "0", "above 0"),
        ("80202", "nan", "above 0"),
        ("80202", "600000", "at most"),
        ("80202", "52,5,100", "either postcode"),
        (None, "1,2", "meters from the postcode"),
        (None, "91,5,100", "proximity"),
        ("nowhere-ville", None, "postcode"),
    ],
)
def test_bad_proximity(postcode: str | None, proximity: str | None, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        filters.parse_proximity(postcode, proximity)


def test_modified_after() -> None:
    assert filters.parse_modified_after("2024-02-03") == datetime(2024, 2, 3, tzinfo=UTC)
    assert filters.parse_modified_after("2024-02-03T10:00:00Z") == datetime(2024, 2, 3, 10, tzinfo=UTC)
    assert filters.parse_modified_after("2024-02-03T10:00:00") == datetime(2024, 2, 3, 10, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="modified_after"):
        filters.parse_modified_after("yesterday")


def test_service_filters_resolve_term_and_taxonomy_ids() -> None:
    found = filters.service_filters(
        VOCAB,
        taxonomy_term_id=str(ids.term_id("format", "twelve_step")),
        taxonomy_id=str(ids.taxonomy_id("side")),
        search="  ",
    )
    assert (found.term, found.taxonomy, found.search, found.matches_nothing) == (
        ("format", "twelve_step"),
        "side",
        None,
        False,
    )
    assert filters.service_filters(VOCAB, taxonomy_term_id=str(uuid.uuid4())).matches_nothing
    assert filters.service_filters(VOCAB, taxonomy_id=str(uuid.uuid4())).matches_nothing
    with pytest.raises(InvalidInput, match="organization_id"):
        filters.service_filters(VOCAB, organization_id="harbor")


@given(
    st.sampled_from(["attribute", "language", "location", "metadata"]),
    st.lists(st.uuids() | st.text(max_size=20), max_size=3),
)
def test_derived_ids_are_the_uuid5_they_stand_for(kind: str, parts: list[object]) -> None:
    made = ids.derived(kind, *(str(part) for part in parts))
    assert (
        made
        == str(ids.derived_id(kind, *parts))
        == str(uuid.uuid5(ids.NAMESPACE, ":".join(["registry", kind, *map(str, parts)])))
    )
    assert uuid.UUID(made).version == 5 and uuid.UUID(made).variant == uuid.RFC_4122
