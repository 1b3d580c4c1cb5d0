"""HTTP surface for organizations and their API keys."""

from typing import Annotated, Literal

import msgspec
from litestar import Controller, Response, delete, get, patch, post
from litestar.params import JSONBody, QueryParameter

from registry.auth.dependencies import require_authenticated, require_role
from registry.auth.principal import Principal, Role
from registry.http.dependencies import Caller, DbSession, IdPath, IfMatch
from registry.http.etags import etag_for
from registry.http.idempotency import KEY_SHOWN_ONCE_RESPONSES
from registry.http.pagination import DEFAULT_PER_PAGE, Page, PageNumber, PerPage, offset
from registry.models import Organization
from registry.organizations import service
from registry.organizations.schemas import (
    ApiKeyCreate,
    ApiKeyRead,
    NewApiKey,
    OrganizationCreate,
    OrganizationRead,
    OrganizationRegistered,
    OrganizationUpdate,
    Reinstatement,
    RoleKeyCreate,
    Suspension,
)

VerificationFilter = Annotated[
    Literal["verified", "unverified", "suspended"] | None, QueryParameter(description="only this status")
]


def to_read(org: Organization, principal: Principal, *, own: bool = False) -> OrganizationRead:
    read = msgspec.convert(org, OrganizationRead, from_attributes=True)
    if not (own or principal.is_steward or principal.owns(org.id)):
        read.notification_email = msgspec.UNSET  # where it is written to is its own business
    return read


def with_etag(org: Organization, principal: Principal) -> Response[OrganizationRead]:
    return Response(to_read(org, principal), headers={"ETag": etag_for(org.id, org.version)})


class OrganizationController(Controller):
    path = "/organizations"
    tags = ["organizations"]

    @post(
        "/",
        status_code=201,
        opt={"idempotent": True, "rate_limit": "organizations"},
        responses=KEY_SHOWN_ONCE_RESPONSES,
    )
    async def register(
        self, db_session: DbSession, principal: Caller, data: JSONBody[OrganizationCreate]
    ) -> OrganizationRegistered:
        """Register an organization; the answer holds its first API key, shown only this once."""
        org, key = await service.register_organization(db_session, principal, data)
        return OrganizationRegistered(organization=to_read(org, principal, own=True), api_key=key)

    @get("/")
    async def list_organizations(
        self,
        db_session: DbSession,
        principal: Caller,
        verification_status: VerificationFilter = None,
        page: PageNumber = 1,
        per_page: PerPage = DEFAULT_PER_PAGE,
    ) -> Page[OrganizationRead]:
        """List the organizations visible to you (verified ones, your own, or all for stewards)."""
        rows, total = await service.list_organizations(
            db_session,
            principal,
            verification_status=verification_status,
            limit=per_page,
            offset=offset(page, per_page),
        )
        return Page(items=[to_read(o, principal) for o in rows], total=total, page=page, per_page=per_page)

    @get("/{organization_id:uuid}")
    async def get_organization(
        self, db_session: DbSession, principal: Caller, organization_id: IdPath
    ) -> Response[OrganizationRead]:
        """Read one organization; the ETag header is what a later PATCH sends as If-Match."""
        org = await service.get_organization(db_session, principal, organization_id)
        return with_etag(org, principal)

    @patch("/{organization_id:uuid}")
    async def update_organization(
        self,
        db_session: DbSession,
        principal: Caller,
        organization_id: IdPath,
        data: JSONBody[OrganizationUpdate],
        if_match: IfMatch = None,
    ) -> Response[OrganizationRead]:
        """Change your organization's details (If-Match required)."""
        require_authenticated(principal)
        org = await service.update_organization(db_session, principal, organization_id, data, if_match)
        return with_etag(org, principal)

    @post("/{organization_id:uuid}/verify", status_code=200)
    async def verify(
        self, db_session: DbSession, principal: Caller, organization_id: IdPath
    ) -> Response[OrganizationRead]:
        """Mark an organization verified so its listings become public (stewards only)."""
        require_role(principal, Role.STEWARD)
        org = await service.verify_organization(db_session, principal, organization_id)
        return with_etag(org, principal)

    @post("/{organization_id:uuid}/suspend", status_code=200)
    async def suspend(
        self, db_session: DbSession, principal: Caller, organization_id: IdPath, data: JSONBody[Suspension]
    ) -> Response[OrganizationRead]:
        """Take an organization down at once (stewards only): its listings and contacts leave every
        answer, its keys stop working, pending introductions to it close; nothing is deleted."""
        require_role(principal, Role.STEWARD)
        org = await service.suspend_organization(db_session, principal, organization_id, data.reason)
        return with_etag(org, principal)

    @post("/{organization_id:uuid}/reinstate", status_code=200)
    async def reinstate(
        self,
        db_session: DbSession,
        principal: Caller,
        organization_id: IdPath,
        data: JSONBody[Reinstatement | None] = None,
    ) -> Response[OrganizationRead]:
        """Lift a suspension (stewards only): the organization is verified again if it was before."""
        require_role(principal, Role.STEWARD)
        reason = data.reason if data else None
        org = await service.reinstate_organization(db_session, principal, organization_id, reason)
        return with_etag(org, principal)

    @post(
        "/{organization_id:uuid}/api-keys",
        status_code=201,
        opt={"idempotent": True, "rate_limit": "api_keys"},
        responses=KEY_SHOWN_ONCE_RESPONSES,
    )
    async def create_key(
        self,
        db_session: DbSession,
        principal: Caller,
        organization_id: IdPath,
        data: JSONBody[ApiKeyCreate | None] = None,
    ) -> NewApiKey:
        """Create a further API key for your organization; the key is shown only this once."""
        require_role(principal, Role.ORGANIZATION)
        return await service.create_org_key(db_session, principal, organization_id, data or ApiKeyCreate())

    @get("/{organization_id:uuid}/api-keys")
    async def list_keys(
        self, db_session: DbSession, principal: Caller, organization_id: IdPath
    ) -> list[ApiKeyRead]:
        """List your organization's keys (prefixes only, never the secret)."""
        require_authenticated(principal)
        keys = await service.list_org_keys(db_session, principal, organization_id)
        return [msgspec.convert(k, ApiKeyRead, from_attributes=True) for k in keys]


class ApiKeyController(Controller):
    path = "/api-keys"
    tags = ["organizations"]

    @post("/", status_code=201, opt={"idempotent": True}, responses=KEY_SHOWN_ONCE_RESPONSES)
    async def create_role_key(
        self, db_session: DbSession, principal: Caller, data: JSONBody[RoleKeyCreate]
    ) -> NewApiKey:
        """Create a funder or steward key (stewards only); the key is shown only this once."""
        require_role(principal, Role.STEWARD)
        return await service.create_role_key(db_session, principal, Role(data.role), data.label)

    @delete("/{key_id:uuid}", status_code=204)
    async def revoke(self, db_session: DbSession, principal: Caller, key_id: IdPath) -> None:
        """Revoke an API key; requests with it get 401 from now on."""
        require_authenticated(principal)
        await service.revoke_key(db_session, principal, key_id)
