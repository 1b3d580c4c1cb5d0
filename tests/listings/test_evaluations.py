"""Evaluation records through HTTP: stages move forward, corrections are explicit, history is
append-only, and an evaluator must be a visible evaluator listing."""

import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import EvaluationRecord
from tests.factories import Client, bearer, register_org, role_key, verified_org
from tests.listings.builders import (
    audit_rows,
    create_partner,
    create_program,
    etag_of,
    evaluation_rows,
    listing_row,
    with_etag,
)

RECORD_FIELDS = (
    "id",
    "stage",
    "previous_stage",
    "is_correction",
    "correction_reason",
    "design",
    "outcomes",
    "participant_count",
    "evaluator_id",
    "evaluator_name",
    "started_on",
    "ended_on",
    "findings_summary",
    "publication",
    "recorded_at",
)


def snapshot(rows: list[EvaluationRecord]) -> list[dict[str, Any]]:
    return [{f: getattr(r, f) for f in RECORD_FIELDS} for r in rows]


async def evaluate(client: Client, key: str, program_id: str, **body: Any) -> dict[str, Any]:
    response = await client.post(f"/programs/{program_id}/evaluations", json=body, headers=bearer(key))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def test_stages_move_forward_and_the_program_shows_stage_and_history(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    program, _ = await create_program(client, key)
    pid = program["id"]

    planned = await evaluate(client, key, pid, stage="pilot_planned")
    assert planned["stage"] == "pilot_planned" and planned["previous_stage"] == "none"
    assert planned["is_correction"] is False
    running = await evaluate(
        client,
        key,
        pid,
        stage="pilot_running",
        design="pre_post",
        outcomes=["mental_health", "empowerment", "mental_health"],
        participant_count=14,
        started_on="2024-01-08",
        ended_on="2024-06-28",
        findings_summary="Attendance held up; self-efficacy scores rose.",
        publication="10.1234/ipv.2024.001",
    )
    assert running["previous_stage"] == "pilot_planned"
    assert running["outcomes"] == ["empowerment", "mental_health"] and running["participant_count"] == 14
    # Skipping ahead is still forward.
    evaluated = await evaluate(client, key, pid, stage="formally_evaluated", design="quasi_experimental")
    assert evaluated["previous_stage"] == "pilot_running"

    shown = (await client.get(f"/programs/{pid}")).json()
    assert shown["evaluation"]["stage"] == "formally_evaluated"
    history = shown["evaluation"]["history"]
    assert [h["id"] for h in history] == [planned["id"], running["id"], evaluated["id"]]
    assert history[1] == running
    assert (await client.get(f"/programs/{pid}/evaluations")).json() == history
    listed = (await client.get("/programs", params={"evaluation_stage": "formally_evaluated"})).json()
    assert [p["id"] for p in listed["items"]] == [pid]
    assert listed["items"][0]["evaluation"]["stage"] == "formally_evaluated"

    row = await listing_row(db, pid)
    assert row.evaluation_stage == "formally_evaluated" and row.version == 4
    rows = await evaluation_rows(db, pid)
    assert [(r.previous_stage, r.stage) for r in rows] == [
        ("none", "pilot_planned"),
        ("pilot_planned", "pilot_running"),
        ("pilot_running", "formally_evaluated"),
    ]
    assert rows[1].design == "pre_post" and rows[1].publication == "10.1234/ipv.2024.001"
    assert [e.action for e in await audit_rows(db, pid)] == [
        "create",
        "evaluation",
        "evaluation",
        "evaluation",
    ]


@pytest.mark.parametrize("stage", ["none", "pilot_planned", "pilot_running"])
async def test_moving_back_or_standing_still_without_a_correction_is_422(
    client: Client, db: AsyncSession, stage: str
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    program, _ = await create_program(client, key)
    await evaluate(client, key, program["id"], stage="pilot_planned")
    await evaluate(client, key, program["id"], stage="pilot_running")
    before = snapshot(await evaluation_rows(db, program["id"]))

    response = await client.post(
        f"/programs/{program['id']}/evaluations", json={"stage": stage}, headers=bearer(key)
    )
    assert response.status_code == 422
    assert "correction" in response.json()["detail"]
    assert (await listing_row(db, program["id"])).evaluation_stage == "pilot_running"
    assert snapshot(await evaluation_rows(db, program["id"])) == before


async def test_a_correction_needs_a_reason_and_leaves_earlier_records_untouched(
    client: Client, db: AsyncSession
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    program, _ = await create_program(client, key)
    pid = program["id"]
    await evaluate(client, key, pid, stage="pilot_planned")
    await evaluate(client, key, pid, stage="pilot_completed", participant_count=30, design="qualitative")
    before = snapshot(await evaluation_rows(db, pid))

    no_reason = await client.post(
        f"/programs/{pid}/evaluations",
        json={"stage": "pilot_running", "correction": True},
        headers=bearer(key),
    )
    assert no_reason.status_code == 422 and "correction_reason" in no_reason.json()["detail"]
    assert snapshot(await evaluation_rows(db, pid)) == before

    corrected = await evaluate(
        client,
        key,
        pid,
        stage="pilot_running",
        correction=True,
        correction_reason="The pilot was still running; completed was entered too early.",
    )
    assert corrected["is_correction"] is True and corrected["previous_stage"] == "pilot_completed"
    assert corrected["correction_reason"].startswith("The pilot was still running")

    after = snapshot(await evaluation_rows(db, pid))
    assert after[:2] == before and len(after) == 3
    assert (await listing_row(db, pid)).evaluation_stage == "pilot_running"
    history = (await client.get(f"/programs/{pid}")).json()["evaluation"]
    assert history["stage"] == "pilot_running"
    assert [h["stage"] for h in history["history"]] == ["pilot_planned", "pilot_completed", "pilot_running"]
    assert (
        history["history"][1]["participant_count"] == 30 and history["history"][1]["is_correction"] is False
    )

    # And forward again from the corrected stage.
    again = await evaluate(client, key, pid, stage="pilot_completed")
    assert again["previous_stage"] == "pilot_running" and again["is_correction"] is False


async def test_evaluation_dates_and_links_are_checked(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    program, _ = await create_program(client, key)
    for body in (
        {"stage": "pilot_planned", "started_on": "2024-06-01", "ended_on": "2024-01-01"},
        {"stage": "pilot_planned", "publication": "see our website"},
        {"stage": "pilot_planned", "participant_count": -1},
        {"stage": "pilot_planned", "recorded_at": "2020-01-01T00:00:00Z"},
        {"stage": "pilot_planned", "previous_stage": "published"},
    ):
        response = await client.post(f"/programs/{program['id']}/evaluations", json=body, headers=bearer(key))
        assert response.status_code == 422, body
    assert await evaluation_rows(db, program["id"]) == []
    assert (await listing_row(db, program["id"])).evaluation_stage == "none"


async def test_the_evaluator_must_be_a_visible_evaluator(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    _, evaluator_org = await verified_org(client, steward)
    _, hidden_org = await register_org(client)
    program, _ = await create_program(client, key)
    pid = program["id"]

    evaluator = await create_partner(client, evaluator_org, "evaluator", name="Utrecht Evaluation Lab")
    clinician = await create_partner(client, evaluator_org, "clinician")
    unverified = await create_partner(client, hidden_org, "evaluator")
    archived = await create_partner(client, evaluator_org, "evaluator")
    etag = await etag_of(client, f"/partners/{archived['id']}", evaluator_org)
    gone = await client.delete(f"/partners/{archived['id']}", headers=with_etag(evaluator_org, etag))
    assert gone.status_code == 204

    for evaluator_id in (clinician["id"], unverified["id"], archived["id"], str(uuid.uuid4()), pid):
        response = await client.post(
            f"/programs/{pid}/evaluations",
            json={"stage": "pilot_planned", "evaluator_id": evaluator_id},
            headers=bearer(key),
        )
        assert response.status_code == 404, evaluator_id
        assert response.headers["content-type"].startswith("application/problem+json")
    assert await evaluation_rows(db, pid) == []
    assert (await listing_row(db, pid)).evaluation_stage == "none"

    record = await evaluate(client, key, pid, stage="pilot_planned", evaluator_id=evaluator["id"])
    assert record["evaluator_id"] == evaluator["id"]
    assert record["evaluator_name"] == "Utrecht Evaluation Lab"
    [row] = await evaluation_rows(db, pid)
    assert str(row.evaluator_id) == evaluator["id"]


async def test_partners_have_no_evaluations(client: Client, db: AsyncSession) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward)
    partner = await create_partner(client, key, "evaluator")
    response = await client.post(
        f"/programs/{partner['id']}/evaluations", json={"stage": "pilot_planned"}, headers=bearer(key)
    )
    assert response.status_code == 404
    assert (await listing_row(db, partner["id"])).evaluation_stage == "none"
