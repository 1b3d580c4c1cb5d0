"""The controlled vocabularies through HTTP: reading them, steward edits, and how every write
and every search filter is checked against them."""

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import AuditEvent, TaxonomyTerm
from tests.factories import Client, bearer, register_org, role_key, verified_org
from tests.listings.builders import create_partner, create_program, listing_row, partner_body, program_body

VOCABULARIES = {
    "side",
    "format",
    "group_type",
    "delivery",
    "population",
    "language",
    "partner_kind",
    "evaluation_stage",
    "evaluation_design",
    "outcome",
    "specialty",
}
FIXED = {"side", "group_type", "delivery", "partner_kind", "evaluation_stage"}


async def term_row(db: AsyncSession, taxonomy: str, code: str) -> TaxonomyTerm | None:
    stmt = (
        select(TaxonomyTerm)
        .where(TaxonomyTerm.taxonomy == taxonomy, TaxonomyTerm.code == code)
        .execution_options(populate_existing=True)
    )
    return (await db.scalars(stmt)).one_or_none()


async def test_every_vocabulary_is_listed_with_its_active_term_count(client: Client) -> None:
    response = await client.get("/taxonomies")
    assert response.status_code == 200
    summaries = {t["name"]: t for t in response.json()}
    assert set(summaries) >= VOCABULARIES
    for name in VOCABULARIES:
        assert summaries[name]["term_count"] > 0, name
        assert summaries[name]["extendable"] is (name not in FIXED), name
    assert summaries["side"]["term_count"] == 3


@pytest.mark.parametrize(
    ("name", "codes"),
    [
        ("side", {"survivors", "people_who_use_violence", "both"}),
        ("delivery", {"in_person", "online", "hybrid"}),
        ("group_type", {"open_group", "closed_group"}),
        ("partner_kind", {"peer_program", "clinician", "treatment_program", "evaluator", "trainer"}),
        (
            "evaluation_stage",
            {"none", "pilot_planned", "pilot_running", "pilot_completed", "formally_evaluated", "published"},
        ),
        ("format", {"twelve_step", "peer_led_support_group", "co_facilitated", "psychoeducational"}),
        ("evaluation_design", {"qualitative", "pre_post", "quasi_experimental", "randomised"}),
        ("outcome", {"mental_health", "empowerment", "ipv_recurrence", "help_seeking", "stigma"}),
        ("population", {"women", "men", "lgbtq", "youth", "court_referred", "substance_use"}),
        ("language", {"en", "nl", "es"}),
        ("specialty", {"survivors", "people_who_use_violence", "high_risk_clients"}),
    ],
)
async def test_a_vocabulary_serves_its_terms(client: Client, name: str, codes: set[str]) -> None:
    response = await client.get(f"/taxonomies/{name}")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == name
    terms = {t["code"]: t for t in body["terms"]}
    assert set(terms) >= codes
    if name in ("side", "delivery", "group_type", "evaluation_stage", "partner_kind"):
        assert set(terms) == codes
    for term in terms.values():
        assert term["label"], term
        assert "description" in term
        assert term["retired"] is False
    if name == "format":
        assert terms["co_facilitated"]["label"] == "Co-facilitated"
        assert "clinician" in terms["co_facilitated"]["description"]


async def test_evaluation_stages_come_in_path_order(client: Client) -> None:
    terms = (await client.get("/taxonomies/evaluation_stage")).json()["terms"]
    assert [t["code"] for t in terms] == [
        "none",
        "pilot_planned",
        "pilot_running",
        "pilot_completed",
        "formally_evaluated",
        "published",
    ]


async def test_unknown_vocabulary_is_404_problem(client: Client, db: AsyncSession) -> None:
    response = await client.get("/taxonomies/astrology")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == 404
    steward = await role_key(db)
    added = await client.post(
        "/taxonomies/astrology/terms", json={"code": "leo", "label": "Leo"}, headers=bearer(steward)
    )
    assert added.status_code == 404


async def test_steward_adds_a_term_that_writes_can_then_use(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    term = {"code": "art_therapy_circle", "label": "Art therapy circle", "description": "Makes things"}
    response = await client.post("/taxonomies/format/terms", json=term, headers=bearer(steward))
    assert response.status_code == 201, response.text
    added = response.json()
    assert {k: added[k] for k in term} == term and added["retired"] is False and added["retired_at"] is None

    row = await term_row(db, "format", "art_therapy_circle")
    assert row is not None and row.label == "Art therapy circle" and row.retired_at is None
    served = (await client.get("/taxonomies/format")).json()["terms"]
    assert "art_therapy_circle" in {t["code"] for t in served}
    events = (
        await db.scalars(
            select(AuditEvent).where(AuditEvent.entity_type == "taxonomy_term", AuditEvent.action == "create")
        )
    ).all()
    assert len(events) == 1 and events[0].actor_role == "steward"

    _, key = await verified_org(client, steward)
    program, _ = await create_program(client, key, formats=["art_therapy_circle"])
    assert program["formats"] == ["art_therapy_circle"]


async def test_term_edits_are_refused_to_non_stewards_and_for_duplicates_and_fixed_lists(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    _, org_key = await register_org(client)
    term = {"code": "drum_circle", "label": "Drum circle"}

    anonymous = await client.post("/taxonomies/format/terms", json=term)
    assert anonymous.status_code == 401
    as_org = await client.post("/taxonomies/format/terms", json=term, headers=bearer(org_key))
    assert as_org.status_code == 403
    assert await term_row(db, "format", "drum_circle") is None

    duplicate = await client.post(
        "/taxonomies/format/terms",
        json={"code": "twelve_step", "label": "Twelve again"},
        headers=bearer(steward),
    )
    assert duplicate.status_code == 409
    row = await term_row(db, "format", "twelve_step")
    assert row is not None and row.label == "12-step"

    for name in ("side", "evaluation_stage", "delivery", "partner_kind", "group_type"):
        fixed = await client.post(
            f"/taxonomies/{name}/terms", json={"code": "other", "label": "Other"}, headers=bearer(steward)
        )
        assert fixed.status_code == 409, name
        assert await term_row(db, name, "other") is None

    retire_fixed = await client.patch(
        "/taxonomies/side/terms/both", json={"retired": True}, headers=bearer(steward)
    )
    assert retire_fixed.status_code == 409
    side = await term_row(db, "side", "both")
    assert side is not None and side.retired_at is None

    patch_as_org = await client.patch(
        "/taxonomies/format/terms/twelve_step", json={"retired": True}, headers=bearer(org_key)
    )
    assert patch_as_org.status_code == 403
    assert (
        await client.patch("/taxonomies/format/terms/twelve_step", json={"retired": True})
    ).status_code == 401
    unknown = await client.patch(
        "/taxonomies/format/terms/no_such_code", json={"label": "X"}, headers=bearer(steward)
    )
    assert unknown.status_code == 404


async def test_a_retired_code_is_refused_in_writes_but_kept_by_existing_listings(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    program, etag = await create_program(client, key, formats=["mutual_aid_circle", "twelve_step"])

    retired = await client.patch(
        "/taxonomies/format/terms/mutual_aid_circle", json={"retired": True}, headers=bearer(steward)
    )
    assert retired.status_code == 200, retired.text
    assert retired.json()["retired"] is True and retired.json()["retired_at"]
    row = await term_row(db, "format", "mutual_aid_circle")
    assert row is not None and row.retired_at is not None
    served = {t["code"]: t for t in (await client.get("/taxonomies/format")).json()["terms"]}
    assert served["mutual_aid_circle"]["retired"] is True
    counts = {t["name"]: t["term_count"] for t in (await client.get("/taxonomies")).json()}
    assert counts["format"] == len(served) - 1

    refused = await client.post(
        "/programs", json=program_body(formats=["mutual_aid_circle"]), headers=bearer(key)
    )
    assert refused.status_code == 422
    assert "formats" in refused.json()["detail"] and "mutual_aid_circle" in refused.json()["detail"]

    resent = await client.patch(
        f"/programs/{program['id']}",
        json={"formats": ["mutual_aid_circle"]},
        headers={**bearer(key), "If-Match": etag},
    )
    assert resent.status_code == 422

    # The existing listing keeps the code, in the database and in answers, and still matches.
    stored = await listing_row(db, program["id"])
    assert stored.formats == ["mutual_aid_circle", "twelve_step"]
    shown = (await client.get(f"/programs/{program['id']}")).json()
    assert shown["formats"] == ["mutual_aid_circle", "twelve_step"]
    found = await client.get("/programs", params={"format": "mutual_aid_circle"})
    assert found.status_code == 200
    assert [p["id"] for p in found.json()["items"]] == [program["id"]]

    # An unrelated change to the listing still goes through.
    renamed = await client.patch(
        f"/programs/{program['id']}",
        json={"name": "Renamed circle"},
        headers={**bearer(key), "If-Match": etag},
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["formats"] == ["mutual_aid_circle", "twelve_step"]

    restored = await client.patch(
        "/taxonomies/format/terms/mutual_aid_circle", json={"retired": False}, headers=bearer(steward)
    )
    assert restored.status_code == 200 and restored.json()["retired"] is False
    await create_program(client, key, formats=["mutual_aid_circle"])


async def test_relabelling_a_term_is_audited(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    response = await client.patch(
        "/taxonomies/population/terms/rural",
        json={"label": "Rural and remote communities", "description": "Far from services"},
        headers=bearer(steward),
    )
    assert response.status_code == 200
    assert response.json()["label"] == "Rural and remote communities"
    row = await term_row(db, "population", "rural")
    assert row is not None and row.description == "Far from services"
    event = (await db.scalars(select(AuditEvent).where(AuditEvent.entity_type == "taxonomy_term"))).one()
    assert event.action == "update" and set(event.changed_fields) == {"label", "description"}


@pytest.mark.parametrize(
    ("field", "value", "vocabulary_code"),
    [
        ("side", "bystanders", "survivors"),
        ("formats", ["twelve_step", "séance"], "peer_led_support_group"),
        ("formats", ["astrology"], "peer_led_support_group"),
        ("group_type", "semi_open", "closed_group"),
        ("delivery", "carrier_pigeon", "hybrid"),
        ("populations", ["aliens"], "lgbtq"),
        ("languages", ["klingon"], "nl"),
    ],
)
async def test_unknown_codes_in_a_program_write_are_422_naming_field_and_allowed_codes(
    client: Client, db: AsyncSession, field: str, value: object, vocabulary_code: str
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    body = program_body(**{field: value})
    response = await client.post("/programs", json=body, headers=bearer(key))
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert field in detail
    if value != ["twelve_step", "séance"]:  # not a valid code at all: the schema refuses it
        assert vocabulary_code in detail, detail
    listed = await client.get("/programs", headers=bearer(key))
    assert listed.json()["total"] == 0


async def test_unknown_codes_in_a_program_update_are_422_and_change_nothing(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    program, etag = await create_program(client, key)
    response = await client.patch(
        f"/programs/{program['id']}",
        json={"populations": ["women", "martians"], "name": "Changed"},
        headers={**bearer(key), "If-Match": etag},
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "populations" in detail and "martians" in detail and "women" in detail
    stored = await listing_row(db, program["id"])
    assert stored.name == program["name"] and stored.populations == [] and stored.version == 1


async def test_several_unknown_codes_are_reported_together(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    response = await client.post(
        "/programs", json=program_body(formats=["astrology"], languages=["klingon"]), headers=bearer(key)
    )
    assert response.status_code == 422
    body = response.json()
    assert "formats" in body["detail"] and "languages" in body["detail"]
    assert {e["field"] for e in body["errors"]} == {"formats", "languages"}
    formats = next(e for e in body["errors"] if e["field"] == "formats")
    assert formats["unknown"] == ["astrology"] and "twelve_step" in formats["allowed"]


@pytest.mark.parametrize(
    ("kind", "field", "value", "allowed_example"),
    [
        ("clinician", "specialties", ["palmistry"], "high_risk_clients"),
        ("clinician", "populations", ["aliens"], "women"),
        ("trainer", "languages", ["klingon"], "en"),
        ("evaluator", "methods", ["vibes"], "randomised"),
    ],
)
async def test_unknown_codes_in_a_partner_write_are_422(
    client: Client, db: AsyncSession, kind: str, field: str, value: list[str], allowed_example: str
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    response = await client.post("/partners", json=partner_body(kind, **{field: value}), headers=bearer(key))
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert field in detail and value[0] in detail and allowed_example in detail

    partner = await create_partner(client, key, kind)
    etag = (await client.get(f"/partners/{partner['id']}", headers=bearer(key))).headers["etag"]
    changed = await client.patch(
        f"/partners/{partner['id']}", json={field: value}, headers={**bearer(key), "If-Match": etag}
    )
    assert changed.status_code == 422
    assert field in changed.json()["detail"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/programs", {"side": "bystanders"}),
        ("/programs", {"format": "astrology"}),
        ("/programs", {"group_type": "semi_open"}),
        ("/programs", {"delivery": "carrier_pigeon"}),
        ("/programs", {"population": "aliens"}),
        ("/programs", {"language": "klingon"}),
        ("/programs", {"evaluation_stage": "vibes_checked"}),
        ("/partners", {"specialty": "palmistry"}),
        ("/partners", {"population": "aliens"}),
        ("/partners", {"language": "klingon"}),
        ("/partners", {"method": "vibes"}),
    ],
)
async def test_unknown_codes_in_list_filters_are_422(
    client: Client, path: str, params: dict[str, str]
) -> None:
    response = await client.get(path, params=params)
    assert response.status_code == 422, response.text
    [(name, value)] = params.items()
    assert name in response.json()["detail"] and value in response.json()["detail"]


async def test_unknown_evaluation_codes_are_422(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    program, _ = await create_program(client, key)
    for body, field in (
        ({"stage": "vibes_checked"}, "stage"),
        ({"stage": "pilot_planned", "design": "vibes"}, "design"),
        ({"stage": "pilot_planned", "outcomes": ["happiness"]}, "outcomes"),
    ):
        response = await client.post(f"/programs/{program['id']}/evaluations", json=body, headers=bearer(key))
        assert response.status_code == 422, body
        assert field in response.json()["detail"]
    assert (await listing_row(db, program["id"])).evaluation_stage == "none"
