"""Authorization matrix: every operation in the OpenAPI document x every role, against resources
that belong to somebody (org A, unverified org C, initiator X), with the expected status.

Each case runs inside a savepoint that is rolled back afterwards, so an allowed write (archive,
revoke, verify ...) does not change what the next case sees. A refused request must leave the
database exactly as it was (listings, contacts, evaluations, audit events, organizations, API
keys, introductions, initiators, vocabulary terms). PATCH and DELETE send the current ETag, read
by the owner, so that the only reason left to refuse them is authorization.

The table must classify every operation the OpenAPI document lists: a new endpoint fails the
test until someone decides who may call it.
"""

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from registry.hsds import ids
from tests.factories import Client
from tests.security.world import (
    ANONYMOUS,
    FUNDER,
    INITIATOR_X,
    INITIATOR_Y,
    ORG_A,
    ORG_B,
    ORG_C,
    ROLES,
    STEWARD,
    SUMMARY,
    World,
    build_world,
    changed_tables,
    operations,
    snapshot,
)

Expect = dict[str, int]
AUDITED = "audit_event"
Fill = Callable[[World], dict[str, str]]
Body = Callable[[World, str], Any]


# A revoked key of org A: 401 on every operation, public ones included ("401 from then on").
REVOKED = "revoked_key"
MATRIX_ROLES = (*ROLES, REVOKED)


def expect(default: int, **per_role: int) -> Expect:
    unknown = set(per_role) - set(ROLES)
    assert not unknown, unknown
    return {**{role: per_role.get(role, default) for role in ROLES}, REVOKED: 401}


def everyone(status: int = 200) -> Expect:
    return expect(status)


def stewards_only(ok: int) -> Expect:
    return expect(403, **{ANONYMOUS: 401, STEWARD: ok})


def funders_and_stewards() -> Expect:
    return expect(403, **{ANONYMOUS: 401, FUNDER: 200, STEWARD: 200})


def editors_of_a(ok: int) -> Expect:
    """A resource of verified org A: visible to all, changed only by A or a steward."""
    return expect(403, **{ANONYMOUS: 401, ORG_A: ok, STEWARD: ok})


def editors_of_c(ok: int) -> Expect:
    """A resource of unverified org C: invisible (404) to all but C and stewards."""
    return expect(404, **{ANONYMOUS: 401, ORG_C: ok, STEWARD: ok})


def readers_of_c() -> Expect:
    return expect(404, **{ORG_C: 200, STEWARD: 200})


def readers_of_archived_a() -> Expect:
    return expect(404, **{ORG_A: 200, STEWARD: 200})


def introduction_sides(*, initiator: int, organization: int) -> Expect:
    """X's introduction to a listing of A: other initiators and organizations get 404 (not theirs);
    roles that never take part in introductions get 403."""
    return expect(
        404,
        **{ANONYMOUS: 401, INITIATOR_X: initiator, ORG_A: organization, FUNDER: 403, STEWARD: 403},
    )


def asking_keys(ok: int) -> Expect:
    """Who may ask for an introduction: initiators, and verified organizations for a program."""
    return expect(403, **{ANONYMOUS: 401, INITIATOR_X: ok, INITIATOR_Y: ok, ORG_A: 422, ORG_B: 422})


def initiator_keys(ok: int) -> Expect:
    return expect(403, **{ANONYMOUS: 401, INITIATOR_X: ok, INITIATOR_Y: ok})


SELF = "self"


@dataclass(frozen=True)
class Case:
    target: str
    expected: Expect
    fill: Fill = lambda w: {}
    body: Body | None = None
    form: bool = False
    # For PATCH/DELETE: the GET whose ETag goes in If-Match, and the owner role that reads it
    # (SELF: the caller itself, for resources that are the caller's own).
    etag_from: Callable[[World], str] | None = None
    etag_role: str = ORG_A
    stale_etag: bool = False  # send an If-Match that is not the current ETag
    headers: tuple[tuple[str, str], ...] = ()  # sent besides the role's key
    # Tables an allowed call must change (None: the operation's EFFECTS). A successful GET may
    # change nothing else: reads do not write, apart from the audited contact reveals.
    changes: tuple[str, ...] | None = None


def with_preconditions(cases: list[Case]) -> list[Case]:
    """Each ETag-guarded case again without If-Match (428) and with a stale one (412): whoever
    may write gets the precondition error, everyone else the same refusal as before, so that a
    precondition error never tells an outsider that an invisible resource exists."""
    variants = list(cases)
    for case in cases:
        if case.etag_from is None:
            continue
        for suffix, status, stale in ((", no If-Match", 428, False), (", stale If-Match", 412, True)):
            expected = {role: status if code < 300 else code for role, code in case.expected.items()}
            variants.append(
                replace(
                    case,
                    target=case.target + suffix,
                    expected=expected,
                    etag_from=case.etag_from if stale else None,
                    stale_etag=stale,
                )
            )
    return variants


def program_fill(attr: str) -> Fill:
    return lambda w: {"program_id": getattr(w, attr)}


def partner_fill(attr: str) -> Fill:
    return lambda w: {"partner_id": getattr(w, attr)}


def org_fill(attr: str) -> Fill:
    return lambda w: {"organization_id": getattr(w, attr)}


def intro_fill(attr: str) -> Fill:
    return lambda w: {"introduction_id": getattr(w, attr)}


def const(value: Any) -> Body:
    return lambda w, role: value


def program_body(w: World, role: str, owner: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Matrix program",
        "side": "people_who_use_violence",
        "location": {"place": "Utrecht, NL"},
    }
    if owner:
        body["organization_id"] = owner
    return body


def partner_body(w: World, role: str, owner: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "clinician",
        "name": "Matrix partner",
        "location": {"place": "Utrecht, NL"},
    }
    if owner:
        body["organization_id"] = owner
    return body


def login_form(w: World, role: str) -> dict[str, str]:
    # Anonymous has no key: it tries one the registry never issued.
    return {"key": w.keys[role] or "rk_" + "x" * 40}


def listing_cases(kind: str, fill: Callable[[str], Fill]) -> dict[str, list[Case]]:
    """Programs and partners share their rules: A's (verified) and C's (unverified) listings."""
    base = f"/{kind}s/{{{kind}_id}}"
    attr_a, attr_c = f"{kind}_a", f"{kind}_c"

    def etag(attr: str) -> Callable[[World], str]:
        return lambda w: f"/{kind}s/{getattr(w, attr)}"

    owner_body = program_body if kind == "program" else partner_body
    cases: dict[str, list[Case]] = {
        f"GET {base}": [
            Case("A's", everyone(), fill(attr_a)),
            Case("C's (unverified)", readers_of_c(), fill(attr_c)),
        ],
        f"PATCH {base}": with_preconditions(
            [
                Case(
                    "A's",
                    editors_of_a(200),
                    fill(attr_a),
                    const({"description": "changed by the matrix"}),
                    etag_from=etag(attr_a),
                ),
                Case(
                    "C's (unverified)",
                    editors_of_c(200),
                    fill(attr_c),
                    const({"description": "changed by the matrix"}),
                    etag_from=etag(attr_c),
                    etag_role=ORG_C,
                ),
            ]
        ),
        f"DELETE {base}": with_preconditions(
            [
                Case("A's", editors_of_a(204), fill(attr_a), etag_from=etag(attr_a)),
                Case(
                    "C's (unverified)",
                    editors_of_c(204),
                    fill(attr_c),
                    etag_from=etag(attr_c),
                    etag_role=ORG_C,
                ),
            ]
        ),
        f"POST {base}/reverify": [
            Case("A's", editors_of_a(200), fill(attr_a)),
            Case("C's (unverified)", editors_of_c(200), fill(attr_c)),
        ],
        f"GET /{kind}s": [Case("search", everyone())],
        f"POST /{kind}s": [
            Case(
                "own organization's",
                expect(403, **{ANONYMOUS: 401, ORG_A: 201, ORG_B: 201, ORG_C: 201, STEWARD: 422}),
                body=owner_body,
            ),
            Case(
                "for org A",
                expect(403, **{ANONYMOUS: 401, ORG_A: 201, STEWARD: 201}),
                body=lambda w, role: owner_body(w, role, w.org_a),
            ),
        ],
    }
    if kind == "program":
        cases[f"GET {base}"].append(Case("A's archived", readers_of_archived_a(), fill("program_archived")))
        cases[f"GET {base}/evaluations"] = [
            Case("A's", everyone(), fill(attr_a)),
            Case("C's (unverified)", readers_of_c(), fill(attr_c)),
            Case("A's archived", readers_of_archived_a(), fill("program_archived")),
        ]
        cases[f"POST {base}/evaluations"] = [
            Case("A's", editors_of_a(201), fill(attr_a), const({"stage": "pilot_running"})),
            Case("C's (unverified)", editors_of_c(201), fill(attr_c), const({"stage": "pilot_running"})),
        ]
        cases[f"GET {base}/peers"] = [
            Case("A's", editors_of_a(200), fill(attr_a)),
            # An unverified organization may not fish for initiators' needs, even near its own listing.
            Case("C's (unverified)", expect(404, **{ANONYMOUS: 401, ORG_C: 403, STEWARD: 200}), fill(attr_c)),
        ]
    return cases


def hsds_cases() -> dict[str, list[Case]]:
    """The HSDS read API publishes the verified public subset to everybody, whoever asks."""
    public = everyone()
    nobody = everyone(404)
    table: dict[str, list[Case]] = {
        f"GET /hsds{suffix}": [Case("public", public)]
        for suffix in (
            "",
            "/profile",
            "/services",
            "/service_at_locations",
            "/organizations",
            "/taxonomies",
            "/taxonomy_terms",
        )
    }
    table["GET /hsds/profile/{name}"] = [Case("service.json", public, lambda w: {"name": "service.json"})]
    table["GET /hsds/services/{service_id}"] = [
        Case("A's program", public, lambda w: {"service_id": w.program_a}),
        Case("A's partner", public, lambda w: {"service_id": w.partner_a}),
        Case("C's program (unverified)", nobody, lambda w: {"service_id": w.program_c}),
        Case("A's archived program", nobody, lambda w: {"service_id": w.program_archived}),
    ]
    table["GET /hsds/service_at_locations/{sal_id}"] = [
        Case("A's program", public, lambda w: {"sal_id": sal(w.program_a)}),
        Case("C's program (unverified)", nobody, lambda w: {"sal_id": sal(w.program_c)}),
    ]
    table["GET /hsds/organizations/{organization_id}"] = [
        Case("A", public, org_fill("org_a")),
        Case("C (unverified)", nobody, org_fill("org_c")),
    ]
    table["GET /hsds/taxonomies/{taxonomy_id}"] = [
        Case("population", public, lambda w: {"taxonomy_id": str(ids.taxonomy_id("population"))})
    ]
    table["GET /hsds/taxonomy_terms/{term_id}"] = [
        Case("population/women", public, lambda w: {"term_id": str(ids.term_id("population", "women"))})
    ]
    return table


def sal(listing_id: str) -> str:
    return str(ids.service_at_location_id(uuid.UUID(listing_id)))


def org_etag(attr: str) -> Callable[[World], str]:
    return lambda w: f"/organizations/{getattr(w, attr)}"


TABLE: dict[str, list[Case]] = {
    "GET /health": [Case("probe", everyone())],
    "GET /ready": [Case("probe", everyone())],
    # Organizations and keys
    "POST /organizations": [
        Case("register", everyone(201), body=const({"name": "Matrix organization", "kinds": ["trainer"]}))
    ],
    "GET /organizations": [Case("list", everyone())],
    "GET /organizations/{organization_id}": [
        Case("A", everyone(), org_fill("org_a")),
        Case("C (unverified)", readers_of_c(), org_fill("org_c")),
    ],
    "PATCH /organizations/{organization_id}": with_preconditions(
        [
            Case(
                "A",
                editors_of_a(200),
                org_fill("org_a"),
                const({"description": "changed by the matrix"}),
                etag_from=org_etag("org_a"),
            ),
            Case(
                "C (unverified)",
                editors_of_c(200),
                org_fill("org_c"),
                const({"description": "changed by the matrix"}),
                etag_from=org_etag("org_c"),
                etag_role=ORG_C,
            ),
        ]
    ),
    "POST /organizations/{organization_id}/verify": [
        Case("C (unverified)", stewards_only(200), org_fill("org_c")),
        Case("A (already verified)", stewards_only(200), org_fill("org_a"), changes=()),
    ],
    "POST /organizations/{organization_id}/suspend": [
        Case(
            "A (a pending introduction)", stewards_only(200), org_fill("org_a"), const({"reason": "matrix"})
        ),
        Case(
            "C (unverified)",
            stewards_only(200),
            org_fill("org_c"),
            const({"reason": "matrix"}),
            changes=("organization", AUDITED),
        ),
    ],
    "POST /organizations/{organization_id}/reinstate": [
        Case("A (not suspended)", stewards_only(409), org_fill("org_a"), const({"reason": "matrix"})),
    ],
    "GET /organizations/{organization_id}/api-keys": [
        Case("A", editors_of_a(200), org_fill("org_a")),
        Case("C (unverified)", editors_of_c(200), org_fill("org_c")),
    ],
    "POST /organizations/{organization_id}/api-keys": [
        Case("A", expect(403, **{ANONYMOUS: 401, ORG_A: 201}), org_fill("org_a"), const({"label": "m"})),
        Case(
            "C (unverified)",
            expect(403, **{ANONYMOUS: 401, ORG_A: 404, ORG_B: 404, ORG_C: 201}),
            org_fill("org_c"),
            const({"label": "m"}),
        ),
    ],
    "POST /api-keys": [Case("funder key", stewards_only(201), body=const({"role": "funder", "label": "m"}))],
    "DELETE /api-keys/{key_id}": [
        # Keys of other organizations are invisible (404), not merely forbidden.
        Case(
            "A's second key",
            expect(404, **{ANONYMOUS: 401, ORG_A: 204, STEWARD: 204}),
            lambda w: {"key_id": w.org_a_second_key_id},
        )
    ],
    "GET /audit": [
        Case("log", expect(403, **{ANONYMOUS: 401, ORG_A: 200, ORG_B: 200, ORG_C: 200, STEWARD: 200}))
    ],
    # Vocabularies
    "GET /taxonomies": [Case("list", everyone())],
    "GET /taxonomies/{name}": [Case("population", everyone(), lambda w: {"name": "population"})],
    "POST /taxonomies/{name}/terms": [
        Case(
            "population",
            stewards_only(201),
            lambda w: {"name": "population"},
            const({"code": "matrix_term", "label": "Matrix term"}),
        )
    ],
    "PATCH /taxonomies/{name}/terms/{code}": [
        Case(
            "population/women",
            stewards_only(200),
            lambda w: {"name": "population", "code": "women"},
            const({"label": "Women (matrix)"}),
        )
    ],
    # Listings
    **listing_cases("program", program_fill),
    **listing_cases("partner", partner_fill),
    # Initiators, matching, introductions
    "POST /initiators": [
        Case("register", everyone(201), body=const({"display_name": "M", "email": "m@example.org"}))
    ],
    "GET /initiators/me": [Case("own profile", initiator_keys(200))],
    # The search page's session: a new initiator whoever calls (its key only in a cookie); without
    # the page's header nothing is created (a form on another site cannot send it).
    "POST /web/session": [
        Case(
            "from the page",
            everyone(201),
            body=const({"display_name": "M", "email": "m@example.org"}),
            headers=(("X-Registry-Page", "1"),),
        ),
        Case(
            "without the page's header",
            everyone(422),
            body=const({"display_name": "M", "email": "m@example.org"}),
        ),
    ],
    "DELETE /web/session": [Case("forget it", everyone(204))],
    "PATCH /initiators/me": with_preconditions(
        [
            Case(
                "own profile",
                initiator_keys(200),
                body=const({"pathway_step": 3}),
                etag_from=lambda w: "/initiators/me",
                etag_role=SELF,
            )
        ]
    ),
    "DELETE /initiators/me": with_preconditions(
        [Case("own profile", initiator_keys(204), etag_from=lambda w: "/initiators/me", etag_role=SELF)]
    ),
    "GET /matches/explanations": [Case("catalogue", everyone())],
    "POST /matches": [
        Case("near Utrecht", everyone(), body=const({"location": {"place": "Utrecht, NL"}, "per_kind": 3}))
    ],
    "GET /introductions": [Case("own", expect(200, **{ANONYMOUS: 401, FUNDER: 403, STEWARD: 403}))],
    "POST /introductions": [
        # Verified organizations ask for one of their programs (mentoring) and must name it (422);
        # an unverified one may not ask at all.
        Case(
            "to A's program",
            asking_keys(201),
            body=lambda w, role: {"target_id": w.program_a, "message": "Matrix hello"},
        ),
        Case(
            "to C's program (unverified)",
            asking_keys(404),
            body=lambda w, role: {"target_id": w.program_c, "message": "Matrix hello"},
        ),
        Case(
            "to A's archived program",
            asking_keys(404),
            body=lambda w, role: {"target_id": w.program_archived, "message": "Matrix hello"},
        ),
    ],
    "GET /introductions/{introduction_id}": [
        # Reading an accepted introduction reveals the other side's contacts: audited.
        Case(
            "X's accepted",
            introduction_sides(initiator=200, organization=200),
            intro_fill("intro_accepted"),
            changes=(AUDITED,),
        ),
        Case(
            "X's pending", introduction_sides(initiator=200, organization=200), intro_fill("intro_pending_x")
        ),
    ],
    "POST /introductions/{introduction_id}/accept": [
        Case(
            "X's pending", introduction_sides(initiator=403, organization=200), intro_fill("intro_pending_x")
        )
    ],
    "POST /introductions/{introduction_id}/decline": [
        Case(
            "X's pending", introduction_sides(initiator=403, organization=200), intro_fill("intro_pending_x")
        )
    ],
    "POST /introductions/{introduction_id}/withdraw": [
        Case(
            "X's pending", introduction_sides(initiator=200, organization=403), intro_fill("intro_pending_x")
        )
    ],
    # HSDS: public reads of the verified subset
    **hsds_cases(),
    # Funders' reports
    **{
        f"GET /reports/{name}": [Case("report", funders_and_stewards())]
        for name in ("programs", "evidence", "partnerships", "coverage")
    },
    "GET /reports/dashboard": [Case("page", funders_and_stewards())],
    "POST /reports/dashboard/session": [
        Case(
            "trade the caller's own key",
            expect(403, **{ANONYMOUS: 401, FUNDER: 303, STEWARD: 303}),
            body=login_form,
            form=True,
        )
    ],
}

EFFECTS: dict[str, tuple[str, ...]] = {
    "POST /organizations": ("organization", "api_key", AUDITED),
    "PATCH /organizations/{organization_id}": ("organization", AUDITED),
    "POST /organizations/{organization_id}/verify": ("organization", AUDITED),
    "POST /organizations/{organization_id}/suspend": ("organization", "introduction", AUDITED),
    "POST /organizations/{organization_id}/reinstate": ("organization", AUDITED),
    "POST /organizations/{organization_id}/api-keys": ("api_key", AUDITED),
    "POST /api-keys": ("api_key", AUDITED),
    "DELETE /api-keys/{key_id}": ("api_key", AUDITED),
    "POST /taxonomies/{name}/terms": ("taxonomy_term", AUDITED),
    "PATCH /taxonomies/{name}/terms/{code}": ("taxonomy_term", AUDITED),
    **{
        f"{method} /{kind}s{suffix}": ("listing", AUDITED)
        for kind in ("program", "partner")
        for method, suffix in (
            ("POST", ""),
            ("PATCH", f"/{{{kind}_id}}"),
            ("DELETE", f"/{{{kind}_id}}"),
            ("POST", f"/{{{kind}_id}}/reverify"),
        )
    },
    "POST /programs/{program_id}/evaluations": ("evaluation_record", "listing", AUDITED),
    "POST /initiators": ("initiator", "api_key"),
    "POST /web/session": ("initiator", "api_key"),
    "PATCH /initiators/me": ("initiator",),
    "DELETE /initiators/me": ("initiator", "api_key", "introduction"),
    "POST /introductions": ("introduction", AUDITED),
    **{
        f"POST /introductions/{{introduction_id}}/{action}": ("introduction", AUDITED)
        for action in ("accept", "decline", "withdraw")
    },
}


async def with_revoked_key(client: Client, world: World) -> World:
    created = await client.post(
        f"/organizations/{world.org_a}/api-keys", json={"label": "to revoke"}, headers=world.headers(ORG_A)
    )
    assert created.status_code == 201, created.text
    revoked = await client.delete(f"/api-keys/{created.json()['id']}", headers=world.headers(ORG_A))
    assert revoked.status_code == 204, revoked.text
    world.keys[REVOKED] = created.json()["key"]
    return world


@asynccontextmanager
async def rolled_back(connection: AsyncConnection) -> AsyncIterator[None]:
    savepoint = await connection.begin_nested()
    try:
        yield
    finally:
        await savepoint.rollback()


async def run_case(
    client: Client, connection: AsyncConnection, world: World, op: str, case: Case, role: str
) -> str | None:
    """Run one case in a savepoint; answer what went wrong, or None."""
    method, template = op.split(" ", 1)
    path = template.format(**case.fill(world))
    expected = case.expected[role]
    async with rolled_back(connection):
        headers = {**world.headers(role), **dict(case.headers)}
        if case.etag_from is not None:
            reader = role if case.etag_role == SELF else case.etag_role
            owner_read = await client.get(case.etag_from(world), headers=world.headers(reader))
            if case.etag_role != SELF or owner_read.status_code == 200:
                assert owner_read.status_code == 200, owner_read.text
                current = owner_read.headers["etag"]
                headers["If-Match"] = current.replace("-", "-9", 1) if case.stale_etag else current
        body = case.body(world, role) if case.body else None
        before = await snapshot(connection)
        if case.form:
            response = await client.request(method, path, headers=headers, data=body)
        else:
            response = await client.request(method, path, headers=headers, json=body)
        after = await snapshot(connection)
    where = f"{role:<12} {method} {path} [{case.target}]"
    if response.status_code != expected:
        return f"{where}: expected {expected}, got {response.status_code} {response.text[:160]}"
    changed = changed_tables(before, after)
    if response.status_code >= 400:
        if changed:
            return f"{where}: refused with {response.status_code} but changed {', '.join(changed)}"
        return None
    effects = case.changes if case.changes is not None else EFFECTS.get(op, ())
    if method == "GET":
        if set(changed) - set(effects):
            return f"{where}: a read changed {', '.join(changed)}"
    elif missing := sorted(set(effects) - set(changed)):
        return f"{where}: allowed ({response.status_code}) but did not change {', '.join(missing)}"
    return None


def classify(spec_ops: list[str]) -> None:
    unclassified = sorted(set(spec_ops) - set(TABLE))
    stale = sorted(set(TABLE) - set(spec_ops))
    assert not unclassified, f"operations missing from the authorization table: {unclassified}"
    assert not stale, f"table rows for operations the OpenAPI no longer lists: {stale}"


async def test_every_operation_for_every_role(
    client: Client, db: AsyncSession, connection: AsyncConnection
) -> None:
    spec_ops = [f"{method} {path}" for method, path, _ in await operations(client)]
    classify(spec_ops)
    world = await with_revoked_key(client, await build_world(client, db))
    failures: list[str] = []
    count = 0
    for op in spec_ops:
        for case in TABLE[op]:
            for role in MATRIX_ROLES:
                count += 1
                problem = await run_case(client, connection, world, op, case, role)
                if problem:
                    failures.append(problem)
    total_targets = sum(len(cases) for cases in TABLE.values())
    summary = (
        f"authorization matrix: {count} cases = {len(spec_ops)} operations, {total_targets} "
        f"(operation, target) pairs x {len(MATRIX_ROLES)} roles"
    )
    SUMMARY.append(summary)
    assert not failures, f"{summary}; {len(failures)} wrong:\n" + "\n".join(failures)
    assert count == total_targets * len(MATRIX_ROLES)


async def test_organizations_read_only_their_own_audit_history(client: Client, db: AsyncSession) -> None:
    world = await build_world(client, db)
    owned = {
        ORG_A: {world.org_a, world.program_a, world.partner_a, world.program_archived},
        ORG_C: {world.org_c, world.program_c, world.partner_c},
    }
    seen: dict[str, set[str]] = {}
    for role in (ORG_A, ORG_B, ORG_C, STEWARD):
        response = await client.get("/audit", params={"per_page": 100}, headers=world.headers(role))
        assert response.status_code == 200, response.text
        seen[role] = {event["entity_id"] for event in response.json()["items"]}
    assert owned[ORG_A] <= seen[ORG_A]
    assert owned[ORG_C] <= seen[ORG_C]
    assert not seen[ORG_A] & owned[ORG_C]
    assert not seen[ORG_C] & owned[ORG_A]
    assert not seen[ORG_B] & (owned[ORG_A] | owned[ORG_C])
    assert owned[ORG_A] | owned[ORG_C] <= seen[STEWARD]
