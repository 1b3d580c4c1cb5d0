"""Idempotency-Key: a retry returns the first answer and creates nothing; another body is 422.
A retry of a create that issued an API key never gets the key: it is not kept anywhere."""

import importlib.util
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import IdempotencyRecord, Listing, Organization
from tests.factories import Client, bearer, role_key, verified_org


async def count_named(db: AsyncSession, name: str) -> int:
    return int(await db.scalar(select(func.count()).where(Organization.name == name)) or 0)


async def test_retry_with_the_same_key_replays_the_first_answer(client: Client, db: AsyncSession) -> None:
    _, key = await verified_org(client, await role_key(db))
    name = f"Idempotent {uuid.uuid4()}"
    headers = {"Idempotency-Key": str(uuid.uuid4()), **bearer(key)}
    body = {"name": name, "side": "survivors", "delivery": "online"}
    first = await client.post("/programs", json=body, headers=headers)
    again = await client.post("/programs", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replay") == "true"
    assert await db.scalar(select(func.count()).where(Listing.name == name)) == 1


async def test_same_key_other_body_is_refused(client: Client, db: AsyncSession) -> None:
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    name = f"Idem {uuid.uuid4()}"
    assert (
        await client.post("/organizations", json={"name": name, "kinds": ["trainer"]}, headers=headers)
    ).status_code == 201
    other = await client.post(
        "/organizations", json={"name": name + "!", "kinds": ["trainer"]}, headers=headers
    )
    assert other.status_code == 422
    assert other.headers["content-type"].startswith("application/problem+json")
    assert await count_named(db, name + "!") == 0


async def test_without_a_key_each_request_creates(client: Client, db: AsyncSession) -> None:
    name = f"Twice {uuid.uuid4()}"
    for _ in range(2):
        assert (
            await client.post("/organizations", json={"name": name, "kinds": ["trainer"]})
        ).status_code == 201
    assert await count_named(db, name) == 2


async def test_failed_requests_are_not_remembered(client: Client, db: AsyncSession) -> None:
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    bad = await client.post("/organizations", json={"name": "", "kinds": ["trainer"]}, headers=headers)
    assert bad.status_code == 422
    name = f"After failure {uuid.uuid4()}"
    # The same key may now carry a corrected request.
    ok = await client.post("/organizations", json={"name": name, "kinds": ["trainer"]}, headers=headers)
    assert ok.status_code == 201
    long_key = await client.post(
        "/organizations", json={"name": "x", "kinds": ["trainer"]}, headers={"Idempotency-Key": "k" * 201}
    )
    assert long_key.status_code == 422


KEY = re.compile(r"rk_[A-Za-z0-9_-]{20,}")
Create = tuple[str, dict[str, Any], dict[str, str], str, str]


async def key_issuing_creates(client: Client, db: AsyncSession) -> list[Create]:
    """(path, body, headers, where the key is, a path the key may read) for every create that
    answers a new API key."""
    steward = await role_key(db)
    org, org_key = await verified_org(client, steward)
    return [
        ("/organizations", {"name": f"Org {uuid.uuid4()}", "kinds": ["trainer"]}, {}, "api_key", "/audit"),
        ("/initiators", {"display_name": "Sam", "email": "sam@example.org"}, {}, "key", "/initiators/me"),
        (f"/organizations/{org['id']}/api-keys", {"label": "second"}, bearer(org_key), "key", "/audit"),
        ("/api-keys", {"role": "steward", "label": "steward"}, bearer(steward), "key", "/audit"),
    ]


def key_in(answer: dict[str, Any], where: str) -> str:
    value = answer[where]
    return str(value["key"] if isinstance(value, dict) else value)


async def test_a_replayed_key_issuing_create_withholds_the_key(client: Client, db: AsyncSession) -> None:
    for path, body, headers, where, readable in await key_issuing_creates(client, db):
        idempotent = {**headers, "Idempotency-Key": str(uuid.uuid4())}
        first = await client.post(path, json=body, headers=idempotent)
        assert first.status_code == 201, (path, first.text)
        issued = key_in(first.json(), where)
        again = await client.post(path, json=body, headers=idempotent)
        assert again.status_code == 409, (path, again.text)
        assert again.headers["content-type"].startswith("application/problem+json")
        assert again.headers.get("idempotent-replay") == "true"
        problem = again.json()
        assert problem["type"] == "/problems/key-shown-once"
        assert "shown once" in problem["detail"]
        assert issued not in again.text and not KEY.search(again.text), path
        # The created resource comes back without its key, so the client learns what exists.
        assert isinstance(problem["resource"], dict) and problem["resource"]
        # The key of the first answer still works: the replay neither revoked nor replaced it.
        assert (await client.get(readable, headers=bearer(issued))).status_code == 200, path


async def test_no_stored_row_holds_a_key_that_authenticates(client: Client, db: AsyncSession) -> None:
    issued = []
    for path, body, headers, where, _ in await key_issuing_creates(client, db):
        response = await client.post(
            path, json=body, headers={**headers, "Idempotency-Key": str(uuid.uuid4())}
        )
        assert response.status_code == 201
        issued.append(key_in(response.json(), where))
    tables = (await db.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))).scalars()
    for table in list(tables):
        rows = (await db.execute(text(f'SELECT row_to_json(t)::text FROM "{table}" t'))).scalars().all()  # noqa: S608
        dump = "\n".join(rows)
        for key in issued:
            # As text, and as the hex that row_to_json prints for bytea (the stored bodies).
            assert key not in dump and key.encode().hex() not in dump, table


def migration(revision: str) -> Any:
    path = next((Path(__file__).parents[2] / "migrations" / "versions").glob(f"{revision}_*.py"))
    spec = importlib.util.spec_from_file_location(f"migration_{revision}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_migration_removes_keys_already_stored(db: AsyncSession) -> None:
    secret = "rk_" + "A" * 43
    body = f'{{"organization":{{"id":"x"}},"api_key":{{"key":"{secret}","prefix":"rk_AAAAAAAA"}}}}'
    scope = f"test:{uuid.uuid4()}"
    db.add(
        IdempotencyRecord(
            scope=scope,
            request_hash=b"x",
            status_code=201,
            content_type="application/json",
            body=body.encode(),
        )
    )
    await db.flush()
    await (await db.connection()).run_sync(migration("0016").withhold_stored_keys)
    stored, withheld = (
        await db.execute(
            select(IdempotencyRecord.body, IdempotencyRecord.key_withheld)
            .where(IdempotencyRecord.scope == scope)
            .execution_options(populate_existing=True)
        )
    ).one()
    assert secret.encode() not in stored and b'"prefix":"rk_AAAAAAAA"' in stored
    assert withheld is True


@pytest.mark.parametrize("path", ["/organizations", "/initiators", "/api-keys"])
async def test_the_schema_documents_the_replay_of_a_key_issuing_create(client: Client, path: str) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    responses = schema["paths"][path]["post"]["responses"]
    assert "409" in responses
    assert "shown once" in responses["409"]["description"]
    assert "application/problem+json" in responses["409"]["content"]
