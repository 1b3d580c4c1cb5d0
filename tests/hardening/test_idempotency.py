"""Idempotency-Key: a retry returns the first answer and creates nothing; another body is 422."""

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import Organization
from tests.factories import Client


async def count_named(db: AsyncSession, name: str) -> int:
    return int(await db.scalar(select(func.count()).where(Organization.name == name)) or 0)


async def test_retry_with_the_same_key_replays_the_first_answer(client: Client, db: AsyncSession) -> None:
    name = f"Idempotent {uuid.uuid4()}"
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"name": name, "kinds": ["trainer"]}
    first = await client.post("/organizations", json=body, headers=headers)
    again = await client.post("/organizations", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replay") == "true"
    assert await count_named(db, name) == 1


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
