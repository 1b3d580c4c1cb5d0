"""Where the time of a synthetic load goes: the loader as shipped, and without the work PostgreSQL
does for each row, each into a fresh database of its own.

    .venv/bin/python bench/load.py --n 100000

Variants (each a new database in one embedded PostgreSQL, migrated with `registry migrate`, then
loaded with `registry.synthetic` exactly as `registry seed --synthetic N` loads):

- shipped: the schema as migrated.
- no-triggers: the loaded tables' own triggers disabled (the report tallies and the change
  notifications); foreign key checks and indexes kept.
- no-indexes: every secondary index of the loaded tables dropped first (primary keys and unique
  constraints kept), then built again after the load, timed on its own line.
- bare: no secondary indexes, and `session_replication_role = replica` for the loader's sessions,
  which turns off every trigger: the report tallies, the change notifications and the foreign
  key checks. What is left is generating the rows in Python and PostgreSQL's COPY.

The coverage refresh that ends a load (`place_coverage_refresh()`, which searches every demand
place) is left out of every variant's load time, and timed after the shipped one. Client CPU is
this process's (the generator thread and COPY's encoding); PostgreSQL CPU is the server's
processes', exited backends included. The variants other than shipped need a superuser (the
embedded PostgreSQL's), and BENCH_DATABASE_URL is not used: the databases are thrown away.

See bench/README.md for how to read the numbers.
"""

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import asyncpg
import psutil
from run import git_commit, machine, run_registry

from registry import synthetic
from registry.database.embedded import EmbeddedPostgres

VARIANTS = ("shipped", "no-triggers", "no-indexes", "bare")
TABLES = ("organization", "listing", "contact", "evaluation_record", "initiator", "introduction")
T = TypeVar("T")


@dataclass
class Measured:
    variant: str
    seconds: float
    listings: int
    client_cpu_s: float
    server_cpu_s: float
    after: str = ""


def server_cpu(pgdata: Path) -> float:
    """CPU seconds of the PostgreSQL server so far: the postmaster, its exited children (which it
    has reaped) and its live ones."""
    postmaster = psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))
    times = postmaster.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in postmaster.children(recursive=True):
        try:
            child_times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += child_times.user + child_times.system
    return float(total)


def client_cpu() -> float:
    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


def measured(pgdata: Path, work: Callable[[], T]) -> tuple[T, float, float, float]:
    """work()'s result, wall seconds, client and server CPU seconds."""
    server, client, started = server_cpu(pgdata), client_cpu(), time.perf_counter()
    result = work()
    wall = time.perf_counter() - started
    time.sleep(0.5)  # let the backends that closed exit, so the postmaster has counted them
    return result, wall, client_cpu() - client, server_cpu(pgdata) - server


async def _execute(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(synthetic.asyncpg_dsn(url))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _secondary_indexes(url: str) -> list[tuple[str, str]]:
    """(name, definition) of every index of the loaded tables but primary keys and unique ones."""
    conn = await asyncpg.connect(synthetic.asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            """
            SELECT i.relname, pg_get_indexdef(x.indexrelid)
            FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class t ON t.oid = x.indrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            WHERE n.nspname = 'public' AND t.relname = ANY($1) AND NOT x.indisprimary AND NOT x.indisunique
            ORDER BY t.relname, i.relname
            """,
            list(TABLES),
        )
    finally:
        await conn.close()
    return [(row[0], row[1]) for row in rows]


def run_variant(server: EmbeddedPostgres, variant: str, args: argparse.Namespace) -> list[Measured]:
    database = f"load_{variant.replace('-', '_')}"
    server.ensure_database(database)
    url = server.url(database)
    run_registry({**os.environ, "DATABASE_URL": url}, "migrate")
    # The coverage refresh is timed on its own: without indexes it would search each place slowly.
    statements = [
        "ALTER FUNCTION place_coverage_refresh() RENAME TO place_coverage_refresh_timed",
        "CREATE FUNCTION place_coverage_refresh() RETURNS void LANGUAGE sql AS 'SELECT'",
    ]
    indexes = asyncio.run(_secondary_indexes(url)) if variant in ("no-indexes", "bare") else []
    statements += [f'DROP INDEX "{name}"' for name, _ in indexes]
    if variant == "no-triggers":
        statements += [f"ALTER TABLE {table} DISABLE TRIGGER USER" for table in TABLES]
    if variant == "bare":
        statements.append(f'ALTER DATABASE "{database}" SET session_replication_role = replica')
    asyncio.run(_execute(url, *statements))

    pgdata = server.pgdata
    print(f"load: {variant}: loading {args.n} listings", flush=True)
    report, wall, client, server_s = measured(
        pgdata, lambda: synthetic.run(url, args.n, args.random_seed, connections=args.connections)
    )
    rows = [Measured(variant, wall, report.listings, client, server_s)]
    if variant == "shipped":
        _, wall, client, server_s = measured(
            pgdata, lambda: asyncio.run(_execute(url, "SELECT place_coverage_refresh_timed()"))
        )
        rows.append(Measured("  then the coverage refresh", wall, 0, client, server_s))
    if variant == "no-indexes":
        _, wall, client, server_s = measured(
            pgdata, lambda: asyncio.run(_execute(url, *(definition for _, definition in indexes)))
        )
        rows.append(Measured(f"  then building its {len(indexes)} indexes", wall, 0, client, server_s))
    return rows


def table(rows: list[Measured]) -> str:
    head = f"{'step':<36} {'wall s':>8} {'listings/s':>11} {'client CPU s':>13} {'PostgreSQL CPU s':>17}"
    lines = [head, "-" * len(head)]
    for row in rows:
        rate = f"{row.listings / row.seconds:,.0f}" if row.listings and row.seconds > 0 else ""
        cpu = f"{row.client_cpu_s:>13.1f} {row.server_cpu_s:>17.1f}"
        lines.append(f"{row.variant:<36} {row.seconds:>8.1f} {rate:>11} {cpu}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="listings to load in each variant")
    parser.add_argument("--random-seed", type=int, default=1)
    parser.add_argument("--connections", type=int, default=synthetic.DEFAULT_CONNECTIONS)
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"comma-separated, of {', '.join(VARIANTS)} (default: all)",
    )
    args = parser.parse_args(argv)
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(args.variants) - set(VARIANTS)
    if unknown or not args.variants:
        parser.error(f"--variants: unknown {', '.join(sorted(unknown)) or '(none given)'}")
    if not 1 <= args.n <= synthetic.MAX_N:
        parser.error(f"--n must be between 1 and {synthetic.MAX_N}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    facts = machine()
    print(
        f"n={args.n}  commit {git_commit()[:12]}  {facts['cpu_count']} CPUs, {facts['memory_gb']} GB, "
        f"load average at start {facts['loadavg_at_start'][0]}  {args.connections} loader connections",
        flush=True,
    )
    workdir = Path(tempfile.mkdtemp(prefix="registry-load-"))
    server = EmbeddedPostgres(workdir, delete_on_stop=True)
    rows: list[Measured] = []
    try:
        for variant in args.variants:
            rows += run_variant(server, variant, args)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
