"""An HSDS client reading the whole public directory, and `registry import-hsds` of what it read.

    BENCH_DATABASE_URL=postgresql://... .venv/bin/python bench/hsds.py [--clients 4] [--import]
        [--only NAME ...]

Starts `registry serve --workers 2` on the database, waits until its workers are warm, and reads
the whole public directory four ways: `/hsds/services?full=true` page by page (100 a page,
`--clients` pages at a time), the same with `format=ndjson`, and streamed in one answer
(`format=ndjson&all=true`, then with `full=true`); prints services per second and the API
workers' resident memory before and after each (reading the whole directory must not grow it).
`--only streamed` (say) reads only the ways whose name holds it. With `--import`, the full
stream is imported by `registry import-hsds` into a fresh database on the same server, timed.
"""

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import msgspec
import psutil
from run import free_port, registry_command

from registry.config import asyncpg_dsn

PER_PAGE = 100


def worker_rss_mb(server: subprocess.Popen[bytes]) -> list[float]:
    children = psutil.Process(server.pid).children(recursive=True)
    return sorted(round(c.memory_info().rss / 2**20, 1) for c in children)


async def crawl(base: str, clients: int, ndjson: bool, sink: Path | None) -> tuple[int, float, int]:
    """(services read, seconds, bytes read) for the whole directory."""
    params = {"per_page": PER_PAGE} | ({"format": "ndjson"} if ndjson else {"full": "true"})
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        answer = await client.get("/hsds/services", params={"per_page": 1})
        answer.raise_for_status()
        first = answer.json()
        pages = -(-int(first["total_items"]) // PER_PAGE)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for page in range(1, pages + 1):
            queue.put_nowait(page)
        counts = [0, 0]
        out = sink.open("wb") if sink else None

        async def reader() -> None:
            while not queue.empty():
                page = queue.get_nowait()
                response = await client.get("/hsds/services", params=params | {"page": page})
                response.raise_for_status()
                body = response.content
                counts[1] += len(body)
                if ndjson:
                    counts[0] += body.count(b"\n")
                    if out:
                        out.write(body if body.endswith(b"\n") else body + b"\n")
                else:
                    counts[0] += len(msgspec.json.decode(body)["contents"])  # (lighter than json)

        began = time.perf_counter()
        try:
            await asyncio.gather(*(reader() for _ in range(clients)))
        finally:
            if out:
                out.close()
        return counts[0], time.perf_counter() - began, counts[1]


async def stream(base: str, full: bool, sink: Path | None) -> tuple[int, float, int]:
    """(services, seconds, bytes) of the whole directory in one streamed answer (all=true)."""
    params = {"format": "ndjson", "all": "true"} | ({"full": "true"} if full else {})
    count = size = 0
    out = sink.open("wb") if sink else None
    began = time.perf_counter()
    try:
        async with (
            httpx.AsyncClient(base_url=base, timeout=600) as client,
            client.stream("GET", "/hsds/services", params=params) as response,
        ):
            response.raise_for_status()
            async for chunk in response.aiter_bytes():
                count += chunk.count(b"\n")
                size += len(chunk)
                if out:
                    out.write(chunk)
    finally:
        if out:
            out.close()
    return count, time.perf_counter() - began, size


async def fresh_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    admin = await asyncpg.connect(asyncpg_dsn(urlunsplit(parts._replace(path="/postgres"))))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return urlunsplit(parts._replace(path=f"/{name}"))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=4, help="pages read at a time (default 4)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--import", dest="do_import", action="store_true", help="then time import-hsds")
    parser.add_argument(
        "--only", action="append", default=[], help="only the readings whose name holds this (repeatable)"
    )
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        raise SystemExit("set BENCH_DATABASE_URL to a loaded database (bench/run.py --keep-data makes one)")
    port = free_port()
    env = os.environ | {"DATABASE_URL": url, "REGISTRY_RATE_LIMIT_SCALE": "100000"}
    base = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="registry-hsds-") as tmp:
        export = Path(tmp) / "services.ndjson"
        log = Path(tmp) / "server.log"
        with log.open("wb") as out:
            server = subprocess.Popen(  # noqa: S603
                [*registry_command(), "serve", "--port", str(port), "--workers", str(args.workers)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            # Each worker reads matching's remote pools as it starts and logs "warm" when done:
            # measure the workers as they run, not as they start.
            began = time.monotonic()
            while log.read_bytes().count(b'"msg":"warm"') < args.workers:
                if server.poll() is not None or time.monotonic() > began + 600:
                    raise SystemExit(f"the API did not start warm:\n{log.read_text()[-2000:]}")
                time.sleep(0.2)
            crawls: dict[str, Callable[[], Coroutine[Any, Any, tuple[int, float, int]]]] = {
                "full=true, page by page": lambda: crawl(base, args.clients, False, None),
                "format=ndjson, page by page": lambda: crawl(base, args.clients, True, None),
                "format=ndjson&all=true, streamed": lambda: stream(base, False, None),
                "format=ndjson&all=true&full=true, streamed": lambda: stream(base, True, export),
            }
            for name, run in crawls.items():
                if args.only and not any(part in name for part in args.only):
                    continue
                before = worker_rss_mb(server)
                count, seconds, size = asyncio.run(run())
                after = worker_rss_mb(server)
                results[name] = (count, seconds, size, before, after)
                print(
                    f"GET /hsds/services {name}: {count:,} services in {seconds:.1f} s = "
                    f"{count / seconds:,.0f} services/s, {size / 2**20:,.0f} MB; "
                    f"worker RSS {before} -> {after} MB",
                    flush=True,
                )
        finally:
            server.terminate()
            server.wait(30)
        if args.do_import and "format=ndjson&all=true&full=true, streamed" in results:
            target = asyncio.run(fresh_database(url, "registry_hsds_import"))
            target_env = os.environ | {"DATABASE_URL": target}
            subprocess.run([*registry_command(), "migrate"], env=target_env, check=True, capture_output=True)  # noqa: S603
            began = time.perf_counter()
            done = subprocess.run(  # noqa: S603
                [*registry_command(), "import-hsds", str(export)],
                env=target_env,
                capture_output=True,
                text=True,
            )
            seconds = time.perf_counter() - began
            count = results["format=ndjson&all=true&full=true, streamed"][0]
            lines = done.stdout.strip().splitlines()
            print(
                "\n".join(line for line in lines if not line.startswith("  #"))[-2000:] or done.stderr[-500:]
            )
            rate = count / seconds
            print(f"registry import-hsds: {count:,} services in {seconds:.1f} s = {rate:,.0f} services/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
