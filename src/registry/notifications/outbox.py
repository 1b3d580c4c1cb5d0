"""Writing a message to the outbox, in the caller's transaction: it is sent only if that
transaction commits, and at most once per event (a second message for the same `event_key` is
not written)."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import OutboxMessage

MAX_SUBJECT = 200


async def enqueue(
    session: AsyncSession, *, event: str, event_key: str, recipient: str | None, subject: str, body: str
) -> bool:
    """Queue one message; False when there is no one to write to or the event already has one."""
    if not recipient:
        return False
    written = await session.execute(
        insert(OutboxMessage)
        .values(
            event=event,
            event_key=event_key[:200],
            recipient=recipient,
            subject=subject[:MAX_SUBJECT],
            body=body,
        )
        .on_conflict_do_nothing(index_elements=["event_key"])
        .returning(OutboxMessage.id)
    )
    return written.first() is not None


async def listed(session: AsyncSession, *, status: str | None = None, limit: int = 100) -> Sequence[Any]:
    """The latest messages first (what `registry outbox` prints)."""
    stmt = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id).limit(limit)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    return (await session.scalars(stmt)).all()
