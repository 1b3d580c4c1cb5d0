"""The audit log: who changed what and when, written in the same transaction as the change."""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from registry.database.base import Base, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_role: Mapped[str] = mapped_column(String(20))
    actor_key_id: Mapped[uuid.UUID | None]
    actor_organization_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[uuid.UUID]
    # The organization that owns the entity, so an organization can read its own history.
    owner_organization_id: Mapped[uuid.UUID | None]
    changed_fields: Mapped[list[str]] = mapped_column(ARRAY(String(60)), default=list)
    # What happened, in words, where the action alone does not say (a reason, a rule applied).
    note: Mapped[str | None] = mapped_column(String(1000))

    __table_args__ = (
        Index("ix_audit_event_owner_at", "owner_organization_id", "at"),
        Index("ix_audit_event_entity", "entity_type", "entity_id"),
    )
