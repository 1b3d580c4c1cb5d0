"""Report fixtures with known answers, inserted straight into the database (fast, exact)."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import Initiator, Introduction, Listing, Organization
from registry.reports.perturbation import MAX_PERTURBATION

NOW = datetime.now(UTC)


def org(verified: bool = True) -> Organization:
    return Organization(
        id=uuid.uuid4(),
        name="Org",
        kinds=["peer_program"],
        country="NL",
        verification_status="verified" if verified else "unverified",
    )


def listing(organization: Organization, kind: str, **kw: Any) -> Listing:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "organization_id": organization.id,
        "kind": kind,
        "name": f"{kind} listing",
        "location_precision": "exact",
        "latitude": 52.09,
        "longitude": 5.12,
        "country": "NL",
        "region": "09",
        "status": "active",
    }
    values.update(kw)
    return Listing(**values)


async def build(db: AsyncSession) -> dict[str, Any]:
    """Programs: 3 survivors/peer_led, 2 pwuv/twelve_step, 1 both/co_facilitated (+1 archived,
    +1 of an unverified organization, both excluded). Introductions to a clinician: 25 accepted,
    3 declined, 12 pending, 0 expired; to an evaluator: 15 accepted, 11 declined."""
    good, bad = org(), org(verified=False)
    db.add_all([good, bad])
    await db.flush()
    programs = (
        [
            listing(good, "peer_program", side="survivors", formats=["peer_led_support_group"])
            for _ in range(3)
        ]
        + [
            listing(
                good,
                "peer_program",
                side="people_who_use_violence",
                formats=["twelve_step"],
                evaluation_stage="published",
            )
            for _ in range(2)
        ]
        + [
            listing(
                good, "peer_program", side="both", formats=["co_facilitated"], clinical_partner_name="Dr X"
            )
        ]
        + [listing(good, "peer_program", side="survivors", formats=["twelve_step"], archived_at=NOW)]
        + [listing(bad, "peer_program", side="survivors", formats=["twelve_step"])]
        # A program far from every partner: Nairobi.
        + [
            listing(
                good,
                "peer_program",
                side="survivors",
                formats=["mutual_aid_circle"],
                latitude=-1.29,
                longitude=36.82,
                country="KE",
                region="30",
            )
        ]
    )
    clinician = listing(good, "clinician", specialties=["survivors"])
    evaluator = listing(good, "evaluator", methods=["pre_post"])
    trainer = listing(good, "trainer", courses=["x"])
    db.add_all([*programs, clinician, evaluator, trainer])
    await db.flush()
    initiators = [
        Initiator(
            id=uuid.uuid4(),
            display_name="I",
            email="i@example.org",
            pathway_step=step,
            latitude=52.09,
            longitude=5.12,
            country="NL",
            region="09",
        )
        for step, n in ((1, 14), (2, 3), (3, 20))
        for _ in range(n)
    ]
    db.add_all(initiators)
    await db.flush()
    created = datetime(2026, 8, 15, tzinfo=UTC)

    def intro(target: Listing, status: str, i: int) -> Introduction:
        return Introduction(
            initiator_id=initiators[i % len(initiators)].id,
            listing_id=target.id,
            organization_id=target.organization_id,
            message="m",
            status=status,
            initiator_name="I",
            created_at=created,
            expires_at=NOW + timedelta(days=10),
        )

    intros = (
        [intro(clinician, "accepted", i) for i in range(25)]
        + [intro(clinician, "declined", i) for i in range(3)]
        + [intro(clinician, "pending", i) for i in range(12)]
        + [intro(evaluator, "accepted", i) for i in range(15)]
        + [intro(evaluator, "declined", i) for i in range(11)]
    )
    db.add_all(intros)
    await db.commit()
    return {"programs": programs, "clinician": clinician, "evaluator": evaluator}


# Every place's partners within 50 km, searched the slow, plain way (no index, no box): what the
# coverage flags the triggers keep (migration 0011) must say.
FRESH_COVERAGE = """
    SELECT d.id, d.covered_clinician, d.covered_evaluator, d.covered_trainer,
           {searched}
    FROM demand_place d ORDER BY d.id
""".format(  # noqa: S608 (fixed kinds, no input)
    searched=", ".join(
        f"""EXISTS (SELECT 1 FROM listing s JOIN organization o ON o.id = s.organization_id
                   WHERE o.verification_status = 'verified' AND s.kind = '{kind}'
                     AND s.archived_at IS NULL AND s.status = 'active' AND s.latitude IS NOT NULL
                     AND earth_distance(ll_to_earth(d.lat, d.lon), ll_to_earth(s.latitude, s.longitude))
                         <= 50000)"""  # noqa: S608
        for kind in ("clinician", "evaluator", "trainer")
    )
)


def near(published: int | None, truth: int) -> bool:
    """A published people count: hidden, or the truth moved by at most the perturbation (and zero
    exactly when it is zero)."""
    if published is None:
        return True
    return abs(published - truth) <= MAX_PERTURBATION and (truth == 0) == (published == 0)
