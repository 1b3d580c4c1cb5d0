"""Write and read audit events; writes join the caller's transaction."""

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import Principal
from registry.models import AuditEvent


def record(
    session: AsyncSession,
    principal: Principal,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID,
    *,
    owner_organization_id: uuid.UUID | None,
    changed_fields: Iterable[str] = (),
    note: str | None = None,
) -> AuditEvent:
    event = AuditEvent(
        actor_role=principal.role.value,
        actor_key_id=principal.key_id,
        actor_organization_id=principal.organization_id,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        owner_organization_id=owner_organization_id,
        changed_fields=sorted(set(changed_fields)),
        note=note,
    )
    session.add(event)
    return event


async def list_events(
    session: AsyncSession,
    principal: Principal,
    *,
    entity_type: str | None,
    entity_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[AuditEvent], int]:
    stmt = select(AuditEvent)
    if not principal.is_steward:
        # Organizations read the history of what they own, nothing else.
        stmt = stmt.where(AuditEvent.owner_organization_id == principal.organization_id)
    if entity_type is not None:
        stmt = stmt.where(AuditEvent.entity_type == entity_type)
    if entity_id is not None:
        stmt = stmt.where(AuditEvent.entity_id == entity_id)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (
        await session.scalars(
            stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit).offset(offset)
        )
    ).all()
    return rows, total
