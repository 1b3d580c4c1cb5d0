"""A 2xx means the write is durable; an error means nothing was written."""

import contextlib
import uuid

from litestar import post
from litestar.datastructures import State
from litestar.routes import HTTPRoute
from sqlalchemy import delete, event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from registry.app import create_app
from registry.auth.principal import ANONYMOUS
from registry.caching.version import Changes
from registry.config import Settings
from registry.database.sessions import create_sessionmaker
from registry.http.dependencies import provide_db_session
from registry.models import ApiKey, AuditEvent, Organization
from tests.factories import app_client


async def test_created_organization_is_committed_before_the_response(
    engine: AsyncEngine, settings: Settings
) -> None:
    app = create_app(settings, sessionmaker=create_sessionmaker(engine))
    async with app_client(app) as client:
        response = await client.post("/organizations", json={"name": "Durable", "kinds": ["trainer"]})
    assert response.status_code == 201
    org_id = uuid.UUID(response.json()["organization"]["id"])
    try:
        async with engine.connect() as other:  # a separate connection sees it: committed
            assert (
                await other.scalar(select(Organization.name).where(Organization.id == org_id))
            ) == "Durable"
    finally:
        async with engine.begin() as conn:
            await conn.execute(delete(AuditEvent).where(AuditEvent.entity_id == org_id))
            await conn.execute(delete(ApiKey).where(ApiKey.organization_id == org_id))
            await conn.execute(delete(Organization).where(Organization.id == org_id))


async def test_an_error_after_a_write_rolls_it_back(engine: AsyncEngine, settings: Settings) -> None:
    marker = f"rolled-back-{uuid.uuid4()}"

    @post("/write-then-fail", include_in_schema=False)
    async def write_then_fail(db_session: AsyncSession) -> None:
        db_session.add(Organization(name=marker, kinds=["trainer"]))
        await db_session.flush()
        raise RuntimeError("boom")

    app = create_app(settings, sessionmaker=create_sessionmaker(engine))
    app.register(write_then_fail)
    async with app_client(app) as client:
        response = await client.post("/write-then-fail")
    assert response.status_code == 500
    async with engine.connect() as conn:
        assert (await conn.scalar(select(Organization.id).where(Organization.name == marker))) is None


async def test_a_session_the_handler_never_used_is_not_committed(engine: AsyncEngine) -> None:
    # A cached answer never touches its session: nothing to commit, and no version moves on.
    state = State({"sessionmaker": create_sessionmaker(engine), "changes": Changes()})
    commits: list[bool] = []

    async def handle(read: bool) -> None:
        provider = provide_db_session(state, ANONYMOUS)
        session = await anext(provider)
        event.listen(session.sync_session, "after_commit", lambda _s: commits.append(read))
        if read:
            await session.scalar(select(func.count()).select_from(Organization))
        with contextlib.suppress(StopAsyncIteration):
            await anext(provider)

    await handle(read=False)
    assert commits == []
    await handle(read=True)
    assert commits == [True]  # a session that read (or wrote) is still committed


def test_every_handler_resolves_its_dependencies_one_at_a_time(engine: AsyncEngine) -> None:
    # Dependencies that need nothing of each other are resolved in an anyio task group (two tasks
    # a request for the session and the caller): the session is asked for after the caller.
    app = create_app(sessionmaker=create_sessionmaker(engine))
    batches = {
        (path, method): [len(batch) for batch in model.dependency_batches]
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for path in [route.path]
        for method, (_, model) in route.route_handler_map.items()
    }
    assert batches[("/matches", "POST")] == [1, 1]  # the caller, then the session
    assert batches[("/programs", "GET")] == [1, 1]
    assert all(size == 1 for sizes in batches.values() for size in sizes), {
        key: sizes for key, sizes in batches.items() if any(size > 1 for size in sizes)
    }
