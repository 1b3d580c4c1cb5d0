"""Limits that hold against a determined client: counted per organization whatever key it uses,
over any 60 seconds (not per clock minute), per real client behind trusted proxies only, on
keys minted, on nesting and on slow bodies; and writes that need the current ETag."""

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from registry.app import create_app
from registry.config import Settings
from registry.http.throttling import LIMITS
from registry.organizations.service import MAX_ACTIVE_KEYS
from tests.factories import Client, app_client, bearer, http_scope, role_key, verified_org
from tests.listings.builders import create_program


def scaled(settings: Settings, scale: float, **changes: Any) -> Settings:
    return msgspec.structs.replace(settings, rate_limit_scale=scale, **changes)


MATCH = {"needs": ["trainer"], "include_remote": True}


async def test_extra_keys_of_one_organization_share_its_limit(
    client: Client, settings: Settings, sessionmaker: Any, db: AsyncSession
) -> None:
    org, first = await verified_org(client, await role_key(db))
    keys = [first]
    for _ in range(4):
        made = await client.post(f"/organizations/{org['id']}/api-keys", json={}, headers=bearer(first))
        assert made.status_code == 201, made.text
        keys.append(made.json()["key"])
    app = create_app(scaled(settings, 0.1), sessionmaker=sessionmaker)
    limit = int(LIMITS["matches"] * 0.1)
    async with app_client(app) as client:
        statuses = [
            (await client.post("/matches", json=MATCH, headers=bearer(keys[i % len(keys)]))).status_code
            for i in range(limit + 5)
        ]
    assert statuses.count(200) == limit, statuses
    assert statuses[limit:] == [429] * 5


async def test_active_keys_are_capped(settings: Settings, sessionmaker: Any, db: AsyncSession) -> None:
    app = create_app(scaled(settings, 10.0), sessionmaker=sessionmaker)  # this test is not about rates
    async with app_client(app) as client:
        org, key = await verified_org(client, await role_key(db))
        made = []
        for _ in range(MAX_ACTIVE_KEYS - 1):  # the first key is active too
            response = await client.post(f"/organizations/{org['id']}/api-keys", json={}, headers=bearer(key))
            assert response.status_code == 201, response.text
            made.append(response.json()["id"])
        refused = await client.post(f"/organizations/{org['id']}/api-keys", json={}, headers=bearer(key))
        assert refused.status_code == 409, refused.text
        assert str(MAX_ACTIVE_KEYS) in refused.json()["detail"] and "revoke" in refused.json()["detail"]
        assert (await client.delete(f"/api-keys/{made[0]}", headers=bearer(key))).status_code == 204
        again = await client.post(f"/organizations/{org['id']}/api-keys", json={}, headers=bearer(key))
        assert again.status_code == 201, again.text


async def test_minting_keys_is_rate_limited(client: Client, db: AsyncSession) -> None:
    org, key = await verified_org(client, await role_key(db))
    statuses = []
    for _ in range(LIMITS["api_keys"] + 2):
        response = await client.post(f"/organizations/{org['id']}/api-keys", json={}, headers=bearer(key))
        statuses.append(response.status_code)
        if response.status_code == 201:  # revoked at once, so the cap on active keys is not what stops it
            assert (
                await client.delete(f"/api-keys/{response.json()['id']}", headers=bearer(key))
            ).status_code == 204
    assert statuses == [201] * LIMITS["api_keys"] + [429] * 2


async def take_at(conn: Any, bucket: str, limit: int, at: datetime) -> float:
    """One request in one bucket, counted as the API counts it (a batch of one)."""
    return (await take_batch(conn, [([bucket], [limit])], at))[0]


async def take_alone(conn: Any, buckets: list[str], limits: list[int], at: datetime) -> float:
    """One request, counted on its own (rate_limit_take)."""
    result = await conn.execute(
        text("SELECT rate_limit_take(CAST(:b AS text[]), CAST(:l AS integer[]), CAST(:at AS timestamptz))"),
        {"b": buckets, "l": limits, "at": at},
    )
    return float(result.scalar_one())


async def take_batch(conn: Any, asked: list[tuple[list[str], list[int]]], at: datetime) -> list[float]:
    """Requests counted together (rate_limit_take_many), in their order."""
    numbers = [n for n, (buckets, _) in enumerate(asked, start=1) for _ in buckets]
    result = await conn.execute(
        text(
            "SELECT rate_limit_take_many(CAST(:r AS integer[]), CAST(:b AS text[]), CAST(:l AS integer[]), "
            "CAST(:at AS timestamptz))"
        ),
        {
            "r": numbers,
            "b": [b for buckets, _ in asked for b in buckets],
            "l": [limit for _, limits in asked for limit in limits],
            "at": at,
        },
    )
    return [float(w) for w in result.scalar_one()]


async def test_a_batch_answers_as_its_requests_one_after_another(db: AsyncSession) -> None:
    """Each request of a batch gets the answer it would get counted on its own, in the batch's
    order at the batch's time, and the counts left behind are the same: batches of one to eight
    requests over one to three of four buckets, seconds to minutes apart (and a clock that
    went back), against the same requests one at a time on buckets of their own."""
    conn = await db.connection()
    rng = random.Random(23)
    for trial in range(3):
        limit_of = {f"t:{uuid.uuid4()}": rng.choice([2, 3, 5, 8]) for _ in range(4)}
        twin = {bucket: f"t:{uuid.uuid4()}" for bucket in limit_of}
        at = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
        refused = 0
        for step in range(60):
            at += timedelta(seconds=rng.choice([0.2, 0.7, 1.0, 3.0, 20.0, 61.0, 200.0, -1.5]))
            asked = []
            for _ in range(rng.randint(1, 8)):
                buckets = sorted(rng.sample(sorted(limit_of), rng.randint(1, 3)))
                asked.append((buckets, [limit_of[b] for b in buckets]))
            if step == 59:  # every bucket once more, so that each has its row at the end
                asked.append((sorted(limit_of), [limit_of[b] for b in sorted(limit_of)]))
            batch = await take_batch(conn, asked, at)
            alone = [await take_alone(conn, [twin[b] for b in bs], limits, at) for bs, limits in asked]
            assert batch == alone, (trial, at, asked)
            refused += sum(w > 0 for w in batch)
        rows: dict[str, list[int]] = dict(
            (
                await conn.execute(
                    text("SELECT bucket, ARRAY[base] || counts FROM rate_limit_slots WHERE bucket = ANY(:b)"),
                    {"b": [*limit_of, *twin.values()]},
                )
            ).all()
        )
        assert all(rows[bucket] == rows[twin[bucket]] for bucket in limit_of), trial
        assert refused > 0  # the limits were reached, not only counted


async def test_a_batch_sweeps_old_rows_without_waiting_for_those_held(engine: AsyncEngine) -> None:
    """Rows untouched for ten minutes go when a batch is counted, but not one another transaction
    holds: the batch does not wait for it (two batches waiting on each other's rows would be a
    deadlock), and it goes with a later batch."""
    at = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    held, free = f"t:{uuid.uuid4()}", f"t:{uuid.uuid4()}"
    old = [(held, [5]), (free, [5])]
    async with engine.connect() as conn, engine.connect() as other:
        assert await take_batch(conn, [([b], limits) for b, limits in old], at - timedelta(minutes=20)) == [
            0,
            0,
        ]
        await conn.commit()
        await other.execute(text("SELECT 1 FROM rate_limit_slots WHERE bucket = :b FOR UPDATE"), {"b": held})
        await conn.execute(text("SET LOCAL lock_timeout = '2s'"))
        assert await take_batch(conn, [([f"t:{uuid.uuid4()}"], [5])], at) == [0.0]
        await conn.commit()
        assert await buckets_left(conn, [held, free]) == [held]
        await other.rollback()  # let go of the row
        assert await take_batch(conn, [([f"t:{uuid.uuid4()}"], [5])], at) == [0.0]
        await conn.commit()
        assert await buckets_left(conn, [held, free]) == []
        await conn.execute(text("DELETE FROM rate_limit_slots WHERE touched_at = :at"), {"at": at})
        await conn.commit()


async def buckets_left(conn: Any, buckets: list[str]) -> list[str]:
    found = await conn.execute(
        text("SELECT bucket FROM rate_limit_slots WHERE bucket = ANY(:b)"), {"b": buckets}
    )
    return list(found.scalars().all())


async def test_no_sixty_seconds_straddling_a_minute_let_more_through(db: AsyncSession) -> None:
    conn = await db.connection()
    bucket = f"t:{uuid.uuid4()}"
    minute = datetime(2026, 12, 4, 12, 1, tzinfo=UTC)
    # Five at the end of one clock minute, then a burst right after it: fixed windows let 11 in.
    late = [
        await take_at(conn, bucket, 6, minute - timedelta(seconds=1, milliseconds=100 - i)) for i in range(5)
    ]
    early = [await take_at(conn, bucket, 6, minute + timedelta(milliseconds=100 + i)) for i in range(6)]
    assert late == [0.0] * 5
    assert early[0] == 0.0 and all(w > 0 for w in early[1:])
    # Retry-After: when the oldest hits leave the window (a second of slack, never less than needed).
    assert 58 <= early[1] <= 61
    assert await take_at(conn, bucket, 6, minute + timedelta(seconds=61)) == 0.0


async def test_any_sixty_seconds_holds_at_most_the_limit(db: AsyncSession) -> None:
    conn = await db.connection()
    rng = random.Random(11)
    start = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    for trial in range(4):
        bucket, limit = f"t:{uuid.uuid4()}", rng.choice([3, 6, 10])
        times = sorted(start + timedelta(seconds=rng.uniform(0, 240)) for _ in range(80))
        admitted = [t for t in times if await take_at(conn, bucket, limit, t) == 0.0]
        for t in admitted:
            within = [u for u in admitted if t <= u < t + timedelta(seconds=60)]
            assert len(within) <= limit, (trial, limit)
        # Refusals are earned: whoever was refused had `limit` admitted hits in the 61 s before.
        for t in set(times) - set(admitted):
            recent = [u for u in admitted if t - timedelta(seconds=61) < u <= t]
            assert len(recent) >= limit, (trial, limit)


def with_proxies(settings: Settings, sessionmaker: Any, proxies: str) -> Litestar:
    return create_app(scaled(settings, 0.1, trusted_proxies=proxies), sessionmaker=sessionmaker)


async def match_statuses(app: Litestar, forwarded: list[dict[str, str]]) -> list[int]:
    async with app_client(app) as client:
        return [(await client.post("/matches", json=MATCH, headers=h)).status_code for h in forwarded]


async def test_forwarded_addresses_count_only_from_trusted_proxies(
    settings: Settings, sessionmaker: Any, db: AsyncSession
) -> None:
    limit = int(LIMITS["matches"] * 0.1)
    # Each request claims another client address; the test client connects from 127.0.0.1.
    claims = [{"X-Forwarded-For": f"203.0.113.{i}"} for i in range(limit + 2)]
    await db.execute(text("DELETE FROM rate_limit_slots"))  # other tests' committed requests
    untrusted = await match_statuses(with_proxies(settings, sessionmaker, ""), claims)
    assert untrusted.count(429) == 2  # headers from anyone else are ignored: one client
    await db.execute(text("DELETE FROM rate_limit_slots"))
    trusted = await match_statuses(with_proxies(settings, sessionmaker, "127.0.0.0/8, ::1"), claims)
    assert trusted == [200] * len(claims)  # each a client of its own
    # The real client is the rightmost address the trusted proxies did not add.
    chain = [{"X-Forwarded-For": f"198.51.100.7, 203.0.113.{i}"} for i in range(limit + 2)]
    assert (await match_statuses(with_proxies(settings, sessionmaker, "127.0.0.1"), chain)).count(429) == 0
    same = [{"X-Forwarded-For": "203.0.113.250, 127.0.0.1"}] * (limit + 2)
    statuses = await match_statuses(with_proxies(settings, sessionmaker, "127.0.0.1"), same)
    assert statuses.count(429) == 2
    rfc = [{"Forwarded": f'for="[2001:db8::{i}]:4711";proto=https'} for i in range(limit + 2)]
    assert (await match_statuses(with_proxies(settings, sessionmaker, "127.0.0.1"), rfc)).count(429) == 0


BODIES = [
    ("POST", "/matches"),
    ("POST", "/organizations"),
    ("POST", "/initiators"),
    ("POST", "/programs"),
    ("POST", "/partners"),
    ("POST", "/introductions"),
    ("POST", "/api-keys"),
    ("POST", "/taxonomies/format/terms"),
    ("PATCH", "/initiators/me"),
]


@pytest.mark.parametrize(("method", "path"), BODIES)
@pytest.mark.parametrize("deep", [b'{"a":' * 1000 + b"1" + b"}" * 1000, b"[" * 1000 + b"]" * 1000])
async def test_deeply_nested_json_is_a_400(
    client: Client, db: AsyncSession, method: str, path: str, deep: bytes
) -> None:
    steward = await role_key(db)
    response = await client.request(
        method, path, content=deep, headers={"content-type": "application/json", **bearer(steward)}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "nest" in response.json()["detail"]


async def test_reasonable_nesting_still_reaches_the_handler(client: Client) -> None:
    body = {"display_name": "Sam", "email": "sam@example.org", "location": {"place": "Utrecht, NL"}}
    assert (await client.post("/initiators", json=body)).status_code == 201


async def _post_match(app: Any, receive: Any, length: int) -> tuple[dict[str, Any], bytes]:
    """POST /matches through ASGI, the body as `receive` gives it (`length` declared): the
    response's start and its body."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"content-type", b"application/json"), (b"content-length", str(length).encode())]
    await asyncio.wait_for(app(http_scope("POST", "/matches", headers), receive, send), timeout=10)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def test_a_body_that_never_arrives_is_a_408(settings: Settings, sessionmaker: Any) -> None:
    app = create_app(msgspec.structs.replace(settings, body_timeout_s=0.3), sessionmaker=sessionmaker)
    stalled = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if not stalled.is_set():
            stalled.set()
            return {"type": "http.request", "body": b'{"a"', "more_body": True}
        await asyncio.sleep(3600)  # declares 1,000 bytes, sends 5, then nothing
        return {"type": "http.disconnect"}

    start, body = await _post_match(app, receive, 1000)
    assert start["status"] == 408
    assert (b"connection", b"close") in start["headers"]
    assert b"/problems/request-timeout" in body


async def test_a_body_trickling_in_past_the_deadline_is_a_408(settings: Settings, sessionmaker: Any) -> None:
    # The deadline is for the whole body: a client sending a byte every 0.1 s cannot hold a
    # request open for longer, however each piece comes in time.
    app = create_app(msgspec.structs.replace(settings, body_timeout_s=0.3), sessionmaker=sessionmaker)
    pieces = 0

    async def receive() -> dict[str, Any]:
        nonlocal pieces
        pieces += 1
        await asyncio.sleep(0.1)
        return {"type": "http.request", "body": b" ", "more_body": True}

    start, _ = await _post_match(app, receive, 1000)
    assert start["status"] == 408
    assert pieces <= 4


async def test_a_body_in_pieces_reaches_the_handler_whole(settings: Settings, sessionmaker: Any) -> None:
    app = create_app(settings, sessionmaker=sessionmaker)
    body = b'{"location": {"place": "Utrecht, NL"}, "needs": ["trainer"]}'
    pieces = [body[:10], body[10:30], body[30:]]

    async def receive() -> dict[str, Any]:
        piece = pieces.pop(0)
        return {"type": "http.request", "body": piece, "more_body": bool(pieces)}

    start, sent = await _post_match(app, receive, len(body))
    answer = msgspec.json.decode(sent)
    assert start["status"] == 200, answer
    assert answer["query"]["needs"] == ["trainer"]


async def test_an_initiator_profile_needs_its_current_etag(client: Client) -> None:
    created = await client.post("/initiators", json={"display_name": "Sam", "email": "sam@example.org"})
    key = created.json()["key"]
    me = await client.get("/initiators/me", headers=bearer(key))
    etag = me.headers["etag"]
    assert (
        await client.patch("/initiators/me", json={"pathway_step": 2}, headers=bearer(key))
    ).status_code == 428
    for stale in ("*", '"nope"'):
        refused = await client.patch(
            "/initiators/me", json={"pathway_step": 2}, headers={**bearer(key), "If-Match": stale}
        )
        assert refused.status_code == 412, refused.text
    changed = await client.patch(
        "/initiators/me", json={"pathway_step": 2}, headers={**bearer(key), "If-Match": etag}
    )
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert (await client.delete("/initiators/me", headers=bearer(key))).status_code == 428
    assert (
        await client.delete("/initiators/me", headers={**bearer(key), "If-Match": etag})
    ).status_code == 412
    gone = await client.delete("/initiators/me", headers={**bearer(key), "If-Match": changed.headers["etag"]})
    assert gone.status_code == 204


async def test_a_wildcard_if_match_is_not_the_current_etag(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    org, key = await verified_org(client, steward)
    program, _ = await create_program(client, key)
    wild = {**bearer(key), "If-Match": "*"}
    assert (
        await client.patch(f"/programs/{program['id']}", json={"name": "X"}, headers=wild)
    ).status_code == 412
    assert (await client.delete(f"/programs/{program['id']}", headers=wild)).status_code == 412
    assert (
        await client.patch(f"/organizations/{org['id']}", json={"name": "X"}, headers=wild)
    ).status_code == 412
