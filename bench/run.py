"""End-to-end benchmark at scale: fresh database, N synthetic listings, the API as production runs
it, a real HTTP load generator, one table of results.

    .venv/bin/python bench/run.py --n 100000            # or: make bench N=100000

Steps: start an embedded PostgreSQL in a temporary folder (or use BENCH_DATABASE_URL), apply
migrations (`registry migrate`), load N synthetic listings (registry.synthetic, timed), create a
funder key (`registry keys create --role funder`), start `registry serve --workers 2` with rate
limits scaled out of the way, and drive each endpoint for --duration seconds over --connections
connections with wrk (when installed) or the bundled httpx client (a separate process). Each
endpoint is first timed alone (single requests, as the "reports under 300 ms" goal has it), then
under load; the endpoints that API processes answer from caches (near searches, matches) are then
driven a second time, caches warm from the first pass, and reported on rows of their own. Peak RSS
of every API process is sampled throughout. Results go to stdout and to bench/results/<N>.json.
Everything started is stopped at the end (Ctrl-C included).

See bench/README.md for how to read the numbers.
"""

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
import psutil

from registry import synthetic
from registry.database.embedded import EmbeddedPostgres
from registry.locations import geo
from registry.taxonomies.vocabulary import DEFAULT_TERMS

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
SINGLE_ROW = "GET /programs/{id}"
WARM = "(warm)"  # the second pass's rows: "POST /matches (warm)"
REPLICA_ROW = "(replica)"  # --replica: "POST /matches (replica)"
REPORTS = ("programs", "evidence", "partnerships", "coverage")
NEEDS = ["clinician", "treatment_program", "evaluator", "trainer", "peer_program"]
SIDES = ["survivors", "people_who_use_violence", "both", None]
FORMATS = [code for code, _, _ in DEFAULT_TERMS["format"]]
POPULATIONS = ["women", "men", "lgbtq", "youth", "court_referred", "substance_use"]
LANGUAGES = ["en", "es", "zh", "hi", "ar", "pt", "fr", "de", "nl", "sw"]
US_ZIPS = ["80202", "10001", "98101", "60601", "94103", "30303"]


# --- requests and results -----------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Endpoint:
    name: str
    requests: list[Request]
    report: bool = False
    # Answered from each API process's caches: run twice, the second time with the caches warm.
    cached: bool = False


@dataclass
class Result:
    name: str
    requests: int = 0
    errors: int = 0
    rps: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    ratio_to_single_row: float | None = None
    ratio_to_floor: float | None = None
    error_kinds: dict[str, int] = field(default_factory=dict)
    single_request_ms: list[float] | None = None
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rps": round(self.rps, 1),
            "p50_ms": _round(self.p50_ms),
            "p99_ms": _round(self.p99_ms),
            "errors": self.errors,
            "ratio_to_single_row": None
            if self.ratio_to_single_row is None
            else round(self.ratio_to_single_row, 3),
            "requests": self.requests,
        }
        if self.ratio_to_floor is not None:
            out["ratio_to_floor"] = round(self.ratio_to_floor, 3)
        if self.error_kinds:
            out["error_kinds"] = self.error_kinds
        if self.single_request_ms is not None:
            out["single_request_ms"] = [round(ms, 1) for ms in self.single_request_ms]
        if self.note:
            out["note"] = self.note
        return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    if not ordered:
        return None
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


# --- the bundled load client (runs in its own process) ------------------------------------


async def _client_phase(
    client: httpx.AsyncClient, requests: list[Request], connections: int, seconds: float, seed: int
) -> tuple[list[float], Counter[str], float]:
    """Drive the requests over `connections` workers for `seconds`; requests still in flight at
    the end are abandoned and not counted (as wrk does)."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    rng = random.Random(seed)
    started = time.perf_counter()
    deadline = started + seconds

    async def worker(offset: int) -> None:
        i = offset
        while time.perf_counter() < deadline:
            request = requests[i % len(requests)]
            i += 1
            sent = time.perf_counter()
            try:
                response = await client.request(
                    request.method, request.path, json=request.body, headers=request.headers
                )
                await response.aread()
            except httpx.TimeoutException:
                errors["timeout"] += 1
                continue
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
                continue
            done = time.perf_counter()
            if done > deadline:
                return
            latencies.append((done - sent) * 1000)
            if response.status_code >= 400:
                errors[str(response.status_code)] += 1

    tasks = [asyncio.ensure_future(worker(rng.randrange(len(requests)))) for _ in range(connections)]
    _, pending = await asyncio.wait(tasks, timeout=max(0.0, deadline - time.perf_counter()) + 0.05)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return latencies, errors, min(time.perf_counter(), deadline) - started


async def _client_main(spec: dict[str, Any]) -> dict[str, Any]:
    requests = [Request(**r) for r in spec["requests"]]
    connections = int(spec["connections"])
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=spec["url"], limits=limits, timeout=spec["timeout"]) as client:
        if spec["warmup"] > 0:
            await _client_phase(client, requests, connections, spec["warmup"], seed=1)
        latencies, errors, elapsed = await _client_phase(
            client, requests, connections, spec["duration"], seed=2
        )
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "elapsed": elapsed,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
    }


def client_process_main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    print(json.dumps(asyncio.run(_client_main(spec))))
    return 0


# --- load generators, from the benchmark's side -------------------------------------------


class LoadGenerator:
    name = "python-httpx"

    def __init__(self, url: str, workdir: Path, connections: int, duration: float, timeout: float) -> None:
        self.url = url
        self.workdir = workdir
        self.connections = connections
        self.duration = duration
        self.timeout = timeout

    def run(self, endpoint: Endpoint, warmup: float) -> Result:
        spec = {
            "url": self.url,
            "requests": [r.__dict__ for r in endpoint.requests],
            "connections": self.connections,
            "duration": self.duration,
            "warmup": warmup,
            "timeout": self.timeout,
        }
        spec_path = self.workdir / "client-spec.json"
        spec_path.write_text(json.dumps(spec))
        wait = warmup + self.duration + self.timeout + 30
        done = subprocess.run(  # noqa: S603 (our own interpreter and script)
            [sys.executable, str(Path(__file__).resolve()), "--client", str(spec_path)],
            capture_output=True,
            text=True,
            timeout=wait,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"load client failed ({done.returncode}):\n{done.stderr[-2000:]}")
        data = json.loads(done.stdout.strip().splitlines()[-1])
        return Result(
            name=endpoint.name,
            requests=data["requests"],
            errors=data["errors"],
            error_kinds=data["error_kinds"],
            rps=data["requests"] / self.duration,
            p50_ms=data["p50_ms"],
            p99_ms=data["p99_ms"],
        )


def _lua_string(text: str) -> str:
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


class Wrk(LoadGenerator):
    """wrk with a Lua script that rotates through the endpoint's requests (POST bodies included),
    counts responses >= 400 and prints the figures as one JSON line."""

    name = "wrk"

    def script(self, endpoint: Endpoint) -> str:
        entries = []
        for r in endpoint.requests:
            headers = dict(r.headers)
            body = "nil"
            if r.body is not None:
                headers["Content-Type"] = "application/json"
                body = _lua_string(json.dumps(r.body))
            header_lua = ", ".join(f"[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items())
            entries.append(f"{{{_lua_string(r.method)}, {_lua_string(r.path)}, {{{header_lua}}}, {body}}}")
        return (
            "local reqs = {\n"
            + ",\n".join(entries)
            + "\n}\n"
            + """
local threads = {}
local counter = 1
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  bad = {}
  i = (id * 7919) % #reqs
end
function request()
  i = i + 1
  local r = reqs[(i % #reqs) + 1]
  return wrk.format(r[1], r[2], r[3], r[4])
end
function response(status, headers, body)
  if status >= 400 then bad[status] = (bad[status] or 0) + 1 end
end
function done(summary, latency, requests)
  local statuses = {}
  for _, t in ipairs(threads) do
    for status, count in pairs(t:get("bad")) do statuses[status] = (statuses[status] or 0) + count end
  end
  local parts = {}
  for status, count in pairs(statuses) do table.insert(parts, string.format('"%d": %d', status, count)) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "statuses": {%s}, "connect": %d, "read": %d, '
    .. '"write": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, table.concat(parts, ", "), e.connect, e.read, e.write,
    e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""
        )

    def _wrk(self, script: Path, seconds: float) -> str:
        threads = max(1, min(self.connections, os.cpu_count() or 1))
        command = [
            "wrk",
            f"-t{threads}",
            f"-c{self.connections}",
            f"-d{max(1, round(seconds))}s",
            f"--timeout={max(1, round(self.timeout))}s",
            "-s",
            str(script),
            self.url,
        ]
        done = subprocess.run(  # noqa: S603 (wrk from PATH, arguments built here)
            command, capture_output=True, text=True, timeout=seconds + self.timeout + 30, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stderr[-2000:]}")
        return done.stdout

    def run(self, endpoint: Endpoint, warmup: float) -> Result:
        script = self.workdir / "bench.lua"
        script.write_text(self.script(endpoint))
        if warmup > 0:
            self._wrk(script, warmup)
        out = self._wrk(script, self.duration)
        line = next((x for x in out.splitlines() if x.startswith("BENCH_JSON ")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no results for {endpoint.name}:\n{out[-2000:]}")
        data = json.loads(line.removeprefix("BENCH_JSON "))
        completed = data["requests"]
        kinds: dict[str, int] = dict(data["statuses"])
        for socket_error in ("connect", "read", "write", "timeout"):
            if data[socket_error]:
                kinds[socket_error] = data[socket_error]
        errors = sum(kinds.values())
        return Result(
            name=endpoint.name,
            requests=completed,
            errors=errors,
            error_kinds=kinds,
            rps=completed / (data["duration_us"] / 1e6),
            p50_ms=data["p50_us"] / 1000 if completed else None,
            p99_ms=data["p99_us"] / 1000 if completed else None,
        )


# --- processes: the API server and its memory ---------------------------------------------


def registry_command() -> list[str]:
    script = Path(sys.executable).with_name("registry")
    return [str(script)] if script.exists() else [sys.executable, "-m", "registry.cli"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class MemorySampler(threading.Thread):
    """Peak RSS of the API's processes (the `registry serve` process and its workers)."""

    def __init__(self, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.root: Any = None
        self.peaks: dict[int, int] = {}
        self.roles: dict[int, str] = {}
        # What the API is being asked (`mark`), and the largest worker's peak while it was.
        self.phase = "start-up"
        self.phase_peaks: dict[str, int] = {}
        self._stop_event = threading.Event()
        self._lock = threading.Lock()

    def mark(self, phase: str) -> None:
        self.phase = phase

    def watch(self, pid: int | None) -> None:
        with self._lock:
            self.root = psutil.Process(pid) if pid else None

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            with self._lock:
                root = self.root
            if root is None:
                continue
            try:
                processes = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            for proc in processes:
                try:
                    rss = int(proc.memory_info().rss)
                except psutil.Error:
                    continue
                role = self.roles.setdefault(proc.pid, "main" if proc.pid == root.pid else "worker")
                self.peaks[proc.pid] = max(rss, self.peaks.get(proc.pid, 0))
                if role == "worker":
                    self.phase_peaks[self.phase] = max(rss, self.phase_peaks.get(self.phase, 0))

    def stop(self) -> None:
        self._stop_event.set()

    def summary(self) -> dict[str, Any]:
        workers = sorted(
            (round(rss / 2**20, 1) for pid, rss in self.peaks.items() if self.roles.get(pid) == "worker"),
            reverse=True,
        )
        main = [round(rss / 2**20, 1) for pid, rss in self.peaks.items() if self.roles.get(pid) == "main"]
        return {
            "peak_rss_mb_per_worker": workers,
            "peak_rss_mb_max_worker": workers[0] if workers else None,
            "peak_rss_mb_main": max(main) if main else None,
            # The largest worker's peak while each endpoint ran (its single requests, then under
            # load), in the order they ran: which one set the peak.
            "peak_rss_mb_max_worker_by_phase": {
                phase: round(rss / 2**20, 1) for phase, rss in self.phase_peaks.items()
            },
        }


class Floor:
    """bench/floor.py under granian with as many workers: the lean request path to compare with."""

    def __init__(self, env: dict[str, str], workers: int, log_path: Path) -> None:
        self.env, self.workers, self.log_path = env, workers, log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "granian", "--interface", "asgi", "--workers", str(self.workers)]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "floor:app"]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603
            command, env=self.env, stdout=log, stderr=log, start_new_session=True, cwd=Path(__file__).parent
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.3)
        raise RuntimeError(
            f"the floor app did not start:\n{self.log_path.read_text(errors='replace')[-2000:]}"
        )

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)


async def make_remote_capable(url: str, kind: str, total: int) -> int:
    """Make `total` listings of `kind` remote-capable (the first ones by id), for the matcher's
    bench: answers must come from every eligible one, however many."""
    conn = await asyncpg.connect(synthetic.asyncpg_dsn(url))
    try:
        return int(
            await conn.fetchval(
                "WITH chosen AS (SELECT id FROM listing WHERE kind = $1 ORDER BY id LIMIT $2), "
                "changed AS (UPDATE listing SET remote_ok = true FROM chosen WHERE listing.id = chosen.id "
                "AND NOT listing.remote_ok RETURNING 1) SELECT count(*) FROM changed",
                kind,
                total,
            )
        )
    finally:
        await conn.close()


FLOOR_ROWS = {SINGLE_ROW: "floor: GET /programs/{id}", "GET /health": "floor: GET /health"}


class Api:
    """`registry serve --workers W` as a subprocess in its own session, as production runs it."""

    def __init__(self, env: dict[str, str], workers: int, log_path: Path, sampler: MemorySampler) -> None:
        self.env = env
        self.workers = workers
        self.log_path = log_path
        self.sampler = sampler
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        # A restart keeps the port, so the load generator's URL stays right.
        self.port = self.port or free_port()
        command = [
            *registry_command(),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]
        log = self.log_path.open("ab")
        logged = log.tell()
        self.proc = subprocess.Popen(  # noqa: S603
            command, env=self.env, stdout=log, stderr=log, start_new_session=True
        )
        log.close()
        self.sampler.watch(self.proc.pid)
        began = time.monotonic()
        deadline = began + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the API exited with {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    break
            time.sleep(0.3)
        else:
            raise RuntimeError(f"the API did not become ready in 90 s:\n{self.log_tail()}")
        # Each worker reads matching's remote pools as it starts (`/ready` says `warm` when done;
        # its log says so per worker): measure the processes as they run, not as they start.
        while time.monotonic() < began + 600:
            with self.log_path.open("rb") as read:
                read.seek(logged)
                if read.read().count(b'"msg":"warm"') >= self.workers:
                    print(f"bench: API warm after {time.monotonic() - began:.1f} s", flush=True)
                    return
            time.sleep(0.3)
        raise RuntimeError(f"the API's workers did not all say they were warm in 600 s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-3000:]
        return ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        self.sampler.watch(None)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)  # granian shuts its workers down gracefully
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the session started for it, workers included
            proc.wait(timeout=10)
        # Workers left behind by a main process that died first.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    def cpu_percent(self, interval: float) -> float:
        """CPU use of the API's processes over `interval` seconds (100 = one core)."""
        if self.proc is None:
            return 0.0
        try:
            root = psutil.Process(self.proc.pid)
            processes = [root, *root.children(recursive=True)]
            for proc in processes:
                proc.cpu_percent(None)
            time.sleep(interval)
            return float(sum(proc.cpu_percent(None) for proc in processes))
        except psutil.Error:
            return 0.0

    def restart(self) -> None:
        self.restarts += 1
        self.stop()
        self.start()


# --- the database -------------------------------------------------------------------------


@contextlib.contextmanager
def database(args: argparse.Namespace) -> Iterator[tuple[str, Path, str]]:
    """Yield (url, working folder, description); stop and remove what was started."""
    configured = os.environ.get("BENCH_DATABASE_URL")
    if configured:
        workdir = Path(tempfile.mkdtemp(prefix="registry-bench-"))
        try:
            yield configured, workdir, "BENCH_DATABASE_URL"
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return
    keep = args.keep_data or args.data_dir is not None
    workdir = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="registry-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"bench: embedded PostgreSQL in {workdir}", flush=True)
    server = EmbeddedPostgres(workdir, delete_on_stop=not keep)
    try:
        server.ensure_database("registry")
        yield server.url("registry"), workdir, f"embedded PostgreSQL in {workdir}"
    finally:
        server.stop()
        if keep:
            print(f"bench: data kept in {workdir} (reuse with --data-dir {workdir})", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def run_registry(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(  # noqa: S603
        [*registry_command(), *args], env=env, capture_output=True, text=True, check=False, timeout=600
    )
    if done.returncode != 0:
        raise RuntimeError(f"registry {' '.join(args)} failed:\n{done.stdout[-1000:]}{done.stderr[-2000:]}")
    return done.stdout


_TOP_UP = """
WITH targets AS (
    SELECT array_agg(l.id ORDER BY l.id) AS ids, array_agg(l.organization_id ORDER BY l.id) AS orgs
    FROM listing l JOIN organization o ON o.id = l.organization_id
    WHERE l.archived_at IS NULL AND o.verification_status = 'verified'
),
people AS (
    SELECT array_agg(id ORDER BY id) AS ids, array_agg(display_name ORDER BY id) AS names,
           array_agg(email ORDER BY id) AS emails, array_agg(locality ORDER BY id) AS places
    FROM initiator
),
drawn AS (
    SELECT 1 + floor(random() * cardinality(t.ids))::int AS target,
           1 + floor(random() * cardinality(p.ids))::int AS person,
           now() - random() * interval '730 days' AS created, random() AS r
    FROM generate_series(1, $1), targets t, people p
),
decided AS (
    SELECT d.*, CASE
        WHEN d.created > now() - interval '30 days'
            THEN CASE WHEN r < 0.5 THEN 'pending' WHEN r < 0.8 THEN 'accepted' ELSE 'declined' END
        ELSE CASE WHEN r < 0.35 THEN 'accepted' WHEN r < 0.55 THEN 'declined'
                  WHEN r < 0.9 THEN 'expired' ELSE 'withdrawn' END
        END AS status
    FROM drawn d
)
INSERT INTO introduction (id, initiator_id, listing_id, organization_id, message, status,
                          initiator_name, initiator_email, initiator_locality, created_at,
                          expires_at, decided_at)
SELECT gen_random_uuid(), p.ids[d.person], t.ids[d.target], t.orgs[d.target],
       'Benchmark introduction', d.status, p.names[d.person],
       CASE WHEN d.status = 'accepted' THEN p.emails[d.person] END, p.places[d.person],
       d.created, d.created + interval '30 days',
       CASE WHEN d.status = 'expired' THEN d.created + interval '30 days'
            WHEN d.status <> 'pending' THEN d.created + interval '3 days' END
FROM decided d, targets t, people p
"""


async def count_rows(url: str, table: str) -> int:
    conn = await asyncpg.connect(synthetic.asyncpg_dsn(url))
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))  # noqa: S608 (a constant)
    finally:
        await conn.close()


async def execute(url: str, statement: str) -> None:
    conn = await asyncpg.connect(synthetic.asyncpg_dsn(url))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def top_up_introductions(url: str, total: int, seed: int) -> tuple[int, float]:
    """Add introductions (random listings, initiators, dates over two years, statuses by age)
    until there are `total`; returns (how many were added, seconds)."""
    conn = await asyncpg.connect(synthetic.asyncpg_dsn(url))
    try:
        have = int(await conn.fetchval("SELECT count(*) FROM introduction"))
        started = time.perf_counter()
        await conn.execute("SELECT setseed($1)", (seed % 1000) / 1000)
        added = 0
        while have + added < total:
            batch = min(200_000, total - have - added)
            await conn.execute(_TOP_UP, batch)
            added += batch
        if added:
            await conn.execute("ANALYZE introduction")
            await conn.execute("ANALYZE introduction_tally")
        return added, time.perf_counter() - started
    finally:
        await conn.close()


@dataclass
class Sample:
    program_ids: list[str]
    places: list[str]
    points: list[tuple[float, float]]


async def sample_data(url: str, seed: int) -> Sample:
    """Request targets drawn from the data: public program ids, busy cities, listing points."""
    conn = await asyncpg.connect(synthetic.asyncpg_dsn(url))
    try:
        public = (
            "FROM listing l JOIN organization o ON o.id = l.organization_id "
            "WHERE o.verification_status = 'verified' AND l.archived_at IS NULL AND l.kind = 'peer_program'"
        )
        ids = [
            str(r[0])
            for r in await conn.fetch(
                f"SELECT l.id {public} ORDER BY md5(l.id::text || $1) LIMIT 2000",
                str(seed),
            )
        ]
        cities = await conn.fetch(
            f"SELECT l.locality, l.country, count(*) {public} AND l.locality IS NOT NULL "
            "GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 60"
        )
        points = [
            (float(r[0]), float(r[1]))
            for r in await conn.fetch(
                f"SELECT l.latitude, l.longitude {public} AND l.latitude IS NOT NULL "
                "ORDER BY md5(l.id::text || $1) LIMIT 200",
                str(seed),
            )
        ]
    finally:
        await conn.close()
    places = []
    for locality, country, _ in cities:
        place = f"{locality}, {country}"
        try:
            geo.resolve_place(place)  # only names the API resolves, so errors mean errors
        except geo.InvalidLocation:
            continue
        places.append(place)
        if len(places) == 30:
            break
    if not ids or not places:
        raise RuntimeError("the database holds no public programs to benchmark against")
    return Sample(program_ids=ids, places=places, points=points)


def match_body(rng: random.Random, sample: Sample) -> dict[str, Any]:
    """Mixed, realistic match requests (after bench/matches.py): cities from the data, some US
    ZIP codes and raw points, different sides, needs, populations and languages."""
    r = rng.random()
    location: dict[str, Any]
    if r < 0.7:
        location = {"place": rng.choice(sample.places)}
    elif r < 0.8:
        location = {"postal_code": rng.choice(US_ZIPS)}
    else:
        lat, lon = rng.choice(sample.points)
        location = {"latitude": lat, "longitude": lon}
    body: dict[str, Any] = {
        "location": location,
        "needs": rng.sample(NEEDS, rng.randint(1, 5)),
        "radius_km": rng.choice([25, 50, 100]),
        "populations": rng.sample(POPULATIONS, rng.randint(0, 2)),
        "languages": rng.sample(LANGUAGES, rng.randint(0, 2)),
        "per_kind": rng.choice([3, 5, 10]),
    }
    side = rng.choice(SIDES)
    if side:
        body["side"] = side
    return body


def endpoints(sample: Sample, funder_key: str, seed: int) -> list[Endpoint]:
    rng = random.Random(seed)
    auth = {"Authorization": f"Bearer {funder_key}"}
    near = [
        Request(
            "GET",
            "/programs?" + urlencode({"near": rng.choice(sample.places), "format": rng.choice(FORMATS)}),
        )
        for _ in range(500)
    ]
    return [
        Endpoint("GET /health", [Request("GET", "/health")]),
        Endpoint(SINGLE_ROW, [Request("GET", f"/programs/{pid}") for pid in sample.program_ids]),
        Endpoint("GET /programs?near=<city>&format=<code>", near, cached=True),
        Endpoint(
            "POST /matches",
            [Request("POST", "/matches", match_body(rng, sample)) for _ in range(1000)],
            cached=True,
        ),
        *(
            Endpoint(f"GET /reports/{name}", [Request("GET", f"/reports/{name}", headers=auth)], report=True)
            for name in REPORTS
        ),
    ]


def time_single(
    api: Api, requests: list[Request], repeats: int, timeout: float
) -> tuple[list[float] | None, str]:
    """Milliseconds for `repeats` requests one after another on an idle server (the first one
    is cold), and a note on anything but 200s; None when one took longer than `timeout`."""
    times = []
    statuses: Counter[int] = Counter()
    with httpx.Client(base_url=api.url, timeout=timeout) as client:
        for k in range(repeats):
            request = requests[k % len(requests)]
            started = time.perf_counter()
            try:
                response = client.request(
                    request.method, request.path, json=request.body, headers=request.headers
                )
            except httpx.TimeoutException:
                return None, f"single request over {timeout:g} s"
            times.append((time.perf_counter() - started) * 1000)
            statuses[response.status_code] += 1
    odd = {status: count for status, count in statuses.items() if status != 200}
    return times, (f"single requests answered {odd}" if odd else "")


async def _prime(url: str, requests: list[Request], connections: int, seconds: float) -> Counter[str]:
    """Each distinct request of the mix once, `connections` at a time (each given `seconds`): how
    each was answered (its status, or the client's error)."""
    distinct = list({json.dumps(r.__dict__, sort_keys=True): r for r in requests}.values())
    statuses: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=seconds) as client:
        gate = asyncio.Semaphore(connections)

        async def ask(request: Request) -> None:
            async with gate:
                try:
                    response = await client.request(
                        request.method, request.path, json=request.body, headers=request.headers
                    )
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1
                else:
                    statuses[str(response.status_code)] += 1

        await asyncio.gather(*(ask(r) for r in distinct))
    return statuses


def prime(api: Api, endpoint: Endpoint, connections: int, timeout: float) -> str:
    """Ask each request of the endpoint's mix once before the warm pass, unmeasured. The load
    generator (wrk, or the bundled client) walks the mix in order, so a first pass that answers
    fewer requests than the mix holds (matches at 1,000,000 listings) leaves some to be computed
    for the first time in the warm pass, which is then not the steady state it is meant to
    measure. A note for the warm row."""
    started = time.perf_counter()
    statuses = asyncio.run(_prime(api.url, endpoint.requests, connections, timeout))
    odd = {status: count for status, count in statuses.items() if status != "200"}
    took = time.perf_counter() - started
    note = f"after each of the {sum(statuses.values())} distinct requests once more, {took:.1f} s"
    return note + (f", answered {odd}" if odd else "")


async def _active_queries(url: str) -> int:
    conn = await asyncpg.connect(synthetic.asyncpg_dsn(url))
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'registry' "
            "AND state = 'active' AND pid <> pg_backend_pid()"
        )
        return count
    finally:
        await conn.close()


def settle(api: Api, url: str, max_wait: float) -> bool:
    """Wait until requests left over from a run are done: no registry query running and the API
    processes (nearly) idle. False when that did not happen within max_wait seconds."""
    deadline = time.monotonic() + max_wait
    quiet = 0
    while time.monotonic() < deadline:
        busy = asyncio.run(_active_queries(url))
        cpu = api.cpu_percent(0.5)
        quiet = quiet + 1 if busy == 0 and cpu < 10.0 else 0
        if quiet >= 2:
            return True
    return False


# --- reporting ----------------------------------------------------------------------------


async def _transactions(url: str) -> int:
    """Transactions committed and rolled back in the database so far (pg_stat_database)."""
    connection = await asyncpg.connect(synthetic.asyncpg_dsn(url))
    try:
        return int(
            await connection.fetchval(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
            )
        )
    finally:
        await connection.close()


def replica_pass(
    args: argparse.Namespace,
    env: dict[str, str],
    url: str,
    workdir: Path,
    sampler: MemorySampler,
    todo: list[Endpoint],
    single_server: dict[str, Result],
) -> list[Result]:
    """The same endpoints with one streaming replica of the database (tests/replicas/harness.py:
    pg_basebackup -R from the same binaries): their figures beside the single-server run's, and
    how many transactions each server ran meanwhile (where the queries went)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.replicas.harness import primary_address, start_replica

    socket_dir, port, database_name = primary_address(url)
    (workdir / "replica-work").mkdir(exist_ok=True)
    replica = start_replica(socket_dir, workdir / "replica-work", database=database_name, primary_port=port)
    api = Api(
        env | {"REGISTRY_READ_DATABASE_URLS": replica.url}, args.workers, workdir / "api-replica.log", sampler
    )
    results: list[Result] = []
    try:
        asyncio.run(replica.catch_up())
        api.start()
        use_wrk = shutil.which("wrk") is not None and not args.python_client
        generator = (Wrk if use_wrk else LoadGenerator)(
            api.url, workdir, args.connections, args.duration, args.timeout
        )
        print(f"bench: with a streaming replica ({replica.url})", flush=True)
        for endpoint in todo:
            before = (asyncio.run(_transactions(url)), asyncio.run(_transactions(replica.url)))
            result = generator.run(Endpoint(f"{endpoint.name} {REPLICA_ROW}", endpoint.requests), args.warmup)
            after = (asyncio.run(_transactions(url)), asyncio.run(_transactions(replica.url)))
            on_primary, on_replica = after[0] - before[0], after[1] - before[1]
            alone = single_server.get(endpoint.name)
            versus = f"{result.rps / alone.rps:.2f}x single server; " if alone and alone.rps > 0 else ""
            result.note = f"{versus}transactions: primary {on_primary}, replica {on_replica}"
            results.append(result)
            print(
                f"bench: {result.name}: {result.rps:.1f} req/s, p99 {result.p99_ms} ms; {result.note}",
                flush=True,
            )
            settle(api, url, max_wait=args.report_timeout)
    finally:
        api.stop()
        replica.close()
    return results


def git_commit() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if done.returncode == 0:
            return done.stdout.strip()
    return "unknown"


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpu_count": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg_at_start": [round(x, 2) for x in load],
    }


def table(results: list[Result]) -> str:
    width = max([42, *(len(r.name) for r in results)])
    columns = (
        f"{'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7} {'vs row':>7} {'vs floor':>8}  single ms"
    )
    head = f"{'endpoint':<{width}} {columns}"
    lines = [head, "-" * len(head)]
    for r in results:
        ratio = "" if r.ratio_to_single_row is None else f"{r.ratio_to_single_row:.2f}x"
        p50 = "-" if r.p50_ms is None else f"{r.p50_ms:.1f}"
        p99 = "-" if r.p99_ms is None else f"{r.p99_ms:.1f}"
        single = ""
        if r.single_request_ms is not None:
            single = " / ".join(f"{ms:.0f}" for ms in r.single_request_ms)
        floor = "" if r.ratio_to_floor is None else f"{r.ratio_to_floor:.2f}x"
        line = (
            f"{r.name:<{width}} {r.rps:>9.1f} {p50:>9} {p99:>9} {r.errors:>7} {ratio:>7} {floor:>8}  {single}"
        )
        if r.note:
            line += f"  [{r.note}]"
        lines.append(line.rstrip())  # rows without single timings end here, not in spaces
    return "\n".join(lines)


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


# --- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="synthetic listings to load (default 100000)")
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds of load per endpoint (default 10)"
    )
    parser.add_argument(
        "--connections", type=int, default=32, help="concurrent HTTP connections (default 32)"
    )
    parser.add_argument("--workers", type=int, default=2, help="API worker processes (default 2)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each run")
    parser.add_argument(
        "--no-warm-pass",
        dest="warm_pass",
        action="store_false",
        help="drive near searches and matches once only (no second pass with warm caches)",
    )
    parser.add_argument("--random-seed", type=int, default=1, help="synthetic data set and request mix")
    parser.add_argument("--load-connections", type=int, default=synthetic.DEFAULT_CONNECTIONS)
    parser.add_argument(
        "--single-repeats", type=int, default=3, help="requests timed one at a time per endpoint (default 3)"
    )
    parser.add_argument(
        "--report-timeout",
        type=float,
        default=60.0,
        help="give up on a request timed alone after this many seconds; the endpoint is then not run "
        "under load and the API is restarted (default 60)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout under load")
    parser.add_argument("--client", help=argparse.SUPPRESS)  # internal: run the load client
    parser.add_argument(
        "--python-client", action="store_true", help="use the httpx client even if wrk exists"
    )
    parser.add_argument("--keep-data", action="store_true", help="keep the embedded database's folder")
    parser.add_argument(
        "--remote-capable",
        action="append",
        metavar="KIND=N",
        help="make N listings of KIND remote-capable before the run (e.g. clinician=10000)",
    )
    parser.add_argument(
        "--no-floor", dest="floor", action="store_false", help="skip the floor app (bench/floor.py)"
    )
    parser.add_argument("--data-dir", help="embedded database folder to use (and keep), e.g. a kept one")
    parser.add_argument("--output", help="results file (default bench/results/<N>.json)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="TEXT",
        help="run only the endpoints whose name contains TEXT (repeatable), e.g. --only /matches",
    )
    parser.add_argument(
        "--replica",
        action="store_true",
        help="run the endpoints again with one streaming replica of the (embedded) database, "
        "beside the single-server figures, with the transactions each server ran",
    )
    parser.add_argument(
        "--introductions",
        type=int,
        default=0,
        help="top introductions up to this many after loading (e.g. 1000000 for the reports' "
        "'100,000 programs and 1,000,000 introductions'); default: the loader's N",
    )
    return parser.parse_args(argv)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.client:
        return client_process_main(args.client)
    if args.n < 1 or args.duration <= 0 or args.connections < 1:
        raise SystemExit("--n, --duration and --connections must be positive")
    output = Path(args.output) if args.output else RESULTS_DIR / f"{args.n}.json"
    host = machine()
    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop what was started.
    signal.signal(signal.SIGTERM, _interrupt)
    sampler = MemorySampler()
    sampler.start()
    api: Api | None = None
    try:
        with database(args) as (url, workdir, where):
            env = os.environ | {
                "DATABASE_URL": url,
                "REGISTRY_DATA_DIR": str(workdir),
                "REGISTRY_RATE_LIMIT_SCALE": "100000",
                "PYTHONUNBUFFERED": "1",
            }
            print("bench: migrating", flush=True)
            run_registry(env, "migrate")
            print(f"bench: loading {args.n} synthetic listings (random seed {args.random_seed})", flush=True)
            load = synthetic.run(url, args.n, args.random_seed, connections=args.load_connections)
            print(f"bench: {load.summary()}", flush=True)
            if args.introductions:
                added, took = asyncio.run(top_up_introductions(url, args.introductions, args.random_seed))
                print(f"bench: added {added} introductions in {took:.1f} s", flush=True)
            for spec in args.remote_capable or []:
                kind, _, count = spec.partition("=")
                changed = asyncio.run(make_remote_capable(url, kind, int(count)))
                print(
                    f"bench: {changed} more {kind} listings made remote-capable (up to {count})", flush=True
                )
            introductions = asyncio.run(count_rows(url, "introduction"))
            funder_key = run_registry(env, "keys", "create", "--role", "funder", "--label", "bench")
            funder_key = funder_key.strip().splitlines()[-1]
            sample = asyncio.run(sample_data(url, args.random_seed))
            # Cold means cold: no answer kept by an earlier run's processes (caching.shared).
            asyncio.run(execute(url, "DELETE FROM shared_answer"))
            api = Api(env, args.workers, workdir / "api.log", sampler)
            api.start()
            use_wrk = shutil.which("wrk") is not None and not args.python_client
            generator_type = Wrk if use_wrk else LoadGenerator
            generator = generator_type(api.url, workdir, args.connections, args.duration, args.timeout)
            print(
                f"bench: API on {api.url} ({args.workers} workers); load: {generator.name}, "
                f"{args.connections} connections, {args.duration:g} s per endpoint",
                flush=True,
            )
            results: list[Result] = []
            for endpoint in endpoints(sample, funder_key, args.random_seed):
                if args.only and not any(text in endpoint.name for text in args.only):
                    continue
                # Reports are cached for a minute; timed alone, each one is computed (no-cache).
                alone = endpoint.requests
                if endpoint.report:
                    alone = [
                        Request(r.method, r.path, r.body, r.headers | {"Cache-Control": "no-cache"})
                        for r in endpoint.requests
                    ]
                sampler.mark(endpoint.name)
                single, note = time_single(api, alone, args.single_repeats, args.report_timeout)
                if single is None:
                    results.append(Result(name=endpoint.name, note=f"{note}: not run under load"))
                    print(f"bench: {endpoint.name}: {note}; restarting the API", flush=True)
                    api.restart()
                    continue
                passes = [(endpoint, args.warmup)]
                if endpoint.cached and args.warm_pass:
                    # Warm from the first pass, and from every request of the mix asked once (`prime`).
                    passes.append((Endpoint(f"{endpoint.name} {WARM}", endpoint.requests), 0.0))
                for measured, warmup in passes:
                    sampler.mark(measured.name)
                    primed = ""
                    if measured is not endpoint:
                        primed = prime(api, endpoint, args.connections, args.timeout)
                    result = generator.run(measured, warmup)
                    if measured is endpoint:
                        result.single_request_ms = single
                        result.note = note
                    else:
                        result.note = primed
                    results.append(result)
                    print(
                        f"bench: {measured.name}: {result.rps:.1f} req/s, p50 {result.p50_ms} ms, "
                        f"p99 {result.p99_ms} ms, {result.errors} errors {result.error_kinds or ''}"
                        f"{'; ' + note if note and measured is endpoint else ''}",
                        flush=True,
                    )
                    # Requests cut off at the end keep the server busy; let them finish first.
                    if not settle(api, url, max_wait=args.report_timeout):
                        print(
                            f"bench: the API was still busy after {measured.name}; restarting it", flush=True
                        )
                        api.restart()
                        break  # a restarted API has cold caches: no warm pass
            if args.floor:
                # The lean path on the same database and machine, measured in the same run.
                api.stop()
                floor = Floor(env, args.workers, workdir / "floor.log")
                floor.start()
                floor_generator = generator_type(
                    floor.url, workdir, args.connections, args.duration, args.timeout
                )
                mine = {r.name: r for r in results}
                endpoints_by_name = {e.name: e for e in endpoints(sample, funder_key, args.random_seed)}
                for name, floor_name in FLOOR_ROWS.items():
                    if name not in mine:
                        continue  # not run (--only)
                    result = floor_generator.run(
                        Endpoint(floor_name, endpoints_by_name[name].requests), args.warmup
                    )
                    results.append(result)
                    if name in mine and result.rps > 0:
                        mine[name].ratio_to_floor = mine[name].rps / result.rps
                    print(f"bench: {floor_name}: {result.rps:.1f} req/s, p99 {result.p99_ms} ms", flush=True)
                floor.stop()
            if args.replica:
                api.stop()
                mine = {r.name: r for r in results}
                todo = [e for e in endpoints(sample, funder_key, args.random_seed) if e.name in mine]
                results += replica_pass(args, env, url, workdir, sampler, todo, mine)
            baseline = next((r.rps for r in results if r.name == SINGLE_ROW), 0.0)
            for result in results:
                if baseline > 0 and result.requests > 0:  # it ran under load
                    result.ratio_to_single_row = result.rps / baseline
            restarts = api.restarts
            api.stop()
            api = None
            memory = sampler.summary() | {"api_restarts": restarts}
            data = {
                "n": args.n,
                "commit": git_commit(),
                "machine": host,
                "database": where,
                "client": generator.name,
                "connections": args.connections,
                "duration_s": args.duration,
                "api_workers": args.workers,
                "load": {
                    "listings": load.listings,
                    "organizations": load.organizations,
                    "contacts": load.contacts,
                    "evaluation_records": load.evaluation_records,
                    "initiators": load.initiators,
                    "introductions": load.introductions,
                    "introductions_in_database": introductions,
                    "elapsed_s": round(load.elapsed_s, 2),
                    "listings_per_s": round(load.listings_per_s, 1),
                    "connections": load.connections,
                    "skipped_chunks": load.skipped_chunks,
                },
                "memory": memory,
                "endpoints": {r.name: r.as_json() for r in results},
            }
            write_json(output, data)
    except KeyboardInterrupt:
        print("bench: interrupted; stopping", file=sys.stderr, flush=True)
        return 130
    finally:
        if api is not None:
            api.stop()
        sampler.stop()

    print()
    print(
        f"n={args.n}  commit {data['commit'][:12]}  {host['cpu_count']} CPUs, {host['memory_gb']} GB, "
        f"load average at start {host['loadavg_at_start'][0]}  client: {generator.name}, "
        f"{args.connections} connections, {args.duration:g} s each"
    )
    print(
        f"load: {load.listings} listings in {load.elapsed_s:.1f} s = {load.listings_per_s:,.0f} listings/s "
        f"(with {load.contacts} contacts, {load.evaluation_records} evaluation records, "
        f"{load.initiators} initiators, {load.introductions} introductions; {load.connections} connections)"
    )
    print(f"database: {data['load']['introductions_in_database']:,} introductions in all")
    print()
    print(table(results))
    print()
    workers = ", ".join(f"{mb:.0f}" for mb in memory["peak_rss_mb_per_worker"]) or "-"
    restarted = f"; the API was restarted {restarts} time(s), see above" if restarts else ""
    main_mb = memory["peak_rss_mb_main"]
    print(f"peak RSS per API worker process: {workers} MB (main process {main_mb} MB{restarted})")
    phases = memory.get("peak_rss_mb_max_worker_by_phase", {})
    if phases:
        print(
            "largest worker's peak RSS while each ran (MB): "
            + ", ".join(f"{k} {v:.0f}" for k, v in phases.items())
        )
    print(f"results: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
