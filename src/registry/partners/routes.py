"""HTTP surface for partners: clinicians, treatment programs, evaluators, trainers."""

from typing import Annotated, Literal

from litestar import Controller, MediaType, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import JSONBody, QueryParameter

from registry.auth.dependencies import require_authenticated
from registry.database import routing
from registry.http.dependencies import Caller, DbSession, IdPath, IfMatch
from registry.http.errors import NotFound
from registry.http.etags import etag_for
from registry.http.pagination import DEFAULT_PER_PAGE, Page, PageNumber, PerPage
from registry.listings import pages
from registry.listings import params as p
from registry.listings import service as listings
from registry.listings.records import listing_record
from registry.partners import service
from registry.partners.presenters import partner_read
from registry.partners.schemas import PARTNER_KINDS, PartnerCreate, PartnerRead, PartnerUpdate

KindQuery = Annotated[
    Literal["clinician", "treatment_program", "evaluator", "trainer"] | None,
    QueryParameter(description="partner kind"),
]


class PartnerController(Controller):
    path = "/partners"
    tags = ["partners"]

    @post("/", status_code=201, opt={"idempotent": True})
    async def create_partner(
        self, db_session: DbSession, principal: Caller, data: JSONBody[PartnerCreate]
    ) -> Response[PartnerRead]:
        """Register a clinician, treatment program, evaluator or trainer for your organization."""
        listing = await service.create_partner(db_session, principal, data)
        return Response(
            partner_read(listing, principal),
            status_code=201,
            headers={"ETag": etag_for(listing.id, listing.version)},
        )

    @get("/", opt={"replica_reads": True})
    async def list_partners(
        self,
        db_session: DbSession,
        principal: Caller,
        state: State,
        kind: KindQuery = None,
        specialty: p.CodesQuery = None,
        population: p.CodesQuery = None,
        language: p.CodesQuery = None,
        method: p.CodesQuery = None,
        status: p.StatusQuery = None,
        accepting_partnerships: p.Flag = None,
        ipv_trained: p.Flag = None,
        q: p.Query = None,
        near: p.Near = None,
        radius_km: p.Radius = 50.0,
        remote_ok: p.RemoteOk = None,
        modified_after: p.ModifiedAfter = None,
        organization_id: p.OrganizationFilter = None,
        page: PageNumber = 1,
        per_page: PerPage = DEFAULT_PER_PAGE,
    ) -> Response[Page[PartnerRead]]:
        """Find partners by kind, vocabulary, text and place; with `near`, ordered by distance band."""
        version = await state.caches.version()  # once for the request: the codes' and the page's
        filters = await service.partner_filters(
            db_session,
            caches=state.caches,
            version=version,
            kind=kind,
            specialties=specialty or [],
            populations=population or [],
            languages=language or [],
            methods=method or [],
            status=status,
            accepting_partnerships=accepting_partnerships,
            ipv_trained=ipv_trained,
            **p.common_filters(
                q=q,
                near=near,
                radius_km=radius_km,
                remote_ok=remote_ok,
                modified_after=modified_after,
                organization_id=organization_id,
            ),
        )
        body = await pages.search_page(
            db_session,
            principal,
            state.caches,
            version,
            filters,
            page=page,
            per_page=per_page,
            what="partners",
            present=partner_read,
        )
        # The body is a Page[PartnerRead] already encoded (bytes go out as they are).
        return Response(body, media_type=MediaType.JSON)  # type: ignore[arg-type]

    @get("/{partner_id:uuid}", opt={"replica_reads": True})
    async def get_partner(self, state: State, principal: Caller, partner_id: IdPath) -> Response[PartnerRead]:
        """One partner; the ETag header is what PATCH and DELETE send as If-Match."""
        record = await listing_record(routing.reads_for(state.reads), principal, partner_id, PARTNER_KINDS)
        if record is None:
            raise NotFound(f"No listing {partner_id} of this kind is visible to you.")
        return Response(
            partner_read(record, principal), headers={"ETag": etag_for(record.id, record.version)}
        )

    @patch("/{partner_id:uuid}")
    async def update_partner(
        self,
        db_session: DbSession,
        principal: Caller,
        partner_id: IdPath,
        data: JSONBody[PartnerUpdate],
        if_match: IfMatch = None,
    ) -> Response[PartnerRead]:
        """Change a partner listing you own (If-Match required); contacts, when sent, replace the list."""
        require_authenticated(principal)
        listing = await service.update_partner(db_session, principal, partner_id, data, if_match)
        return Response(
            partner_read(listing, principal), headers={"ETag": etag_for(listing.id, listing.version)}
        )

    @delete("/{partner_id:uuid}", status_code=204)
    async def archive_partner(
        self, db_session: DbSession, principal: Caller, partner_id: IdPath, if_match: IfMatch = None
    ) -> None:
        """Archive a partner listing you own (If-Match required); its history stays."""
        require_authenticated(principal)
        listing = await listings.get_listing(db_session, principal, partner_id, PARTNER_KINDS, lock=True)
        await listings.archive_listing(db_session, principal, listing, if_match=if_match)

    @post("/{partner_id:uuid}/reverify", status_code=200)
    async def reverify_partner(
        self, db_session: DbSession, principal: Caller, partner_id: IdPath
    ) -> Response[PartnerRead]:
        """Confirm the listing is current: sets last_verified_at."""
        require_authenticated(principal)
        listing = await listings.get_listing(db_session, principal, partner_id, PARTNER_KINDS, lock=True)
        await listings.reverify_listing(db_session, principal, listing)
        return Response(
            partner_read(listing, principal), headers={"ETag": etag_for(listing.id, listing.version)}
        )
