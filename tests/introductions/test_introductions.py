"""Initiators and consent-based introductions: caps, reveals to exactly two sides, erasure."""

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import ApiKey, AuditEvent, Initiator, Introduction
from tests.factories import Client, bearer, register_org, role_key, verified_org
from tests.matching.fixtures import UTRECHT


async def new_initiator(client: Client, email: str = "ini@example.org") -> tuple[dict[str, Any], str]:
    response = await client.post(
        "/initiators",
        json={
            "display_name": "Robin",
            "email": email,
            "location": UTRECHT,
            "side": "survivors",
            "needs": ["clinician"],
            "pathway_step": 2,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["initiator"], response.json()["key"]


async def listing_with_secret(client: Client, db: AsyncSession) -> tuple[dict[str, Any], str]:
    steward = await role_key(db)
    _, key = await verified_org(client, steward, kinds=["clinician"])
    response = await client.post(
        "/partners",
        json={
            "kind": "clinician",
            "name": "Dr Safe",
            "location": UTRECHT,
            "contacts": [
                {"name": "Dr Safe", "email": "hidden-doc@example.org", "visibility": "on_introduction"}
            ],
        },
        headers=bearer(key),
    )
    assert response.status_code == 201
    return response.json(), key


async def test_initiator_profile_is_coarse_and_key_shown_once(client: Client, db: AsyncSession) -> None:
    created = await client.post(
        "/initiators",
        json={
            "display_name": "Jo",
            "email": "jo@example.org",
            "location": {"latitude": 52.09071, "longitude": 5.12142},
            "pathway_step": 3,
        },
    )
    assert created.status_code == 201
    body = created.json()
    key = body["key"]
    row = await db.get(Initiator, body["initiator"]["id"])
    assert row is not None
    assert (row.latitude, row.longitude) != (52.09071, 5.12142)
    me = await client.get("/initiators/me", headers=bearer(key))
    assert me.status_code == 200
    assert key not in me.text
    assert "52.09071" not in me.text
    patched = await client.patch(
        "/initiators/me", json={"pathway_step": 4}, headers={**bearer(key), "If-Match": me.headers["etag"]}
    )
    assert patched.json()["pathway_step"] == 4
    assert (await client.get("/initiators/me")).status_code == 401
    bad = await client.post(
        "/initiators", json={"display_name": "X", "email": "x@example.org", "pathway_step": 7}
    )
    assert bad.status_code == 422


async def test_contacts_revealed_only_after_accept_to_exactly_the_two_sides(
    client: Client, db: AsyncSession
) -> None:
    listing, org_key = await listing_with_secret(client, db)
    _, ini_key = await new_initiator(client, "robin@example.org")
    created = await client.post(
        "/introductions", json={"target_id": listing["id"], "message": "Hello"}, headers=bearer(ini_key)
    )
    assert created.status_code == 201, created.text
    intro_id = created.json()["id"]
    path = f"/introductions/{intro_id}"

    # Pending: nobody sees the secret contact or the initiator's email.
    for key in (ini_key, org_key):
        pending = await client.get(path, headers=bearer(key))
        assert pending.status_code == 200
        assert "hidden-doc@example.org" not in pending.text
        assert "robin@example.org" not in pending.text
    inbox = await client.get("/introductions", headers=bearer(org_key))
    assert [i["id"] for i in inbox.json()["items"]] == [intro_id]

    # The initiator cannot accept; the organization can.
    assert (await client.post(f"{path}/accept", headers=bearer(ini_key))).status_code == 403
    assert (await client.post(f"{path}/accept", headers=bearer(org_key))).status_code == 200
    assert (await client.post(f"{path}/decline", headers=bearer(org_key))).status_code == 409

    seen_by_initiator = await client.get(path, headers=bearer(ini_key))
    assert "hidden-doc@example.org" in seen_by_initiator.text
    seen_by_org = await client.get(path, headers=bearer(org_key))
    assert seen_by_org.json()["initiator"]["email"] == "robin@example.org"

    # Nobody else: another org, a steward, another initiator, anonymous.
    _, other_org = await register_org(client)
    steward = await role_key(db)
    _, other_ini = await new_initiator(client, "other@example.org")
    for headers in (bearer(other_org), bearer(other_ini), {}):
        response = await client.get(path, headers=headers)
        assert response.status_code in (401, 404)
        assert "hidden-doc@example.org" not in response.text
    assert (await client.get(path, headers=bearer(steward))).status_code == 403
    # Listing endpoints still never show it.
    assert "hidden-doc@example.org" not in (await client.get(f"/partners/{listing['id']}")).text
    reveals = await db.scalar(
        select(func.count()).where(AuditEvent.action == "contact_reveal", AuditEvent.entity_id == intro_id)
    )
    assert reveals == 2


async def test_caps_answer_429_with_retry_after(client: Client, db: AsyncSession) -> None:
    listing, _ = await listing_with_secret(client, db)
    _, ini_key = await new_initiator(client)
    for n in range(3):
        ok = await client.post(
            "/introductions", json={"target_id": listing["id"], "message": f"m{n}"}, headers=bearer(ini_key)
        )
        assert ok.status_code == 201
    capped = await client.post(
        "/introductions", json={"target_id": listing["id"], "message": "again"}, headers=bearer(ini_key)
    )
    assert capped.status_code == 429
    assert int(capped.headers["retry-after"]) > 0

    # Daily cap: 10 a day across organizations.
    steward = await role_key(db)
    targets = []
    for _ in range(4):
        _, key = await verified_org(client, steward, kinds=["trainer"])
        for _ in range(2):
            t = await client.post(
                "/partners", json={"kind": "trainer", "name": "T", "location": UTRECHT}, headers=bearer(key)
            )
            targets.append(t.json()["id"])
    statuses = []
    for target in targets:
        r = await client.post(
            "/introductions", json={"target_id": target, "message": "hi"}, headers=bearer(ini_key)
        )
        statuses.append(r.status_code)
    assert statuses.count(201) == 7  # 3 earlier + 7 = 10
    assert statuses[-1] == 429


async def test_pending_expire_after_30_days(client: Client, db: AsyncSession) -> None:
    listing, org_key = await listing_with_secret(client, db)
    _, ini_key = await new_initiator(client)
    created = await client.post(
        "/introductions", json={"target_id": listing["id"], "message": "hi"}, headers=bearer(ini_key)
    )
    intro_id = created.json()["id"]
    await db.execute(
        update(Introduction)
        .where(Introduction.id == intro_id)
        .values(created_at=func.now() - timedelta(days=31), expires_at=func.now() - timedelta(days=1))
    )
    await db.commit()
    got = await client.get(f"/introductions/{intro_id}", headers=bearer(org_key))
    assert got.json()["status"] == "expired"
    assert (
        await client.post(f"/introductions/{intro_id}/accept", headers=bearer(org_key))
    ).status_code == 409


async def test_erasure_leaves_only_what_the_partner_received(client: Client, db: AsyncSession) -> None:
    listing, org_key = await listing_with_secret(client, db)
    initiator, ini_key = await new_initiator(client, "erase-me@example.org")
    accepted = (
        await client.post(
            "/introductions",
            json={"target_id": listing["id"], "message": "accepted one"},
            headers=bearer(ini_key),
        )
    ).json()["id"]
    pending = (
        await client.post(
            "/introductions",
            json={"target_id": listing["id"], "message": "pending one"},
            headers=bearer(ini_key),
        )
    ).json()["id"]
    await client.post(f"/introductions/{accepted}/accept", headers=bearer(org_key))

    etag = (await client.get("/initiators/me", headers=bearer(ini_key))).headers["etag"]
    erased = await client.delete("/initiators/me", headers={**bearer(ini_key), "If-Match": etag})
    assert erased.status_code == 204
    assert (await client.get("/initiators/me", headers=bearer(ini_key))).status_code == 401
    assert await db.get(Initiator, initiator["id"]) is None
    assert await db.scalar(select(func.count()).where(ApiKey.initiator_id == initiator["id"])) == 0
    assert await db.get(Introduction, pending) is None
    kept = await db.get(Introduction, accepted, populate_existing=True)
    assert kept is not None
    assert kept.initiator_id is None
    assert kept.message == "accepted one"
    seen = await client.get(f"/introductions/{accepted}", headers=bearer(org_key))
    assert seen.json()["initiator"]["email"] == "erase-me@example.org"
    # Nothing else of the initiator survives anywhere.
    dump = (
        await db.execute(text("SELECT count(*) FROM initiator WHERE email = 'erase-me@example.org'"))
    ).scalar()
    assert dump == 0


async def test_introduction_input_errors(client: Client, db: AsyncSession) -> None:
    listing, org_key = await listing_with_secret(client, db)
    _, ini_key = await new_initiator(client)
    long = await client.post(
        "/introductions", json={"target_id": listing["id"], "message": "x" * 2001}, headers=bearer(ini_key)
    )
    assert long.status_code == 422
    missing = await client.post(
        "/introductions",
        json={"target_id": "00000000-0000-0000-0000-000000000000", "message": "x"},
        headers=bearer(ini_key),
    )
    assert missing.status_code == 404
    org_tries = await client.post(
        "/introductions", json={"target_id": listing["id"], "message": "x"}, headers=bearer(org_key)
    )
    # An organization asks for one of its programs (mentoring between groups): it must say which.
    assert org_tries.status_code == 422 and "from_program_id" in org_tries.json()["detail"]
    anonymous = await client.post("/introductions", json={"target_id": listing["id"], "message": "x"})
    assert anonymous.status_code == 401
