"""Contact visibility through HTTP: `on_introduction` contacts never leave through listings,
`verified_orgs` ones reach verified organizations and stewards, `public` ones everybody."""

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import Role
from registry.models import AuditEvent
from tests.factories import Client, bearer, register_org, role_key, verified_org
from tests.listings.builders import (
    audit_rows,
    contact_rows,
    create_partner,
    create_program,
    items_of,
    with_etag,
)

PUBLIC = {"name": "Front desk", "email": "frontdesk@harbour.example", "visibility": "public"}
VERIFIED = {
    "role": "Coordinator",
    "email": "coordinator@harbour.example",
    "phone": "+31 30 555 0101",
    "visibility": "verified_orgs",
}
INTRODUCTION = {
    "name": "Lead facilitator",
    "email": "facilitator@harbour.example",
    "phone": "+31 6 5550 9999",
}
SECRETS = ("facilitator@harbour.example", "5550 9999")
CONTACTS = [PUBLIC, VERIFIED, INTRODUCTION]


def shown_emails(response: httpx.Response) -> list[set[str]]:
    return [{c["email"] for c in item["contacts"]} for item in items_of(response)]


def hidden_counts(response: httpx.Response) -> list[int]:
    return [item["hidden_contacts"] for item in items_of(response)]


def assert_no_secret(response: httpx.Response) -> None:
    for secret in SECRETS:
        assert secret not in response.text, (secret, response.request.method, response.request.url)


async def test_on_introduction_is_the_default_and_is_shown_to_nobody(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    funder = await role_key(db, Role.FUNDER)
    _, owner = await verified_org(client, steward)
    _, verified_other = await verified_org(client, steward)
    _, unverified_other = await register_org(client)

    created = await client.post(
        "/programs",
        json={
            "name": "Harbour circle",
            "side": "people_who_use_violence",
            "location": {"place": "Utrecht, NL"},
            "contacts": CONTACTS,
        },
        headers=bearer(owner),
    )
    assert created.status_code == 201, created.text
    assert_no_secret(created)
    program = created.json()
    path = f"/programs/{program['id']}"
    assert shown_emails(created) == [{PUBLIC["email"], VERIFIED["email"]}]
    assert hidden_counts(created) == [1]

    rows = await contact_rows(db, program["id"])
    assert [r.visibility for r in rows] == ["public", "verified_orgs", "on_introduction"]
    assert rows[2].email == INTRODUCTION["email"]  # stored, just never shown

    everyone = {PUBLIC["email"]}
    verified = {PUBLIC["email"], VERIFIED["email"]}
    viewers = {
        "anonymous": ({}, everyone),
        "unverified org": (bearer(unverified_other), everyone),
        "funder": (bearer(funder), everyone),
        "verified org": (bearer(verified_other), verified),
        "owner": (bearer(owner), verified),
        "steward": (bearer(steward), verified),
    }
    for viewer, (headers, expected) in viewers.items():
        for response in (
            await client.get(path, headers=headers),
            await client.get("/programs", headers=headers),
            await client.get("/programs", params={"near": "Utrecht, NL"}, headers=headers),
            await client.get("/programs", params={"q": "Harbour"}, headers=headers),
        ):
            assert_no_secret(response)
            assert shown_emails(response) == [expected], (viewer, response.request.url)
            assert hidden_counts(response) == [3 - len(expected)], viewer
            for item in items_of(response):
                assert all(c["visibility"] != "on_introduction" for c in item["contacts"])

    etag = (await client.get(path, headers=bearer(owner))).headers["etag"]
    for headers in (bearer(owner), bearer(steward)):
        patched = await client.patch(path, json={"capacity": 9}, headers={**headers, "If-Match": etag})
        assert_no_secret(patched)
        assert hidden_counts(patched) == [1]
        etag = patched.headers["etag"]
        reverified = await client.post(f"{path}/reverify", headers=headers)
        assert_no_secret(reverified)
        etag = reverified.headers["etag"]
    evaluation = await client.post(
        f"{path}/evaluations", json={"stage": "pilot_planned"}, headers=bearer(owner)
    )
    assert_no_secret(evaluation)
    audit = await client.get("/audit", headers=bearer(steward))
    assert_no_secret(audit)


async def test_an_unverified_owner_sees_its_verified_orgs_contacts_hidden_too(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    org, key = await register_org(client)
    program, _ = await create_program(client, key, contacts=CONTACTS)
    assert {c["email"] for c in program["contacts"]} == {PUBLIC["email"]}
    assert program["hidden_contacts"] == 2
    await client.post(f"/organizations/{org['id']}/verify", headers=bearer(steward))
    mine = (await client.get(f"/programs/{program['id']}", headers=bearer(key))).json()
    assert {c["email"] for c in mine["contacts"]} == {PUBLIC["email"], VERIFIED["email"]}


async def test_partner_contacts_follow_the_same_rules(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    _, owner = await verified_org(client, steward)
    _, verified_other = await verified_org(client, steward)
    _, unverified_other = await register_org(client)
    partner = await create_partner(client, owner, "evaluator", contacts=CONTACTS, methods=["qualitative"])
    assert partner["hidden_contacts"] == 1
    path = f"/partners/{partner['id']}"
    for headers, expected in (
        ({}, {PUBLIC["email"]}),
        (bearer(unverified_other), {PUBLIC["email"]}),
        (bearer(verified_other), {PUBLIC["email"], VERIFIED["email"]}),
        (bearer(steward), {PUBLIC["email"], VERIFIED["email"]}),
    ):
        for response in (
            await client.get(path, headers=headers),
            await client.get("/partners", headers=headers),
            await client.get(
                "/partners", params={"near": "Utrecht, NL", "kind": "evaluator"}, headers=headers
            ),
        ):
            assert_no_secret(response)
            assert shown_emails(response) == [expected]
            assert hidden_counts(response) == [3 - len(expected)]


async def test_changing_a_contacts_visibility_is_audited(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    org, key = await verified_org(client, steward)
    program, etag = await create_program(client, key, contacts=CONTACTS)
    path = f"/programs/{program['id']}"

    opened = [PUBLIC, VERIFIED, {**INTRODUCTION, "visibility": "public"}]
    changed = await client.patch(path, json={"contacts": opened}, headers=with_etag(key, etag))
    assert changed.status_code == 200, changed.text
    assert changed.json()["hidden_contacts"] == 0
    rows = await contact_rows(db, program["id"])
    assert [r.visibility for r in rows] == ["public", "verified_orgs", "public"]

    events = await audit_rows(db, program["id"])
    assert [e.action for e in events] == ["create", "contact_visibility", "update"]
    visibility = events[1]
    assert visibility.actor_organization_id is not None and str(visibility.actor_organization_id) == org["id"]
    assert visibility.changed_fields == ["contacts.visibility"]
    assert events[2].changed_fields == ["contacts"]
    anonymous = (await client.get(path)).json()
    assert INTRODUCTION["email"] in {c["email"] for c in anonymous["contacts"]}

    # Closing it again is a visibility change too; the org reads it in its own audit log.
    closed = await client.patch(
        path, json={"contacts": CONTACTS}, headers=with_etag(key, changed.headers["etag"])
    )
    assert closed.status_code == 200
    assert INTRODUCTION["email"] not in (await client.get(path)).text
    count = len(
        (
            await db.scalars(
                select(AuditEvent).where(
                    AuditEvent.entity_id == events[0].entity_id, AuditEvent.action == "contact_visibility"
                )
            )
        ).all()
    )
    assert count == 2
    own = (await client.get("/audit", params={"entity_id": program["id"]}, headers=bearer(key))).json()
    assert [e["action"] for e in own["items"]].count("contact_visibility") == 2


async def test_contacts_need_a_way_to_reach_and_a_name_or_role(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    for contact, field in (
        ({"name": "No way to reach"}, "contacts[0]"),
        ({"email": "nobody@example.org"}, "contacts[0]"),
        ({"name": "Bad", "email": "not-an-email"}, "email"),
        ({"name": "Bad", "email": "x@example.org", "visibility": "everyone"}, "visibility"),
    ):
        response = await client.post(
            "/programs",
            json={
                "name": "X",
                "side": "people_who_use_violence",
                "location": {"place": "Utrecht, NL"},
                "contacts": [contact],
            },
            headers=bearer(key),
        )
        assert response.status_code == 422, contact
        assert field in response.json()["detail"] or field in str(response.json().get("errors")), (
            response.text
        )


async def test_opening_a_contact_while_renaming_it_is_still_a_visibility_change(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    program, etag = await create_program(client, key, contacts=[INTRODUCTION])
    renamed_and_opened = {**INTRODUCTION, "name": "Lead facilitator (Anna)", "visibility": "public"}
    changed = await client.patch(
        f"/programs/{program['id']}", json={"contacts": [renamed_and_opened]}, headers=with_etag(key, etag)
    )
    assert changed.status_code == 200
    # The email that was on_introduction is public now.
    assert INTRODUCTION["email"] in (await client.get(f"/programs/{program['id']}")).text
    actions = [e.action for e in await audit_rows(db, program["id"])]
    assert "contact_visibility" in actions
