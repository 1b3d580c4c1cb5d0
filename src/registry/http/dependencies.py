"""What handlers receive: the request's session and the caller (typed markers, and the session's
provider)."""

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, TypeAlias

from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, PathParameter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.auth.principal import Principal
from registry.database import routing

DbSession: TypeAlias = NamedDependency[AsyncSession]
Caller: TypeAlias = NamedDependency[Principal]

IdPath: TypeAlias = Annotated[uuid.UUID, PathParameter()]
IfMatch: TypeAlias = Annotated[
    str | None,
    HeaderParameter(name="If-Match", description="the ETag from your last read", required=False),
]


async def provide_db_session(state: State, principal: Principal) -> AsyncIterator[AsyncSession]:
    """Yield a session (one transaction per request); commit after the handler returns, roll back
    on any error.

    Litestar runs this cleanup before the response is sent, so a failed commit turns into an
    error response and a 2xx always means the write is durable.

    The session is provided after the caller (`principal`, not used here). Litestar resolves
    dependencies that need nothing of each other in a task group: two tasks a request for these
    two, a tenth of a cached match's time in the process (docs/performance.md). One after the
    other, none.
    """
    del principal  # asked for its order alone
    replica = routing.current()
    sessionmaker: async_sessionmaker[AsyncSession] = replica.sessionmaker if replica else state.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        # A session the handler never used (a cached answer) has nothing to commit: skip the
        # commit's machinery, a measurable part of such a request.
        if session.in_transaction():
            await session.commit()
