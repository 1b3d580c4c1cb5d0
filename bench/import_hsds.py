"""`registry import-hsds` timed on a fresh database.

    .venv/bin/python bench/import_hsds.py FILE [--n 20000] [--again] [--dump out.txt]
                                          [--verified-organizations]

Starts an embedded PostgreSQL in a new folder under `--data-dir` (the system's temporary folder
unless given), migrates it, imports the first `--n` records of FILE (ndjson, one HSDS service a
line) with `run_import` (what the CLI runs) and prints records per second and the process's peak
resident memory. `--again` imports the
same file a second time (every record should come back "unchanged"). `--dump` writes what the
import left in the database, without what differs from run to run (row ids of contacts and
evaluation records, timestamps of the run), and the report, so two versions of the importer can
be compared with `diff`. `--verified-organizations` creates the records' organizations first,
verified, so that the programs imported are public and the reports' tallies (kept by triggers)
count them. The folder is deleted at the end.
"""

import argparse
import asyncio
import itertools
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

from registry.config import Settings, asyncpg_dsn
from registry.database.embedded import EmbeddedPostgres
from registry.database.migrations import upgrade
from registry.hsds import inbound
from registry.hsds.importer import ImportReport, format_report, run_import

# Columns whose values depend on when (or in which order of random ids) the import ran.
EVERYWHERE = {"created_at", "updated_at"}
VOLATILE = {
    "contact": {"id"},
    "evaluation_record": {"id", "recorded_at"},
    "audit_event": {"id", "at"},
}
# What the dump leaves out: the cache version counter (a count of statements, by design).
SKIPPED_TABLES = {"change_tick", "change_base", "alembic_version"}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _value(value: Any) -> str:
    return repr(value)


async def dump(url: str, out: Path, reports: list[ImportReport]) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        tables = [
            r["tablename"]
            for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
            if r["tablename"] not in SKIPPED_TABLES
        ]
        with out.open("w", encoding="utf-8") as f:
            for number, report in enumerate(reports, 1):
                f.write(f"== report {number}\n{format_report(report)}\n")
            for table in tables:
                volatile = EVERYWHERE | VOLATILE.get(table, set())
                if table == "audit_event":
                    order = "ORDER BY id"
                elif table == "evaluation_record":
                    order = "ORDER BY listing_id, recorded_at, id"
                else:
                    order = ""
                rows = await conn.fetch(f"SELECT * FROM {table} {order}")  # noqa: S608 - our table names
                lines = []
                for row in rows:
                    fields = {k: v for k, v in row.items() if k not in volatile}
                    if table == "listing" and fields["last_verified_at"] is not None:
                        at = fields["last_verified_at"]
                        # Set from the record's assured_date (midnight), else the time of the import.
                        if (at.hour, at.minute, at.second, at.microsecond) != (0, 0, 0, 0):
                            fields["last_verified_at"] = "<time of the import>"
                    lines.append(" ".join(f"{k}={_value(v)}" for k, v in fields.items()))
                if not order:
                    lines.sort()
                f.write(f"== {table} ({len(lines)} rows)\n")
                f.writelines(line + "\n" for line in lines)
    finally:
        await conn.close()


async def create_organizations(url: str, path: Path) -> int:
    """The records' organizations, verified (as a steward would have them)."""
    found: dict[Any, tuple[Any, ...]] = {}
    with path.open("rb") as f:
        for line in f:
            record = json.loads(line)
            try:
                org = inbound.organization(record, [])
            except (inbound.Unmappable, AttributeError):
                continue
            if org.name is not None and org.id not in found:
                found[org.id] = (org.id, org.name.strip(), org.website, org.description)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.executemany(
            "INSERT INTO organization (id, name, kinds, website, description, verification_status, "
            "verified_at, version, created_at, updated_at) "
            "VALUES ($1, $2, '{peer_program}', $3, $4, 'verified', now(), 1, now(), now())",
            list(found.values()),
        )
    finally:
        await conn.close()
    return len(found)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", type=Path, help="ndjson of HSDS services")
    parser.add_argument("--n", type=int, default=None, help="import only the first N records")
    parser.add_argument("--chunk", type=int, default=None, help="records per transaction")
    parser.add_argument("--again", action="store_true", help="import the same records a second time")
    parser.add_argument("--dump", type=Path, default=None, help="write the database's contents here")
    parser.add_argument("--verified-organizations", action="store_true", help="see above")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()), help="where the database's folder goes"
    )
    args = parser.parse_args()

    args.data_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=args.data_dir))
    try:
        path = args.file
        if args.n is not None:
            path = folder / "records.ndjson"
            with args.file.open("rb") as source, path.open("wb") as target:
                target.writelines(itertools.islice(source, args.n))
        records = sum(1 for line in path.open("rb") if line.strip())
        server = EmbeddedPostgres(folder, delete_on_stop=True)
        try:
            server.ensure_database("registry")
            url = server.url("registry")
            upgrade(url)
            if args.verified_organizations:
                print(f"{asyncio.run(create_organizations(url, path))} organizations created, verified")
            settings = Settings(database_url=url)
            kwargs = {"chunk": args.chunk} if args.chunk else {}
            reports = []
            for run in range(2 if args.again else 1):
                started = time.perf_counter()
                report = run_import(url, path, settings, **kwargs)
                seconds = time.perf_counter() - started
                reports.append(report)
                rate = records / seconds
                print(
                    f"run {run + 1}: {records} records in {seconds:.1f} s = {rate:.0f} records/s; "
                    f"peak RSS {peak_rss_mb():.0f} MB"
                )
                print("  " + format_report(report).splitlines()[0])
                print(
                    f"  failed {len(report.failed)}, skipped {len(report.skipped)}, notes {len(report.notes)}"
                )
            if args.dump:
                asyncio.run(dump(url, args.dump, reports))
                print(f"dump written to {args.dump}")
        finally:
            server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
