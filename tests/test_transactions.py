"""A 2xx means the write is durable; an error means nothing was written."""

import contextlib
import uuid

from litestar import post
from litestar.datastructures import State
from sqlalchemy import delete, event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from registry.app import create_app
from registry.caching.version import Changes
from registry.config import Settings
from registry.database.sessions import create_sessionmaker, provide_db_session
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
        provider = provide_db_session(state)
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
