"""Stewards can take an organization down at once (a fake support group is a way to find victims):
its listings and contacts leave every read, search, match, report and HSDS answer, its keys stop
working, pending introductions to it close, and nothing is deleted, so reinstating restores it."""

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import Role
from registry.models import AuditEvent, Contact, Introduction, Listing
from tests.factories import Client, bearer, register_org, role_key, verified_org
from tests.listings.builders import UTRECHT, create_program

EMAIL = "intake@fake-group.example.org"


async def suspend(client: Client, steward: str, org_id: str, reason: str = "A fake group") -> Any:
    return await client.post(
        f"/organizations/{org_id}/suspend", json={"reason": reason}, headers=bearer(steward)
    )


async def everywhere(client: Client, funder: str, program_id: str) -> dict[str, bool]:
    """Where the program (or its contact) shows, read as an anonymous client and as a funder."""
    near = await client.get("/programs", params={"near": "Utrecht, NL", "radius_km": 25})
    match = await client.post(
        "/matches", json={"location": {"place": "Utrecht, NL"}, "needs": ["peer_program"], "per_kind": 20}
    )
    hsds = await client.get("/hsds/services", params={"per_page": 50})
    report = (await client.get("/reports/programs", headers=bearer(funder))).json()
    total = next(r for r in report["tables"][0]["rows"] if r["key"] == {})["values"]["programs"]["value"]
    return {
        "read": (await client.get(f"/programs/{program_id}")).status_code == 200,
        "search": program_id in near.text or EMAIL in near.text,
        "match": program_id in match.text or EMAIL in match.text,
        "hsds list": EMAIL in hsds.text or "Fake circle" in hsds.text,
        "report": total,
    }


async def test_a_suspended_organization_vanishes_at_once_and_comes_back_whole(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    funder = await role_key(db, Role.FUNDER)
    org, key = await verified_org(client, steward)
    program, _ = await create_program(
        client,
        key,
        name="Fake circle",
        location={"latitude": UTRECHT[0], "longitude": UTRECHT[1]},
        contacts=[{"name": "Intake", "email": EMAIL, "visibility": "public"}],
    )
    before = await everywhere(client, funder, program["id"])
    assert before["read"] and before["search"] and before["match"] and before["hsds list"]

    suspended = await suspend(client, steward, org["id"])
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["verification_status"] == "suspended"
    assert suspended.json()["suspended_at"] is not None
    during = await everywhere(client, funder, program["id"])
    assert not (during["read"] or during["search"] or during["match"] or during["hsds list"]), during
    assert during["report"] != before["report"]
    assert (await client.get(f"/hsds/services/{program['id']}")).status_code == 404
    assert (await client.get(f"/organizations/{org['id']}")).status_code == 404
    # Its keys stop working, saying why.
    refused = await client.get(f"/programs/{program['id']}", headers=bearer(key))
    assert refused.status_code == 401
    assert "suspended" in refused.json()["detail"]
    # Stewards still see it all, to decide.
    assert (await client.get(f"/programs/{program['id']}", headers=bearer(steward))).status_code == 200
    # Nothing was deleted.
    assert await db.scalar(select(func.count()).where(Listing.organization_id == uuid.UUID(org["id"]))) == 1
    assert await db.scalar(select(func.count()).where(Contact.email == EMAIL)) == 1

    reinstated = await client.post(
        f"/organizations/{org['id']}/reinstate", json={"reason": "Checked in person"}, headers=bearer(steward)
    )
    assert reinstated.status_code == 200, reinstated.text
    assert reinstated.json()["verification_status"] == "verified"
    assert reinstated.json()["suspended_at"] is None
    assert await everywhere(client, funder, program["id"]) == before
    assert (await client.get(f"/programs/{program['id']}", headers=bearer(key))).status_code == 200

    events = (
        await db.execute(
            select(AuditEvent.action, AuditEvent.note)
            .where(
                AuditEvent.entity_id == uuid.UUID(org["id"]), AuditEvent.action.in_(["suspend", "reinstate"])
            )
            .order_by(AuditEvent.id)
        )
    ).all()
    assert [tuple(e) for e in events] == [("suspend", "A fake group"), ("reinstate", "Checked in person")]


async def test_pending_introductions_to_a_suspended_organization_close(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    org, key = await verified_org(client, steward)
    program, _ = await create_program(client, key)
    initiator = (
        await client.post("/initiators", json={"display_name": "Sam", "email": "sam@example.org"})
    ).json()
    asked = []
    for message in ("first", "second"):
        response = await client.post(
            "/introductions",
            json={"target_id": program["id"], "message": message},
            headers=bearer(initiator["key"]),
        )
        assert response.status_code == 201, response.text
        asked.append(response.json()["id"])
    accepted = await client.post(f"/introductions/{asked[0]}/accept", headers=bearer(key))
    assert accepted.status_code == 200
    assert (await suspend(client, steward, org["id"])).status_code == 200
    statuses = dict(
        (
            await db.execute(
                select(Introduction.id, Introduction.status).execution_options(populate_existing=True)
            )
        ).all()
    )
    assert statuses[uuid.UUID(asked[0])] == "accepted"  # what was agreed stays as it was
    assert statuses[uuid.UUID(asked[1])] == "closed"
    seen = await client.get(f"/introductions/{asked[1]}", headers=bearer(initiator["key"]))
    assert seen.json()["status"] == "closed"
    # A new request to it is refused: it is not listed.
    again = await client.post(
        "/introductions",
        json={"target_id": program["id"], "message": "third"},
        headers=bearer(initiator["key"]),
    )
    assert again.status_code == 404


async def test_only_stewards_suspend_with_a_reason(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    org, key = await verified_org(client, steward)
    assert (await suspend(client, key, org["id"])).status_code == 403
    anonymous = await client.post(f"/organizations/{org['id']}/suspend", json={"reason": "x"})
    assert anonymous.status_code == 401
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        refused = await client.post(f"/organizations/{org['id']}/suspend", json=body, headers=bearer(steward))
        assert refused.status_code in (400, 422), (body, refused.text)
    assert (await suspend(client, steward, str(uuid.uuid4()))).status_code == 404
    assert (await suspend(client, steward, org["id"])).status_code == 200
    assert (await suspend(client, steward, org["id"])).status_code == 409  # already suspended
    # Verifying does not lift a suspension: reinstating does.
    assert (
        await client.post(f"/organizations/{org['id']}/verify", headers=bearer(steward))
    ).status_code == 409


async def test_an_unverified_organization_is_reinstated_unverified(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    org, key = await register_org(client)
    assert (await suspend(client, steward, org["id"])).status_code == 200
    assert (await client.get("/audit", headers=bearer(key))).status_code == 401
    reinstated = await client.post(f"/organizations/{org['id']}/reinstate", json={}, headers=bearer(steward))
    assert reinstated.status_code == 200
    assert reinstated.json()["verification_status"] == "unverified"
    assert (
        await client.post(f"/organizations/{org['id']}/reinstate", json={}, headers=bearer(steward))
    ).status_code == 409
