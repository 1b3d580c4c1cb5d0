"""A match one API process answered is reused by the others (caching.shared): for the same question
and the same version of the data only, for a few minutes only, and never across callers who see
different contacts."""

import json
import zlib
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from registry.listings.visibility import contact_view
from registry.matching import service
from tests.factories import Client, app_client, bearer
from tests.matching.fixtures import UTRECHT, build_world, create, edit

ASK: dict[str, Any] = {"location": UTRECHT, "needs": ["clinician"], "side": "people_who_use_violence"}


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every answer a process built (rather than reused), by its caller's contact view."""
    built: list[str] = []
    answer = service._answer

    async def counted(principal: Any, *args: Any) -> Any:
        built.append(contact_view(principal))
        return await answer(principal, *args)

    monkeypatch.setattr(service, "_answer", counted)
    return built


async def rows(db: AsyncSession) -> list[tuple[str, int]]:
    found = await db.execute(text("SELECT cache, version FROM shared_answer ORDER BY version"))
    return [(r.cache, r.version) for r in found]


async def test_another_process_reuses_an_answer_for_the_same_question_and_version(
    client: Client, db: AsyncSession, other_process: Litestar, builds: list[str]
) -> None:
    await build_world(client, db)
    first = await client.post("/matches", json=ASK)
    assert first.status_code == 200, first.text
    assert builds == ["public"]
    assert [cache for cache, _ in await rows(db)] == ["match_answers"]
    # Kept compressed: the answer's results and held_back, as given.
    body = await db.scalar(text("SELECT body FROM shared_answer"))
    kept = json.loads(b"{" + zlib.decompress(body) + b"}")
    assert kept == {k: first.json()[k] for k in ("results", "held_back")}
    async with app_client(other_process) as other:
        again = await other.post("/matches", json=ASK)
        assert again.status_code == 200
        assert again.json() == first.json()
        assert builds == ["public"]  # not built again
        # Another question is built there, and kept for the first process in turn.
        wider = await other.post("/matches", json={**ASK, "radius_km": 100})
        assert wider.status_code == 200
        assert builds == ["public", "public"]
    assert (await client.post("/matches", json={**ASK, "radius_km": 100})).json() == wider.json()
    assert builds == ["public", "public"]


async def test_a_change_to_the_data_is_never_answered_from_an_older_version(
    client: Client, db: AsyncSession, other_process: Litestar, builds: list[str]
) -> None:
    world = await build_world(client, db)
    first = await client.post("/matches", json=ASK)
    assert "Clinician Remote" in first.text
    await edit(
        client,
        world["org_key"],
        f"/partners/{world['remote_clinician']['id']}",
        {"name": "Clinician Elsewhere"},
    )
    async with app_client(other_process) as other:
        again = await other.post("/matches", json=ASK)
    assert "Clinician Elsewhere" in again.text and "Clinician Remote" not in again.text
    assert len(builds) == 2
    # Keeping the newer answer swept the older version's.
    versions = [version for _, version in await rows(db)]
    assert len(versions) == 1 and versions[0] > 0


async def test_an_answer_is_reused_for_a_few_minutes_only(
    client: Client, db: AsyncSession, other_process: Litestar, builds: list[str]
) -> None:
    await build_world(client, db)
    assert (await client.post("/matches", json=ASK)).status_code == 200
    await db.execute(text("UPDATE shared_answer SET made_at = made_at - interval '301 seconds'"))
    async with app_client(other_process) as other:
        assert (await other.post("/matches", json=ASK)).status_code == 200
    assert len(builds) == 2


async def test_callers_who_see_other_contacts_do_not_share_an_answer(
    client: Client, db: AsyncSession, other_process: Litestar, builds: list[str]
) -> None:
    world = await build_world(client, db)
    partner = {
        "kind": "clinician",
        "name": "Clinician Shared Contacts",
        "location_precision": "exact",
        "location": UTRECHT,
        "specialties": ["people_who_use_violence"],
        "contacts": [{"role": "Intake", "email": "intake@example.org", "visibility": "verified_orgs"}],
    }
    await create(client, world["org_key"], "/partners", partner)
    anonymous = await client.post("/matches", json=ASK)
    async with app_client(other_process) as other:
        verified = await other.post("/matches", json=ASK, headers=bearer(world["org_key"]))
    assert verified.status_code == 200
    assert builds == ["public", "verified"]
    assert "intake@example.org" in verified.text and "intake@example.org" not in anonymous.text
    assert len(await rows(db)) == 2


async def test_an_answer_that_cannot_be_kept_is_given_all_the_same(
    client: Client, db: AsyncSession, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await build_world(client, db)
    monkeypatch.setattr("registry.caching.shared.KEEP", "INSERT INTO no_such_table VALUES ($1, $2, $3, $4)")
    with caplog.at_level("WARNING", logger="registry.caching"):
        answered = await client.post("/matches", json=ASK)
    assert answered.status_code == 200
    assert "Clinician" in answered.text
    assert any("could not keep a shared answer" in r.getMessage() for r in caplog.records)
