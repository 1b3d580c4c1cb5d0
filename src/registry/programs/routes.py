"""HTTP surface for peer-support programs."""

from litestar import Controller, MediaType, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import JSONBody

from registry.auth.dependencies import require_authenticated
from registry.database import routing
from registry.http.dependencies import Caller, DbSession, IdPath, IfMatch
from registry.http.errors import NotFound
from registry.http.etags import etag_for
from registry.http.pagination import DEFAULT_PER_PAGE, Page, PageNumber, PerPage
from registry.listings import pages
from registry.listings import params as p
from registry.listings import service as listings
from registry.listings.presenters import evaluation_read
from registry.listings.records import listing_record
from registry.listings.schemas import EvaluationCreate, EvaluationRead
from registry.programs import service
from registry.programs.presenters import program_read
from registry.programs.schemas import ProgramCreate, ProgramRead, ProgramUpdate


class ProgramController(Controller):
    path = "/programs"
    tags = ["programs"]

    @post("/", status_code=201, opt={"idempotent": True})
    async def create_program(
        self, db_session: DbSession, principal: Caller, data: JSONBody[ProgramCreate]
    ) -> Response[ProgramRead]:
        """Register a peer-support program (public once your organization is verified)."""
        listing = await service.create_program(db_session, principal, data)
        return Response(
            program_read(listing, principal, history=[]),
            status_code=201,
            headers={"ETag": etag_for(listing.id, listing.version)},
        )

    @get("/", opt={"replica_reads": True})
    async def list_programs(
        self,
        db_session: DbSession,
        principal: Caller,
        state: State,
        side: p.CodeQuery = None,
        format: p.CodesQuery = None,
        group_type: p.CodeQuery = None,
        delivery: p.CodeQuery = None,
        population: p.CodesQuery = None,
        language: p.CodesQuery = None,
        status: p.StatusQuery = None,
        evaluation_stage: p.CodeQuery = None,
        open_to_mentoring: p.Flag = None,
        q: p.Query = None,
        near: p.Near = None,
        radius_km: p.Radius = 50.0,
        remote_ok: p.RemoteOk = None,
        modified_after: p.ModifiedAfter = None,
        organization_id: p.OrganizationFilter = None,
        page: PageNumber = 1,
        per_page: PerPage = DEFAULT_PER_PAGE,
    ) -> Response[Page[ProgramRead]]:
        """Find programs by vocabulary, text and place; with `near`, ordered by distance band then name."""
        version = await state.caches.version()  # once for the request: the codes' and the page's
        filters = await service.program_filters(
            db_session,
            caches=state.caches,
            version=version,
            side=side,
            formats=format or [],
            group_type=group_type,
            delivery=delivery,
            populations=population or [],
            languages=language or [],
            status=status,
            evaluation_stage=evaluation_stage,
            open_to_mentoring=open_to_mentoring,
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
            what="programs",
            present=program_read,
        )
        # The body is a Page[ProgramRead] already encoded (bytes go out as they are).
        return Response(body, media_type=MediaType.JSON)  # type: ignore[arg-type]

    @get("/{program_id:uuid}", opt={"replica_reads": True})
    async def get_program(self, state: State, principal: Caller, program_id: IdPath) -> Response[ProgramRead]:
        """One program with its evaluation history; PATCH and DELETE send its ETag as If-Match."""
        record = await listing_record(routing.reads_for(state.reads), principal, program_id, service.KINDS)
        if record is None:
            raise NotFound(f"No listing {program_id} of this kind is visible to you.")
        return Response(
            program_read(record, principal, history=record.evaluations),
            headers={"ETag": etag_for(record.id, record.version)},
        )

    @patch("/{program_id:uuid}")
    async def update_program(
        self,
        db_session: DbSession,
        principal: Caller,
        program_id: IdPath,
        data: JSONBody[ProgramUpdate],
        if_match: IfMatch = None,
    ) -> Response[ProgramRead]:
        """Change a program you own (If-Match required); contacts, when sent, replace the whole list."""
        require_authenticated(principal)
        listing = await service.update_program(db_session, principal, program_id, data, if_match)
        history = list(await listings.list_evaluations(db_session, listing.id))
        return Response(
            program_read(listing, principal, history=history),
            headers={"ETag": etag_for(listing.id, listing.version)},
        )

    @delete("/{program_id:uuid}", status_code=204)
    async def archive_program(
        self, db_session: DbSession, principal: Caller, program_id: IdPath, if_match: IfMatch = None
    ) -> None:
        """Archive a program you own (If-Match required): it leaves every search, its history stays."""
        require_authenticated(principal)
        listing = await listings.get_listing(db_session, principal, program_id, service.KINDS, lock=True)
        await listings.archive_listing(db_session, principal, listing, if_match=if_match)

    @post("/{program_id:uuid}/reverify", status_code=200)
    async def reverify_program(
        self, db_session: DbSession, principal: Caller, program_id: IdPath
    ) -> Response[ProgramRead]:
        """Confirm the listing is current: sets last_verified_at (listings older than 12 months are stale)."""
        require_authenticated(principal)
        listing = await listings.get_listing(db_session, principal, program_id, service.KINDS, lock=True)
        await listings.reverify_listing(db_session, principal, listing)
        return Response(
            program_read(listing, principal), headers={"ETag": etag_for(listing.id, listing.version)}
        )

    @post("/{program_id:uuid}/evaluations", status_code=201, opt={"idempotent": True})
    async def add_evaluation(
        self, db_session: DbSession, principal: Caller, program_id: IdPath, data: JSONBody[EvaluationCreate]
    ) -> EvaluationRead:
        """Append an evaluation record; stages move forward only, or back with an explicit correction."""
        require_authenticated(principal)
        listing = await listings.get_listing(db_session, principal, program_id, service.KINDS, lock=True)
        record = await listings.add_evaluation(db_session, principal, listing, data)
        return evaluation_read(record)

    @get("/{program_id:uuid}/evaluations")
    async def list_evaluations(
        self, db_session: DbSession, principal: Caller, program_id: IdPath
    ) -> list[EvaluationRead]:
        """A program's evaluation history, oldest first; records are never rewritten."""
        listing = await listings.get_listing(db_session, principal, program_id, service.KINDS)
        return [evaluation_read(r) for r in await listings.list_evaluations(db_session, listing.id)]
