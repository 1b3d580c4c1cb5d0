"""Shared state that keeps API processes stateless: rate-limit windows and idempotency records."""

from datetime import datetime

from sqlalchemy import Index, LargeBinary, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base, utcnow


class RateLimitWindow(Base):
    """Requests counted per (limit, client) in fixed one-minute windows, shared by every worker."""

    __tablename__ = "rate_limit_window"

    bucket: Mapped[str] = mapped_column(String(120), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    hits: Mapped[int] = mapped_column(default=0)

    __table_args__ = (Index("ix_rate_limit_window_start", "window_start"),)


class IdempotencyRecord(Base):
    """The first answer to a create sent with an Idempotency-Key, replayed to retries."""

    __tablename__ = "idempotency_record"

    scope: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[bytes] = mapped_column(LargeBinary)
    status_code: Mapped[int] = mapped_column(SmallInteger)
    content_type: Mapped[str] = mapped_column(String(100))
    # Any API key the answer held is replaced by null (idempotency.withhold_keys).
    body: Mapped[bytes] = mapped_column(LargeBinary)
    key_withheld: Mapped[bool] = mapped_column(default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
