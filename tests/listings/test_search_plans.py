"""A search of one kind uses that kind's own location index (migration 0012), whatever statuses
it shows: the kind reaches PostgreSQL written into the SQL, so every plan, generic ones
included, can prove the index's condition."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from registry.auth.principal import ANONYMOUS
from registry.listings import queries
from registry.listings.queries import ListingFilters, filtered
from registry.matching import queries as matching_queries
from registry.programs.service import KINDS as PROGRAM_KINDS

# The driver the API uses (no connection is made).
DIALECT = create_async_engine("postgresql+asyncpg://registry@localhost/registry").dialect
NEAR = ListingFilters(kinds=PROGRAM_KINDS, near=(52.09, 5.12), radius_km=25)


def test_one_kind_is_written_into_the_sql_several_are_parameters() -> None:
    one = filtered(ANONYMOUS, NEAR).compile(dialect=DIALECT, compile_kwargs={"render_postcompile": True})
    assert "listing.kind = 'peer_program'" in str(one)
    several = ListingFilters(kinds=("clinician", "trainer"))
    rendered = str(filtered(ANONYMOUS, several).compile(dialect=DIALECT))
    assert "'clinician'" not in rendered and "listing.kind IN" in rendered


async def test_a_near_search_of_programs_of_any_status_uses_the_programs_index(db: AsyncSession) -> None:
    sql = filtered(ANONYMOUS, NEAR).compile(dialect=DIALECT, compile_kwargs={"literal_binds": True})
    assert "listing.status" not in str(sql).split("WHERE", 1)[1]  # every status is shown
    # With so few rows a scan of the table would win; take it off the table to see the index.
    await db.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join((await db.execute(text(f"EXPLAIN {sql}"))).scalars())
    assert "ix_listing_earth_peer_program" in plan, plan


def test_a_points_sql_is_built_once_and_kept_apart_from_other_points() -> None:
    # Coarse search points come back: their expressions are reused, never mixed up.
    for cached in (queries.distance_m, queries.within_radius, queries.band_rank):
        cached.cache_clear()
    assert queries.distance_m((52.09, 5.12)) is queries.distance_m((52.09, 5.12))
    assert queries.within_radius((52.09, 5.12), 25.0) is queries.within_radius((52.09, 5.12), 25.0)
    assert queries.band_rank((52.09, 5.12)) is queries.band_rank((52.09, 5.12))

    def rendered(element: object) -> str:
        return str(element.compile(dialect=DIALECT, compile_kwargs={"literal_binds": True}))  # type: ignore[attr-defined]

    utrecht, paris = (
        rendered(queries.within_radius((52.09, 5.12), 25.0)),
        rendered(queries.within_radius((48.86, 2.35), 25.0)),
    )
    assert "52.09" in utrecht and "48.86" not in utrecht and "48.86" in paris
    assert "25000" in utrecht and "50000" in rendered(queries.within_radius((52.09, 5.12), 50.0))

    # A whole search statement built twice from the kept expressions compiles the same, and one
    # for another point differs only in its parameters.
    def search_sql(near: tuple[float, float]) -> tuple[str, dict[str, object]]:
        stmt = filtered(ANONYMOUS, ListingFilters(kinds=PROGRAM_KINDS, near=near, radius_km=25.0))
        compiled = stmt.order_by(queries.band_rank(near)).compile(dialect=DIALECT)
        return str(compiled), dict(compiled.params)

    first, again, other = search_sql((52.09, 5.12)), search_sql((52.09, 5.12)), search_sql((48.86, 2.35))
    assert first == again
    assert other[0] == first[0] and other[1] != first[1]
    assert 48.86 in other[1].values() and 48.86 not in first[1].values()


async def test_reads_of_many_listings_look_owners_up_among_hidden_organizations(db: AsyncSession) -> None:
    """A near search (the reads of a place) and matching's lists (within a radius, remote) check
    each listing's organization in the index of the few that are not public (migration 0027), not
    by reading its row: at 1,000,000 listings that lookup was a third of PostgreSQL's time."""
    near = filtered(ANONYMOUS, NEAR).compile(dialect=DIALECT, compile_kwargs={"literal_binds": True})
    in_radius = matching_queries._in_radius("clinician")
    in_radius = in_radius.replace("$1", "52.09").replace("$2", "5.12").replace("$3", "25000")
    await db.execute(text("SET LOCAL enable_seqscan = off"))
    for sql in (str(near), in_radius, matching_queries._remote_capable("trainer")):
        plan = "\n".join((await db.execute(text(f"EXPLAIN {sql}"))).scalars())
        assert "ix_organization_hidden" in plan and "pk_organization" not in plan, plan
