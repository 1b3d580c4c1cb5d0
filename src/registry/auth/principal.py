"""Who is calling: a typed principal resolved once per request from the bearer key."""

import uuid
from enum import StrEnum

import msgspec


class Role(StrEnum):
    ANONYMOUS = "anonymous"
    ORGANIZATION = "organization"
    STEWARD = "steward"
    FUNDER = "funder"
    INITIATOR = "initiator"


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    role: Role
    key_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    organization_verified: bool = False
    initiator_id: uuid.UUID | None = None
    # Where the primary's WAL stood after this key's holder last wrote (database.routing): its
    # reads go to a replica that has replayed that far.
    written_lsn: int = 0

    @property
    def is_steward(self) -> bool:
        return self.role is Role.STEWARD

    @property
    def is_anonymous(self) -> bool:
        return self.role is Role.ANONYMOUS

    def owns(self, organization_id: uuid.UUID | None) -> bool:
        return self.organization_id is not None and self.organization_id == organization_id


ANONYMOUS = Principal(role=Role.ANONYMOUS)
