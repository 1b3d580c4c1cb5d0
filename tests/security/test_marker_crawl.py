"""Marker crawl: unique strings seeded into every restricted field, then every GET operation of
the OpenAPI document (with every path id we created, and list queries with and without `near`,
search terms, filters and other formats) and POST /matches, as every role. Each marker may
appear only where the privacy rules allow it, and must appear where they require it (so that
the crawl is known to reach the data at all).

Also checked: the database never stores the precise point or the street address of an `area`
program, nor an initiator's precise location input; and the application's logs carry none of
the markers.
"""

import itertools
import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from registry.hsds import ids
from registry.models import Initiator, Listing
from tests.factories import Client
from tests.security.world import (
    ANONYMOUS,
    AREA_ADDRESS,
    AREA_POINT,
    INITIATOR_POINT,
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
    operations,
)

Place = tuple[str, str, str]  # (operation, what the path parameters name, role)

INTRO_ONE = "GET /introductions/{introduction_id}"
INTRO_LIST = "GET /introductions"
ME = "GET /initiators/me"
PROGRAM = "GET /programs/{program_id}"
PARTNER = "GET /partners/{partner_id}"
ORGANIZATION = "GET /organizations/{organization_id}"
SERVICE = "GET /hsds/services/{service_id}"
MATCHES = "POST /matches"


@dataclass(frozen=True)
class Allow:
    """Where a marker may appear: these roles, on this operation (any when None), for these path ids."""

    roles: frozenset[str]
    op: str | None = None
    fills: frozenset[str] | None = None

    def covers(self, place: Place) -> bool:
        op, fill, role = place
        return (
            role in self.roles
            and (self.op is None or self.op == op)
            and (self.fills is None or fill in self.fills)
        )


def anywhere_for(*roles: str) -> Allow:
    return Allow(frozenset(roles))


def at(op: str, *roles: str, fills: tuple[str, ...] | None = None) -> Allow:
    return Allow(frozenset(roles), op, frozenset(fills) if fills is not None else None)


@dataclass(frozen=True)
class Rule:
    what: str
    needles: tuple[str, ...]
    allow: tuple[Allow, ...] = ()
    must: tuple[Place, ...] = ()  # positive controls: the crawl has to see it there

    def allowed(self, place: Place) -> bool:
        return any(a.covers(place) for a in self.allow)


def phone_needles(phone: str) -> tuple[str, ...]:
    return phone, re.sub(r"\D", "", phone)[-8:]


def rules(w: World) -> list[Rule]:
    m, n = w.markers, w.names
    pa_pub_name, pa_pub_mail = m.pa_public
    pav_name, pav_mail, pav_phone = m.pa_verified
    pai_name, pai_mail, pai_phone = m.pa_intro
    qav_name, qav_mail, qav_phone = m.qa_verified
    qai_name, qai_mail, qai_phone = m.qa_intro
    verified_orgs = anywhere_for(ORG_A, ORG_B, STEWARD)
    accepted = ("accepted",)
    return [
        Rule(
            "on_introduction contact of A's program (accepted introduction from X)",
            (pai_name, pai_mail, *phone_needles(pai_phone)),
            (at(INTRO_ONE, INITIATOR_X, fills=accepted),),
            ((INTRO_ONE, "accepted", INITIATOR_X),),
        ),
        Rule(
            "on_introduction contact of A's partner (introduction still pending)",
            (qai_name, qai_mail, *phone_needles(qai_phone)),
        ),
        Rule(
            "verified_orgs contact of A's program",
            (pav_name, pav_mail, *phone_needles(pav_phone)),
            (verified_orgs,),
            ((PROGRAM, "program A", ORG_B), (PROGRAM, "program A", STEWARD), (MATCHES, "place", ORG_B)),
        ),
        Rule(
            "verified_orgs contact of A's partner",
            (qav_name, qav_mail, *phone_needles(qav_phone)),
            (verified_orgs,),
            ((PARTNER, "partner A", ORG_B), (PARTNER, "partner A", ORG_A)),
        ),
        Rule(
            "public contact of A's program (control)",
            (pa_pub_name, pa_pub_mail),
            (anywhere_for(*ROLES),),
            ((PROGRAM, "program A", ANONYMOUS), (SERVICE, "program A", ANONYMOUS)),
        ),
        Rule(
            "precise point and street address of A's area program",
            (f"{AREA_POINT[0]:.6f}"[:7], f"{AREA_POINT[1]:.6f}"[:6], AREA_ADDRESS, "marker street"),
        ),
        Rule(
            "initiator X's precise location input",
            (f"{INITIATOR_POINT[0]:.6f}"[:7], f"{INITIATOR_POINT[1]:.6f}"[:6]),
        ),
        Rule(
            "initiator X's email",
            (n["initiator_x_email"],),
            (at(ME, INITIATOR_X), at(INTRO_ONE, ORG_A, fills=accepted)),
            ((ME, "", INITIATOR_X), (INTRO_ONE, "accepted", ORG_A)),
        ),
        Rule(
            "initiator Y's email (introduction pending)",
            (n["initiator_y_email"],),
            (at(ME, INITIATOR_Y),),
            ((ME, "", INITIATOR_Y),),
        ),
        Rule(
            "initiator X's display name",
            (n["initiator_x"],),
            (
                at(ME, INITIATOR_X),
                at(INTRO_LIST, INITIATOR_X, ORG_A),
                at(INTRO_ONE, INITIATOR_X, ORG_A, fills=("accepted", "pending X")),
            ),
            ((ME, "", INITIATOR_X), (INTRO_ONE, "pending X", ORG_A)),
        ),
        Rule(
            "initiator Y's display name",
            (n["initiator_y"],),
            (
                at(ME, INITIATOR_Y),
                at(INTRO_LIST, INITIATOR_Y, ORG_A),
                at(INTRO_ONE, INITIATOR_Y, ORG_A, fills=("pending Y",)),
            ),
            ((INTRO_ONE, "pending Y", ORG_A),),
        ),
        *(
            Rule(
                f"introduction message ({label})",
                (n[name],),
                (at(INTRO_LIST, initiator, ORG_A), at(INTRO_ONE, initiator, ORG_A, fills=(label,))),
                ((INTRO_ONE, label, initiator), (INTRO_ONE, label, ORG_A), (INTRO_LIST, "", ORG_A)),
            )
            for name, label, initiator in (
                ("message_accepted", "accepted", INITIATOR_X),
                ("message_pending_x", "pending X", INITIATOR_X),
                ("message_pending_y", "pending Y", INITIATOR_Y),
            )
        ),
        Rule(
            "unverified organization C's name",
            (n["org_c"],),
            (anywhere_for(ORG_C, STEWARD),),
            ((ORGANIZATION, "org C", ORG_C), ("GET /organizations", "", STEWARD)),
        ),
        Rule(
            "unverified organization C's program",
            (n["program_c"],),
            (anywhere_for(ORG_C, STEWARD),),
            ((PROGRAM, "program C", ORG_C), ("GET /programs", "", STEWARD)),
        ),
        Rule(
            "unverified organization C's partner",
            (n["partner_c"],),
            (anywhere_for(ORG_C, STEWARD),),
            ((PARTNER, "partner C", ORG_C),),
        ),
        Rule(
            "A's archived program",
            (n["program_archived"],),
            (anywhere_for(ORG_A, STEWARD),),
            ((PROGRAM, "archived", ORG_A),),
        ),
        Rule("API key secrets", tuple(key for key in w.keys.values() if key)),
    ]


def path_fills(w: World, path: str) -> dict[str, list[tuple[str, str]]]:
    """Labelled values for each path parameter: every id we created that the path could name."""

    def sal(listing_id: str) -> str:
        return str(ids.service_at_location_id(uuid.UUID(listing_id)))

    programs = [
        ("program A", w.program_a),
        ("program B", w.program_b),
        ("program C", w.program_c),
        ("archived", w.program_archived),
    ]
    return {
        "program_id": programs,
        "partner_id": [("partner A", w.partner_a), ("partner C", w.partner_c)],
        "organization_id": [("org A", w.org_a), ("org B", w.org_b), ("org C", w.org_c)],
        "introduction_id": [
            ("accepted", w.intro_accepted),
            ("pending X", w.intro_pending_x),
            ("pending Y", w.intro_pending_y),
        ],
        "service_id": [*programs, ("partner A", w.partner_a), ("partner C", w.partner_c)],
        "sal_id": [(label, sal(value)) for label, value in programs] + [("partner A", sal(w.partner_a))],
        "taxonomy_id": [("population", str(ids.taxonomy_id("population")))],
        "term_id": [("population/women", str(ids.term_id("population", "women")))],
        "name": (
            [(name, name) for name in ("service.json", "location.json", "contact.json")]
            if path.startswith("/hsds/profile")
            else [("population", "population"), ("format", "format")]
        ),
    }


def query_variants(w: World, path: str, names: set[str]) -> list[tuple[str, dict[str, str]]]:
    """No filter, then one filter at a time: place, search terms, owners, other formats."""
    base = {"per_page": "100"} if "per_page" in names else {}
    secret_names = [w.names["program_c"], w.names["program_archived"], w.names["partner_c"]]
    options: dict[str, list[str]] = {
        "near": ["52.09,5.12", "Utrecht, NL"],
        "q": secret_names,
        "search": [*secret_names, w.names["org_c"]],
        "organization_id": [w.org_a, w.org_c],
        "remote_ok": ["true"],
        "status": ["accepted", "pending"] if path.startswith("/introductions") else [],
        "verification_status": ["unverified"],
        "full": ["true"],
        "full_service": ["true"],
        "format": ["csv"] if path.startswith("/reports") else ["ndjson"] if path.startswith("/hsds") else [],
        "proximity": ["52.09,5.12,20000"],
        "entity_type": ["listing", "introduction"],
        "group_by": ["side", "country"],
        "modified_after": ["2000-01-01T00:00:00Z"],
    }
    variants = [("", base)]
    for name in sorted(names & set(options)):
        variants += [(f"{name}={value}", {**base, name: value}) for value in options[name]]
    return variants


def match_bodies() -> list[tuple[str, dict[str, Any]]]:
    return [
        ("precise point", {"location": {"latitude": INITIATOR_POINT[0], "longitude": INITIATOR_POINT[1]}}),
        (
            "place",
            {"location": {"place": "Utrecht, NL"}, "needs": ["peer_program", "clinician"], "per_kind": 20},
        ),
        ("profile defaults", {}),
    ]


# Times of day ("10:45:52.091234") could otherwise look like a coordinate's digits.
_TIME = re.compile(r"\d{2}:\d{2}:\d{2}(\.\d+)?")


def searchable(response: httpx.Response) -> str:
    headers = " ".join(f"{k}: {v}" for k, v in response.headers.items())
    return _TIME.sub("", f"{headers}\n{response.text}").lower()


@dataclass
class Crawl:
    seen: dict[Place, list[tuple[str, str]]]  # place -> [(request line, searchable text)]
    requests: int = 0

    def add(self, place: Place, response: httpx.Response) -> None:
        request = response.request
        line = f"{place[2]:<12} {request.method} {request.url.raw_path.decode()}"
        self.seen.setdefault(place, []).append((line, searchable(response)))
        self.requests += 1

    def hits(self, needle: str) -> Iterator[tuple[Place, str]]:
        lowered = needle.lower()
        for place, answers in self.seen.items():
            for line, body in answers:
                if lowered in body:
                    yield place, line


async def crawl(client: Client, w: World) -> Crawl:
    result = Crawl(seen={})
    for method, path, op in await operations(client):
        if method != "GET":
            continue
        params = op.get("parameters", [])
        path_names = [p["name"] for p in params if p["in"] == "path"]
        query_names = {p["name"] for p in params if p["in"] == "query"}
        fills = path_fills(w, path)
        missing = [name for name in path_names if name not in fills]
        assert not missing, f"GET {path}: no ids to fill {missing}; add them to path_fills"
        choices = [[(name, label, value) for label, value in fills[name]] for name in path_names]
        for combo in itertools.product(*choices):
            url = path.format(**{name: value for name, _, value in combo})
            fill = "+".join(label for _, label, _ in combo)
            for _, query in query_variants(w, path, query_names):
                for role in ROLES:
                    response = await client.get(url, params=query, headers=w.headers(role))
                    assert response.status_code < 500, f"{role} GET {url} {query}: {response.text}"
                    result.add((f"GET {path}", fill, role), response)
    for label, body in match_bodies():
        for role in ROLES:
            response = await client.post("/matches", json=body, headers=w.headers(role))
            assert response.status_code == 200, f"{role} POST /matches {label}: {response.text}"
            result.add((MATCHES, label, role), response)
    return result


# (rule, place) -> the bug that leaks it today. The crawl tolerates these; each has a strict xfail test.
KNOWN_LEAKS: dict[tuple[str, Place], str] = {}


def check(crawled: Crawl, all_rules: list[Rule]) -> list[str]:
    problems: list[str] = []
    for rule in all_rules:
        found: set[Place] = set()
        for needle in rule.needles:
            for place, line in crawled.hits(needle):
                found.add(place)
                if not rule.allowed(place) and (rule.what, place) not in KNOWN_LEAKS:
                    problems.append(f"LEAK {rule.what}: {needle!r} in {line}")
        problems += [f"MISSING {rule.what}: not seen at {place}" for place in rule.must if place not in found]
    return problems


NEVER_ECHOED = (
    "on_introduction contact of A's program",
    "on_introduction contact of A's partner",
    "precise point and street address",
    "initiator X's precise location",
)


async def resend_precise_places(client: Client, w: World) -> list[httpx.Response]:
    """The owner sends the area program's precise place again; X sends its precise location."""
    path = f"/programs/{w.program_a}"
    etag = (await client.get(path, headers=w.headers(ORG_A))).headers["etag"]
    location = {"latitude": AREA_POINT[0], "longitude": AREA_POINT[1], "address": AREA_ADDRESS}
    program = await client.patch(
        path,
        json={"location": location, "location_precision": "area"},
        headers={**w.headers(ORG_A), "If-Match": etag},
    )
    point = {"latitude": INITIATOR_POINT[0], "longitude": INITIATOR_POINT[1]}
    own = (await client.get("/initiators/me", headers=w.headers(INITIATOR_X))).headers["etag"]
    me = await client.patch(
        "/initiators/me", json={"location": point}, headers={**w.headers(INITIATOR_X), "If-Match": own}
    )
    for response in (program, me):
        assert response.status_code == 200, response.text
    return [program, me]


async def test_markers_appear_only_where_the_rules_allow(
    client: Client, db: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    world = await build_world(client, db)
    all_rules = rules(world)
    crawled = await crawl(client, world)
    places = len(crawled.seen)
    summary = (
        f"marker crawl: {crawled.requests} requests, {places} distinct (endpoint, path ids, role) "
        f"places, {len(all_rules)} marker rules"
    )
    SUMMARY.append(summary)
    problems = check(crawled, all_rules)
    assert not problems, f"{summary}; {len(problems)} problems:\n" + "\n".join(sorted(set(problems)))

    # Write answers say no more: the creates that built the world, the acceptance, and the owner
    # sending the precise place again (PATCH), never echo a precise point, an address or an
    # on_introduction contact.
    never = [rule for rule in all_rules if rule.what.startswith(NEVER_ECHOED)]
    assert len(never) == len(NEVER_ECHOED)
    answers = [*world.write_answers, *await resend_precise_places(client, world)]
    echoed = [
        f"{rule.what}: {needle!r} in {a.request.method} {a.request.url.path}"
        for a in answers
        for rule in never
        for needle in rule.needles
        if needle.lower() in searchable(a)
    ]
    assert not echoed, echoed

    # The application's own logs (not the test client's) carry none of the markers.
    app_logs = [r for r in caplog.records if r.name.startswith("registry")]
    assert any(r.name == "registry.access" for r in app_logs)
    logged = "\n".join(
        f"{r.getMessage()} {getattr(r, 'fields', '')} {r.exc_text or ''}" for r in app_logs
    ).lower()
    leaked = [n for rule in all_rules for n in rule.needles if n.lower() in logged]
    assert not leaked, f"markers in the application logs: {leaked}"


async def test_accepted_introduction_reveals_no_verified_orgs_contact_to_the_initiator(
    client: Client, db: AsyncSession
) -> None:
    world = await build_world(client, db)
    response = await client.get(f"/introductions/{world.intro_accepted}", headers=world.headers(INITIATOR_X))
    assert response.status_code == 200, response.text
    body = searchable(response)
    intro_name, intro_mail, _ = world.markers.pa_intro
    assert intro_name in body and intro_mail in body  # the on_introduction contact: revealed
    name, mail, phone = world.markers.pa_verified
    leaked = [needle for needle in (name, mail, *phone_needles(phone)) if needle.lower() in body]
    assert not leaked, f"verified_orgs contact shown to initiator X: {leaked}"


async def test_database_keeps_no_precise_location_or_address(client: Client, db: AsyncSession) -> None:
    world = await build_world(client, db)
    program = (await db.scalars(select(Listing).where(Listing.id == uuid.UUID(world.program_a)))).one()
    assert program.location_precision == "area"
    assert program.address is None
    assert program.postal_code is None
    assert program.latitude is not None and program.longitude is not None
    assert (program.latitude, program.longitude) != AREA_POINT
    assert abs(program.latitude - AREA_POINT[0]) > 1e-4 or abs(program.longitude - AREA_POINT[1]) > 1e-4
    initiator = await db.get(Initiator, uuid.UUID(world.initiator_x))
    assert initiator is not None and initiator.latitude is not None and initiator.longitude is not None
    assert abs(initiator.latitude - INITIATOR_POINT[0]) > 1e-4 or (
        abs(initiator.longitude - INITIATOR_POINT[1]) > 1e-4
    )

    # Nowhere in the database: no text column holds the address or the precise digits, and no
    # latitude column holds a point within ~10 m of the precise ones.
    needles = [AREA_ADDRESS, f"{AREA_POINT[0]:.6f}"[:7], f"{INITIATOR_POINT[0]:.6f}"[:7]]
    columns = (
        await db.execute(
            text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public' AND table_name NOT IN ('alembic_version')"
            )
        )
    ).all()
    found: list[str] = []
    for table, column, data_type in columns:
        if data_type in ("text", "character varying", "jsonb", "json", "ARRAY"):
            for needle in needles:
                hit = await db.scalar(
                    text(f'SELECT count(*) FROM "{table}" WHERE "{column}"::text ILIKE :needle'),  # noqa: S608
                    {"needle": f"%{needle}%"},
                )
                if hit:
                    found.append(f"{table}.{column} holds {needle!r}")
        if column == "latitude":
            for lat, lon in (AREA_POINT, INITIATOR_POINT):
                hit = await db.scalar(
                    text(
                        f'SELECT count(*) FROM "{table}" WHERE abs(latitude - :lat) < 1e-4 '  # noqa: S608
                        "AND abs(longitude - :lon) < 1e-4"
                    ),
                    {"lat": lat, "lon": lon},
                )
                if hit:
                    found.append(f"{table} holds the precise point {lat},{lon}")
    assert not found, found
