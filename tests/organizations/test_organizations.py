"""Organizations and API keys through HTTP, checked in the database."""

import hashlib
import uuid

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import ApiKey, AuditEvent
from tests.factories import Client, bearer, register_org, role_key, verified_org


async def test_register_answers_key_once_and_stores_only_its_hash(client: Client, db: AsyncSession) -> None:
    org, key = await register_org(client, name="Safe Harbor Peer Circle")
    assert org["verification_status"] == "unverified"
    assert key.startswith("rk_") and len(key) >= 40

    row = (await db.scalars(select(ApiKey).where(ApiKey.organization_id == uuid.UUID(org["id"])))).one()
    assert row.key_hash == hashlib.sha256(key.encode()).digest()
    assert row.prefix == key[: len(row.prefix)] and len(row.prefix) < len(key) // 2
    # The secret is nowhere in the table, in any column.
    dump = (await db.execute(text("SELECT api_key::text FROM api_key"))).scalars().all()
    assert all(key not in line for line in dump)

    listed = await client.get(f"/organizations/{org['id']}/api-keys", headers=bearer(key))
    assert listed.status_code == 200
    assert key not in listed.text and listed.json()[0]["prefix"] == row.prefix


async def test_unverified_org_is_visible_only_to_itself_and_stewards(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    org, key = await register_org(client)
    _, other_key = await register_org(client)
    path = f"/organizations/{org['id']}"

    assert (await client.get(path)).status_code == 404
    assert (await client.get(path, headers=bearer(other_key))).status_code == 404
    assert (await client.get(path, headers=bearer(key))).status_code == 200
    assert (await client.get(path, headers=bearer(steward))).status_code == 200
    anonymous_ids = [o["id"] for o in (await client.get("/organizations")).json()["items"]]
    assert org["id"] not in anonymous_ids

    verified = await client.post(f"{path}/verify", headers=bearer(steward))
    assert verified.status_code == 200
    assert verified.json()["verification_status"] == "verified"
    assert (await client.get(path)).status_code == 200


async def test_only_stewards_verify(client: Client) -> None:
    org, key = await register_org(client)
    assert (await client.post(f"/organizations/{org['id']}/verify")).status_code == 401
    response = await client.post(f"/organizations/{org['id']}/verify", headers=bearer(key))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_missing_malformed_and_unknown_keys_get_401(client: Client) -> None:
    org, _ = await register_org(client)
    path = f"/organizations/{org['id']}/api-keys"
    for headers in (
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer short"},
        bearer("rk_" + "x" * 43),
    ):
        response = await client.post(path, headers=headers, json={})
        assert response.status_code == 401, headers
        assert response.json()["type"] == "/problems/unauthorized"


async def test_revoked_key_is_refused(client: Client, db: AsyncSession) -> None:
    org, first_key = await register_org(client)
    created = await client.post(
        f"/organizations/{org['id']}/api-keys", headers=bearer(first_key), json={"label": "laptop"}
    )
    assert created.status_code == 201
    second = created.json()
    assert (await client.get(f"/organizations/{org['id']}", headers=bearer(second["key"]))).status_code == 200

    revoked = await client.delete(f"/api-keys/{second['id']}", headers=bearer(first_key))
    assert revoked.status_code == 204
    after = await client.get(f"/organizations/{org['id']}", headers=bearer(second["key"]))
    assert after.status_code == 401
    row = await db.get(ApiKey, uuid.UUID(second["id"]))
    assert row is not None and row.revoked_at is not None
    # The first key still works.
    assert (await client.get(f"/organizations/{org['id']}", headers=bearer(first_key))).status_code == 200


async def test_an_org_cannot_revoke_or_mint_another_orgs_keys(client: Client) -> None:
    _, key_a = await register_org(client)
    org_b, key_b = await register_org(client)
    keys_b = (await client.get(f"/organizations/{org_b['id']}/api-keys", headers=bearer(key_b))).json()
    assert (await client.delete(f"/api-keys/{keys_b[0]['id']}", headers=bearer(key_a))).status_code == 404
    minted = await client.post(f"/organizations/{org_b['id']}/api-keys", headers=bearer(key_a), json={})
    assert minted.status_code == 404  # org B is unverified, so invisible to A
    assert (await client.get(f"/organizations/{org_b['id']}", headers=bearer(key_b))).status_code == 200


async def test_patch_needs_if_match_and_refuses_stale_etags(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    org, key = await verified_org(client, steward)
    path = f"/organizations/{org['id']}"
    read = await client.get(path, headers=bearer(key))
    etag = read.headers["etag"]

    missing = await client.patch(path, headers=bearer(key), json={"name": "Renamed"})
    assert missing.status_code == 428

    ok = await client.patch(path, headers={**bearer(key), "If-Match": etag}, json={"name": "Renamed"})
    assert ok.status_code == 200 and ok.json()["name"] == "Renamed"
    assert ok.headers["etag"] != etag

    stale = await client.patch(path, headers={**bearer(key), "If-Match": etag}, json={"name": "Lost"})
    assert stale.status_code == 412
    assert (await client.get(path)).json()["name"] == "Renamed"


async def test_other_org_gets_403_on_a_visible_org_and_server_fields_are_refused(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    org, key = await verified_org(client, steward)
    _, other = await register_org(client)
    path = f"/organizations/{org['id']}"
    etag = (await client.get(path)).headers["etag"]
    forbidden = await client.patch(path, headers={**bearer(other), "If-Match": etag}, json={"name": "X"})
    assert forbidden.status_code == 403
    smuggled = await client.patch(
        path, headers={**bearer(key), "If-Match": etag}, json={"verification_status": "verified"}
    )
    assert smuggled.status_code == 422
    assert "verification_status" in smuggled.json()["detail"]


async def test_unknown_kind_is_422_naming_the_allowed_codes(client: Client) -> None:
    response = await client.post("/organizations", json={"name": "X", "kinds": ["cult"]})
    assert response.status_code == 422
    body = response.json()
    assert "kinds" in body["detail"] and "clinician" in body["detail"]


async def test_changes_are_audited_in_the_same_transaction(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    org, key = await verified_org(client, steward)
    org_id = uuid.UUID(org["id"])
    actions = (
        await db.scalars(
            select(AuditEvent.action).where(AuditEvent.entity_id == org_id).order_by(AuditEvent.id)
        )
    ).all()
    assert actions == ["create", "verify"]

    own = await client.get("/audit", headers=bearer(key))
    assert own.status_code == 200
    assert {e["entity_id"] for e in own.json()["items"]} >= {org["id"]}
    _, other = await register_org(client)
    foreign = (await client.get("/audit", headers=bearer(other))).json()["items"]
    assert org["id"] not in {e["entity_id"] for e in foreign}
    assert (await client.get("/audit")).status_code == 401
    everything = await client.get("/audit", params={"entity_id": org["id"]}, headers=bearer(steward))
    assert everything.json()["total"] == 2


async def test_lists_are_paged_and_capped(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    for _ in range(3):
        await register_org(client)
    page = await client.get("/organizations", params={"per_page": 2}, headers=bearer(steward))
    assert page.status_code == 200
    body = page.json()
    assert len(body["items"]) == 2 and body["total"] >= 3
    assert (await client.get("/organizations", params={"per_page": 1000})).status_code in (400, 422)
