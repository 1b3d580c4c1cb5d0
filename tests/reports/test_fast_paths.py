"""What makes the reports fast must not change their answers: the introduction, demand and
evaluation tallies the triggers keep, due-but-unswept introductions, and the coverage search's
shortcuts (the region-wide look first, places across the antimeridian)."""

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from sqlalchemy import case, delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from registry.auth.principal import Role
from registry.models import EvaluationRecord, Initiator, Introduction, Listing, Organization
from registry.reports import releases
from registry.reports import service as report_service
from tests.factories import Client, bearer, role_key
from tests.reports.world import FRESH_COVERAGE, NOW, build, listing, near, org


@pytest.fixture
async def funder(db: AsyncSession) -> str:
    return await role_key(db, Role.FUNDER)


def table(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in report["tables"] if t["name"] == name)


def values(t: dict[str, Any], **key: str) -> dict[str, Any]:
    row = next(r for r in t["rows"] if all(r["key"].get(k) == v for k, v in key.items()))
    return {k: c["value"] for k, c in row["values"].items()}


_FRESH_KEYS = {
    "partner_kind": ("l.kind", "NULL", "NULL", "NULL"),
    "region": ("NULL", "l.country", "l.region", "NULL"),
    "quarter": ("NULL", "NULL", "NULL", """to_char(i.created_at AT TIME ZONE 'UTC', 'YYYY-"Q"Q')"""),
}


async def tally_matches_a_fresh_count(db: AsyncSession) -> None:
    """Each dimension's rows of the tally are exactly the introductions counted afresh by
    (that dimension's keys, status), and no other row counts anything."""
    tally = {
        tuple(r[:6]): r[6]
        for r in await db.execute(
            text(
                "SELECT dimension, partner_kind, country, region, quarter, status, n "
                "FROM introduction_tally WHERE n <> 0"
            )
        )
    }
    truth = {}
    for dimension, (kind, country, region, quarter) in _FRESH_KEYS.items():
        fresh = (
            f"SELECT {kind}, {country}, {region}, {quarter}, i.status, count(*) "  # noqa: S608 (fixed SQL)
            "FROM introduction i JOIN listing l ON l.id = i.listing_id GROUP BY 1, 2, 3, 4, 5"
        )
        for r in await db.execute(text(fresh)):
            truth[(dimension, *r[:5])] = r[5]
    assert {key[0] for key in truth} == set(_FRESH_KEYS)
    assert tally == truth


async def test_the_tally_follows_every_change_to_introductions(db: AsyncSession) -> None:
    world = await build(db)
    await tally_matches_a_fresh_count(db)
    clinician: Listing = world["clinician"]
    # An update of some rows' status, a delete, new rows in a later quarter.
    pending = (
        await db.scalars(
            select(Introduction.id).where(
                Introduction.listing_id == clinician.id, Introduction.status == "pending"
            )
        )
    ).all()
    await db.execute(update(Introduction).where(Introduction.id.in_(pending[:5])).values(status="accepted"))
    await db.execute(delete(Introduction).where(Introduction.id.in_(pending[5:7])))
    await tally_matches_a_fresh_count(db)
    template = await db.scalar(select(Introduction).where(Introduction.id == pending[7]))
    assert template is not None
    db.add_all(
        Introduction(
            initiator_id=template.initiator_id,
            listing_id=world["evaluator"].id,
            organization_id=template.organization_id,
            message="m",
            status="declined",
            initiator_name="I",
            created_at=datetime(2025, 2, 1, tzinfo=UTC),
            expires_at=datetime(2025, 3, 3, tzinfo=UTC),
        )
        for _ in range(4)
    )
    await db.flush()
    await tally_matches_a_fresh_count(db)
    # A listing that moves takes its introductions' counts to its new region.
    await db.execute(update(Listing).where(Listing.id == clinician.id).values(country="BE", region="BRU"))
    await tally_matches_a_fresh_count(db)
    # ... to no region at all, and back; and to another kind (the kind's rows move, not the quarter's).
    await db.execute(update(Listing).where(Listing.id == clinician.id).values(region=None))
    await tally_matches_a_fresh_count(db)
    await db.execute(update(Listing).where(Listing.id == clinician.id).values(region="BRU"))
    await db.execute(update(Listing).where(Listing.id == clinician.id).values(kind="trainer"))
    await tally_matches_a_fresh_count(db)
    await db.execute(update(Listing).where(Listing.id == clinician.id).values(name="renamed"))
    await tally_matches_a_fresh_count(db)
    # One statement that changes some statuses and keeps others.
    await db.execute(
        update(Introduction)
        .where(Introduction.listing_id == clinician.id)
        .values(status=case((Introduction.status == "accepted", "withdrawn"), else_=Introduction.status))
    )
    await tally_matches_a_fresh_count(db)
    # An update that changes no count is folded in one statement (out and in together) and so
    # writes, and locks, no tally row at all: every tuple keeps its place.
    tally_rows = "SELECT ctid::text FROM introduction_tally ORDER BY id"
    before = (await db.execute(text(tally_rows))).scalars().all()
    await db.execute(update(Introduction).values(message="edited"))
    assert (await db.execute(text(tally_rows))).scalars().all() == before


async def test_report_tables_list_exactly_the_keys_with_introductions(
    client: Client, db: AsyncSession, funder: str
) -> None:
    world = await build(db)
    # A second region, so that the region table has more than one key.
    await db.execute(
        update(Listing).where(Listing.id == world["evaluator"].id).values(country="BE", region="BRU")
    )
    await db.commit()
    body = (await client.get("/reports/partnerships", headers=bearer(funder))).json()

    def keys(name: str, *dims: str) -> set[tuple[Any, ...]]:
        rows = table(body, name)["rows"]
        return {tuple(r["key"][d] for d in dims) for r in rows if r["key"][dims[0]] != "__total__"}

    fresh = {
        (r[0], r[1], r[2], r[3])
        for r in await db.execute(
            text(
                """SELECT DISTINCT l.kind, l.country, l.region,
                          to_char(i.created_at AT TIME ZONE 'UTC', 'YYYY-"Q"Q')
                   FROM introduction i JOIN listing l ON l.id = i.listing_id"""
            )
        )
    }
    assert keys("introductions_by_partner_kind", "partner_kind") == {(k,) for k, _, _, _ in fresh}
    assert keys("introductions_by_region", "country", "region") == {(c, r) for _, c, r, _ in fresh}
    assert keys("introductions_by_quarter", "quarter") == {(q,) for _, _, _, q in fresh}
    assert len(keys("introductions_by_region", "country", "region")) == 2


async def test_due_pending_introductions_count_as_expired(
    client: Client, db: AsyncSession, funder: str
) -> None:
    world = await build(db)
    # 12 pending to the clinician (from build) are still in time; 11 more are past their expiry
    # but nobody has read introductions since, so they are still stored as pending.
    template = await db.scalar(select(Introduction).where(Introduction.listing_id == world["clinician"].id))
    assert template is not None
    db.add_all(
        Introduction(
            initiator_id=template.initiator_id,
            listing_id=world["clinician"].id,
            organization_id=template.organization_id,
            message="m",
            status="pending",
            initiator_name="I",
            created_at=NOW - timedelta(days=40),
            expires_at=NOW - timedelta(days=10),
        )
        for _ in range(11)
    )
    await db.commit()
    body = (await client.get("/reports/partnerships", headers=bearer(funder))).json()
    asked = NOW - timedelta(days=40)
    quarter = f"{asked.year}-Q{(asked.month - 1) // 3 + 1}"  # later than build()'s 2026-Q3
    published = values(table(body, "introductions_by_quarter"), quarter=quarter)
    truth = {"pending": 0, "accepted": 0, "declined": 0, "expired": 11, "withdrawn": 0, "closed": 0}
    assert set(published) == {*truth, "requested"}
    for status, n in {**truth, "requested": 11}.items():
        assert near(published[status], n), (status, published[status])
    clinician = values(table(body, "introductions_by_partner_kind"), partner_kind="clinician")
    assert near(clinician["pending"], 12)
    assert near(clinician["requested"], 25 + 3 + 12 + 11)
    # And the stored rows are untouched: a report is a read.
    stored = await db.scalar(
        select(Introduction.id).where(Introduction.status == "expired").limit(1)  # none swept
    )
    assert stored is None


async def test_evidence_tables_count_records_and_programs(
    client: Client, db: AsyncSession, funder: str
) -> None:
    world = await build(db)
    first, second, third = world["programs"][:3]
    archived = world["programs"][6]

    def record(program: Listing, when: datetime, stage: str, design: str | None, outcomes: list[str]) -> Any:
        return EvaluationRecord(
            id=uuid.uuid4(),
            listing_id=program.id,
            stage=stage,
            previous_stage="none",
            design=design,
            outcomes=outcomes,
            recorded_at=when,
        )

    q1, q3 = datetime(2026, 2, 10, tzinfo=UTC), datetime(2026, 8, 1, tzinfo=UTC)
    db.add_all(
        [
            record(first, q1, "pilot_planned", "pre_post", ["recidivism", "wellbeing"]),
            record(first, q3, "pilot_running", "pre_post", ["recidivism"]),  # same program, same design
            record(second, q3, "pilot_running", "rct", ["wellbeing"]),
            record(third, q3, "pilot_planned", None, []),
            record(archived, q3, "pilot_running", "rct", ["recidivism"]),  # archived: not counted
        ]
    )
    await db.commit()
    body = (await client.get("/reports/evidence", headers=bearer(funder))).json()
    transitions = table(body, "stage_transitions")
    assert values(transitions, quarter="2026-Q1", evaluation_stage="pilot_planned") == {"records": 1}
    assert values(transitions, quarter="2026-Q3", evaluation_stage="pilot_running") == {"records": 2}
    assert values(transitions, quarter="2026-Q3", evaluation_stage="pilot_planned") == {"records": 1}
    assert len(transitions["rows"]) == 3
    designs = table(body, "evaluation_designs")
    assert values(designs, evaluation_design="pre_post") == {"programs": 1}
    assert values(designs, evaluation_design="rct") == {"programs": 1}
    outcomes = table(body, "outcomes_measured")
    assert values(outcomes, outcome="recidivism") == {"programs": 1}
    assert values(outcomes, outcome="wellbeing") == {"programs": 2}


async def test_coverage_across_the_antimeridian_and_at_the_radius(
    client: Client, db: AsyncSession, funder: str
) -> None:
    """A region whose places sit on both sides of longitude 180 (its bounding box spans the
    globe), covered by a clinician 30 km away across the line; and a region whose only evaluator
    sits just inside, and one just outside, 50 km."""
    good = org()
    db.add(good)
    await db.flush()
    fiji = {"country": "FJ", "region": "E"}
    db.add_all(
        [
            listing(good, "peer_program", latitude=-16.5, longitude=179.9, **fiji),
            listing(good, "peer_program", latitude=-16.6, longitude=-179.9, **fiji),
            # 0.3 degrees west of the first place, across nothing; ~32 km.
            listing(good, "clinician", latitude=-16.5, longitude=179.6, **fiji),
            # Two single-program regions on the equator; an evaluator 49 km / 51 km east of each.
            listing(good, "peer_program", latitude=0.0, longitude=10.0, country="GA", region="1"),
            listing(good, "evaluator", latitude=0.0, longitude=10.0 + 49 / 111.32, country="GA", region="1"),
            listing(good, "peer_program", latitude=0.0, longitude=20.0, country="CG", region="2"),
            listing(good, "evaluator", latitude=0.0, longitude=20.0 + 51 / 111.32, country="CG", region="2"),
        ]
    )
    await db.commit()
    body = (await client.get("/reports/coverage", headers=bearer(funder))).json()
    gaps = table(body, "coverage_gaps")
    assert values(gaps, country="FJ")["no_clinician_within_50_km"] == 0
    assert values(gaps, country="FJ")["programs"] == 2
    assert values(gaps, country="GA")["no_evaluator_within_50_km"] == 0
    assert values(gaps, country="CG")["no_evaluator_within_50_km"] == 1


async def test_reports_are_reused_for_a_minute_unless_asked_fresh_or_listings_change(
    client: Client, db: AsyncSession, funder: str
) -> None:
    world = await build(db)
    first = (await client.get("/reports/partnerships", headers=bearer(funder))).json()
    # A new initiator: the cached report does not know of it yet, a no-cache request does.
    db.add(Initiator(display_name="New", email="new@example.org", pathway_step=2))
    await db.commit()
    again = (await client.get("/reports/partnerships", headers=bearer(funder))).json()
    assert again["computed_at"] == first["computed_at"] and again["tables"] == first["tables"]
    fresh = (
        await client.get("/reports/partnerships", headers=bearer(funder) | {"Cache-Control": "no-cache"})
    ).json()
    assert fresh["computed_at"] > first["computed_at"]
    # And the fresh answer is what later requests get.
    assert (await client.get("/reports/partnerships", headers=bearer(funder))).json() == fresh

    # Listings count at once (a suspended organization's leave every count as it is suspended).
    before = (await client.get("/reports/programs", headers=bearer(funder))).json()
    unverified = org(verified=False)
    db.add(unverified)
    await db.flush()
    verified = await db.get(Organization, world["programs"][0].organization_id)
    assert verified is not None
    db.add_all([listing(verified, "peer_program"), listing(unverified, "peer_program")])
    await db.commit()
    after = (await client.get("/reports/programs", headers=bearer(funder))).json()
    total = next(r for r in after["tables"][0]["rows"] if r["key"] == {})["values"]["programs"]["value"]
    old = next(r for r in before["tables"][0]["rows"] if r["key"] == {})["values"]["programs"]["value"]
    assert total == old + 1  # the verified organization's new program, not the other one


async def test_report_parts_run_side_by_side_on_their_own_connections(engine: AsyncEngine) -> None:
    """The production path: the reports given two connections (the partnerships report's halves
    run side by side; coverage uses the first) give the same answers as with one (committed data,
    removed afterwards)."""
    good = org()
    good_id = good.id
    places = [
        ("NL", "07", 52.37, 4.89),
        ("NL", "09", 52.09, 5.12),
        ("BE", "BRU", 50.85, 4.35),
        ("KE", "30", -1.29, 36.82),
        ("FJ", "E", -16.5, 179.9),
    ]
    rows = [
        listing(good, "peer_program", latitude=lat, longitude=lon, country=country, region=region)
        for country, region, lat, lon in places
    ]
    rows.append(listing(good, "clinician", latitude=52.1, longitude=5.1, country="NL", region="09"))
    async with AsyncSession(engine) as setup:
        setup.add(good)
        await setup.flush()
        setup.add_all(rows)
        await setup.commit()
    try:
        async with AsyncSession(engine) as first, AsyncSession(engine) as second:
            period = datetime(2001, 1, 1, tzinfo=UTC) + timedelta(hours=random.randrange(10**6))
            await releases.take(first, period)
            await first.commit()
            builds = (report_service.partnerships_report, report_service.coverage_report)
            for build in builds:
                side_by_side = await build([first, second], 11, period)
                one_by_one = await build([first], 11, period)
                assert side_by_side.tables == one_by_one.tables
                assert side_by_side.tables  # something was computed
        gaps = side_by_side.tables[0]  # coverage's, given two connections
        gap_rows = msgspec.to_builtins(gaps.rows)
        found = {(r["key"]["country"], r["key"]["region"]): r["values"] for r in gap_rows}
        assert {("NL", "07"), ("NL", "09"), ("BE", "BRU"), ("KE", "30"), ("FJ", "E")} <= set(found)
        assert found[("NL", "09")]["no_clinician_within_50_km"]["value"] == 0
        assert found[("NL", "07")]["no_clinician_within_50_km"]["value"] == 0
        assert found[("KE", "30")]["no_clinician_within_50_km"]["value"] == 1
        keys = [k for k in found if k[0] is not None]
        assert keys == sorted(keys, key=lambda k: (k[0], k[1] or ""))
    finally:
        async with AsyncSession(engine) as cleanup:
            await cleanup.execute(delete(Listing).where(Listing.organization_id == good_id))
            await cleanup.execute(delete(Organization).where(Organization.id == good_id))
            await cleanup.commit()


async def demand_matches_a_fresh_count(db: AsyncSession) -> None:
    kept = {
        tuple(r[:4]): tuple(r[4:])
        for r in await db.execute(
            text(
                "SELECT country, region, lat, lon, programs, initiators, clinicians, evaluators, trainers "
                "FROM demand_place WHERE programs <> 0 OR initiators <> 0 "
                "OR clinicians <> 0 OR evaluators <> 0 OR trainers <> 0"
            )
        )
    }
    truth = {
        tuple(r[:4]): tuple(r[4:])
        for r in await db.execute(
            text(
                """SELECT country, region, round(latitude * 10) / 10, round(longitude * 10) / 10,
                          sum(p), sum(i), sum(c), sum(e), sum(t)
                   FROM (SELECT l.country, l.region, l.latitude, l.longitude,
                                (l.kind = 'peer_program')::int AS p, 0 AS i,
                                (l.kind = 'clinician')::int AS c, (l.kind = 'evaluator')::int AS e,
                                (l.kind = 'trainer')::int AS t
                         FROM listing l JOIN organization o ON o.id = l.organization_id
                         WHERE l.archived_at IS NULL AND l.latitude IS NOT NULL
                           AND o.verification_status = 'verified'
                           AND (l.kind = 'peer_program'
                                OR (l.kind IN ('clinician', 'evaluator', 'trainer') AND l.status = 'active'))
                         UNION ALL
                         SELECT country, region, latitude, longitude, 0, 1, 0, 0, 0
                         FROM initiator WHERE latitude IS NOT NULL) d
                   GROUP BY 1, 2, 3, 4"""
            )
        )
    }
    assert kept == truth


async def test_demand_places_follow_programs_organizations_and_initiators(db: AsyncSession) -> None:
    world = await build(db)
    await demand_matches_a_fresh_count(db)
    # The clinician, evaluator and trainer are counted as partners where they are.
    assert await db.scalar(text("SELECT sum(clinicians + evaluators + trainers) FROM demand_place")) == 3
    first, second = world["programs"][0], world["programs"][1]
    # A program moves, another is archived, a partner changes (not demand), a new program.
    await db.execute(update(Listing).where(Listing.id == first.id).values(latitude=48.85, longitude=2.35))
    await db.execute(update(Listing).where(Listing.id == second.id).values(archived_at=NOW))
    await db.execute(update(Listing).where(Listing.id == world["clinician"].id).values(latitude=1.0))
    organization = await db.get(Organization, first.organization_id)
    assert organization is not None
    sydney = {"latitude": -33.87, "longitude": 151.21, "country": "AU", "region": "02"}
    db.add(listing(organization, "peer_program", **sydney))
    await db.flush()
    await demand_matches_a_fresh_count(db)
    # The organization loses its verification, then gets it back (a paused partner stays out).
    await db.execute(update(Listing).where(Listing.id == world["evaluator"].id).values(status="paused"))
    same_organization = Organization.id == organization.id
    await db.execute(update(Organization).where(same_organization).values(verification_status="unverified"))
    await demand_matches_a_fresh_count(db)
    await db.execute(update(Organization).where(same_organization).values(verification_status="verified"))
    await demand_matches_a_fresh_count(db)
    # Partners come back, move, are archived.
    for changes in ({"status": "active"}, {"latitude": 48.2}, {"archived_at": NOW}):
        await db.execute(update(Listing).where(Listing.id == world["evaluator"].id).values(**changes))
        await demand_matches_a_fresh_count(db)
    # Initiators move and leave.
    await db.execute(text("UPDATE initiator SET latitude = 51.5, longitude = -0.12 WHERE pathway_step = 2"))
    await db.execute(text("DELETE FROM initiator WHERE pathway_step = 1"))
    await demand_matches_a_fresh_count(db)


async def coverage_matches_a_fresh_search(db: AsyncSession) -> list[tuple[bool, bool, bool]]:
    """Every place's kept flags are known and what a plain search finds; returns the flags."""
    rows = (await db.execute(text(FRESH_COVERAGE))).all()
    assert rows
    for place, *kept_and_found in rows:
        assert kept_and_found[:3] == kept_and_found[3:], f"place {place}: kept {kept_and_found}"
    return [tuple(r[1:4]) for r in rows]


def nairobi_covered(kind: str) -> Any:
    # The place of the world's Nairobi program (partners have places of their own nearby).
    return text(f"SELECT covered_{kind} FROM demand_place WHERE country = 'KE' AND programs > 0")  # noqa: S608


async def test_coverage_flags_follow_partners_organizations_and_new_places(db: AsyncSession) -> None:
    world = await build(db)
    flags = await coverage_matches_a_fresh_search(db)
    assert any(any(f) for f in flags) and any(not all(f) for f in flags)
    good = await db.get(Organization, world["programs"][0].organization_id)
    assert good is not None
    # Nairobi's program has no partner near; an unverified organization's clinician next to it
    # does not count; a verified one 30 km away arrives, then moves 200 km.
    nairobi = {"country": "KE", "region": "30"}
    unverified = org(verified=False)
    db.add(unverified)
    await db.flush()
    db.add(listing(unverified, "clinician", latitude=-1.3, longitude=36.85, **nairobi))
    await db.flush()
    await coverage_matches_a_fresh_search(db)
    assert await db.scalar(nairobi_covered("clinician")) is False
    clinician = listing(good, "clinician", latitude=-1.29, longitude=36.82 + 30 / 111.32, **nairobi)
    db.add(clinician)
    await db.flush()
    await coverage_matches_a_fresh_search(db)
    assert await db.scalar(nairobi_covered("clinician")) is True
    moves: list[dict[str, Any]] = [
        {"longitude": 36.82 + 200 / 111.32},
        {"longitude": 36.82 + 10 / 111.32},
        {"status": "paused"},
        {"status": "active"},
        {"archived_at": NOW},
        {"archived_at": None},
        {"kind": "trainer"},
    ]
    for changes in moves:
        await db.execute(update(Listing).where(Listing.id == clinician.id).values(**changes))
        await coverage_matches_a_fresh_search(db)
    # A second partner near, then the first is deleted: the place is still covered.
    db.add(listing(good, "trainer", latitude=-1.2, longitude=36.9, **nairobi))
    await db.flush()
    await db.execute(delete(Listing).where(Listing.id == clinician.id))
    await coverage_matches_a_fresh_search(db)
    assert await db.scalar(nairobi_covered("trainer")) is True
    # The partners' organization loses its verification, then gets it back.
    same = Organization.id == good.id
    await db.execute(update(Organization).where(same).values(verification_status="unverified"))
    flags = await coverage_matches_a_fresh_search(db)
    assert not any(any(f) for f in flags)
    await db.execute(update(Organization).where(same).values(verification_status="verified"))
    await coverage_matches_a_fresh_search(db)
    # New places: an initiator and a program where no place was, one near partners, one not.
    db.add_all(
        [
            Initiator(
                display_name="I", email="i@example.org", latitude=lat, longitude=lon, country=c, region=r
            )
            for lat, lon, c, r in ((-1.5, 36.8, "KE", "30"), (10.0, 10.0, "NG", "X"))
        ]
    )
    db.add(listing(good, "peer_program", latitude=52.5, longitude=5.0))
    await db.flush()
    await coverage_matches_a_fresh_search(db)


async def test_coverage_deferred_by_a_bulk_load_then_refreshed(
    db: AsyncSession, client: Client, funder: str
) -> None:
    """A bulk load skips the upkeep (its places are searched by the report until refreshed);
    place_coverage_refresh() searches every place again."""
    world = await build(db)
    good = await db.get(Organization, world["programs"][0].organization_id)
    assert good is not None
    await db.commit()
    before = (
        await client.get("/reports/coverage", headers=bearer(funder) | {"Cache-Control": "no-cache"})
    ).json()
    # Unknown flags (a load still running): the report searches those places itself.
    forget = ", ".join(f"covered_{kind} = NULL" for kind in ("clinician", "evaluator", "trainer"))
    await db.execute(text(f"UPDATE demand_place SET {forget}"))  # noqa: S608
    await db.commit()
    unknown = (
        await client.get("/reports/coverage", headers=bearer(funder) | {"Cache-Control": "no-cache"})
    ).json()
    assert unknown["tables"] == before["tables"]
    await db.execute(text("SELECT place_coverage_refresh()"))
    await coverage_matches_a_fresh_search(db)
    # Deferred: a new clinician next to Nairobi's program changes no flag until the refresh.
    await db.execute(text("SET LOCAL registry.coverage = 'deferred'"))
    db.add(listing(good, "clinician", latitude=-1.3, longitude=36.9, country="KE", region="30"))
    await db.flush()
    nairobi = nairobi_covered("clinician")
    assert await db.scalar(nairobi) is False
    await db.execute(text("SELECT place_coverage_refresh()"))
    assert await db.scalar(nairobi) is True
    await coverage_matches_a_fresh_search(db)


async def evaluation_tally_matches_a_fresh_count(db: AsyncSession) -> None:
    kept = {
        tuple(r[:3]): r[3]
        for r in await db.execute(text("SELECT fact, code, quarter, n FROM evaluation_tally WHERE n <> 0"))
    }
    truth = {
        tuple(r[:3]): r[3]
        for r in await db.execute(
            text(
                """WITH ev AS (
                       SELECT e.listing_id, e.recorded_at, e.stage, e.design, e.outcomes
                       FROM evaluation_record e JOIN listing l ON l.id = e.listing_id
                       JOIN organization o ON o.id = l.organization_id
                       WHERE l.kind = 'peer_program' AND l.archived_at IS NULL
                         AND o.verification_status = 'verified')
                   SELECT 'transition', stage,
                          to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-"Q"Q'), count(*)
                   FROM ev GROUP BY 2, 3
                   UNION ALL
                   SELECT 'design', design, '', count(DISTINCT listing_id)
                   FROM ev WHERE design IS NOT NULL GROUP BY 2
                   UNION ALL
                   SELECT 'outcome', o.value, '', count(DISTINCT listing_id)
                   FROM ev CROSS JOIN unnest(ev.outcomes) AS o(value) GROUP BY 2"""
            )
        )
    }
    assert kept == truth


async def test_the_evaluation_tally_follows_records_programs_and_organizations(db: AsyncSession) -> None:
    world = await build(db)
    first, second, third = world["programs"][:3]
    archived, unverified = world["programs"][6], world["programs"][7]
    q1, q2 = datetime(2026, 2, 10, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC)

    def record(program: Listing, when: datetime, design: str | None, outcomes: list[str]) -> EvaluationRecord:
        return EvaluationRecord(
            id=uuid.uuid4(),
            listing_id=program.id,
            stage="pilot_running",
            previous_stage="none",
            design=design,
            outcomes=outcomes,
            recorded_at=when,
        )

    # One statement with two records of one design for one program (it counts once), records of
    # an archived program, of an unverified organization's program and of a clinician.
    await db.execute(
        insert(EvaluationRecord),
        [
            {
                "id": r.id,
                "listing_id": r.listing_id,
                "stage": r.stage,
                "previous_stage": r.previous_stage,
                "design": r.design,
                "outcomes": r.outcomes,
                "recorded_at": r.recorded_at,
            }
            for r in (
                record(first, q1, "pre_post", ["recidivism", "wellbeing"]),
                record(first, q2, "pre_post", ["recidivism"]),
                record(second, q2, "rct", ["wellbeing"]),
                record(archived, q2, "rct", ["recidivism"]),
                record(unverified, q1, "pre_post", []),
                record(world["clinician"], q1, "rct", ["wellbeing"]),
            )
        ],
    )
    await evaluation_tally_matches_a_fresh_count(db)
    later = record(first, q2, "rct", ["safety"])
    db.add_all([later, record(third, q1, None, [])])
    await db.flush()
    await evaluation_tally_matches_a_fresh_count(db)
    # Records corrected and removed.
    await db.execute(
        update(EvaluationRecord)
        .where(EvaluationRecord.id == later.id)
        .values(design="pre_post", outcomes=["wellbeing"], recorded_at=q1)
    )
    await evaluation_tally_matches_a_fresh_count(db)
    await db.execute(
        delete(EvaluationRecord).where(
            EvaluationRecord.listing_id == first.id, EvaluationRecord.recorded_at == q2
        )
    )
    await evaluation_tally_matches_a_fresh_count(db)
    # Programs archived and brought back, one moved to the unverified organization.
    await db.execute(update(Listing).where(Listing.id == second.id).values(archived_at=NOW))
    await db.execute(update(Listing).where(Listing.id == archived.id).values(archived_at=None))
    await evaluation_tally_matches_a_fresh_count(db)
    await db.execute(
        update(Listing).where(Listing.id == third.id).values(organization_id=unverified.organization_id)
    )
    await db.execute(update(Listing).where(Listing.id == first.id).values(name="renamed"))
    await evaluation_tally_matches_a_fresh_count(db)
    # The organizations lose and gain their verification.
    for status in ("unverified", "verified"):
        await db.execute(
            update(Organization)
            .where(Organization.id == first.organization_id)
            .values(verification_status=status)
        )
        await evaluation_tally_matches_a_fresh_count(db)
    await db.execute(
        update(Organization)
        .where(Organization.id == unverified.organization_id)
        .values(verification_status="verified")
    )
    await evaluation_tally_matches_a_fresh_count(db)
