"""People counts are released once per period (REGISTRY_REPORT_PERIOD_HOURS, a day), not computed
on demand: a snapshot in PostgreSQL, with the sums of record keys, shared by every process and
request of the period. Anyone can add an initiator or ask for an introduction; a report computed
on demand could be read, changed by one known record and read again. Counts of programs and
partners are not counts of people and stay live. More in docs/reports.md."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.caching.caches import Caches
from registry.database import routing
from registry.models import ReportSnapshot

_STATUS = "CASE WHEN i.status = 'pending' AND i.expires_at <= now() THEN 'expired' ELSE i.status END"
_QUARTER = """to_char(i.created_at AT TIME ZONE 'UTC', 'YYYY-"Q"Q')"""
_INTRODUCTIONS = "FROM introduction i JOIN listing l ON l.id = i.listing_id"

# measure -> (key expressions, FROM and WHERE); each row counts one person-record.
MEASURES: dict[str, tuple[str, str]] = {
    "introductions:partner_kind": (f"{_STATUS}, l.kind", _INTRODUCTIONS),
    "introductions:region": (f"{_STATUS}, l.country, l.region", _INTRODUCTIONS),
    "introductions:quarter": (f"{_STATUS}, {_QUARTER}", _INTRODUCTIONS),
    "initiators:step": ("pathway_step::text", "FROM initiator"),
    "initiators:region": ("country, region", "FROM initiator WHERE latitude IS NOT NULL"),
    # Needs of initiators who did not choose to be listed to programs, per ~10 km cell and side,
    # for programs' peers; an initiator who named no need counts under ''.
    "initiators:place": (
        "round(latitude::numeric, 1)::text, round(longitude::numeric, 1)::text, coalesce(side, ''), need",
        "FROM initiator CROSS JOIN LATERAL unnest(CASE WHEN cardinality(needs) = 0 THEN ARRAY[''] "
        "ELSE needs END) AS need WHERE latitude IS NOT NULL AND NOT visible_to_programs",
    ),
}
PART_ROWS = 2_000  # cells of a measure read at a time (`released`)
# A row that says the period's snapshot exists, even when there is nobody to count.
_MARKER = "period"
_KEPT_PERIODS = 2


def period_start(now: datetime, hours: float) -> datetime:
    seconds = max(hours, 1 / 60) * 3600
    start = int(now.timestamp() // seconds * seconds)
    return datetime.fromtimestamp(start, UTC)


def _insert(measure: str) -> str:
    keys, source = MEASURES[measure]
    return (
        "INSERT INTO report_snapshot (period_start, measure, key, n, key_sum) "
        f"SELECT $1, '{measure}', ARRAY[{keys}]::varchar[], count(*), coalesce(sum(report_key), 0) "
        f"{source} GROUP BY 3"
    )


# One statement, so one snapshot of the database for every measure: the tables agree.
_TAKE = (
    "WITH "
    + ", ".join(f"m{i} AS ({_insert(measure)})" for i, measure in enumerate(MEASURES))
    + " INSERT INTO report_snapshot (period_start, measure, key, n, key_sum) "
    "VALUES ($1, $2, '{}', 0, 0)"
)
# Counting everyone once a period may take longer than any request may: 9 s at 1,000,000
# introductions on two shared cores. Requests that find it under way wait for the lock, and are
# told to retry (503) if it outlasts their own statement timeout.
TAKE_TIMEOUT_S = 300.0


async def _exists(session: AsyncSession, period: datetime) -> bool:
    found = await session.scalar(
        select(func.count()).where(ReportSnapshot.period_start == period, ReportSnapshot.measure == _MARKER)
    )
    return bool(found)


async def current_period(
    sessionmaker: async_sessionmaker[AsyncSession], hours: float, caches: Caches
) -> datetime:
    """The current period's start, its snapshot taken (if no process has yet, on the primary:
    `sessionmaker`'s). The snapshot stays until two periods later, so a process that found it, or
    took it, asks no more for a while (asking cost 1 ms of a 1.6 ms report answered from the
    cache); requests asking at the same moment share one asking."""
    period = period_start(datetime.now(UTC), hours)

    async def taken() -> bool:
        await _make_sure_taken(sessionmaker, period, hours)
        return True

    await caches.memo("report_periods", period, None, taken, weigh=lambda _: 64)
    return period


async def _make_sure_taken(
    sessionmaker: async_sessionmaker[AsyncSession], period: datetime, hours: float
) -> None:
    """A request reading from a replica that holds the snapshot asks no more; else the primary is
    asked, and takes it if no process has yet."""
    replica = routing.current()
    if replica is not None:
        async with replica.sessionmaker() as session:
            if await _exists(session, period):
                return
    async with sessionmaker() as session:
        if await _exists(session, period):
            return
        # One process takes it; the others wait for the lock and then find it taken.
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('report_snapshot'))"))
        if not await _exists(session, period):
            await take(session, period)
            oldest = period - timedelta(hours=hours) * (_KEPT_PERIODS - 1)
            await session.execute(
                text("DELETE FROM report_snapshot WHERE period_start < :oldest"), {"oldest": oldest}
            )
        await session.commit()


async def take(session: AsyncSession, period: datetime, timeout_s: float = TAKE_TIMEOUT_S) -> None:
    """Count everyone for `period` (in the session's transaction; the caller commits), allowed
    `timeout_s` rather than a request's statement timeout."""
    await session.execute(text(f"SET LOCAL statement_timeout = {int(timeout_s * 1000)}"))
    connection = await (await session.connection()).get_raw_connection()
    driver = connection.driver_connection
    assert driver is not None
    await driver.execute(_TAKE, period, _MARKER, timeout=timeout_s + 1)


Row = tuple[tuple[str | None, ...], int, int]


async def released(session: AsyncSession, period: datetime, measure: str) -> AsyncIterator[Row]:
    """(key, count, sum of record keys) of each cell of a measure in the period's snapshot, read
    PART_ROWS at a time, each text of a key shared with the keys before it that hold the same (the
    introductions by region are 12,000 cells at 1,000,000 introductions: read at once, their rows
    held 6 MB of the partnerships report's 12.7 MB peak). On a replica that has not replayed the
    snapshot yet, NotReplayed: the primary answers instead."""
    if routing.current() is not None and not await _exists(session, period):
        raise routing.NotReplayed(f"the report snapshot of {period:%Y-%m-%d %H:%M}")
    statement = select(ReportSnapshot.key, ReportSnapshot.n, ReportSnapshot.key_sum).where(
        ReportSnapshot.period_start == period, ReportSnapshot.measure == measure
    )
    texts: dict[str, str] = {}
    result = await session.stream(statement.execution_options(yield_per=PART_ROWS))
    async for part in result.partitions():
        for key, n, key_sum in part:
            shared = tuple(None if t is None else texts.setdefault(t, t) for t in key)
            yield shared, int(n), int(key_sum)
