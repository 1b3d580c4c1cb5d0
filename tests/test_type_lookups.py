"""The hot statements take one round trip on a new connection: no catalog lookup of their types.

asyncpg knows the codecs of text[] and of the scalar types, but asks the server about varchar[]
and uuid[] on every new connection that first sends or reads one (a recursive query on
pg_catalog.pg_type, wrapped in two more round trips that turn JIT off and on again). In a burst
of first requests every connection of the pools is new, so each one's first statement paid for
that. The statements below send their arrays as text[] (cast in SQL where a column's type needs
it)."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from registry.auth.principal import ANONYMOUS
from registry.config import Settings, asyncpg_dsn
from registry.database.reads import Reads
from registry.database.routing import Routing, Target
from registry.database.sessions import create_engine
from registry.hsds import queries as hsds_queries
from registry.http import throttling
from registry.listings import queries, records
from registry.listings.queries import ListingFilters
from registry.matching import queries as matching_queries
from registry.models import Listing
from registry.programs.service import KINDS


def catalog_lookups(sent: list[str]) -> list[str]:
    return [query for query in sent if "pg_catalog" in query or "set_config('jit'" in query]


@pytest.fixture
async def sent_on_reads(settings: Settings) -> AsyncIterator[tuple[Reads, list[str]]]:
    """A Reads on a pool of one new connection, and every statement that connection sends."""
    assert settings.database_url is not None
    sent: list[str] = []

    async def log(connection: "asyncpg.Connection[Any]") -> None:
        connection.add_query_logger(lambda record: sent.append(record.query))

    async def as_it_is(connection: "asyncpg.Connection[Any]") -> None:
        """No reset on release (asyncpg's sends one more statement; Reads' pool sends none)."""

    dsn = asyncpg_dsn(settings.database_url)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1, init=log, reset=as_it_is)
    reads = Reads(pool=pool)
    try:
        yield reads, sent
    finally:
        await reads.close()


async def test_a_listings_row_read_is_one_statement(sent_on_reads: tuple[Reads, list[str]]) -> None:
    reads, sent = sent_on_reads
    assert await records.listing_record(reads, ANONYMOUS, uuid.uuid4(), KINDS) is None
    assert len(sent) == 1
    assert catalog_lookups(sent) == []


async def test_matchings_reads_by_id_are_one_statement_each(sent_on_reads: tuple[Reads, list[str]]) -> None:
    reads, sent = sent_on_reads
    assert await matching_queries.by_id(reads, [str(uuid.uuid4())], planning=False) == []
    assert await matching_queries.shown_of(reads, [uuid.uuid4(), uuid.uuid4()]) == []
    assert len(sent) == 2
    assert catalog_lookups(sent) == []


async def test_marking_a_writers_keys_is_one_statement(sent_on_reads: tuple[Reads, list[str]]) -> None:
    reads, sent = sent_on_reads
    routing = Routing(primary=Target("primary", async_sessionmaker(), reads), replicas=[])
    position = await routing.mark_written([uuid.uuid4(), None])
    assert position > 0
    assert len(sent) == 1
    assert catalog_lookups(sent) == []


async def test_counting_a_rate_limit_is_one_statement(sent_on_reads: tuple[Reads, list[str]]) -> None:
    reads, sent = sent_on_reads
    bucket = f"type-lookups:{uuid.uuid4()}"
    try:
        went, refused = await throttling.take_many(reads, [([bucket], 1), ([bucket], 1)])
        assert went is None and refused is not None and 59 < refused <= 61
    finally:
        await reads.fetchval("DELETE FROM rate_limit_slots WHERE bucket = $1", bucket, writes=True)
    assert len(sent) == 2  # the count, and the clean-up
    assert catalog_lookups(sent) == []


async def test_a_search_by_codes_looks_up_no_types(settings: Settings) -> None:
    """The page of a near search (and any search by vocabulary codes) sends its codes as an
    array: on a new connection of the sessions' pool it takes no catalog lookup either."""
    engine = create_engine(settings, pool_size=1)
    sent: list[str] = []
    try:
        async with engine.connect() as conn:
            await conn.execute(select(1))  # the driver's own set-up on connecting is done
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            driver.add_query_logger(lambda record: sent.append(record.query))
            filters = ListingFilters(
                kinds=KINDS,
                overlaps={"formats": ["open_group"], "languages": ["en", "es"]},
                near=(52.09, 5.12),
            )
            stmt = queries.filtered(ANONYMOUS, filters).with_only_columns(Listing.id)
            assert (await conn.execute(stmt)).all() == []
            # HSDS clients filter services by a term the same way.
            for taxonomy in ("format", "outcome"):
                stmt = select(Listing.id).where(hsds_queries.term_predicate(taxonomy, "open_group"))
                assert (await conn.execute(stmt)).all() == []
    finally:
        await engine.dispose()
    assert sent and catalog_lookups(sent) == []
