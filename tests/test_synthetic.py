"""The synthetic data generator: loaded through COPY on the test's own connection (so it rolls
back), then checked in the database and through the API."""

import itertools
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from registry import synthetic
from registry.auth.principal import Role
from registry.locations import geo
from registry.synthetic import SyntheticReport, default_now, load_synthetic, loading
from registry.taxonomies.vocabulary import DEFAULT_TERMS, STAGE_ORDER
from tests.factories import Client, bearer, role_key
from tests.reports.world import FRESH_COVERAGE

N = 2_000
SEED = 424242
EXPECTED_KINDS = {
    "peer_program": 1_100,
    "clinician": 300,
    "treatment_program": 200,
    "evaluator": 160,
    "trainer": 240,
}
TABLES = ("organization", "listing", "contact", "evaluation_record", "initiator", "introduction")


async def raw(connection: AsyncConnection) -> Any:
    """The asyncpg connection under the test's SQLAlchemy connection, in its transaction.

    SQLAlchemy sends BEGIN lazily, so run a statement first: the loader's own transactions are
    then savepoints inside the test's, which is rolled back."""
    await connection.execute(text("SELECT 1"))
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None and driver.is_in_transaction()
    return driver


async def load(connection: AsyncConnection, n: int = N, seed: int = SEED, **kw: Any) -> SyntheticReport:
    return await load_synthetic(await raw(connection), n, seed, **kw)


async def table_hashes(conn: Any) -> dict[str, str]:
    out = {}
    for table in TABLES:
        query = f"SELECT md5(string_agg(t::text, '|' ORDER BY t.id)) FROM {table} t"  # noqa: S608
        out[table] = await conn.fetchval(query)
    return out


def codes(taxonomy: str) -> set[str]:
    return {code for code, _, _ in DEFAULT_TERMS[taxonomy]}


async def test_counts_and_proportions(connection: AsyncConnection) -> None:
    report = await load(connection)
    conn = await raw(connection)
    assert not report.skipped
    assert report.listings == N
    assert report.listings_by_kind == EXPECTED_KINDS
    assert report.listings_per_s > 0 and report.elapsed_s > 0

    by_kind = dict(await conn.fetch("SELECT kind, count(*) FROM listing GROUP BY kind"))
    assert by_kind == EXPECTED_KINDS
    counts = {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}  # noqa: S608
    assert counts["organization"] == report.organizations
    assert N / 10 <= counts["organization"] <= N / 6  # about one per 8 listings
    assert counts["contact"] == report.contacts
    assert 0.9 * N <= counts["contact"] <= 1.3 * N
    assert counts["initiator"] == report.initiators == N // 10
    assert counts["introduction"] == report.introductions == N
    assert counts["evaluation_record"] == report.evaluation_records > 0

    verified = await conn.fetchval("SELECT avg((verification_status = 'verified')::int) FROM organization")
    assert 0.88 <= verified <= 0.99
    # Every organization's kinds cover what it lists.
    assert not await conn.fetchval(
        "SELECT count(*) FROM listing l JOIN organization o ON o.id = l.organization_id "
        "WHERE NOT l.kind = ANY(o.kinds)"
    )
    visibilities = dict(await conn.fetch("SELECT visibility, count(*) FROM contact GROUP BY 1"))
    assert set(visibilities) == {"public", "verified_orgs", "on_introduction"}
    assert not await conn.fetchval("SELECT count(*) FROM contact WHERE email IS NULL AND phone IS NULL")

    now = default_now()
    active = await conn.fetchval("SELECT avg((status = 'active')::int) FROM listing")
    assert active >= 0.8
    fresh = await conn.fetchval(
        "SELECT avg((last_verified_at > $1)::int) FROM listing", now - timedelta(days=365)
    )
    assert 0.85 <= fresh < 1.0  # some are stale, on purpose
    assert not await conn.fetchval(
        "SELECT count(*) FROM listing WHERE version <> 1 OR created_at > updated_at "
        "OR last_verified_at > updated_at OR created_at > $1",
        now,
    )

    # Cities by population: many countries, and the big ones show up.
    countries = Counter(dict(await conn.fetch("SELECT country, count(*) FROM listing GROUP BY 1")))
    assert len(countries) >= 40
    top = {country for country, _ in countries.most_common(5)}
    assert {"CN", "IN"} & top


async def test_vocabulary_codes_are_valid(connection: AsyncConnection) -> None:
    await load(connection)
    conn = await raw(connection)
    checks = {
        ("listing", "side", False): "side",
        ("listing", "formats", True): "format",
        ("listing", "group_type", False): "group_type",
        ("listing", "delivery", False): "delivery",
        ("listing", "populations", True): "population",
        ("listing", "languages", True): "language",
        ("listing", "specialties", True): "specialty",
        ("listing", "methods", True): "evaluation_design",
        ("listing", "evaluation_stage", False): "evaluation_stage",
        ("listing", "kind", False): "partner_kind",
        ("organization", "kinds", True): "partner_kind",
        ("evaluation_record", "stage", False): "evaluation_stage",
        ("evaluation_record", "previous_stage", False): "evaluation_stage",
        ("evaluation_record", "design", False): "evaluation_design",
        ("evaluation_record", "outcomes", True): "outcome",
        ("initiator", "side", False): "side",
        ("initiator", "formats", True): "format",
        ("initiator", "populations", True): "population",
        ("initiator", "languages", True): "language",
        ("initiator", "needs", True): "partner_kind",
    }
    stored = {
        (r["taxonomy"], r["code"]) for r in await conn.fetch("SELECT taxonomy, code FROM taxonomy_term")
    }
    for (table, column, is_array), taxonomy in checks.items():
        expr = f"unnest({column})" if is_array else column
        query = f"SELECT DISTINCT {expr} FROM {table}"  # noqa: S608 (fixed names)
        used = {r[0] for r in await conn.fetch(query) if r[0] is not None}
        assert used, (table, column)
        assert used <= codes(taxonomy), (table, column, used - codes(taxonomy))
        assert {(taxonomy, code) for code in used} <= stored
    # Code lists are stored sorted and without duplicates, as the services store them.
    assert not await conn.fetchval(
        "SELECT count(*) FROM listing WHERE formats <> ARRAY(SELECT DISTINCT unnest(formats) ORDER BY 1) "
        "OR populations <> ARRAY(SELECT DISTINCT unnest(populations) ORDER BY 1) "
        "OR languages <> ARRAY(SELECT DISTINCT unnest(languages) ORDER BY 1)"
    )
    # Kind-specific attributes stay with their kinds.
    assert not await conn.fetchval(
        "SELECT count(*) FROM listing WHERE (kind = 'peer_program' AND (side IS NULL "
        "OR cardinality(specialties) > 0)) OR (kind <> 'peer_program' AND side IS NOT NULL) "
        "OR (kind <> 'evaluator' AND cardinality(methods) > 0) "
        "OR (kind <> 'trainer' AND cardinality(courses) > 0) "
        "OR (kind NOT IN ('clinician', 'treatment_program') "
        "    AND (ipv_trained OR cardinality(credentials) > 0))"
    )


async def test_locations_follow_the_privacy_rules(connection: AsyncConnection) -> None:
    await load(connection)
    conn = await raw(connection)
    rows = await conn.fetch(
        "SELECT kind, side, location_precision, latitude, longitude, address, postal_code, locality "
        "FROM listing"
    )
    precisions = Counter(r["location_precision"] for r in rows)
    assert set(precisions) == {"exact", "area", "remote"}
    for r in rows:
        if r["location_precision"] == "area" or (r["location_precision"] == "remote" and r["latitude"]):
            assert r["address"] is None and r["postal_code"] is None
            assert geo.snap_to_grid(r["latitude"], r["longitude"]) == (r["latitude"], r["longitude"])
            assert r["locality"]
        elif r["location_precision"] == "exact":
            assert r["address"] and r["locality"]
            assert -90 <= r["latitude"] <= 90 and -180 <= r["longitude"] <= 180
        else:
            assert r["latitude"] is None and r["longitude"] is None and r["address"] is None
        # Survivor-side groups are never stored exactly, as the API's defaults have it.
        if r["kind"] == "peer_program" and r["side"] in ("survivors", "both"):
            assert r["location_precision"] != "exact"
    assert precisions["area"] > 0.3 * N
    # Partners are mostly exact.
    exact_partners = sum(
        1 for r in rows if r["kind"] != "peer_program" and r["location_precision"] == "exact"
    )
    assert exact_partners > 0.8 * (N - EXPECTED_KINDS["peer_program"])
    # Initiators are always coarse.
    for r in await conn.fetch("SELECT latitude, longitude FROM initiator"):
        assert geo.snap_to_grid(r["latitude"], r["longitude"]) == (r["latitude"], r["longitude"])
    # Points lie near a real city: within the 20 km jitter (plus half a grid cell) of one.
    city_points = {
        (r["locality"], r["country"]): (r["latitude"], r["longitude"])
        for r in await conn.fetch(
            "SELECT DISTINCT ON (locality, country) locality, country, latitude, longitude "
            "FROM listing WHERE location_precision = 'exact' ORDER BY locality, country LIMIT 50"
        )
    }
    for (locality, country), (lat, lon) in city_points.items():
        near = geo.nearest_locality(lat, lon, max_km=30)
        assert near is not None, (locality, country, lat, lon)


async def test_evaluations_and_introductions_are_consistent(connection: AsyncConnection) -> None:
    await load(connection)
    conn = await raw(connection)
    now = default_now()
    stages = dict(await conn.fetch("SELECT evaluation_stage, count(*) FROM listing GROUP BY 1"))
    assert set(stages) == set(STAGE_ORDER)
    # Every history runs forward from none to the listing's current stage.
    histories: dict[Any, list[Any]] = {}
    for r in await conn.fetch(
        "SELECT e.listing_id, e.stage, e.previous_stage, e.recorded_at, l.evaluation_stage, l.kind "
        "FROM evaluation_record e JOIN listing l ON l.id = e.listing_id ORDER BY e.recorded_at, e.id"
    ):
        histories.setdefault(r["listing_id"], []).append(r)
    assert histories
    for records in histories.values():
        assert records[0]["kind"] == "peer_program"
        assert records[0]["previous_stage"] == "none"
        for before, after in itertools.pairwise(records):
            assert after["previous_stage"] == before["stage"]
            assert STAGE_ORDER.index(after["stage"]) > STAGE_ORDER.index(before["stage"])
        assert records[-1]["stage"] == records[-1]["evaluation_stage"]
        assert records[-1]["recorded_at"] <= now
    assert len(histories) == sum(count for stage, count in stages.items() if stage != "none")

    statuses = dict(await conn.fetch("SELECT status, count(*) FROM introduction GROUP BY 1"))
    assert set(statuses) == {"pending", "accepted", "declined", "expired", "withdrawn"}
    assert not await conn.fetchval(
        "SELECT count(*) FROM introduction i JOIN listing l ON l.id = i.listing_id "
        "JOIN organization o ON o.id = l.organization_id "
        "WHERE i.organization_id <> l.organization_id OR o.verification_status <> 'verified' "
        "OR l.archived_at IS NOT NULL"
    )
    assert not await conn.fetchval(
        "SELECT count(*) FROM introduction WHERE created_at < $1 OR created_at > $2 "
        "OR expires_at <> created_at + interval '30 days' "
        "OR (status = 'pending') <> (decided_at IS NULL) "
        "OR (status = 'pending' AND expires_at <= $2) "
        "OR (status = 'accepted') <> (initiator_email IS NOT NULL)",
        now - timedelta(days=731),
        now,
    )


async def test_same_seed_same_rows_and_other_seed_other_rows(connection: AsyncConnection) -> None:
    conn = await raw(connection)
    now = default_now()
    hashes = []
    for seed in (SEED, SEED, SEED + 1):
        savepoint = conn.transaction()
        await savepoint.start()
        try:
            await load(connection, seed=seed, now=now, analyze=False)
            hashes.append(await table_hashes(conn))
        finally:
            await savepoint.rollback()
    assert hashes[0] == hashes[1]
    assert all(hashes[0][t] != hashes[2][t] for t in TABLES)


async def test_chunks_are_independent_of_how_they_are_loaded(connection: AsyncConnection) -> None:
    """The chunk size is part of a data set's identity; the rows do not depend on anything else."""
    now = default_now()
    first = synthetic._generate_chunk(SEED, 1_500, 500, 1, now)
    again = synthetic._generate_chunk(SEED, 1_500, 500, 1, now)
    assert first.listings == again.listings and first.introductions == again.introductions
    # Ids do not depend on the day the data is generated; timestamps move with it.
    later = synthetic._generate_chunk(SEED, 1_500, 500, 1, now + timedelta(days=3))
    assert [r[0] for r in later.listings] == [r[0] for r in first.listings]
    assert [r[0] for r in later.introductions] == [r[0] for r in first.introductions]
    assert later.listings[0][-1] == first.listings[0][-1] + timedelta(days=3)
    report = await load(connection, n=1_500, chunk_size=500, now=now)
    assert report.chunks == 3 and report.skipped_chunks == 0
    conn = await raw(connection)
    assert await conn.fetchval("SELECT count(*) FROM listing") == 1_500
    chunk_ids = [r[0] for r in first.listings]
    rows = await conn.fetch("SELECT id, name FROM listing WHERE id = ANY($1)", chunk_ids)
    assert {r["id"]: r["name"] for r in rows} == {r[0]: r[3] for r in first.listings}


async def test_loading_again_skips_and_resumes(connection: AsyncConnection) -> None:
    conn = await raw(connection)
    first = await load(connection, n=1_500, chunk_size=500)
    before = await table_hashes(conn)
    second = await load(connection, n=1_500, chunk_size=500)
    assert second.skipped and second.listings == 0
    assert await table_hashes(conn) == before
    # An interrupted load (here: its last chunk removed) picks up where it stopped.
    last = synthetic._generate_chunk(SEED, 1_500, 500, 2, default_now())
    await conn.execute("DELETE FROM organization WHERE id = ANY($1)", [r[0] for r in last.organizations])
    await conn.execute("DELETE FROM initiator WHERE id = ANY($1)", [r[0] for r in last.initiators])
    assert await conn.fetchval("SELECT count(*) FROM listing") == 1_000
    resumed = await load(connection, n=1_500, chunk_size=500)
    assert resumed.skipped_chunks == 2 and resumed.listings == 500
    assert await conn.fetchval("SELECT count(*) FROM listing") == first.listings
    # Another chunk size or another n is another data set, loaded alongside.
    assert synthetic.marker_id(SEED, 1_500, 0, 500) != synthetic.marker_id(SEED, 1_500, 0, 1_000)
    other = await load(connection, n=300)
    assert not other.skipped and await conn.fetchval("SELECT count(*) FROM listing") == 1_800


async def test_coverage_is_searched_once_after_the_load(connection: AsyncConnection) -> None:
    """Chunks skip the places' coverage upkeep; the end of the load searches every place."""
    await load(connection, n=1_200, chunk_size=300)
    rows = (await connection.execute(text(FRESH_COVERAGE))).all()
    assert len(rows) > 100
    assert all(r[1:4] == r[4:] for r in rows)
    assert {r[1] for r in rows} == {True, False}  # some places have a clinician near, some not


def test_urls_convert_for_asyncpg() -> None:
    assert (
        synthetic.asyncpg_dsn("postgresql+asyncpg://postgres@/registry?host=/tmp/pg")
        == "postgresql://postgres@/registry?host=/tmp/pg"
    )
    assert synthetic.asyncpg_dsn("postgres://u:p@db:5432/x") == "postgresql://u:p@db:5432/x"
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        synthetic.asyncpg_dsn("mysql://x")


async def test_bad_arguments_are_refused(connection: AsyncConnection) -> None:
    with pytest.raises(ValueError, match="n must be"):
        await load(connection, n=0)
    with pytest.raises(ValueError, match="timezone-aware"):
        await load(connection, now=datetime(2026, 1, 1))  # noqa: DTZ001


async def test_a_failed_chunk_raises_its_own_error(
    connection: AsyncConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(conn: Any, chunk: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(loading, "_copy_chunk", broken)  # where the loader looks it up
    with pytest.raises(RuntimeError, match="disk full"):
        await load(connection, n=500)


async def test_api_reads_the_synthetic_data(
    connection: AsyncConnection, client: Client, db: AsyncSession
) -> None:
    await load(connection)
    conn = await raw(connection)
    public = (
        "FROM listing l JOIN organization o ON o.id = l.organization_id "
        "WHERE o.verification_status = 'verified' AND l.archived_at IS NULL"
    )
    program = await conn.fetchrow(
        f"SELECT l.id, l.latitude, l.longitude, l.formats {public} "
        "AND l.kind = 'peer_program' AND l.latitude IS NOT NULL ORDER BY l.id LIMIT 1"
    )
    response = await client.get(f"/programs/{program['id']}")
    assert response.status_code == 200, response.text
    near = f"{program['latitude']},{program['longitude']}"
    response = await client.get(
        "/programs", params={"near": near, "radius_km": 25, "format": program["formats"][0]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] >= 1
    assert body["items"][0]["distance_band"] == "under_5_km"
    assert str(program["id"]) in {item["id"] for item in body["items"]} or body["total"] > len(body["items"])

    # "City, CC": the busiest city among the data's localities.
    locality, country = await conn.fetchrow(
        f"SELECT l.locality, l.country {public} AND l.kind = 'peer_program' AND l.locality IS NOT NULL "
        "GROUP BY 1, 2 ORDER BY count(*) DESC, 1 LIMIT 1"
    )
    response = await client.get("/programs", params={"near": f"{locality}, {country}", "radius_km": 50})
    assert response.status_code == 200, response.text
    assert response.json()["total"] >= 1

    response = await client.post(
        "/matches",
        json={
            "location": {"latitude": program["latitude"], "longitude": program["longitude"]},
            "needs": ["clinician", "treatment_program", "evaluator", "trainer", "peer_program"],
            "radius_km": 200,
            "per_kind": 5,
        },
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert sum(len(v) for v in results.values()) >= 1

    # Hundreds of regions and quarters: the reports' suppression has real work to do.
    funder = await role_key(db, Role.FUNDER)
    for report in ("programs", "evidence", "partnerships", "coverage"):
        response = await client.get(f"/reports/{report}", headers=bearer(funder))
        assert response.status_code == 200, (report, response.text)
