"""Liveness and readiness probes for load balancers and orchestrators."""

import asyncio
from typing import Annotated, Final

import msgspec
from litestar import Controller, get
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.types import HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send
from sqlalchemy import text

from registry.http.errors import ServiceUnavailable


class HealthStatus(msgspec.Struct):
    status: str


class DatabaseStatus(msgspec.Struct):
    name: Annotated[
        str, msgspec.Meta(description="primary, or replica N in REGISTRY_READ_DATABASE_URLS' order")
    ]
    state: Annotated[
        str,
        msgspec.Meta(
            description="primary: ready; a replica: streaming (reads go to it), lagging (beyond "
            "REGISTRY_REPLICA_MAX_LAG_S), down, promoted (no longer a replica) or starting; "
            "reads skip all but streaming ones"
        ),
    ]
    lag_s: Annotated[float | None, msgspec.Meta(description="how far behind the primary a replica is")] = None

    reads_served: Annotated[
        int | None, msgspec.Meta(description="reads that could lag, answered by it in this process")
    ] = None


class ReadyStatus(msgspec.Struct):
    status: str
    databases: list[DatabaseStatus]
    warm: Annotated[
        bool,
        msgspec.Meta(
            description="this process has done what a starting server does in the background "
            "(matching's remote pools read, the report snapshot taken): until then its first "
            "matches are slower, and so is everything else it answers"
        ),
    ] = True


_ALIVE: Final = msgspec.json.encode(HealthStatus(status="ok"))
_ALIVE_START: Final[HTTPResponseStartEvent] = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(_ALIVE)).encode())],
}
_ALIVE_BODY: Final[HTTPResponseBodyEvent] = {"type": "http.response.body", "body": _ALIVE, "more_body": False}


def is_liveness_probe(scope: Scope) -> bool:
    """GET /health without credentials (a key sent along goes the whole way: a revoked one is a
    401 everywhere)."""
    return (
        scope["type"] == ScopeType.HTTP
        and scope["path"] == "/health"
        and scope.get("method") == "GET"
        and not any(name == b"authorization" for name, _ in scope["headers"])
    )


async def alive(scope: Scope, receive: Receive, send: Send) -> None:
    """`GET /health` as the route below answers it, straight from the server's call: liveness
    probes come many times a second from every load balancer, and nothing between (keys, limits,
    bodies, replicas) has anything to do for them."""
    scope["path_template"] = "/health"  # for the access log
    await send(_ALIVE_START)
    await send(_ALIVE_BODY)


class HealthController(Controller):
    tags = ["operations"]

    @get("/health")
    async def health(self) -> HealthStatus:
        """The process is alive (no database check). Asked without a key, answered before any
        other work on the request (`alive`)."""
        return HealthStatus(status="ok")

    @get("/ready")
    async def ready(self, state: State) -> ReadyStatus:
        """The API can reach its primary database (503 within two seconds when it cannot), and
        the state of each read replica as this process last found it (a replica's trouble does
        not make the API unready: reads go to the primary instead), and whether the process is
        `warm` (ready either way: a starting process answers, only its first matches are slower)."""
        try:
            async with asyncio.timeout(state.settings.ready_timeout_s):
                async with state.sessionmaker() as session:
                    await session.execute(text("SELECT 1"))
        except Exception as exc:  # any failure to round-trip means "not ready"
            raise ServiceUnavailable("The database did not answer.", headers={"Retry-After": "2"}) from exc
        found = getattr(state, "routing", None)
        warm = getattr(state, "warm", True)  # an app given a sessionmaker has nothing to warm
        if found is None or not found.replicas:
            primary = DatabaseStatus(name="primary", state="ready")
            return ReadyStatus(status="ready", databases=[primary], warm=warm)
        primary = DatabaseStatus(name="primary", state="ready", reads_served=found.served["primary"])
        return ReadyStatus(
            status="ready", databases=[primary, *(DatabaseStatus(**r) for r in found.report())], warm=warm
        )
