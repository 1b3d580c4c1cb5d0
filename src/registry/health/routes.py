"""Liveness and readiness probes for load balancers and orchestrators."""

import asyncio

import msgspec
from litestar import Controller, get
from litestar.datastructures import State
from sqlalchemy import text

from registry.http.errors import ServiceUnavailable


class HealthStatus(msgspec.Struct):
    status: str


class HealthController(Controller):
    tags = ["operations"]

    @get("/health")
    async def health(self) -> HealthStatus:
        """The process is alive (no database check)."""
        return HealthStatus(status="ok")

    @get("/ready")
    async def ready(self, state: State) -> HealthStatus:
        """The API can reach its database; 503 within two seconds when it cannot."""
        try:
            async with asyncio.timeout(state.settings.ready_timeout_s):
                async with state.sessionmaker() as session:
                    await session.execute(text("SELECT 1"))
        except Exception as exc:  # any failure to round-trip means "not ready"
            raise ServiceUnavailable("The database did not answer.", headers={"Retry-After": "2"}) from exc
        return HealthStatus(status="ready")
