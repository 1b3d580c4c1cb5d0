"""Programs through HTTP: create, read, change with If-Match, archive, who may see and change
what, the audit trail, and re-verification. Checked in the database as well as in answers."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.keys import hash_key
from registry.database.base import utcnow
from registry.models import ApiKey, AuditEvent, Listing
from tests.factories import Client, bearer, register_org, role_key, verified_org
from tests.listings.builders import (
    audit_rows,
    create_partner,
    create_program,
    etag_of,
    listing_row,
    program_body,
    with_etag,
)


async def key_id(db: AsyncSession, key: str) -> uuid.UUID:
    return (await db.scalars(select(ApiKey.id).where(ApiKey.key_hash == hash_key(key)))).one()


async def listing_count(db: AsyncSession) -> int:
    return (await db.execute(select(func.count()).select_from(Listing))).scalar_one()


# --- create and read -----------------------------------------------------------------------


async def test_create_answers_201_with_an_etag_and_stores_the_program(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    org, key = await verified_org(client, steward)
    body = program_body(
        name="Men Choosing Change",
        description="A weekly 12-step circle for men who want to stop using violence.",
        formats=["twelve_step", "peer_led_support_group", "twelve_step"],
        group_type="open_group",
        populations=["men", "court_referred"],
        languages=["nl", "en"],
        capacity=12,
        schedule={"text": "Tuesdays 19:00", "weekdays": ["tue", "tue"], "frequency": "weekly"},
        open_to_mentoring=True,
        founded_on="2021-03-01",
        status="active",
    )
    response = await client.post("/programs", json=body, headers=bearer(key))
    assert response.status_code == 201, response.text
    program = response.json()
    assert response.headers["etag"] == f'"{uuid.UUID(program["id"]).hex}-1"'
    assert program["organization_id"] == org["id"] and program["kind"] == "peer_program"
    assert program["formats"] == ["peer_led_support_group", "twelve_step"]
    assert program["populations"] == ["court_referred", "men"] and program["languages"] == ["en", "nl"]
    assert program["schedule"] == {"text": "Tuesdays 19:00", "weekdays": ["tue"], "frequency": "weekly"}
    assert program["evaluation"]["stage"] == "none" and program["evaluation"]["history"] == []
    assert program["stale"] is False and program["archived"] is False
    assert program["location"]["precision"] == "exact"

    row = await listing_row(db, program["id"])
    assert row.organization_id == uuid.UUID(org["id"]) and row.kind == "peer_program"
    assert row.name == "Men Choosing Change" and row.capacity == 12 and row.open_to_mentoring is True
    assert row.version == 1 and row.archived_at is None and row.evaluation_stage == "none"
    assert abs((utcnow() - row.last_verified_at).total_seconds()) < 60

    one = await client.get(f"/programs/{program['id']}")
    assert one.status_code == 200 and one.headers["etag"] == response.headers["etag"]
    assert one.json() == program
    listed = await client.get("/programs")
    assert listed.status_code == 200
    assert [p["id"] for p in listed.json()["items"]] == [program["id"]]
    assert listed.json()["total"] == 1


async def test_anonymous_and_funders_cannot_create(client: Client, db: AsyncSession) -> None:
    from registry.auth.principal import Role

    anonymous = await client.post("/programs", json=program_body())
    assert anonymous.status_code == 401
    funder = await role_key(db, Role.FUNDER)
    refused = await client.post("/programs", json=program_body(), headers=bearer(funder))
    assert refused.status_code == 403
    assert await listing_count(db) == 0


async def test_organization_id_may_only_name_your_own_organization(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    org, key = await verified_org(client, steward)
    other, _ = await verified_org(client, steward)

    own, _ = await create_program(client, key, organization_id=org["id"])
    assert own["organization_id"] == org["id"]
    foreign = await client.post(
        "/programs", json=program_body(name="Planted", organization_id=other["id"]), headers=bearer(key)
    )
    assert foreign.status_code == 403
    assert (await db.scalars(select(Listing).where(Listing.name == "Planted"))).first() is None

    # Stewards create on an organization's behalf, and must say which.
    by_steward, _ = await create_program(client, steward, organization_id=other["id"])
    assert by_steward["organization_id"] == other["id"]
    missing = await client.post("/programs", json=program_body(), headers=bearer(steward))
    assert missing.status_code == 422


SERVER_OWNED = {
    "id": str(uuid.uuid4()),
    "verification_status": "verified",
    "evaluation_stage": "published",
    "evaluation": {"stage": "published"},
    "last_verified_at": "2099-01-01T00:00:00Z",
    "created_at": "2000-01-01T00:00:00Z",
    "updated_at": "2000-01-01T00:00:00Z",
    "stale": False,
    "archived": False,
    "archived_at": None,
    "version": 99,
    "kind": "evaluator",
    "hidden_contacts": 0,
    "distance_band": "under_5_km",
}


@pytest.mark.parametrize("field", sorted(SERVER_OWNED))
async def test_server_owned_fields_in_a_create_are_refused_not_applied(
    client: Client, db: AsyncSession, field: str
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    response = await client.post(
        "/programs", json=program_body(**{field: SERVER_OWNED[field]}), headers=bearer(key)
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in response.json()["detail"]
    assert await listing_count(db) == 0


@pytest.mark.parametrize("field", sorted([*SERVER_OWNED, "organization_id"]))
async def test_server_owned_fields_in_an_update_are_refused_not_applied(
    client: Client, db: AsyncSession, field: str
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    other, _ = await register_org(client)
    program, etag = await create_program(client, key)
    value = other["id"] if field == "organization_id" else SERVER_OWNED[field]
    response = await client.patch(
        f"/programs/{program['id']}", json={"name": "Changed", field: value}, headers=with_etag(key, etag)
    )
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]
    row = await listing_row(db, program["id"])
    assert row.name == program["name"] and row.version == 1 and row.evaluation_stage == "none"
    assert str(row.organization_id) == program["organization_id"] and row.kind == "peer_program"


# --- If-Match ------------------------------------------------------------------------------


async def test_patch_needs_the_current_etag(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    program, etag = await create_program(client, key, name="First name")
    path = f"/programs/{program['id']}"

    missing = await client.patch(path, json={"name": "No etag"}, headers=bearer(key))
    assert missing.status_code == 428
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert (await listing_row(db, program["id"])).name == "First name"

    ok = await client.patch(path, json={"name": "Second name", "capacity": 8}, headers=with_etag(key, etag))
    assert ok.status_code == 200, ok.text
    assert ok.json()["name"] == "Second name" and ok.json()["capacity"] == 8
    new_etag = ok.headers["etag"]
    assert new_etag != etag and new_etag == f'"{uuid.UUID(program["id"]).hex}-2"'
    assert (await client.get(path)).headers["etag"] == new_etag

    stale = await client.patch(path, json={"name": "Lost update"}, headers=with_etag(key, etag))
    assert stale.status_code == 412
    assert stale.json()["current_etag"] == new_etag
    row = await listing_row(db, program["id"])
    assert row.name == "Second name" and row.capacity == 8 and row.version == 2

    garbage = await client.patch(path, json={"name": "Garbage"}, headers=with_etag(key, '"nonsense"'))
    assert garbage.status_code == 412
    assert (await listing_row(db, program["id"])).name == "Second name"


async def test_delete_archives_the_program_and_keeps_it_in_the_database(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    org, key = await verified_org(client, steward)
    _, other = await verified_org(client, steward)
    program, etag = await create_program(client, key)
    path = f"/programs/{program['id']}"
    kept, _ = await create_program(client, key)

    assert (await client.delete(path, headers=bearer(key))).status_code == 428
    assert (await client.delete(path, headers=with_etag(key, '"stale-0"'))).status_code == 412
    assert (await listing_row(db, program["id"])).archived_at is None

    deleted = await client.delete(path, headers=with_etag(key, etag))
    assert deleted.status_code == 204 and deleted.content == b""

    row = await listing_row(db, program["id"])
    assert row.archived_at is not None and row.version == 2
    assert (await client.get(path)).status_code == 404
    assert (await client.get(path, headers=bearer(other))).status_code == 404
    for headers in ({}, bearer(other), bearer(key), bearer(steward)):
        ids = [p["id"] for p in (await client.get("/programs", headers=headers)).json()["items"]]
        assert ids == [kept["id"]], headers
    mine = await client.get(path, headers=bearer(key))
    assert mine.status_code == 200 and mine.json()["archived"] is True
    assert (await client.get(path, headers=bearer(steward))).status_code == 200

    events = await audit_rows(db, program["id"])
    archive = events[-1]
    assert archive.action == "archive" and archive.entity_type == "listing"
    assert archive.actor_organization_id == uuid.UUID(org["id"])
    assert archive.actor_key_id == await key_id(db, key)
    assert archive.changed_fields == ["archived_at"]


# --- who sees, who changes ------------------------------------------------------------------


async def test_an_unverified_orgs_program_is_seen_only_by_it_and_stewards_until_verified(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    org, key = await register_org(client)
    _, other_unverified = await register_org(client)
    _, other_verified = await verified_org(client, steward)
    program, _ = await create_program(client, key, name="Unverified circle")
    path = f"/programs/{program['id']}"

    for headers in ({}, bearer(other_unverified), bearer(other_verified)):
        assert (await client.get(path, headers=headers)).status_code == 404, headers
        assert (await client.get(f"{path}/evaluations", headers=headers)).status_code == 404
        listed = (await client.get("/programs", headers=headers)).json()
        assert program["id"] not in [p["id"] for p in listed["items"]] and listed["total"] == 0
        by_text = (await client.get("/programs", params={"q": "Unverified"}, headers=headers)).json()
        assert by_text["total"] == 0
    for headers in (bearer(key), bearer(steward)):
        assert (await client.get(path, headers=headers)).status_code == 200
        listed = (await client.get("/programs", headers=headers)).json()
        assert [p["id"] for p in listed["items"]] == [program["id"]]

    verified = await client.post(f"/organizations/{org['id']}/verify", headers=bearer(steward))
    assert verified.status_code == 200
    assert (await client.get(path)).status_code == 200
    assert [p["id"] for p in (await client.get("/programs")).json()["items"]] == [program["id"]]


async def test_another_org_gets_403_on_a_verified_program_and_nothing_changes(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    _, intruder = await verified_org(client, steward)
    program, etag = await create_program(client, key, name="Owned")
    path = f"/programs/{program['id']}"

    patched = await client.patch(path, json={"name": "Hijacked"}, headers=with_etag(intruder, etag))
    assert patched.status_code == 403
    assert patched.json()["type"] == "/problems/forbidden"
    deleted = await client.delete(path, headers=with_etag(intruder, etag))
    assert deleted.status_code == 403
    assert (await client.post(f"{path}/reverify", headers=bearer(intruder))).status_code == 403
    evaluated = await client.post(
        f"{path}/evaluations", json={"stage": "pilot_planned"}, headers=bearer(intruder)
    )
    assert evaluated.status_code == 403

    row = await listing_row(db, program["id"])
    assert row.name == "Owned" and row.version == 1 and row.archived_at is None
    assert row.evaluation_stage == "none"
    assert [e.action for e in await audit_rows(db, program["id"])] == ["create"]
    assert (await client.get(path)).headers["etag"] == etag


async def test_another_org_gets_404_on_an_unverified_program_and_nothing_changes(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    _, key = await register_org(client)
    _, intruder = await verified_org(client, steward)
    program, etag = await create_program(client, key, name="Quiet")
    path = f"/programs/{program['id']}"

    assert (
        await client.patch(path, json={"name": "X"}, headers=with_etag(intruder, etag))
    ).status_code == 404
    assert (await client.delete(path, headers=with_etag(intruder, etag))).status_code == 404
    assert (await client.post(f"{path}/reverify", headers=bearer(intruder))).status_code == 404
    row = await listing_row(db, program["id"])
    assert row.name == "Quiet" and row.version == 1 and row.archived_at is None


async def test_writes_without_a_key_are_401(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    program, etag = await create_program(client, key)
    path = f"/programs/{program['id']}"
    assert (await client.patch(path, json={"name": "X"}, headers={"If-Match": etag})).status_code == 401
    assert (await client.delete(path, headers={"If-Match": etag})).status_code == 401
    assert (await client.post(f"{path}/reverify")).status_code == 401
    assert (await client.post(f"{path}/evaluations", json={"stage": "pilot_planned"})).status_code == 401
    assert (await listing_row(db, program["id"])).version == 1


async def test_a_steward_may_change_any_program(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    _, key = await register_org(client)
    program, etag = await create_program(client, key)
    path = f"/programs/{program['id']}"
    changed = await client.patch(path, json={"status": "paused"}, headers=with_etag(steward, etag))
    assert changed.status_code == 200 and changed.json()["status"] == "paused"
    event = (await audit_rows(db, program["id"]))[-1]
    assert event.action == "update" and event.actor_role == "steward" and event.changed_fields == ["status"]
    assert event.owner_organization_id == uuid.UUID(program["organization_id"])


# --- audit -------------------------------------------------------------------------------


async def test_every_change_to_a_program_is_audited_with_actor_and_fields(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    org, key = await verified_org(client, steward)
    actor = await key_id(db, key)
    program, etag = await create_program(client, key)
    path = f"/programs/{program['id']}"

    changed = await client.patch(
        path,
        json={"name": "Renamed", "capacity": 10, "formats": ["twelve_step"]},
        headers=with_etag(key, etag),
    )
    assert changed.status_code == 200
    # A PATCH that changes nothing is not a change.
    same = await client.patch(path, json={"name": "Renamed"}, headers=with_etag(key, changed.headers["etag"]))
    assert same.status_code == 200 and same.headers["etag"] == changed.headers["etag"]
    assert (
        await client.post(f"{path}/evaluations", json={"stage": "pilot_planned"}, headers=bearer(key))
    ).status_code == 201
    assert (await client.post(f"{path}/reverify", headers=bearer(key))).status_code == 200
    assert (
        await client.delete(path, headers=with_etag(key, await etag_of(client, path, key)))
    ).status_code == 204

    events = await audit_rows(db, program["id"])
    assert [e.action for e in events] == ["create", "update", "evaluation", "reverify", "archive"]
    for event in events:
        assert event.entity_type == "listing"
        assert event.actor_role == "organization"
        assert event.actor_key_id == actor
        assert event.actor_organization_id == uuid.UUID(org["id"])
        assert event.owner_organization_id == uuid.UUID(org["id"])
        assert event.at is not None
    create, upd, evaluation, reverify, archive = events
    assert {"name", "side", "formats", "location"} <= set(create.changed_fields)
    assert upd.changed_fields == ["capacity", "name"]  # formats were already ["twelve_step"]
    assert set(evaluation.changed_fields) >= {"evaluation_stage"}
    assert reverify.changed_fields == ["last_verified_at"]
    assert archive.changed_fields == ["archived_at"]

    verification = (
        await db.scalars(select(AuditEvent).where(AuditEvent.entity_id == uuid.UUID(org["id"])))
    ).all()
    assert [e.action for e in verification] == ["create", "verify"]


async def test_audit_shows_an_org_its_own_listings_history_and_not_others(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    _, key_a = await verified_org(client, steward)
    _, key_b = await verified_org(client, steward)
    program_a, _ = await create_program(client, key_a)
    program_b, _ = await create_program(client, key_b)
    partner_a = await create_partner(client, key_a)

    seen_a = {e["entity_id"] for e in (await client.get("/audit", headers=bearer(key_a))).json()["items"]}
    seen_b = {e["entity_id"] for e in (await client.get("/audit", headers=bearer(key_b))).json()["items"]}
    assert {program_a["id"], partner_a["id"]} <= seen_a and program_b["id"] not in seen_a
    assert program_b["id"] in seen_b and not ({program_a["id"], partner_a["id"]} & seen_b)

    filtered = await client.get("/audit", params={"entity_id": program_a["id"]}, headers=bearer(key_b))
    assert filtered.status_code == 200 and filtered.json()["total"] == 0
    own = await client.get("/audit", params={"entity_id": program_a["id"]}, headers=bearer(key_a))
    items = own.json()["items"]
    assert [e["action"] for e in items] == ["create"] and items[0]["entity_type"] == "listing"
    assert "name" in items[0]["changed_fields"]
    everything = await client.get("/audit", params={"entity_id": program_b["id"]}, headers=bearer(steward))
    assert everything.json()["total"] == 1


# --- freshness -----------------------------------------------------------------------------


async def test_reverify_refreshes_last_verified_at_and_clears_stale(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    old, _ = await create_program(client, key, name="Aged")
    almost, _ = await create_program(client, key, name="Almost aged")
    fresh, _ = await create_program(client, key, name="Fresh")
    long_ago = utcnow() - timedelta(days=400)
    await db.execute(
        update(Listing).where(Listing.id == uuid.UUID(old["id"])).values(last_verified_at=long_ago)
    )
    await db.execute(
        update(Listing)
        .where(Listing.id == uuid.UUID(almost["id"]))
        .values(last_verified_at=utcnow() - timedelta(days=360))
    )
    await db.commit()

    shown = (await client.get(f"/programs/{old['id']}")).json()
    assert shown["stale"] is True
    assert (await client.get(f"/programs/{almost['id']}")).json()["stale"] is False
    assert (await client.get(f"/programs/{fresh['id']}")).json()["stale"] is False
    listed = {p["name"]: p["stale"] for p in (await client.get("/programs")).json()["items"]}
    assert listed == {"Aged": True, "Almost aged": False, "Fresh": False}

    assert (await client.post(f"/programs/{old['id']}/reverify")).status_code == 401
    response = await client.post(f"/programs/{old['id']}/reverify", headers=bearer(key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["stale"] is False
    assert response.headers["etag"] == f'"{uuid.UUID(old["id"]).hex}-2"'
    row = await listing_row(db, old["id"])
    assert row.last_verified_at > long_ago + timedelta(days=399)
    assert abs((utcnow() - row.last_verified_at).total_seconds()) < 60
    assert (await client.get(f"/programs/{old['id']}")).json()["stale"] is False
    assert (await audit_rows(db, old["id"]))[-1].action == "reverify"


# --- searching -----------------------------------------------------------------------------


async def test_program_filters_select_by_vocabulary_flags_and_text(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    org, key = await verified_org(client, steward)
    _, other_key = await verified_org(client, steward)
    circle, _ = await create_program(
        client,
        key,
        name="Harbour circle",
        side="survivors",
        formats=["mutual_aid_circle"],
        populations=["women"],
        languages=["en"],
        delivery="online",
        location=None,
        description="Gentle evening conversations",
    )
    steps, _ = await create_program(
        client,
        key,
        name="Steps group",
        formats=["twelve_step"],
        group_type="closed_group",
        populations=["men"],
        open_to_mentoring=True,
        status="planning",
    )
    foreign, _ = await create_program(client, other_key, name="Elsewhere")

    async def ids(**params: object) -> set[str]:
        response = await client.get("/programs", params=params)  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
        return {p["id"] for p in response.json()["items"]}

    assert await ids(side="survivors") == {circle["id"]}
    assert await ids(format="twelve_step") == {steps["id"], foreign["id"]}
    assert await ids(format=["mutual_aid_circle", "twelve_step"]) == {
        circle["id"],
        steps["id"],
        foreign["id"],
    }
    assert await ids(population="women") == {circle["id"]}
    assert await ids(language="en") == {circle["id"]}
    assert await ids(group_type="closed_group") == {steps["id"]}
    assert await ids(delivery="online") == {circle["id"]}
    assert await ids(open_to_mentoring="true") == {steps["id"]}
    assert await ids(status="planning") == {steps["id"]}
    assert await ids(q="evening") == {circle["id"]}
    assert await ids(q="nothingmatches") == set()
    assert await ids(organization_id=org["id"]) == {circle["id"], steps["id"]}
    assert await ids(remote_ok="true") == {circle["id"]}
    assert await ids(evaluation_stage="none") == {circle["id"], steps["id"], foreign["id"]}
    assert circle["location"]["precision"] == "remote" and circle["location"]["latitude"] is None


async def test_a_clinical_partner_must_be_a_visible_clinician_or_treatment_program(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    _, partner_org = await verified_org(client, steward)
    _, hidden_org = await register_org(client)
    clinician = await create_partner(client, partner_org, "clinician", name="Dr. Jansen")
    evaluator = await create_partner(client, partner_org, "evaluator")
    unverified = await create_partner(client, hidden_org, "treatment_program")

    program, etag = await create_program(client, key, clinical_partner_id=clinician["id"])
    assert program["clinical_partner"] == {"id": clinician["id"], "name": "Dr. Jansen"}
    assert str((await listing_row(db, program["id"])).clinical_partner_id) == clinician["id"]
    for partner_id in (evaluator["id"], unverified["id"], str(uuid.uuid4())):
        refused = await client.post(
            "/programs", json=program_body(clinical_partner_id=partner_id), headers=bearer(key)
        )
        assert refused.status_code == 404, partner_id
        changed = await client.patch(
            f"/programs/{program['id']}",
            json={"clinical_partner_id": partner_id},
            headers=with_etag(key, etag),
        )
        assert changed.status_code == 404
    assert str((await listing_row(db, program["id"])).clinical_partner_id) == clinician["id"]
    assert await listing_count(db) == 4
