"""Messages to people, written in the transaction of the change they tell of (the outbox) and
delivered afterwards by `notifications.sender`, with every attempt recorded."""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, Integer, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from registry.database.base import Base, new_id


class OutboxMessage(Base):
    __tablename__ = "outbox_message"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    # What happened, and the one event it is about: a second message for it is never written.
    event: Mapped[str] = mapped_column(String(40))
    event_key: Mapped[str] = mapped_column(String(200), unique=True)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # queued (waiting, or waiting to be retried), sent, failed (refused for good, or out of attempts)
    status: Mapped[str] = mapped_column(String(20), server_default="queued")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        Index(
            "ix_outbox_message_due",
            "next_attempt_at",
            postgresql_where=text("status = 'queued'"),
        ),
    )


class OutboxAttempt(Base):
    """One try at delivering a message: sent, deferred (the server said later) or refused."""

    __tablename__ = "outbox_attempt"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("outbox_message.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(server_default=func.now())
    outcome: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(String(500))
