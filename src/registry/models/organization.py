"""Organizations (who lists things) and their API keys (how they prove it)."""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.database.base import Base, TimestampMixin, new_id, utcnow

# The one verification status whose organizations' listings are public (listings.visibility).
PUBLIC_STATUS = "verified"


class Organization(TimestampMixin, Base):
    __tablename__ = "organization"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    kinds: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    website: Mapped[str | None] = mapped_column(String(500))
    country: Mapped[str | None] = mapped_column(String(2))
    description: Mapped[str | None] = mapped_column(Text)
    # unverified -> verified by a steward; suspended by a steward from either, reinstated to the
    # one it had (verified when verified_at is set). Only `verified` organizations' listings are
    # public, wherever that is decided (visibility, matching, reports' triggers, HSDS).
    verification_status: Mapped[str] = mapped_column(String(20), default="unverified")
    verified_at: Mapped[datetime | None]
    suspended_at: Mapped[datetime | None]
    suspension_reason: Mapped[str | None] = mapped_column(String(1000))
    # Where the registry writes to the organization (introductions, reminders): not a public
    # contact; only the organization and stewards read it.
    notification_email: Mapped[str | None] = mapped_column(String(320))
    # A counter bumped on every change; the ETag is derived from it.
    version: Mapped[int] = mapped_column(default=1)

    api_keys: Mapped[list["ApiKey"]] = relationship(back_populates="organization", lazy="raise")

    __table_args__ = (
        Index("ix_organization_name_id", "name", "id"),
        # max(updated_at) tells matching whether a cached answer is still current.
        Index("ix_organization_updated_at", "updated_at"),
        # The few organizations whose listings are not public, by id alone (visibility.hidden_owner).
        Index(
            "ix_organization_hidden", "id", postgresql_where=text(f"verification_status <> '{PUBLIC_STATUS}'")
        ),
    )


class ApiKey(Base):
    """A bearer credential. Only a SHA-256 of the secret is stored; keys carry >=128 random bits,
    so a fast hash is safe and lookups stay a single index probe."""

    __tablename__ = "api_key"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[bytes] = mapped_column(unique=True)
    role: Mapped[str] = mapped_column(String(20))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    initiator_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("initiator.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    revoked_at: Mapped[datetime | None]
    # Where the primary's WAL stood after the holder's last write (database.routing), in bytes.
    last_write_lsn: Mapped[int | None] = mapped_column(BigInteger)

    organization: Mapped[Organization | None] = relationship(back_populates="api_keys", lazy="raise")
