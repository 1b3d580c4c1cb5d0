"""HTTP surface for funders' reports (JSON, or CSV with Accept: text/csv or ?format=csv)."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.datastructures import Cookie, State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, QueryParameter, URLEncodedBody
from litestar.response import Redirect
from litestar.serialization import encode_json
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from registry.auth.dependencies import require_role, resolve_key
from registry.auth.principal import Role
from registry.database import routing
from registry.http.dependencies import Caller, DbSession
from registry.reports import dashboard, dashboard_names, releases, service
from registry.reports.schemas import ReportRead

Format = Annotated[Literal["json", "csv"] | None, QueryParameter(description="csv, or send Accept: text/csv")]
Accept = Annotated[str | None, HeaderParameter(name="Accept", required=False)]
CacheControl = Annotated[
    str | None,
    HeaderParameter(
        name="Cache-Control",
        required=False,
        max_length=200,
        description="no-cache: compute the report now instead of answering from the last minute's",
    ),
]
GroupBy = Annotated[
    list[str] | None,
    QueryParameter(
        max_items=2,
        description="up to two of: side, format, delivery, population, country, region, "
        "evaluation_stage, status",
    ),
]


def _wants_csv(format: str | None, accept: str | None) -> bool:
    if format is not None:
        return format == "csv"
    return accept is not None and "text/csv" in accept and "application/json" not in accept


@asynccontextmanager
async def side_by_side(
    db_session: AsyncSession, state: State, count: int
) -> AsyncIterator[list[AsyncSession]]:
    """The request's session and count - 1 more, each on a connection of its own, for queries
    that can run at the same time. Only the request's session when the app's sessions share
    one connection (as the tests' do): a connection runs one query at a time."""
    if not isinstance(db_session.bind, AsyncEngine):
        yield [db_session]
        return
    replica = routing.current()  # on the database the request reads from
    sessionmaker = replica.sessionmaker if replica is not None else state.sessionmaker
    async with AsyncExitStack() as stack:
        others = [await stack.enter_async_context(sessionmaker()) for _ in range(count - 1)]
        yield [db_session, *others]


# (sessions, threshold, the release period whose people counts it shows)
Build = Callable[[list[AsyncSession], int, datetime], Awaitable[ReportRead]]


async def respond(
    name: tuple[object, ...],
    db_session: AsyncSession,
    principal: Caller,
    state: State,
    format: str | None,
    accept: str | None,
    cache_control: str | None,
    build: Build,
    *,
    connections: int = 1,
) -> Response[ReportRead]:
    """The report from the cache or from `build` (given `connections` sessions when the app's
    sessions each have a connection of their own), as JSON or CSV."""
    require_role(principal, Role.FUNDER, Role.STEWARD)
    threshold = state.settings.report_threshold
    fresh = cache_control is not None and "no-cache" in cache_control.lower()

    period = await releases.current_period(
        state.sessionmaker, state.settings.report_period_hours, state.caches
    )

    async def compute() -> bytes:
        async with side_by_side(db_session, state, connections) as sessions:
            report = await build(sessions, threshold, period)
        # Kept as its JSON, which every request then sends as it is: encoding the partnerships
        # report for each request took 1.8 ms and 0.9 MB at 1,000,000 introductions, and its
        # struct held 2.7 MB (docs/performance.md).
        return encode_json(report)

    # Listings' changes (a suspended organization, say) show at once, people's with the next release;
    # each process keeps a report for a minute at most (`computed_at` says when it was made), and one
    # computation of a report at a time: a burst of funders waits for it.
    version = await state.caches.version()
    body: bytes = await state.caches.memo("reports", (name, threshold, period), version, compute, fresh=fresh)
    if _wants_csv(format, accept):
        return Response(
            service.to_csv(body),  # type: ignore[arg-type]
            media_type="text/csv",  # the framework adds the charset
            headers={"Content-Disposition": f'attachment; filename="{name[0]}.csv"'},
        )
    return Response(content=body, media_type=MediaType.JSON)  # type: ignore[arg-type]


class ReportController(Controller):
    path = "/reports"
    tags = ["reports"]
    # csv: the OpenAPI document lists text/csv beside JSON (registry.http.openapi); replica_reads:
    # reads that may lag (database.routing)
    opt = {"csv": True, "replica_reads": True}

    @get("/programs")
    async def programs(
        self,
        db_session: DbSession,
        principal: Caller,
        state: State,
        group_by: GroupBy = None,
        format: Format = None,
        accept: Accept = None,
        cache_control: CacheControl = None,
    ) -> Response[ReportRead]:
        """Counts of verified, non-archived programs grouped by up to two dimensions (funders, stewards)."""
        dims = group_by or []
        return await respond(
            ("programs", tuple(dims)),
            db_session,
            principal,
            state,
            format,
            accept,
            cache_control,
            lambda sessions, t, _period: service.programs_report(sessions[0], dims, t),
        )

    @get("/evidence")
    async def evidence(
        self,
        db_session: DbSession,
        principal: Caller,
        state: State,
        format: Format = None,
        accept: Accept = None,
        cache_control: CacheControl = None,
    ) -> Response[ReportRead]:
        """The evaluation pipeline: stages, transitions per quarter, designs, outcomes, clinical partners."""

        return await respond(
            ("evidence",),
            db_session,
            principal,
            state,
            format,
            accept,
            cache_control,
            lambda sessions, t, _period: service.evidence_report(sessions, t),
        )

    @get("/partnerships")
    async def partnerships(
        self,
        db_session: DbSession,
        principal: Caller,
        state: State,
        format: Format = None,
        accept: Accept = None,
        cache_control: CacheControl = None,
    ) -> Response[ReportRead]:
        """Introductions by partner kind, region and quarter; initiators by step (small counts hidden)."""

        return await respond(
            ("partnerships",),
            db_session,
            principal,
            state,
            format,
            accept,
            cache_control,
            service.partnerships_report,
            connections=2,
        )

    @get("/coverage")
    async def coverage(
        self,
        db_session: DbSession,
        principal: Caller,
        state: State,
        format: Format = None,
        accept: Accept = None,
        cache_control: CacheControl = None,
    ) -> Response[ReportRead]:
        """Regions with programs or initiators but no verified clinician, evaluator or trainer nearby."""

        return await respond(
            ("coverage",),
            db_session,
            principal,
            state,
            format,
            accept,
            cache_control,
            service.coverage_report,
            connections=2,
        )


class DashboardLogin(msgspec.Struct, forbid_unknown_fields=True):
    key: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


DASHBOARD_COOKIE = "registry_dashboard"


class DashboardController(Controller):
    path = "/reports/dashboard"
    tags = ["reports"]
    include_in_schema = True

    @get(
        "/",
        media_type=MediaType.HTML,
        responses={
            401: ResponseSpec(
                data_container=str,
                media_type=MediaType.HTML,
                description="without a key: the page to give one",
            )
        },
    )
    async def dashboard(self, db_session: DbSession, principal: Caller, state: State) -> Response[str]:
        """The funders' dashboard: one HTML page with SVG charts of the suppressed reports."""
        if principal.is_anonymous:
            return Response(
                dashboard.LOGIN_PAGE,
                status_code=401,
                media_type=MediaType.HTML,
                headers=dashboard.LOGIN_HEADERS,
            )
        require_role(principal, Role.FUNDER, Role.STEWARD)
        t = state.settings.report_threshold
        period = await releases.current_period(
            state.sessionmaker, state.settings.report_period_hours, state.caches
        )
        page = dashboard.render(
            await service.programs_report(db_session, ["format", "side"], t),
            await service.evidence_report([db_session], t),
            await service.partnerships_report([db_session], t, period),
            await service.coverage_report([db_session], t, period),
            # The map marks regions with programs and no gap too; labels as stewards keep them.
            places=await service.programs_report(db_session, ["country", "region"], t),
            labels=await dashboard_names.vocabulary_labels(db_session),
        )
        return Response(page, media_type=MediaType.HTML, headers=dashboard.HEADERS)

    @post("/session", status_code=303)
    async def open_session(
        self, db_session: DbSession, request: Request[Any, Any, Any], data: URLEncodedBody[DashboardLogin]
    ) -> Redirect:
        """Trade a funder or steward key for a session cookie (HttpOnly, SameSite=Strict)."""
        principal = await resolve_key(request.app.state.reads, f"Bearer {data.key.strip()}")
        require_role(principal, Role.FUNDER, Role.STEWARD)
        return Redirect(
            "/reports/dashboard",
            status_code=303,
            cookies=[
                Cookie(
                    key=DASHBOARD_COOKIE,
                    value=data.key.strip(),
                    httponly=True,
                    samesite="strict",
                    path="/reports",
                    secure=request.url.scheme == "https",
                    max_age=8 * 3600,
                )
            ],
        )
