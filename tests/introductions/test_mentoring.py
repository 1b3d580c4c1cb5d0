"""Mentoring between groups: a verified organization asks, for one of its programs, another
organization's program for an introduction, through the same consent flow as initiators."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Client, bearer, register_org, role_key, verified_org
from tests.listings.builders import create_program


async def two_groups(client: Client, db: AsyncSession) -> dict[str, Any]:
    steward = await role_key(db)
    _, asker = await verified_org(client, steward)
    _, asked = await verified_org(client, steward)
    mine, _ = await create_program(
        client, asker, contacts=[{"name": "Mentor lead", "email": "lead@asking.example.org"}]
    )
    theirs, _ = await create_program(
        client,
        asked,
        open_to_mentoring=True,
        contacts=[
            {"name": "Coordinator", "email": "coord@asked.example.org"},
            {"role": "Desk", "email": "desk@asked.example.org", "visibility": "public"},
        ],
    )
    return {"steward": steward, "asker": asker, "asked": asked, "mine": mine, "theirs": theirs}


async def ask(client: Client, key: str, target: str, from_program: str | None) -> Any:
    body: dict[str, Any] = {"target_id": target, "message": "Could we learn from your pilot?"}
    if from_program:
        body["from_program_id"] = from_program
    return await client.post("/introductions", json=body, headers=bearer(key))


async def test_a_program_asks_another_and_each_side_learns_the_others_contacts_once_accepted(
    client: Client, db: AsyncSession
) -> None:
    w = await two_groups(client, db)
    asked = await ask(client, w["asker"], w["theirs"]["id"], w["mine"]["id"])
    assert asked.status_code == 201, asked.text
    intro = asked.json()
    assert intro["status"] == "pending" and intro["requester_program"]["id"] == w["mine"]["id"]
    assert intro["contacts"] == []
    inbox = (await client.get("/introductions", headers=bearer(w["asked"]))).json()["items"]
    assert [i["id"] for i in inbox] == [intro["id"]]
    outbox = (await client.get("/introductions", headers=bearer(w["asker"]))).json()["items"]
    assert [i["id"] for i in outbox] == [intro["id"]]
    # Before acceptance, nobody sees the other's contacts.
    for key in (w["asker"], w["asked"]):
        seen = await client.get(f"/introductions/{intro['id']}", headers=bearer(key))
        assert seen.json()["contacts"] == [] and "coord@" not in seen.text and "lead@" not in seen.text
    # Only the asked side decides; the asking side may withdraw instead.
    assert (
        await client.post(f"/introductions/{intro['id']}/accept", headers=bearer(w["asker"]))
    ).status_code == 403
    accepted = await client.post(f"/introductions/{intro['id']}/accept", headers=bearer(w["asked"]))
    assert accepted.status_code == 200, accepted.text
    mine = (await client.get(f"/introductions/{intro['id']}", headers=bearer(w["asker"]))).json()
    assert {c["email"] for c in mine["contacts"]} == {"coord@asked.example.org", "desk@asked.example.org"}
    theirs = (await client.get(f"/introductions/{intro['id']}", headers=bearer(w["asked"]))).json()
    assert [c["email"] for c in theirs["contacts"]] == ["lead@asking.example.org"]


async def test_who_may_ask_whom(client: Client, db: AsyncSession) -> None:
    w = await two_groups(client, db)
    # Not for someone else's program, not to its own organization, not across sides.
    assert (await ask(client, w["asked"], w["theirs"]["id"], w["mine"]["id"])).status_code in (403, 422)
    own, _ = await create_program(client, w["asker"])
    assert (await ask(client, w["asker"], own["id"], w["mine"]["id"])).status_code == 422
    survivors, _ = await create_program(client, w["asked"], side="survivors")
    crossed = await ask(client, w["asker"], survivors["id"], w["mine"]["id"])
    assert crossed.status_code == 422 and "kept apart" in crossed.json()["detail"]
    both, _ = await create_program(client, w["asked"], side="both")
    assert (await ask(client, w["asker"], both["id"], w["mine"]["id"])).status_code == 201
    # An organization must name its program; an unverified one cannot ask at all.
    assert (await ask(client, w["asker"], w["theirs"]["id"], None)).status_code == 422
    _, unverified = await register_org(client)
    stranger, _ = await create_program(client, unverified)
    assert (await ask(client, unverified, w["theirs"]["id"], stranger["id"])).status_code == 403
    # And three pending to one organization at most.
    codes = [
        (await ask(client, w["asker"], w["theirs"]["id"], w["mine"]["id"])).status_code for _ in range(3)
    ]
    assert codes == [201, 201, 429]  # with the `both` one, three are pending to that organization
