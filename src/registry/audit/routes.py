"""Reading the audit log."""

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.params import QueryParameter

from registry.audit import service
from registry.auth.dependencies import require_role
from registry.auth.principal import Role
from registry.http.dependencies import Caller, DbSession
from registry.http.pagination import DEFAULT_PER_PAGE, Page, PageNumber, PerPage, offset


class AuditEventRead(msgspec.Struct, kw_only=True):
    id: int
    at: datetime
    actor_role: str
    actor_key_id: uuid.UUID | None
    actor_organization_id: uuid.UUID | None
    action: str
    entity_type: str
    entity_id: uuid.UUID
    changed_fields: list[str]
    note: Annotated[
        str | None, msgspec.Meta(description="what happened, where the action alone does not say")
    ]


EntityType = Annotated[
    str | None, QueryParameter(max_length=40, pattern=r"^[a-z_]+$", description="e.g. program")
]
EntityId = Annotated[uuid.UUID | None, QueryParameter(description="one entity's history")]


class AuditController(Controller):
    path = "/audit"
    tags = ["audit"]

    @get("/")
    async def list_events(
        self,
        db_session: DbSession,
        principal: Caller,
        entity_type: EntityType = None,
        entity_id: EntityId = None,
        page: PageNumber = 1,
        per_page: PerPage = DEFAULT_PER_PAGE,
    ) -> Page[AuditEventRead]:
        """The audit trail, newest first: all of it for stewards, your own history for an organization."""
        require_role(principal, Role.STEWARD, Role.ORGANIZATION)
        rows, total = await service.list_events(
            db_session,
            principal,
            entity_type=entity_type,
            entity_id=entity_id,
            limit=per_page,
            offset=offset(page, per_page),
        )
        items = [msgspec.convert(r, AuditEventRead, from_attributes=True) for r in rows]
        if not principal.is_steward:
            # Other parties' key ids (an initiator's, another organization's) stay with stewards.
            for item in items:
                if item.actor_organization_id != principal.organization_id:
                    item.actor_key_id = None
        return Page(items=items, total=total, page=page, per_page=per_page)
