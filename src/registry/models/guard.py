"""Shared state that keeps API processes stateless: rate-limit windows, idempotency records, the
data's version and the answers every process may reuse."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from registry.database.base import Base, utcnow


class RateLimitSlots(Base):
    """A client's requests under one limit in the last 61 seconds, a count per second (`counts[1]`
    is second `base`), shared by every API process; written by the `rate_limit_take_many` function
    (migrations 0017 and 0028)."""

    __tablename__ = "rate_limit_slots"

    bucket: Mapped[str] = mapped_column(String(120), primary_key=True)
    base: Mapped[int] = mapped_column(BigInteger)
    counts: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    touched_at: Mapped[datetime]

    __table_args__ = (Index("ix_rate_limit_slots_touched_at", "touched_at"),)


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


class ChangeTick(Base):
    """One committed statement that wrote what cached answers show (listings, contacts,
    organizations, vocabulary terms), inserted by a trigger (migration 0018). The version those
    answers are tagged with is change_base.total + sum(weight) (registry.changes)."""

    __tablename__ = "change_tick"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    weight: Mapped[int] = mapped_column(BigInteger, server_default="1")


class ChangeBase(Base):
    """The ticks folded so far (one row)."""

    __tablename__ = "change_base"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    total: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)


class SharedAnswer(Base):
    """An encoded answer one API process built for a version of the data, for every process to
    reuse for a few minutes (registry.caching.shared); rows of older versions are swept."""

    __tablename__ = "shared_answer"

    cache: Mapped[str] = mapped_column(String(40), primary_key=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    made_at: Mapped[datetime] = mapped_column(server_default=func.now())
