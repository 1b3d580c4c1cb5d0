"""HTTP surface of the HSDS 3.0 read API: the registry's public subset, whoever asks."""

from typing import Annotated, Any, TypeAlias

import msgspec
from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.params import QueryParameter
from litestar.response import Stream

from registry.database import routing
from registry.hsds import profile, service
from registry.hsds.mapping import HSDS_VERSION, Json
from registry.hsds.service import ListParams, ServiceQuery
from registry.http.dependencies import DbSession
from registry.http.errors import InvalidInput, NotFound
from registry.http.pagination import DEFAULT_PER_PAGE, PageNumber, PerPage

NDJSON = "application/x-ndjson"

Flag: TypeAlias = Annotated[bool | None, QueryParameter()]
Full: TypeAlias = Annotated[bool | None, QueryParameter(description="true: fully nested objects")]
Minimal: TypeAlias = Annotated[
    bool | None, QueryParameter(description="true: only ids, names and last_modified (required fields)")
]
# The handlers taking it say opt={"ndjson": True}: the OpenAPI document lists NDJSON beside JSON.
Format: TypeAlias = Annotated[
    str | None,
    QueryParameter(pattern=r"^(json|ndjson)$", description="ndjson: this page's contents, one per line"),
]
Search: TypeAlias = Annotated[str | None, QueryParameter(max_length=200, description="text search")]
IdQuery: TypeAlias = Annotated[str | None, QueryParameter(max_length=100, description="an HSDS id (UUID)")]
ModifiedAfter: TypeAlias = Annotated[
    str | None, QueryParameter(max_length=40, description="ISO 8601 date or date-time; on or after it")
]
Postcode: TypeAlias = Annotated[
    str | None, QueryParameter(max_length=200, description="a US ZIP code (or 'City, CC'): its centroid")
]
Proximity: TypeAlias = Annotated[
    str | None,
    QueryParameter(
        max_length=100,
        description="meters from the postcode's centroid, or 'lat,lon,meters'; filters, never sorts",
    ),
]
Every: TypeAlias = Annotated[
    bool | None,
    QueryParameter(
        query="all",
        description="with format=ndjson: every matching service, one a line, streamed from one "
        "snapshot of the data in (name, id) order (page and per_page are ignored)",
    ),
]
FullService: TypeAlias = Annotated[
    bool | None, QueryParameter(description="true: the organization's services fully nested")
]


def list_params(
    page: int, per_page: int, full: bool | None, minimal: bool | None, format: str | None
) -> ListParams:
    # Built in the handler, not as a dependency: a dependency that raises after the request's
    # session was opened would leave the session's cleanup unrun (see auth/dependencies.py).
    return ListParams(
        page=page, per_page=per_page, full=bool(full), minimal=bool(minimal), ndjson=format == "ndjson"
    )


def respond(answer: Json, params: ListParams) -> Response[Any]:
    """The HSDS `Page`, or with format=ndjson its contents one JSON object a line."""
    if not params.ndjson:
        return Response(answer)
    body = b"".join(msgspec.json.encode(item) + b"\n" for item in answer["contents"])
    headers = {"X-Total-Items": str(answer["total_items"]), "X-Total-Pages": str(answer["total_pages"])}
    return Response(body, media_type=NDJSON, headers=headers)


class HsdsController(Controller):
    path = "/hsds"
    opt = {"replica_reads": True}  # reads that may lag (database.routing)
    tags = ["hsds"]

    @get("/", sync_to_thread=False)
    def meta(self, request: Request[Any, Any, Any]) -> dict[str, str]:
        """HSDS API information: the HSDS version, this registry's IPV profile and the OpenAPI document."""
        base = str(request.base_url).rstrip("/")
        return {
            "version": HSDS_VERSION,
            "profile": f"{base}/hsds/profile",
            "openapi_url": f"{base}/schema/openapi.json",
        }

    @get("/profile", sync_to_thread=False, media_type="text/markdown; charset=utf-8")
    def profile_document(self) -> str:
        """The IPV profile of HSDS this API conforms to: its added fields, vocabularies and privacy rules."""
        return profile.document()

    @get("/profile/{name:str}", sync_to_thread=False)
    def profile_file(self, name: str) -> dict[str, Any]:
        """A schema modification of the profile: a JSON Merge Patch onto the HSDS schema of that name."""
        patch = profile.PATCHES.get(name)
        if patch is None:
            raise NotFound(f"No profile file {name!r}; there are: {', '.join(profile.PATCHES)}.")
        return patch

    @get("/services", opt={"ndjson": True})
    async def list_services(
        self,
        db_session: DbSession,
        state: State,
        page: PageNumber = 1,
        per_page: PerPage = DEFAULT_PER_PAGE,
        full: Full = None,
        minimal: Minimal = None,
        format: Format = None,
        search: Search = None,
        taxonomy_id: IdQuery = None,
        taxonomy_term_id: IdQuery = None,
        organization_id: IdQuery = None,
        modified_after: ModifiedAfter = None,
        every: Every = None,
    ) -> Response[Any]:
        """A page of public services (programs and partners), ordered by name; with
        `format=ndjson&all=true`, every one of them, streamed."""
        params = list_params(page, per_page, full, minimal, format)
        query = ServiceQuery(
            search=search,
            taxonomy_id=taxonomy_id,
            taxonomy_term_id=taxonomy_term_id,
            organization_id=organization_id,
            modified_after=modified_after,
        )
        if every:
            if not params.ndjson:
                raise InvalidInput("all: the whole directory streams as ndjson; add format=ndjson")
            replica = routing.current()  # the stream reads where the request reads
            sessionmaker = replica.sessionmaker if replica is not None else state.sessionmaker
            stream = service.stream_services(sessionmaker, query, params)
            return Stream(stream, media_type=NDJSON, headers={"Cache-Control": "no-store"})
        return respond(await service.list_services(db_session, state.caches, query, params), params)

    @get("/services/{service_id:str}")
    async def get_service(self, db_session: DbSession, service_id: str) -> dict[str, Any]:
        """One public service, fully nested."""
        return await service.get_service(db_session, service_id)

    @get("/service_at_locations", opt={"ndjson": True})
    async def list_service_at_locations(
        self,
        db_session: DbSession,
        state: State,
        page: PageNumber = 1,
        per_page: PerPage = DEFAULT_PER_PAGE,
        full: Full = None,
        minimal: Minimal = None,
        format: Format = None,
        search: Search = None,
        taxonomy_id: IdQuery = None,
        taxonomy_term_id: IdQuery = None,
        organization_id: IdQuery = None,
        modified_after: ModifiedAfter = None,
        postcode: Postcode = None,
        proximity: Proximity = None,
    ) -> Response[Any]:
        """A page of public services at their (for survivor groups, coarse) locations, ordered by name."""
        params = list_params(page, per_page, full, minimal, format)
        query = ServiceQuery(
            search=search,
            taxonomy_id=taxonomy_id,
            taxonomy_term_id=taxonomy_term_id,
            organization_id=organization_id,
            modified_after=modified_after,
            postcode=postcode,
            proximity=proximity,
        )
        return respond(
            await service.list_service_at_locations(db_session, state.caches, query, params), params
        )

    @get("/service_at_locations/{sal_id:str}")
    async def get_service_at_location(
        self, db_session: DbSession, state: State, sal_id: str
    ) -> dict[str, Any]:
        """One public service at its location, fully nested."""
        return await service.get_service_at_location(db_session, state.caches, sal_id)

    @get("/organizations", opt={"ndjson": True})
    async def list_organizations(
        self,
        db_session: DbSession,
        page: PageNumber = 1,
        per_page: PerPage = DEFAULT_PER_PAGE,
        full: Full = None,
        minimal: Minimal = None,
        format: Format = None,
        search: Search = None,
        full_service: FullService = None,
    ) -> Response[Any]:
        """A page of verified organizations, ordered by name."""
        params = list_params(page, per_page, full, minimal, format)
        answer = await service.list_organizations(
            db_session, search=search, full_service=bool(full_service), params=params
        )
        return respond(answer, params)

    @get("/organizations/{organization_id:str}")
    async def get_organization(
        self, db_session: DbSession, organization_id: str, full_service: FullService = None
    ) -> dict[str, Any]:
        """One verified organization with its public services."""
        return await service.get_organization(db_session, organization_id, full_service=bool(full_service))

    @get("/taxonomies", sync_to_thread=False, opt={"ndjson": True})
    def list_taxonomies(
        self,
        page: PageNumber = 1,
        per_page: PerPage = DEFAULT_PER_PAGE,
        full: Full = None,
        minimal: Minimal = None,
        format: Format = None,
        search: Search = None,
    ) -> Response[Any]:
        """The registry's vocabularies as HSDS taxonomies."""
        params = list_params(page, per_page, full, minimal, format)
        return respond(service.list_taxonomies(search=search, params=params), params)

    @get("/taxonomies/{taxonomy_id:str}", sync_to_thread=False)
    def get_taxonomy(self, taxonomy_id: str) -> dict[str, Any]:
        """One vocabulary as an HSDS taxonomy."""
        return service.get_taxonomy(taxonomy_id)

    @get("/taxonomy_terms", opt={"ndjson": True})
    async def list_taxonomy_terms(
        self,
        db_session: DbSession,
        page: PageNumber = 1,
        per_page: PerPage = DEFAULT_PER_PAGE,
        full: Full = None,
        minimal: Minimal = None,
        format: Format = None,
        search: Search = None,
        taxonomy_id: IdQuery = None,
        parent_id: IdQuery = None,
        top_only: Flag = None,
    ) -> Response[Any]:
        """A page of vocabulary terms, retired ones included (ipv_retired); the vocabularies are flat."""
        params = list_params(page, per_page, full, minimal, format)
        answer = await service.list_terms(
            db_session, search=search, taxonomy_id=taxonomy_id, parent_id=parent_id, params=params
        )
        return respond(answer, params)

    @get("/taxonomy_terms/{term_id:str}")
    async def get_taxonomy_term(self, db_session: DbSession, term_id: str) -> dict[str, Any]:
        """One vocabulary term with its taxonomy."""
        return await service.get_term(db_session, term_id)
