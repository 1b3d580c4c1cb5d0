"""Reads on a real streaming replica: anonymous and initiator reads land on it, a writer's next
read (from any process) shows its write, nothing stale is cached for the writer while replay is
paused, a replica that stops or lags is skipped, and /ready says so."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from registry.app import create_app
from registry.auth.principal import Role
from registry.config import Settings
from registry.database import routing
from registry.organizations.service import create_role_key
from tests.factories import bearer
from tests.matching.fixtures import UTRECHT
from tests.replicas.harness import Replica

READ_AFTER = "Registry-Read-After"


@asynccontextmanager
async def serving(
    database_url: str, replica: Replica, **settings: Any
) -> AsyncIterator[tuple[Litestar, httpx.AsyncClient]]:
    """An API process of its own (its own pools, caches and replica checks), as `registry serve`
    runs one, reading from the replica."""
    app = create_app(
        Settings(
            database_url=database_url,
            read_database_urls=replica.url,
            rate_limit_scale=1000,
            replica_check_interval_s=0.2,
            **settings,
        )
    )
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as client:
            yield app, client


async def checked(*apps: Litestar) -> None:
    for app in apps:
        await app.state.routing.check()


def served(app: Litestar) -> dict[str, int]:
    return dict(app.state.routing.served)


class World:
    """What a test commits on the primary (the suite's other tests roll theirs back), removed after."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.organizations: list[str] = []
        self.initiators: list[str] = []

    async def steward(self) -> str:
        async with async_sessionmaker(self.engine)() as session, session.begin():
            return (await create_role_key(session, None, Role.STEWARD, "replica test")).key

    async def program(self, client: httpx.AsyncClient, name: str) -> tuple[str, str]:
        """A verified organization's public program near Utrecht: (program id, organization key)."""
        steward = await self.steward()
        registered = await client.post(
            "/organizations", json={"name": f"Replica {uuid.uuid4()}", "kinds": ["peer_program"]}
        )
        assert registered.status_code == 201, registered.text
        org = registered.json()["organization"]["id"]
        self.organizations.append(org)
        key = registered.json()["api_key"]["key"]
        assert (await client.post(f"/organizations/{org}/verify", headers=bearer(steward))).status_code == 200
        created = await client.post(
            "/programs",
            json={
                "name": name,
                "side": "people_who_use_violence",
                "formats": ["twelve_step"],
                "location": UTRECHT,
                "status": "active",
            },
            headers=bearer(key),
        )
        assert created.status_code == 201, created.text
        return created.json()["id"], key

    async def remove(self) -> None:
        async with self.engine.begin() as conn:
            for org in self.organizations:
                # The listings first, while their organization still counts them as public (the
                # demand tally's triggers look it up).
                await conn.execute(text("DELETE FROM listing WHERE organization_id = :id"), {"id": org})
                await conn.execute(text("DELETE FROM organization WHERE id = :id"), {"id": org})
            for initiator in self.initiators:
                await conn.execute(text("DELETE FROM initiator WHERE id = :id"), {"id": initiator})
            await conn.execute(text("DELETE FROM api_key WHERE label = 'replica test'"))


async def program_name(
    client: httpx.AsyncClient, program_id: str, headers: dict[str, str] | None = None
) -> str:
    response = await client.get(f"/programs/{program_id}", headers=headers or {})
    assert response.status_code == 200, response.text
    name: str = response.json()["name"]
    return name


async def names_near_utrecht(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> set[str]:
    response = await client.get(
        "/programs", params={"near": "Utrecht, NL", "per_page": 100}, headers=headers or {}
    )
    assert response.status_code == 200, response.text
    return {p["name"] for p in response.json()["items"]}


async def test_reads_land_on_the_replica_and_a_writer_sees_its_write_from_another_process(
    database_url: str, engine: AsyncEngine, replica: Replica
) -> None:
    world = World(engine)
    try:
        async with serving(database_url, replica) as (app_a, a), serving(database_url, replica) as (app_b, b):
            program, key = await world.program(a, "Before the change")
            await replica.catch_up()
            await checked(app_a, app_b)
            assert await program_name(b, program) == "Before the change"
            assert "Before the change" in await names_near_utrecht(b)  # kept in B's caches
            assert served(app_b) == {"replica 1": 2}

            await replica.pause_replay()
            try:
                etag = (await a.get(f"/programs/{program}", headers=bearer(key))).headers["ETag"]
                changed = await a.patch(
                    f"/programs/{program}",
                    json={"name": "After the change"},
                    headers={**bearer(key), "If-Match": etag},
                )
                assert changed.status_code == 200, changed.text
                written = changed.headers[READ_AFTER]
                assert routing.parse_lsn(written) > 0
                await checked(app_b)

                # Others may read the replica's past for a moment: that is where their reads go.
                assert await program_name(b, program) == "Before the change"
                assert "Before the change" in await names_near_utrecht(b)
                # The writer, through the other process: its change, not the replica's past, and
                # not B's cached page of it.
                after = {READ_AFTER: written}
                assert await program_name(b, program, after) == "After the change"
                assert await names_near_utrecht(b, after) >= {"After the change"}
                assert "Before the change" not in await names_near_utrecht(b, after)
                assert await program_name(b, program, bearer(key)) == "After the change"
            finally:
                await replica.resume_replay()
            await replica.catch_up()
            await checked(app_b)
            names = await names_near_utrecht(b)
            assert "After the change" in names and "Before the change" not in names
            assert served(app_b)["replica 1"] == 5 and served(app_b)["primary"] == 3
    finally:
        await world.remove()


async def test_an_initiators_reads_follow_its_own_writes(
    database_url: str, engine: AsyncEngine, replica: Replica
) -> None:
    world = World(engine)
    try:
        async with serving(database_url, replica) as (app_a, a), serving(database_url, replica) as (app_b, b):
            await checked(app_a, app_b)
            await replica.pause_replay()
            try:
                created = await a.post(
                    "/initiators",
                    json={
                        "display_name": "Ren",
                        "email": "ren@example.org",
                        "location": UTRECHT,
                        "pathway_step": 1,
                    },
                )
                assert created.status_code == 201, created.text
                world.initiators.append(created.json()["initiator"]["id"])
                key = created.json()["key"]
                await checked(app_b)
                body = {"location": UTRECHT, "needs": ["clinician"]}
                assert (await b.post("/matches", json=body, headers=bearer(key))).status_code == 200
                assert served(app_b) == {"primary": 1}  # its key was made after the replica's past
                assert (await b.post("/matches", json=body)).status_code == 200
                assert served(app_b) == {"primary": 1, "replica 1": 1}  # anyone else: the replica
                me = await b.get("/initiators/me", headers=bearer(key))
                assert me.status_code == 200 and me.json()["display_name"] == "Ren"
            finally:
                await replica.resume_replay()
            await replica.catch_up()
            await checked(app_b)
            assert (await b.post("/matches", json=body, headers=bearer(key))).status_code == 200
            assert served(app_b)["replica 1"] == 2  # caught up: its reads go to the replica again
    finally:
        await world.remove()


async def test_a_lagging_replica_is_skipped_until_it_catches_up(
    database_url: str, engine: AsyncEngine, replica: Replica
) -> None:
    world = World(engine)
    try:
        async with serving(database_url, replica, replica_max_lag_s=0.5) as (app, client):
            program, _ = await world.program(client, "Lag")
            await replica.catch_up()
            await checked(app)
            await replica.pause_replay()
            try:
                await world.steward()  # a commit the replica will not replay
                await checked(app)
                await asyncio.sleep(0.7)
                await checked(app)
                (state,) = app.state.routing.report()
                assert state["state"] == "lagging" and state["lag_s"] > 0.5
                ready = (await client.get("/ready")).json()
                assert ready["databases"][1]["state"] == "lagging"
                before = served(app).get("primary", 0)
                assert await program_name(client, program) == "Lag"  # the replica lacks it: primary
                assert served(app)["primary"] == before + 1
            finally:
                await replica.resume_replay()
            await replica.catch_up()
            await checked(app)
            assert app.state.routing.report()[0]["state"] == "streaming"
    finally:
        await world.remove()


async def test_a_replica_stopped_under_load_loses_no_request(
    database_url: str, engine: AsyncEngine, replica: Replica
) -> None:
    world = World(engine)
    try:
        async with serving(database_url, replica) as (app, client):
            program, _ = await world.program(client, "Steady")
            await replica.catch_up()
            await checked(app)
            statuses: list[int] = []

            async def reader() -> None:
                for _ in range(40):
                    statuses.append((await client.get(f"/programs/{program}")).status_code)
                    await asyncio.sleep(0.005)

            load = asyncio.gather(*(reader() for _ in range(6)))
            await asyncio.sleep(0.1)
            await asyncio.to_thread(replica.stop)
            await load
            assert statuses.count(200) == len(statuses) == 240  # retried on the primary
            await checked(app)
            ready = await client.get("/ready")
            assert ready.status_code == 200
            assert ready.json()["databases"][1]["state"] == "down"
            assert await program_name(client, program) == "Steady"

            await asyncio.to_thread(replica.start)
            await replica.catch_up()
            await checked(app)
            assert (await client.get("/ready")).json()["databases"][1]["state"] == "streaming"
    finally:
        await asyncio.to_thread(replica.start)
        await world.remove()


async def test_reports_and_hsds_read_from_the_replica_once_it_holds_the_release(
    database_url: str, engine: AsyncEngine, replica: Replica
) -> None:
    world = World(engine)
    async with async_sessionmaker(engine)() as session, session.begin():
        funder = (await create_role_key(session, None, Role.FUNDER, "replica test")).key
        # No release yet in this period: the first report takes one, on the primary.
        await session.execute(text("DELETE FROM report_snapshot"))
    fresh = {**bearer(funder), "Cache-Control": "no-cache"}
    try:
        async with serving(database_url, replica) as (app, client):
            await replica.catch_up()
            await checked(app)
            await replica.pause_replay()
            try:
                report = await client.get("/reports/partnerships", headers=fresh)
                assert report.status_code == 200, report.text
                assert served(app) == {"primary": 1}  # the replica has not replayed the release
            finally:
                await replica.resume_replay()
            await replica.catch_up()
            await checked(app)
            again = await client.get("/reports/partnerships", headers=fresh)
            assert again.status_code == 200
            assert {**again.json(), "computed_at": None} == {**report.json(), "computed_at": None}
            assert (await client.get("/hsds/services")).status_code == 200
            assert served(app) == {"primary": 1, "replica 1": 2}
    finally:
        await world.remove()
        async with engine.begin() as conn:  # the other tests take their releases in their own worlds
            await conn.execute(text("DELETE FROM report_snapshot"))
