"""A toggleable TCP proxy in front of PostgreSQL, to take the database away from the app."""

import asyncio
import contextlib
from urllib.parse import parse_qs, urlsplit


def upstream_of(url: str) -> tuple[str | None, str | None, int]:
    """(unix socket path or None, host or None, port) for a PostgreSQL URL."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    port = parts.port or 5432
    if "host" in query and query["host"][0].startswith("/"):
        return f"{query['host'][0]}/.s.PGSQL.{port}", None, port
    return None, parts.hostname or "localhost", port


class DatabaseProxy:
    def __init__(self, upstream_url: str) -> None:
        self._socket, self._host, self._port = upstream_of(upstream_url)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    def url_through(self, upstream_url: str) -> str:
        parts = urlsplit(upstream_url)
        user = parts.username or "postgres"
        password = f":{parts.password}" if parts.password else ""
        return f"postgresql+asyncpg://{user}{password}@127.0.0.1:{self.port}{parts.path}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Refuse new connections and cut the open ones, as a crashed server would."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._socket is not None:
            up_reader, up_writer = await asyncio.open_unix_connection(self._socket)
        else:
            assert self._host is not None
            up_reader, up_writer = await asyncio.open_connection(self._host, self._port)
        self._writers.update((writer, up_writer))
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                dst.close()
            self._writers.discard(dst)
