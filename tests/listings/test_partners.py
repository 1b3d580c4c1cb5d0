"""Partners through HTTP: clinicians, treatment programs, evaluators and trainers, their
kind-specific attributes, and the partner search (filters, text, place, pages)."""

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import Listing
from tests.factories import Client, bearer, register_org, role_key, verified_org
from tests.listings.builders import (
    DENVER,
    UTRECHT,
    assert_only_distance_bands,
    audit_rows,
    create_partner,
    etag_of,
    listing_row,
    north_of,
    partner_body,
    with_etag,
)


async def test_each_kind_keeps_its_own_attributes(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    org, key = await verified_org(client, steward)
    clinician = await create_partner(
        client,
        key,
        "clinician",
        name="Dr. A. de Vries",
        credentials=["GZ-psycholoog", "BIG 123"],
        ipv_trained=True,
        ipv_training="Veilig Thuis IPV module, 2022",
        specialties=["survivors", "trauma"],
    )
    treatment = await create_partner(
        client,
        key,
        "treatment_program",
        credentials=["Accredited 2023"],
        specialties=["people_who_use_violence"],
    )
    evaluator = await create_partner(client, key, "evaluator", methods=["randomised", "qualitative"])
    trainer = await create_partner(
        client,
        key,
        "trainer",
        courses=["Facilitating peer groups safely"],
        certifications=["Certified peer facilitator"],
        specialties=["peer_support_training", "high_risk_clients"],
    )

    assert clinician["kind"] == "clinician" and clinician["organization_id"] == org["id"]
    assert clinician["credentials"] == ["GZ-psycholoog", "BIG 123"] and clinician["ipv_trained"] is True
    assert clinician["ipv_training"] == "Veilig Thuis IPV module, 2022"
    assert clinician["specialties"] == ["survivors", "trauma"]
    assert treatment["credentials"] == ["Accredited 2023"]
    assert evaluator["methods"] == ["qualitative", "randomised"]
    assert trainer["courses"] == ["Facilitating peer groups safely"]
    assert trainer["certifications"] == ["Certified peer facilitator"]
    for other in (evaluator, trainer):
        assert other["credentials"] == [] and other["ipv_trained"] is False and other["ipv_training"] is None
    for other in (clinician, treatment, trainer):
        assert other["methods"] == []
    for other in (clinician, treatment, evaluator):
        assert other["courses"] == [] and other["certifications"] == []
    # Partners are professionals: exact location unless told otherwise, or unless they work with
    # survivors (then area, as survivor groups).
    assert treatment["location"]["precision"] == "exact"
    assert clinician["location"]["precision"] == "area"

    row = await listing_row(db, clinician["id"])
    assert (
        row.kind == "clinician"
        and row.ipv_trained is True
        and row.credentials == ["GZ-psycholoog", "BIG 123"]
    )
    assert (await listing_row(db, evaluator["id"])).methods == ["qualitative", "randomised"]
    assert (await listing_row(db, trainer["id"])).courses == ["Facilitating peer groups safely"]

    shown = await client.get(f"/partners/{trainer['id']}")
    assert shown.status_code == 200 and shown.json() == trainer
    assert shown.headers["etag"] == f'"{uuid.UUID(trainer["id"]).hex}-1"'
    # Partners are not programs, and programs are not partners.
    assert (await client.get(f"/programs/{trainer['id']}")).status_code == 404
    assert [e.action for e in await audit_rows(db, trainer["id"])] == ["create"]


@pytest.mark.parametrize(
    ("kind", "attribute", "value"),
    [
        ("evaluator", "courses", ["Intro to IPV"]),
        ("evaluator", "certifications", ["Cert"]),
        ("evaluator", "credentials", ["PhD"]),
        ("evaluator", "ipv_trained", True),
        ("clinician", "methods", ["randomised"]),
        ("clinician", "courses", ["Intro to IPV"]),
        ("treatment_program", "certifications", ["Cert"]),
        ("trainer", "credentials", ["MD"]),
        ("trainer", "ipv_training", "Some course"),
        ("trainer", "methods", ["qualitative"]),
    ],
)
async def test_an_attribute_of_another_kind_is_422(
    client: Client, db: AsyncSession, kind: str, attribute: str, value: object
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    response = await client.post(
        "/partners", json=partner_body(kind, **{attribute: value}), headers=bearer(key)
    )
    assert response.status_code == 422, response.text
    assert attribute in response.json()["detail"]
    assert (await db.execute(select(func.count()).select_from(Listing))).scalar_one() == 0

    partner = await create_partner(client, key, kind)
    etag = await etag_of(client, f"/partners/{partner['id']}", key)
    changed = await client.patch(
        f"/partners/{partner['id']}", json={attribute: value}, headers=with_etag(key, etag)
    )
    assert changed.status_code == 422
    assert attribute in changed.json()["detail"]
    assert (await listing_row(db, partner["id"])).version == 1


async def test_an_unknown_kind_is_refused(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    for kind in ("peer_program", "astrologer"):
        response = await client.post("/partners", json=partner_body(kind), headers=bearer(key))
        assert response.status_code == 422, kind
    assert (await client.get("/partners", params={"kind": "astrologer"})).status_code in (400, 422)


async def test_partner_changes_need_if_match_and_the_owner(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    _, intruder = await verified_org(client, steward)
    partner = await create_partner(client, key, "trainer", courses=["Basics"])
    path = f"/partners/{partner['id']}"
    etag = await etag_of(client, path, key)

    assert (await client.patch(path, json={"courses": ["X"]}, headers=bearer(key))).status_code == 428
    assert (
        await client.patch(path, json={"courses": ["X"]}, headers=with_etag(intruder, etag))
    ).status_code == 403
    assert (await client.delete(path, headers=with_etag(intruder, etag))).status_code == 403
    ok = await client.patch(path, json={"courses": ["Basics", "Advanced"]}, headers=with_etag(key, etag))
    assert ok.status_code == 200 and ok.json()["courses"] == ["Basics", "Advanced"]
    assert ok.headers["etag"] != etag
    stale = await client.patch(path, json={"courses": ["Lost"]}, headers=with_etag(key, etag))
    assert stale.status_code == 412
    assert (await listing_row(db, partner["id"])).courses == ["Basics", "Advanced"]

    deleted = await client.delete(path, headers=with_etag(key, ok.headers["etag"]))
    assert deleted.status_code == 204
    assert (await client.get(path)).status_code == 404
    assert (await listing_row(db, partner["id"])).archived_at is not None
    assert [e.action for e in await audit_rows(db, partner["id"])] == ["create", "update", "archive"]


async def test_an_unverified_orgs_partners_are_hidden_from_others(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    _, key = await register_org(client)
    _, other = await verified_org(client, steward)
    partner = await create_partner(client, key)
    path = f"/partners/{partner['id']}"
    for headers in ({}, bearer(other)):
        assert (await client.get(path, headers=headers)).status_code == 404
        assert (await client.get("/partners", headers=headers)).json()["total"] == 0
    for headers in (bearer(key), bearer(steward)):
        assert (await client.get(path, headers=headers)).status_code == 200
        assert (await client.get("/partners", headers=headers)).json()["total"] == 1


# --- search ----------------------------------------------------------------------------------


async def _directory(client: Client, key: str) -> dict[str, dict[str, Any]]:
    near = north_of(UTRECHT, 3.0)
    mid = north_of(UTRECHT, 18.0)
    made = {
        "clinician": await create_partner(
            client,
            key,
            "clinician",
            name="Amsterdam trauma practice",
            description="Psychotherapy for survivors, specialised in complex trauma and safety planning.",
            specialties=["survivors", "trauma"],
            languages=["nl", "en"],
            ipv_trained=True,
            location={"latitude": near[0], "longitude": near[1]},
        ),
        "treatment": await create_partner(
            client,
            key,
            "treatment_program",
            name="Change programme",
            description="A 26-week programme for men who use violence.",
            specialties=["people_who_use_violence"],
            languages=["nl"],
            accepting_partnerships=False,
            location={"latitude": mid[0], "longitude": mid[1]},
        ),
        "evaluator": await create_partner(
            client,
            key,
            "evaluator",
            name="Denver research group",
            description="Mixed-methods evaluations of community programs.",
            specialties=["survivors"],
            languages=["en", "es"],
            methods=["mixed_methods"],
            location={"latitude": DENVER[0], "longitude": DENVER[1]},
        ),
        "trainer": await create_partner(
            client,
            key,
            "trainer",
            name="Online facilitator academy",
            description="Training peer facilitators to work with high-risk clients.",
            specialties=["peer_support_training", "high_risk_clients"],
            languages=["en"],
            courses=["Safety planning for facilitators"],
            location=None,
        ),
    }
    return made


async def test_partner_filters(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    made = await _directory(client, key)
    ids = {v["id"]: k for k, v in made.items()}

    async def found(**params: Any) -> set[str]:
        response = await client.get("/partners", params=params)
        assert response.status_code == 200, response.text
        assert_only_distance_bands(response.json())
        assert response.json()["total"] == len(response.json()["items"])
        return {ids[p["id"]] for p in response.json()["items"]}

    assert await found() == set(made)
    assert await found(kind="clinician") == {"clinician"}
    assert await found(kind="trainer") == {"trainer"}
    assert await found(specialty="survivors") == {"clinician", "evaluator"}
    assert await found(specialty=["trauma", "high_risk_clients"]) == {"clinician", "trainer"}
    assert await found(language="es") == {"evaluator"}
    assert await found(language="nl") == {"clinician", "treatment"}
    assert await found(method="mixed_methods") == {"evaluator"}
    assert await found(ipv_trained="true") == {"clinician"}
    assert await found(remote_ok="true") == {"trainer"}
    assert await found(accepting_partnerships="false") == {"treatment"}
    assert await found(accepting_partnerships="true") == {"clinician", "evaluator", "trainer"}
    assert await found(kind="evaluator", language="nl") == set()
    # Full text over name and description.
    assert await found(q="psychotherapy") == {"clinician"}
    assert await found(q="Trauma") == {"clinician"}
    assert await found(q="facilitators") == {"trainer"}
    assert await found(q="research") == {"evaluator"}
    assert await found(q="astrology") == set()
    assert await found(q="programme men") == {"treatment"}
    assert await found(q="programme astrology") == set()

    assert made["trainer"]["location"]["precision"] == "remote" and made["trainer"]["remote_ok"] is True


async def test_remote_ok_false_finds_the_partners_that_do_not_work_remotely(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    made = await _directory(client, key)
    response = await client.get("/partners", params={"remote_ok": "false"})
    assert response.status_code == 200
    assert {p["id"] for p in response.json()["items"]} == {
        made["clinician"]["id"],
        made["treatment"]["id"],
        made["evaluator"]["id"],
    }


async def test_partner_near_search(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    made = await _directory(client, key)
    names = {v["id"]: k for k, v in made.items()}

    response = await client.get("/partners", params={"near": "Utrecht, NL"})
    assert response.status_code == 200
    assert_only_distance_bands(response.json())
    assert [(names[p["id"]], p["distance_band"]) for p in response.json()["items"]] == [
        ("clinician", "under_5_km"),
        ("treatment", "10_to_25_km"),
    ]
    near_zip = await client.get("/partners", params={"near": "80202"})
    assert [(names[p["id"]], p["distance_band"]) for p in near_zip.json()["items"]] == [
        ("evaluator", "under_5_km")
    ]
    tight = await client.get("/partners", params={"near": f"{UTRECHT[0]},{UTRECHT[1]}", "radius_km": 10})
    assert [names[p["id"]] for p in tight.json()["items"]] == ["clinician"]
    remote = await client.get("/partners", params={"near": "Utrecht, NL", "remote_ok": "true"})
    assert [names[p["id"]] for p in remote.json()["items"]] == ["trainer"]
    unknown = await client.get("/partners", params={"near": "Atlantis, NL"})
    assert unknown.status_code == 422 and "Atlantis" in unknown.json()["detail"]
    too_far = await client.get("/partners", params={"near": "Utrecht, NL", "radius_km": 501})
    assert too_far.status_code in (400, 422)


async def test_partner_pages_are_capped_and_counted(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    for i in range(5):
        await create_partner(client, key, "clinician", name=f"Clinic {i}")

    first = await client.get("/partners", params={"per_page": 2})
    assert first.status_code == 200
    body = first.json()
    assert body["total"] == 5 and body["page"] == 1 and body["per_page"] == 2
    assert [p["name"] for p in body["items"]] == ["Clinic 0", "Clinic 1"]
    last = (await client.get("/partners", params={"per_page": 2, "page": 3})).json()
    assert [p["name"] for p in last["items"]] == ["Clinic 4"] and last["total"] == 5
    beyond = (await client.get("/partners", params={"per_page": 2, "page": 9})).json()
    assert beyond["items"] == [] and beyond["total"] == 5
    assert len((await client.get("/partners", params={"per_page": 100})).json()["items"]) == 5

    for params in ({"per_page": 101}, {"per_page": 0}, {"page": 0}, {"per_page": "many"}):
        for path in ("/partners", "/programs"):
            response = await client.get(path, params=params)
            assert response.status_code in (400, 422), (path, params)
            assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_remote_ok_search_answers_only_partners_that_say_remote_ok(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    created = await create_partner(client, key, "clinician")
    assert created["remote_ok"] is False
    etag = await etag_of(client, f"/partners/{created['id']}", key)
    moved = await client.patch(
        f"/partners/{created['id']}", json={"location_precision": "remote"}, headers=with_etag(key, etag)
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["location"]["precision"] == "remote"
    found = (await client.get("/partners", params={"remote_ok": "true"})).json()["items"]
    assert [p["id"] for p in found] == [created["id"]]
    assert all(p["remote_ok"] is True for p in found)
    # Created remote, a partner says remote_ok: true; moved remote, it must say the same.
    assert (await listing_row(db, created["id"])).remote_ok is True
