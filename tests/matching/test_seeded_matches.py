"""The seeded data set shows what matching does: survivor groups for men, groups for women and
LGBTQ+ people who use violence, remote treatment programs, evaluators with an IPV focus, trainers
by topic, and listings not confirmed for a long time."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry.seeding import load_seeds
from tests.factories import Client


async def match(client: Client, **body: Any) -> dict[str, Any]:
    response = await client.post("/matches", json={"per_kind": 10, **body})
    assert response.status_code == 200, response.text
    results: dict[str, Any] = response.json()["results"]
    return results


def named(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["listing"]["name"]: c for c in results}


async def test_the_seeds_show_matching_at_work(client: Client, db: AsyncSession) -> None:
    await load_seeds(db)
    men = await match(
        client,
        location={"place": "Columbus, US"},
        side="survivors",
        populations=["men"],
        needs=["peer_program"],
    )
    programs = named(men["peer_program"])
    assert "Brothers After Harm Columbus Circle" in programs
    assert "population_overlap" in {
        r["code"] for r in programs["Brothers After Harm Columbus Circle"]["reasons"]
    }
    # No group for people who use violence is offered to someone starting a survivor group.
    assert all(c["listing"]["side"] in ("survivors", "both") for c in men["peer_program"])

    lgbtq = await match(
        client,
        location={"place": "Vancouver, CA"},
        side="people_who_use_violence",
        populations=["lgbtq"],
        needs=["peer_program", "treatment_program", "evaluator"],
    )
    assert "Prism Change Circle Vancouver" in named(lgbtq["peer_program"])
    treatment = named(lgbtq["treatment_program"])
    assert "Harbourline Online Intervention Programme" in treatment  # remote, in another country
    assert not treatment["Harbourline Online Intervention Programme"]["in_reach"]
    evaluators = named(lgbtq["evaluator"])
    assert "Cascade IPV Outcomes Team" in evaluators
    assert "ipv_focus" in {r["code"] for r in evaluators["Cascade IPV Outcomes Team"]["reasons"]}
    # A group still being planned is found only when asked for.
    assert "Prism Circle Planning Group Montreal" not in str(lgbtq)
    planning = await match(
        client,
        location={"place": "Montreal, CA"},
        side="people_who_use_violence",
        needs=["peer_program"],
        include_planning=True,
    )
    montreal = named(planning["peer_program"])["Prism Circle Planning Group Montreal"]
    assert {"planning", "not_recently_verified"} <= {r["code"] for r in montreal["reasons"]}

    women = await match(
        client,
        location={"place": "Bristol, GB"},
        side="people_who_use_violence",
        populations=["women"],
        needs=["peer_program"],
    )
    assert "Clearwater Women's Change Group" in named(women["peer_program"])

    trainers = await match(
        client, location={"place": "Utrecht, NL"}, needs=["trainer"], topics=["trauma_informed_practice"]
    )
    covering = named(trainers["trainer"])["Kring Ervaringsdeskundige Training"]
    assert "courses_cover" in {r["code"] for r in covering["reasons"]}
