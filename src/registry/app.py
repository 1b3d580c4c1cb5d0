"""The application factory. Nothing is built at import time."""

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.static_files import create_static_files_router
from litestar.types import Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from registry.audit.routes import AuditController
from registry.auth.dependencies import authentication_middleware, provide_principal
from registry.caching.caches import Caches
from registry.config import Settings
from registry.database import routing
from registry.database.reads import Reads
from registry.database.sessions import create_engine, create_sessionmaker
from registry.health.routes import HealthController, alive, is_liveness_probe
from registry.hsds.routes import HsdsController
from registry.http import throttling
from registry.http.access_log import configure_logging, log_request
from registry.http.bodies import guarded, strict_body
from registry.http.dependencies import provide_db_session
from registry.http.errors import handle_exception
from registry.http.idempotency import idempotency_middleware
from registry.http.openapi import ASSETS_PATH, openapi_config, problem_documents
from registry.http.read_routing import read_routing_middleware
from registry.http.throttling import rate_limit_middleware
from registry.initiators.routes import InitiatorController
from registry.introductions.routes import IntroductionController
from registry.locations.geo import nearest_locality, resolve_place, resolve_postal_code
from registry.matching.routes import MatchController
from registry.matching.service import warm_pools
from registry.notifications.sender import Sender, Smtp
from registry.organizations.routes import ApiKeyController, OrganizationController
from registry.partners.routes import PartnerController
from registry.programs.routes import ProgramController
from registry.reports import releases
from registry.reports.routes import DashboardController, ReportController
from registry.taxonomies.routes import TaxonomyController
from registry.web.routes import PageSessionController, SearchPageController


def warm_up() -> None:
    """Build the ZIP and city indexes before the first request (alternate city names stay lazy:
    their index costs memory that most deployments never use). The ZIP codes first: what reading
    them leaves behind is freed, and the city index's would keep that memory from being given back
    (about 7 MB more in each process the other way round)."""
    resolve_postal_code("80202")
    resolve_place("Utrecht, NL")
    nearest_locality(52.09, 5.12)


# Net allocations before a young collection (Python's default is 700): at 700 the objects of the
# requests in flight are promoted and full collections pause every request; at 10,000 requests are
# over before their objects are looked at (docs/performance.md).
YOUNG_COLLECTION_THRESHOLD = 10_000


def settle_garbage_collector() -> None:
    """For a long-running server process, once start-up is done: what start-up built (place
    indexes, modules) lives as long as the process, so it is moved out of the collector's way
    (walking the place indexes cost report requests tens of milliseconds), and young collections
    run less often (YOUNG_COLLECTION_THRESHOLD)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)


async def _routing(
    settings: Settings, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], reads: Reads
) -> routing.Routing:
    """The primary and the replicas (REGISTRY_READ_DATABASE_URLS), checked once before serving."""
    replicas = []
    for number, url in enumerate(routing.read_urls(settings.read_database_urls), start=1):
        replica_engine = create_engine(settings, url, pool_size=settings.replica_pool_size)
        replicas.append(
            routing.Replica(
                name=f"replica {number}",
                sessionmaker=create_sessionmaker(replica_engine),
                reads=await Reads.open(url, settings, size=settings.replica_pool_size, lazy=True),
                engine=replica_engine,
            )
        )
    found = routing.Routing(
        primary=routing.Target("primary", sessionmaker, reads, engine),
        replicas=replicas,
        max_lag_s=settings.replica_max_lag_s,
    )
    if replicas:
        await found.check()
    return found


async def _warm_up(app: Litestar) -> None:
    """What a starting server does in the background, so its first users do not wait for it: read
    every kind's remote pool, and take the period's report snapshot if no process has yet."""
    began = time.monotonic()
    try:
        await warm_pools(app.state.caches)
    except Exception:
        logging.getLogger("registry.matching").warning("could not warm the match pools", exc_info=True)
    try:
        await releases.current_period(
            app.state.sessionmaker, app.state.settings.report_period_hours, app.state.caches
        )
    except Exception:
        logging.getLogger("registry.reports").warning("could not take the report snapshot", exc_info=True)
    app.state.warm = True  # (`/ready` says so)
    logging.getLogger("registry.startup").info("warm", extra={"seconds": round(time.monotonic() - began, 2)})


class RegistryApp(Litestar):
    body_timeout_s = 10.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        await log_request(alive if is_liveness_probe(scope) else self._with_body, scope, receive, send)

    async def _with_body(self, scope: Scope, receive: Receive, send: Send) -> None:
        await guarded(self._litestar, scope, receive, send, self.body_timeout_s)

    async def _litestar(self, scope: Scope, receive: Receive, send: Send) -> None:
        await Litestar.__call__(self, scope, receive, send)


def create_server_app() -> Litestar:
    """The app each server process runs (`registry serve`): as `create_app`, and the garbage
    collector settled for a long-running process once start-up is done (`settle_garbage_collector`)."""
    return create_app(freeze_start_up=True)


def create_app(
    settings: Settings | None = None,
    *,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    freeze_start_up: bool = False,
) -> Litestar:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def database(app: Litestar) -> AsyncIterator[None]:
        # Build the place indexes now, not on the first user's request.
        await asyncio.to_thread(warm_up)
        if freeze_start_up:
            settle_garbage_collector()
        engine = create_engine(settings)
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.reads = await Reads.open(engine.url.render_as_string(hide_password=False), settings)
        app.state.caches.reads = app.state.reads
        app.state.takes = throttling.Takes(app.state.reads)
        app.state.routing = await _routing(settings, engine, app.state.sessionmaker, app.state.reads)
        # Every process runs a sender: the outbox's row locks keep them from sending twice.
        stop = asyncio.Event()
        sender = Sender(app.state.sessionmaker, Smtp.from_settings(settings))
        sending = asyncio.create_task(sender.run(stop, settings.outbox_interval_s))
        checking = asyncio.create_task(app.state.routing.run(stop, settings.replica_check_interval_s))
        app.state.warm = False
        warming = asyncio.create_task(_warm_up(app))
        try:
            yield
        finally:
            warming.cancel()
            stop.set()
            await sending
            await checking
            for replica in app.state.routing.replicas:
                await replica.reads.close()
                if replica.engine is not None:
                    await replica.engine.dispose()
            await app.state.reads.close()
            await engine.dispose()

    assets = create_static_files_router(
        path=ASSETS_PATH,
        directories=[str(files("registry.docs") / "assets")],
        include_in_schema=False,
        opt={"skip_rate_limit": True},
    )
    caches = Caches()
    if sessionmaker is not None:  # else the app's start-up opens a pool of its own
        caches.reads = Reads(sessionmaker=sessionmaker)
    config = AppConfig(
        route_handlers=[
            HealthController,
            OrganizationController,
            ApiKeyController,
            AuditController,
            TaxonomyController,
            ProgramController,
            PartnerController,
            InitiatorController,
            MatchController,
            IntroductionController,
            HsdsController,
            ReportController,
            DashboardController,
            SearchPageController,
            PageSessionController,
            assets,
        ],
        dependencies={
            "db_session": Provide(provide_db_session),
            "principal": Provide(provide_principal),
        },
        exception_handlers={Exception: handle_exception},
        before_request=strict_body,
        middleware=[
            authentication_middleware,
            rate_limit_middleware,
            idempotency_middleware,
            read_routing_middleware,
        ],
        # A given sessionmaker (tests, tools) is used as is; otherwise the app owns its engine.
        lifespan=[database] if sessionmaker is None else [],
        state=State(
            {
                "settings": settings,
                "sessionmaker": sessionmaker,
                "caches": caches,
                "reads": caches.reads,
                # (a server's are made with its pool, at start-up)
                "takes": None if caches.reads is None else throttling.Takes(caches.reads),
            }
        ),
        openapi_config=openapi_config(),
        debug=False,
        request_max_body_size=64 * 1024,
    )
    app = RegistryApp.from_config(config)
    app.body_timeout_s = settings.body_timeout_s
    problem_documents(app)
    return app
