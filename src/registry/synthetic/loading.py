"""Loading through PostgreSQL COPY (asyncpg `copy_records_to_table`), chunk by chunk.

One transaction per chunk (with `synchronous_commit = off`), so memory stays bounded at any N
and an interrupted load resumes: chunks whose marker organization exists are skipped. A worker
thread generates the next chunk while earlier ones are copied, over several connections at
once, since PostgreSQL's index maintenance is most of the work. Chunks skip the coverage
report's per-place upkeep (`registry.coverage = 'deferred'`, migration 0011); the end of the
load searches every place once (`place_coverage_refresh()`), and so does a rerun.
"""

import asyncio
import functools
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import asyncpg

from registry.config import asyncpg_dsn
from registry.synthetic.chunk import CHUNK_SIZE, _Chunk, _generate_chunk, marker_id
from registry.synthetic.places import _cities
from registry.synthetic.random_rows import Row
from registry.synthetic.report import SyntheticReport
from registry.synthetic.tables import (
    CONTACT_COLUMNS,
    EVALUATION_COLUMNS,
    INITIATOR_COLUMNS,
    INTRODUCTION_COLUMNS,
    LISTING_COLUMNS,
    ORGANIZATION_COLUMNS,
)
from registry.synthetic.vocabulary import KIND_SHARES

MAX_N: Final = 10_000_000
# Connections `run` copies over; PostgreSQL spends about four times the client's CPU per row.
DEFAULT_CONNECTIONS: Final = 2

_COPIES: Final = (
    ("organization", ORGANIZATION_COLUMNS, "organizations"),
    ("listing", LISTING_COLUMNS, "listings"),
    ("contact", CONTACT_COLUMNS, "contacts"),
    ("evaluation_record", EVALUATION_COLUMNS, "evaluations"),
    ("initiator", INITIATOR_COLUMNS, "initiators"),
    ("introduction", INTRODUCTION_COLUMNS, "introductions"),
)


def default_now() -> datetime:
    """The anchor of every timestamp: the start of the current UTC day (stable within a day)."""
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def _copy_chunk(conn: asyncpg.Connection, chunk: _Chunk) -> None:
    """One chunk in one transaction (a savepoint when the caller already opened one)."""
    async with conn.transaction():
        # Losing the last moments of a load in a crash is harmless: the chunk is simply
        # loaded again on the next run.
        await conn.execute("SET LOCAL synchronous_commit = off")
        # The places' coverage flags are searched once at the end (place_coverage_refresh),
        # not around every partner of every chunk.
        await conn.execute("SET LOCAL registry.coverage = 'deferred'")
        for table, columns, attribute in _COPIES:
            rows: list[Row] = getattr(chunk, attribute)
            if rows:
                await conn.copy_records_to_table(table, records=rows, columns=list(columns))


@dataclass
class _Tally:
    """Rows written by this load, added up chunk by chunk."""

    listings_by_kind: Counter[str] = field(default_factory=Counter)
    organizations: int = 0
    contacts: int = 0
    evaluation_records: int = 0
    initiators: int = 0
    introductions: int = 0

    def add(self, chunk: _Chunk) -> None:
        self.listings_by_kind.update(chunk.kinds)
        self.organizations += len(chunk.organizations)
        self.contacts += len(chunk.contacts)
        self.evaluation_records += len(chunk.evaluations)
        self.initiators += len(chunk.initiators)
        self.introductions += len(chunk.introductions)


def _anchor(n: int, chunk_size: int, now: datetime | None) -> datetime:
    """The checked arguments' `now` (default: `default_now()`)."""
    if not 1 <= n <= MAX_N:
        raise ValueError(f"n must be between 1 and {MAX_N}, got {n}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    anchor = now or default_now()
    if anchor.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return anchor


async def _missing_chunks(conn: asyncpg.Connection, random_seed: int, n: int, chunk_size: int) -> list[int]:
    """The chunks whose marker organization is not in the database yet."""
    chunks = math.ceil(n / chunk_size)
    markers = [marker_id(random_seed, n, chunk, chunk_size) for chunk in range(chunks)]
    present = {row[0] for row in await conn.fetch("SELECT id FROM organization WHERE id = ANY($1)", markers)}
    return [chunk for chunk in range(chunks) if markers[chunk] not in present]


async def _copy_chunks(
    connections: Sequence[asyncpg.Connection], todo: list[int], build: Callable[[int], _Chunk], tally: _Tally
) -> None:
    loop = asyncio.get_running_loop()
    # Generated chunks wait here for a free connection; the bound keeps memory flat.
    queue: asyncio.Queue[_Chunk | None] = asyncio.Queue(maxsize=len(connections))

    async def produce() -> None:
        # A worker thread builds the next chunk while the connections copy earlier ones;
        # PostgreSQL indexes in its own processes, so the two overlap.
        for chunk in todo:
            await queue.put(await loop.run_in_executor(None, build, chunk))
        for _ in connections:
            await queue.put(None)

    async def consume(conn: asyncpg.Connection) -> None:
        while (chunk := await queue.get()) is not None:
            await _copy_chunk(conn, chunk)
            tally.add(chunk)

    try:
        # One failure cancels the rest; chunks already committed stay, and a rerun resumes.
        async with asyncio.TaskGroup() as group:
            group.create_task(produce())
            for conn in connections:
                group.create_task(consume(conn))
    except ExceptionGroup as failed:
        raise failed.exceptions[0]  # noqa: B904 (the group is the context)


async def _load(
    connections: Sequence[asyncpg.Connection],
    n: int,
    random_seed: int,
    *,
    now: datetime | None,
    chunk_size: int,
    analyze: bool,
) -> SyntheticReport:
    anchor = _anchor(n, chunk_size, now)
    started = time.perf_counter()
    todo = await _missing_chunks(connections[0], random_seed, n, chunk_size)
    tally = _Tally()
    if todo:
        _cities()  # load GeoNames once, before the worker threads need it
        build = functools.partial(_generate_chunk, random_seed, n, chunk_size, now=anchor)
        await _copy_chunks(connections, todo, build, tally)
        if analyze:
            for table, _, _ in _COPIES:
                await connections[0].execute(f"ANALYZE {table}")
    # Also after a load that found every chunk present: an earlier, interrupted one left it to now.
    await connections[0].execute("SELECT place_coverage_refresh()")
    elapsed = time.perf_counter() - started
    by_kind = {kind: tally.listings_by_kind[kind] for kind, _ in KIND_SHARES}
    listings = sum(by_kind.values())
    chunks = math.ceil(n / chunk_size)
    return SyntheticReport(
        n=n,
        random_seed=random_seed,
        chunks=chunks,
        skipped_chunks=chunks - len(todo),
        connections=len(connections),
        organizations=tally.organizations,
        listings=listings,
        listings_by_kind=by_kind,
        contacts=tally.contacts,
        evaluation_records=tally.evaluation_records,
        initiators=tally.initiators,
        introductions=tally.introductions,
        elapsed_s=elapsed,
        listings_per_s=listings / elapsed if elapsed > 0 else 0.0,
    )


async def load_synthetic(
    conn: asyncpg.Connection,
    n: int,
    random_seed: int,
    *,
    now: datetime | None = None,
    chunk_size: int = CHUNK_SIZE,
    analyze: bool = True,
) -> SyntheticReport:
    """Load the synthetic data set (n, random_seed) through COPY on one raw asyncpg connection.

    Each chunk is one transaction (a savepoint inside the caller's transaction, if any), and
    chunks already present are skipped, so a second run with the same arguments writes nothing
    and an interrupted run resumes. `now` anchors every timestamp (default: the start of the
    current UTC day); rows are a function of (n, random_seed, chunk_size, now).
    """
    return await _load([conn], n, random_seed, now=now, chunk_size=chunk_size, analyze=analyze)


async def load_synthetic_url(
    url: str,
    n: int,
    random_seed: int,
    *,
    connections: int = DEFAULT_CONNECTIONS,
    now: datetime | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> SyntheticReport:
    """Like load_synthetic, over `connections` connections to `url` loading chunks in parallel."""
    if connections < 1:
        raise ValueError(f"connections must be positive, got {connections}")
    dsn = asyncpg_dsn(url)
    opened = [await asyncpg.connect(dsn) for _ in range(connections)]
    try:
        return await _load(opened, n, random_seed, now=now, chunk_size=chunk_size, analyze=True)
    finally:
        for conn in opened:
            await conn.close()


def run(url: str, n: int, random_seed: int, *, connections: int = DEFAULT_CONNECTIONS) -> SyntheticReport:
    """The CLI's entry point: load into the database at `url` (SQLAlchemy or libpq style)."""
    return asyncio.run(load_synthetic_url(url, n, random_seed, connections=connections))
