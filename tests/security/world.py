"""One world for the security tests: every role, and resources that belong to somebody.

Org A (verified) owns an `area` survivor program with contacts of every visibility, a
clinician partner, an archived program and an evaluation record; org B is another verified
organization with a program near A's; org C is unverified and owns a program and a partner.
Initiator X asked for two introductions (one accepted by A, one pending) and initiator Y for
one (pending). Every restricted field holds a unique marker string, so that a crawl can tell
exactly where each one leaves the API.
"""

import uuid
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from registry.auth.principal import Role
from tests.factories import Client, bearer, register_org, role_key, verified_org

JSON = dict[str, Any]

ANONYMOUS: Final = "anonymous"
INITIATOR_X: Final = "initiator_x"  # asked for the introductions
INITIATOR_Y: Final = "initiator_y"  # another initiator
ORG_A: Final = "org_a"  # verified, owns the resources
ORG_B: Final = "org_b"  # verified, another organization
ORG_C: Final = "org_c"  # unverified
FUNDER: Final = "funder"
STEWARD: Final = "steward"
ROLES: Final = (ANONYMOUS, INITIATOR_X, INITIATOR_Y, ORG_A, ORG_B, ORG_C, FUNDER, STEWARD)

# The precise point and street address of A's `area` program: none of it may ever leave.
AREA_POINT: Final = (52.091234, 5.121987)
AREA_ADDRESS: Final = "Marker Street 77"
# Initiator X's precise location input (stored only coarse).
INITIATOR_POINT: Final = (52.083456, 5.134567)

# Summary lines that tests/security/conftest.py prints at the end of the run.
SUMMARY: list[str] = []


def _token(purpose: str, run: str) -> str:
    # Letters and digits only: one full-text token, unchanged by JSON, CSV or HTML escaping.
    return f"zq{purpose}{run}"


@dataclass(frozen=True)
class Markers:
    """Unique strings seeded into every restricted field (and a few public ones, as controls)."""

    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def token(self, purpose: str) -> str:
        return _token(purpose, self.run)

    def email(self, purpose: str) -> str:
        return f"{self.token(purpose)}@example.org"

    def phone(self, digits: str) -> str:
        return f"+31 6 {digits[:4]} {digits[4:8]}"

    # A's area program: one contact per visibility.
    @property
    def pa_public(self) -> tuple[str, str]:
        return self.token("papubname"), self.email("papubmail")

    @property
    def pa_verified(self) -> tuple[str, str, str]:
        return self.token("pavorgname"), self.email("pavorgmail"), self.phone(self.digits(1))

    @property
    def pa_intro(self) -> tuple[str, str, str]:
        return self.token("paintroname"), self.email("paintromail"), self.phone(self.digits(2))

    # A's clinician partner: verified_orgs and on_introduction contacts.
    @property
    def qa_verified(self) -> tuple[str, str, str]:
        return self.token("qavorgname"), self.email("qavorgmail"), self.phone(self.digits(3))

    @property
    def qa_intro(self) -> tuple[str, str, str]:
        return self.token("qaintroname"), self.email("qaintromail"), self.phone(self.digits(4))

    def digits(self, n: int) -> str:
        """Eight digits unique to this run and contact (phone numbers)."""
        return f"{int(self.run, 16) % 10_000_000:07d}{n}"


@dataclass
class World:
    markers: Markers
    keys: dict[str, str]  # role -> bearer key ("" for anonymous)
    org_a: str
    org_b: str
    org_c: str
    org_a_second_key_id: str
    program_a: str  # verified A, area, survivors, all the contact markers
    program_b: str  # verified B, near A's
    program_c: str  # unverified C
    program_archived: str  # A's, archived
    partner_a: str  # A's clinician
    partner_c: str  # C's clinician
    initiator_x: str
    initiator_y: str
    intro_accepted: str  # X -> program A, accepted by A
    intro_pending_x: str  # X -> partner A, pending
    intro_pending_y: str  # Y -> program A, pending
    names: dict[str, str]  # what -> marker in a name or a message
    # Every answer to the writes that built the world (creates, the acceptance), for checks.
    write_answers: list[httpx.Response] = field(default_factory=list)

    def headers(self, role: str) -> dict[str, str]:
        key = self.keys[role]
        return bearer(key) if key else {}


async def _created(response: httpx.Response, answers: list[httpx.Response]) -> JSON:
    answers.append(response)
    assert response.status_code == 201, f"{response.request.method} {response.request.url}: {response.text}"
    data: JSON = response.json()
    return data


async def build_world(client: Client, db: AsyncSession) -> World:
    m = Markers()
    answers: list[httpx.Response] = []
    steward = await role_key(db, Role.STEWARD)
    funder = await role_key(db, Role.FUNDER)
    names = {
        "org_c": m.token("orgcname"),
        "program_c": m.token("progcname"),
        "partner_c": m.token("partcname"),
        "program_archived": m.token("progarchname"),
        "initiator_x": m.token("inixname"),
        "initiator_y": m.token("iniyname"),
        "initiator_x_email": m.email("inixmail"),
        "initiator_y_email": m.email("iniymail"),
        "message_accepted": m.token("msgaccepted"),
        "message_pending_x": m.token("msgpendingx"),
        "message_pending_y": m.token("msgpendingy"),
    }

    org_a, key_a = await verified_org(client, steward, kinds=["peer_program", "clinician"])
    org_b, key_b = await verified_org(client, steward, kinds=["peer_program"])
    org_c, key_c = await register_org(client, name=f"Unverified {names['org_c']}", kinds=["peer_program"])
    second = await _created(
        await client.post(
            f"/organizations/{org_a['id']}/api-keys", json={"label": "second"}, headers=bearer(key_a)
        ),
        answers,
    )

    pub_name, pub_mail = m.pa_public
    v_name, v_mail, v_phone = m.pa_verified
    i_name, i_mail, i_phone = m.pa_intro
    program_a = await _created(
        await client.post(
            "/programs",
            json={
                "name": "Harbour survivors circle",
                "side": "survivors",
                "formats": ["peer_led_support_group"],
                "location_precision": "area",
                "location": {
                    "latitude": AREA_POINT[0],
                    "longitude": AREA_POINT[1],
                    "address": AREA_ADDRESS,
                },
                "contacts": [
                    {"name": pub_name, "email": pub_mail, "visibility": "public"},
                    {"name": v_name, "email": v_mail, "phone": v_phone, "visibility": "verified_orgs"},
                    {"name": i_name, "email": i_mail, "phone": i_phone, "visibility": "on_introduction"},
                ],
            },
            headers=bearer(key_a),
        ),
        answers,
    )
    await _created(
        await client.post(
            f"/programs/{program_a['id']}/evaluations",
            json={"stage": "pilot_planned", "findings_summary": "Planned with a local evaluator."},
            headers=bearer(key_a),
        ),
        answers,
    )
    program_b = await _created(
        await client.post(
            "/programs",
            json={
                "name": "Canal survivors circle",
                "side": "survivors",
                "formats": ["peer_led_support_group"],
                "location": {"place": "Utrecht, NL"},
            },
            headers=bearer(key_b),
        ),
        answers,
    )
    archived = await _created(
        await client.post(
            "/programs",
            json={
                "name": f"Closed {names['program_archived']}",
                "side": "people_who_use_violence",
                "location": {"place": "Utrecht, NL"},
            },
            headers=bearer(key_a),
        ),
        answers,
    )
    etag = (await client.get(f"/programs/{archived['id']}", headers=bearer(key_a))).headers["etag"]
    removed = await client.delete(f"/programs/{archived['id']}", headers={**bearer(key_a), "If-Match": etag})
    assert removed.status_code == 204, removed.text
    program_c = await _created(
        await client.post(
            "/programs",
            json={
                "name": f"Unlisted {names['program_c']}",
                "side": "survivors",
                "formats": ["peer_led_support_group"],
                "location": {"place": "Utrecht, NL"},
            },
            headers=bearer(key_c),
        ),
        answers,
    )
    qv_name, qv_mail, qv_phone = m.qa_verified
    qi_name, qi_mail, qi_phone = m.qa_intro
    partner_a = await _created(
        await client.post(
            "/partners",
            json={
                "kind": "clinician",
                "name": "Dr Harbour",
                "specialties": ["survivors"],
                "ipv_trained": True,
                "location": {"place": "Utrecht, NL"},
                "contacts": [
                    {"name": qv_name, "email": qv_mail, "phone": qv_phone, "visibility": "verified_orgs"},
                    {"name": qi_name, "email": qi_mail, "phone": qi_phone, "visibility": "on_introduction"},
                ],
            },
            headers=bearer(key_a),
        ),
        answers,
    )
    partner_c = await _created(
        await client.post(
            "/partners",
            json={
                "kind": "clinician",
                "name": f"Dr {names['partner_c']}",
                "location": {"place": "Utrecht, NL"},
            },
            headers=bearer(key_c),
        ),
        answers,
    )

    x = await _created(
        await client.post(
            "/initiators",
            json={
                "display_name": names["initiator_x"],
                "email": names["initiator_x_email"],
                "location": {"latitude": INITIATOR_POINT[0], "longitude": INITIATOR_POINT[1]},
                "side": "survivors",
                "formats": ["peer_led_support_group"],
                "needs": ["clinician", "peer_program"],
                "pathway_step": 2,
            },
        ),
        answers,
    )
    y = await _created(
        await client.post(
            "/initiators",
            json={
                "display_name": names["initiator_y"],
                "email": names["initiator_y_email"],
                "location": {"place": "Utrecht, NL"},
                "side": "survivors",
            },
        ),
        answers,
    )
    key_x, key_y = x["key"], y["key"]

    async def introduce(key: str, target: str, message: str) -> str:
        body = {"target_id": target, "message": f"Hello, {message} here"}
        intro = await _created(await client.post("/introductions", json=body, headers=bearer(key)), answers)
        return str(intro["id"])

    accepted = await introduce(key_x, program_a["id"], names["message_accepted"])
    pending_x = await introduce(key_x, partner_a["id"], names["message_pending_x"])
    pending_y = await introduce(key_y, program_a["id"], names["message_pending_y"])
    answer = await client.post(f"/introductions/{accepted}/accept", headers=bearer(key_a))
    answers.append(answer)
    assert answer.status_code == 200, answer.text

    return World(
        markers=m,
        keys={
            ANONYMOUS: "",
            INITIATOR_X: key_x,
            INITIATOR_Y: key_y,
            ORG_A: key_a,
            ORG_B: key_b,
            ORG_C: key_c,
            FUNDER: funder,
            STEWARD: steward,
        },
        org_a=org_a["id"],
        org_b=org_b["id"],
        org_c=org_c["id"],
        org_a_second_key_id=second["id"],
        program_a=program_a["id"],
        program_b=program_b["id"],
        program_c=program_c["id"],
        program_archived=archived["id"],
        partner_a=partner_a["id"],
        partner_c=partner_c["id"],
        initiator_x=x["initiator"]["id"],
        initiator_y=y["initiator"]["id"],
        intro_accepted=accepted,
        intro_pending_x=pending_x,
        intro_pending_y=pending_y,
        names=names,
        write_answers=answers,
    )


async def operations(client: Client) -> list[tuple[str, str, JSON]]:
    """Every (METHOD, path template, operation object) in the served OpenAPI document."""
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    return [
        (method.upper(), path, op)
        for path, item in response.json()["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


# One digest per table a write could touch; a refused request must leave all of them as they were.
_SNAPSHOT = text(
    """
    SELECT
      (SELECT md5(coalesce(string_agg(concat_ws('|', id, version, updated_at, archived_at,
              last_verified_at, evaluation_stage, status, name, description, address, latitude,
              longitude, location_precision), ',' ORDER BY id), '')) FROM listing) AS listing,
      (SELECT md5(coalesce(string_agg(concat_ws('|', id, listing_id, position, name, role, email,
              phone, visibility), ',' ORDER BY id), '')) FROM contact) AS contact,
      (SELECT md5(coalesce(string_agg(concat_ws('|', id, listing_id, stage), ',' ORDER BY id), ''))
         FROM evaluation_record) AS evaluation_record,
      (SELECT count(*) || ':' || coalesce(max(id), 0) FROM audit_event) AS audit_event,
      (SELECT md5(coalesce(string_agg(concat_ws('|', id, version, name, description, website,
              verification_status, verified_at, updated_at), ',' ORDER BY id), ''))
         FROM organization) AS organization,
      (SELECT md5(coalesce(string_agg(concat_ws('|', id, role, organization_id, revoked_at, label),
              ',' ORDER BY id), '')) FROM api_key) AS api_key,
      (SELECT md5(coalesce(string_agg(concat_ws('|', id, initiator_id, status, decided_at,
              initiator_email), ',' ORDER BY id), '')) FROM introduction) AS introduction,
      (SELECT md5(coalesce(string_agg(concat_ws('|', id, version, display_name, email, latitude,
              longitude, pathway_step, updated_at), ',' ORDER BY id), '')) FROM initiator) AS initiator,
      (SELECT md5(coalesce(string_agg(concat_ws('|', taxonomy, code, label, description, retired_at),
              ',' ORDER BY taxonomy, code), '')) FROM taxonomy_term) AS taxonomy_term
    """
)


async def snapshot(connection: AsyncConnection) -> dict[str, str]:
    row = (await connection.execute(_SNAPSHOT)).one()
    return {name: str(value) for name, value in row._mapping.items()}


def changed_tables(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(name for name in before if before[name] != after[name])
