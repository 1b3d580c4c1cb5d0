"""Liveness and readiness probes for load balancers and orchestrators."""

import asyncio
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.datastructures import State
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


class HealthController(Controller):
    tags = ["operations"]

    @get("/health")
    async def health(self) -> HealthStatus:
        """The process is alive (no database check)."""
        return HealthStatus(status="ok")

    @get("/ready")
    async def ready(self, state: State) -> ReadyStatus:
        """The API can reach its primary database (503 within two seconds when it cannot), and
        the state of each read replica as this process last found it (a replica's trouble does
        not make the API unready: reads go to the primary instead)."""
        try:
            async with asyncio.timeout(state.settings.ready_timeout_s):
                async with state.sessionmaker() as session:
                    await session.execute(text("SELECT 1"))
        except Exception as exc:  # any failure to round-trip means "not ready"
            raise ServiceUnavailable("The database did not answer.", headers={"Retry-After": "2"}) from exc
        found = getattr(state, "routing", None)
        if found is None or not found.replicas:
            return ReadyStatus(status="ready", databases=[DatabaseStatus(name="primary", state="ready")])
        primary = DatabaseStatus(name="primary", state="ready", reads_served=found.served["primary"])
        return ReadyStatus(
            status="ready", databases=[primary, *(DatabaseStatus(**r) for r in found.report())]
        )
