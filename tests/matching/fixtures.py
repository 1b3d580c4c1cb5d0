"""A hand-built data set around Utrecht where the right matches are known."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Client, bearer, register_org, role_key, verified_org

UTRECHT = {"latitude": 52.0907, "longitude": 5.1214}
AMERSFOORT = {"latitude": 52.1561, "longitude": 5.3878}  # ~20 km
ROTTERDAM = {"latitude": 51.9244, "longitude": 4.4777}  # ~47 km
GRONINGEN = {"latitude": 53.2194, "longitude": 6.5665}  # ~160 km


async def create(client: Client, key: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=bearer(key))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def edit(client: Client, key: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """PATCH `path` as its owner, with the ETag it has now."""
    current = await client.get(path, headers=bearer(key))
    changed = await client.patch(
        path, json=body, headers={**bearer(key), "If-Match": current.headers["etag"]}
    )
    assert changed.status_code == 200, changed.text
    data: dict[str, Any] = changed.json()
    return data


async def build_world(client: Client, db: AsyncSession) -> dict[str, Any]:
    steward = await role_key(db)
    _, key = await verified_org(client, steward, kinds=["clinician", "evaluator", "trainer", "peer_program"])
    _, unverified_key = await register_org(client, kinds=["clinician"])
    w: dict[str, Any] = {"steward": steward, "org_key": key}

    async def partner(name: str, **kw: Any) -> dict[str, Any]:
        body = {"name": name, "location_precision": "exact", **kw}
        return await create(client, key, "/partners", body)

    w["pwuv_clinician"] = await partner(
        "Clinician PWUV",
        kind="clinician",
        specialties=["people_who_use_violence"],
        location=AMERSFOORT,
        ipv_trained=True,
        contacts=[
            {"name": "Dr P", "email": "secret-pwuv@example.org", "visibility": "on_introduction"},
            {"role": "Desk", "email": "desk@example.org", "visibility": "public"},
        ],
    )
    w["survivor_clinician"] = await partner(
        "Clinician Survivors",
        kind="clinician",
        specialties=["survivors", "high_risk_clients"],
        location=AMERSFOORT,
        ipv_trained=True,
    )
    w["far_clinician"] = await partner(
        "Clinician Far",
        kind="clinician",
        specialties=["people_who_use_violence"],
        location=GRONINGEN,
    )
    w["remote_clinician"] = await partner(
        "Clinician Remote",
        kind="clinician",
        specialties=["people_who_use_violence"],
        location=GRONINGEN,
        remote_ok=True,
    )
    w["paused_clinician"] = await partner(
        "Clinician Paused",
        kind="clinician",
        specialties=["people_who_use_violence"],
        location=UTRECHT,
        status="paused",
    )
    w["unverified_clinician"] = await create(
        client,
        unverified_key,
        "/partners",
        {
            "name": "Clinician Unverified",
            "kind": "clinician",
            "location": UTRECHT,
            "specialties": ["people_who_use_violence"],
        },
    )
    w["evaluator"] = await partner(
        "Evaluator Near", kind="evaluator", methods=["pre_post"], location=ROTTERDAM
    )
    w["trainer"] = await partner("Trainer Near", kind="trainer", courses=["IPV basics"], location=UTRECHT)
    w["pwuv_program"] = await create(
        client,
        key,
        "/programs",
        {
            "name": "Twelve Steps Utrecht",
            "side": "people_who_use_violence",
            "formats": ["twelve_step"],
            "location": UTRECHT,
            "open_to_mentoring": True,
        },
    )
    w["survivor_program"] = await create(
        client,
        key,
        "/programs",
        {
            "name": "Survivor Circle Amersfoort",
            "side": "survivors",
            "formats": ["peer_led_support_group"],
            "location": AMERSFOORT,
        },
    )
    return w
