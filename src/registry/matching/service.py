"""Matching: a request (and the caller's profile) -> the best partners per kind, by fit.

Fetch: every public listing of a kind within the radius (per point and radius), and every
remote-capable one (per kind), kept in the app's caches for the data's version. Score: each
in-reach candidate, and remote ones best-first until no other could enter the list
(`scoring.ceiling`). Present: the chosen ones' shown-only details and contacts, kept per listing.
"""

import heapq
import sys
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import Principal, Role
from registry.caching.caches import Caches
from registry.caching.version import Version
from registry.database.base import utcnow
from registry.http.errors import Forbidden, InvalidInput
from registry.initiators.schemas import VOCABULARIES as INITIATOR_VOCABULARIES
from registry.initiators.service import coarse_location
from registry.listings import service as listings
from registry.listings.presenters import visible_reads
from registry.listings.schemas import ContactRead
from registry.listings.visibility import contact_view
from registry.locations import countries
from registry.locations.geo import distance_band, haversine_km
from registry.matching import queries, scoring
from registry.matching.schemas import (
    Explanation,
    Explanations,
    InitiatorNeed,
    MatchCandidate,
    MatchListing,
    MatchQueryEcho,
    MatchRequest,
    NeedCount,
    PeersResponse,
    ReasonRead,
    ScorePart,
)
from registry.models import Initiator
from registry.reports import releases
from registry.reports import service as report_service
from registry.reports.schemas import CellRead
from registry.taxonomies.service import check_fields

ALL_NEEDS = ("clinician", "treatment_program", "evaluator", "trainer", "peer_program")
DEFAULT_RADIUS_KM = 50.0
_encoder = msgspec.json.Encoder()


def explanations() -> Explanations:
    return Explanations(
        factors=[Explanation(code=c, text=t) for c, t in scoring.FACTORS.items()],
        reasons=[Explanation(code=c, text=t) for c, t in scoring.REASONS.items()],
    )


# --- fetch ---------------------------------------------------------------------------------------


def to_candidate(row: Any) -> scoring.Candidate:
    country = row.country
    return scoring.Candidate(
        id=str(row.id),
        kind=sys.intern(row.kind),
        name=row.name,
        organization_id=str(row.organization_id),
        remote_capable=bool(row.remote_capable),
        country=country,
        continent=countries.continent(country),
        service_radius_km=row.service_radius_km,
        status=sys.intern(row.status),
        side=None if row.side is None else sys.intern(row.side),
        specialties=scoring.shared_codes(row.specialties),
        populations=scoring.shared_codes(row.populations),
        formats=scoring.shared_codes(row.formats),
        languages=scoring.shared_codes(row.languages),
        ipv_trained=row.ipv_trained,
        methods=scoring.shared_codes(row.methods),
        course_topics=scoring.shared_codes(row.course_topics),
        certifications=row.certifications or 0,
        evaluation_stage=sys.intern(row.evaluation_stage),
        open_to_mentoring=row.open_to_mentoring,
        accepting_partnerships=row.accepting_partnerships,
        last_verified_at=row.last_verified_at,
    )


class Near(msgspec.Struct, frozen=True, gc=False):
    """A kind's public listings within a radius of a point, with their distances in metres."""

    candidates: tuple[scoring.Candidate, ...]
    meters: tuple[float, ...]


class Pool(msgspec.Struct, frozen=True, gc=False):
    """A kind's remote-capable listings, best first by what they bring whatever the request
    (`potential`), with the positions of each country's and continent's."""

    candidates: tuple[scoring.Candidate, ...]
    places: tuple[tuple[float | None, float | None], ...]
    potential: tuple[float, ...]
    by_country: dict[str, tuple[int, ...]]
    by_continent: dict[str, tuple[int, ...]]


def potential(candidate: scoring.Candidate, now: datetime, weights: scoring.Weights) -> float:
    """At least what strength, freshness and acceptance add for any request (unscaled): a
    trainer's courses counted as covering every topic asked when they cover any."""
    best_topics = scoring.Need(topics=candidate.course_topics or scoring.DEFAULT_TOPICS)
    value = weights.strength * scoring.strength(best_topics, candidate)
    value += weights.freshness * scoring.freshness(candidate.last_verified_at, now)
    if candidate.kind != "peer_program":
        value += weights.accepting * (1.0 if candidate.accepting_partnerships else 0.0)
    return value


async def _near(
    session: AsyncSession,
    caches: Caches,
    version: Version,
    kind: str,
    point: tuple[float, float],
    radius_km: float,
    planning: bool,
) -> Near:
    async def fetch() -> Near:
        rows = await queries.in_radius(session, kind, point, radius_km, planning=planning)
        return Near(tuple(to_candidate(r) for r in rows), tuple(float(r.d) for r in rows))

    near: Near = await caches.memo(
        "match_candidates",
        (kind, point, radius_km, planning),
        version,
        fetch,
        weigh=lambda n: 600 * len(n.meters),
    )
    return near


async def _pool(
    session: AsyncSession,
    caches: Caches,
    version: Version,
    kind: str,
    planning: bool,
    weights: scoring.Weights,
) -> Pool:
    async def fetch() -> Pool:
        now = utcnow()  # freshness changes by the day; a pool lives minutes
        rows = await queries.remote_capable(session, kind, planning=planning)
        entries = sorted(
            ((to_candidate(r), (r.latitude, r.longitude)) for r in rows),
            key=lambda e: (-potential(e[0], now, weights), e[0].name, e[0].id),
        )
        by_country: defaultdict[str, list[int]] = defaultdict(list)
        by_continent: defaultdict[str, list[int]] = defaultdict(list)
        for i, (candidate, _) in enumerate(entries):
            if candidate.country:
                by_country[candidate.country].append(i)
            if candidate.continent:
                by_continent[candidate.continent].append(i)
        return Pool(
            candidates=tuple(c for c, _ in entries),
            places=tuple(p for _, p in entries),
            potential=tuple(potential(c, now, weights) for c, _ in entries),
            by_country={k: tuple(v) for k, v in by_country.items()},
            by_continent={k: tuple(v) for k, v in by_continent.items()},
        )

    pool: Pool = await caches.memo(
        "match_remote", (kind, planning, weights), version, fetch, weigh=lambda p: 700 * len(p.candidates)
    )
    return pool


# --- score ---------------------------------------------------------------------------------------


@dataclass
class Question:
    """One request, as ranking needs it."""

    need: scoring.Need
    point: tuple[float, float] | None
    radius_km: float
    include_remote: bool
    planning: bool
    per_kind: int
    weights: scoring.Weights
    exclude: str | None = None


def _remote_placement(
    need: scoring.Need, candidate: scoring.Candidate, beyond: bool = False
) -> scoring.Placement:
    if need.country and candidate.country == need.country:
        where = "same_country"
    elif need.continent and candidate.continent == need.continent:
        where = "same_continent"
    else:
        where = "elsewhere"
    return scoring.Placement(None, False, where, beyond_service_radius=beyond)


class Ranking:
    """The scored candidates of one kind, best first, and the score a newcomer must beat."""

    def __init__(self, per_kind: int) -> None:
        self.per_kind = per_kind
        self.scored: list[scoring.Scored] = []
        self._sorted = True

    def add(self, scored: scoring.Scored) -> None:
        self.scored.append(scored)
        self._sorted = False

    def ranked(self) -> list[scoring.Scored]:
        if not self._sorted:
            self.scored.sort(key=scoring.order_key)
            self._sorted = True
        return self.scored

    def bar(self) -> float:
        """The lowest score of the list as it stands (at most two per organization); -1 while it
        is not full."""
        chosen, _ = scoring.choose(self.ranked(), self.per_kind)
        return chosen[-1].score if len(chosen) == self.per_kind else -1.0


def _rank_near(question: Question, kind: str, near: Near, ranking: Ranking, now: datetime) -> set[str]:
    """Score the kind's listings within the radius; answer the ids seen (offered or not)."""
    need = question.need
    seen = set()
    for candidate, meters in zip(near.candidates, near.meters, strict=True):
        seen.add(candidate.id)
        if candidate.id == question.exclude or not scoring.offered(need, candidate):
            continue
        if candidate.service_radius_km is not None and meters > candidate.service_radius_km * 1000:
            # Beyond the area it serves: only as a remote partner.
            if not (question.include_remote and candidate.remote_capable):
                continue
            placement = _remote_placement(need, candidate, beyond=True)
        else:
            placement = scoring.Placement(distance_band(meters / 1000), True)
        ranking.add(scoring.score(need, candidate, placement, now, question.weights))
    return seen


def _streams(question: Question, pool: Pool) -> Iterator[tuple[str, Sequence[int]]]:
    """The pool's positions by where they lie relative to the request: its country, the rest of
    its continent, everywhere else (each best first)."""
    need = question.need
    country = pool.by_country.get(need.country or "", ())
    yield "same_country", country
    continent = pool.by_continent.get(need.continent or "", ())
    yield "same_continent", [i for i in continent if pool.candidates[i].country != need.country]
    yield "elsewhere", range(len(pool.candidates))


def _rank_remote(
    question: Question, kind: str, pool: Pool, seen: set[str], ranking: Ranking, now: datetime
) -> None:
    """Score remote candidates beyond the radius, best possible first, until none left could enter
    the list: every one of them can reach it on its merits, whatever their number."""
    need = question.need
    raw = scoring.applicable(need, kind, question.weights)
    total = sum(raw.values())
    depends = sum(w for f, w in raw.items() if f in ("side", "population", "language", "format"))
    meters = question.radius_km * 1000
    done: set[int] = set()
    # Merge the three streams by the most each next candidate could score.
    heads: list[tuple[float, int, int, str]] = []
    streams = list(_streams(question, pool))
    for s, (where, positions) in enumerate(streams):
        if positions:
            first = positions[0]
            bound = (
                pool.potential[first] + depends + raw["distance"] * scoring.REMOTE_CLOSENESS[where]
            ) / total
            heapq.heappush(heads, (-bound, s, 0, where))
    bar = ranking.bar()
    while heads:
        negative_bound, s, at, where = heapq.heappop(heads)
        if -negative_bound < bar:
            break  # nobody left could enter the list
        positions = streams[s][1]
        i = positions[at]
        if at + 1 < len(positions):
            nxt = positions[at + 1]
            bound = (
                pool.potential[nxt] + depends + raw["distance"] * scoring.REMOTE_CLOSENESS[where]
            ) / total
            heapq.heappush(heads, (-bound, s, at + 1, where))
        if i in done:
            continue
        done.add(i)
        candidate = pool.candidates[i]
        if candidate.id in seen or candidate.id == question.exclude or not scoring.offered(need, candidate):
            continue
        if _remote_placement(need, candidate).remote != where:
            continue  # scored in its own stream
        lat, lon = pool.places[i]
        point = question.point
        if (
            point is not None
            and lat is not None
            and lon is not None
            and queries.distance_m(point, lat, lon) <= meters
        ):
            continue  # within the radius, yet not among the radius's: it was not offered there
        scored = scoring.score(need, candidate, scoring.Placement(None, False, where), now, question.weights)
        ranking.add(scored)
        if scored.score >= bar:
            bar = ranking.bar()


async def rank(
    session: AsyncSession, caches: Caches, version: Version, question: Question, kinds: Sequence[str]
) -> dict[str, tuple[list[scoring.Scored], int]]:
    """Per kind: the chosen (best first) and how many were held back (two per organization)."""
    now = utcnow()
    out = {}
    for kind in kinds:
        ranking = Ranking(question.per_kind)
        seen: set[str] = set()
        if question.point is not None:
            near = await _near(
                session, caches, version, kind, question.point, question.radius_km, question.planning
            )
            seen = _rank_near(question, kind, near, ranking, now)
        if question.include_remote:
            pool = await _pool(session, caches, version, kind, question.planning, question.weights)
            _rank_remote(question, kind, pool, seen, ranking, now)
        out[kind] = scoring.choose(ranking.ranked(), question.per_kind)
    return out


# --- present -------------------------------------------------------------------------------------


class Details(msgspec.Struct, frozen=True, gc=False):
    """What a chosen listing shows besides what scoring read, and the contacts that may leave
    through matching (all of them: each caller sees those `contact_visible` allows)."""

    organization_id: uuid.UUID
    description: str | None
    specialties: list[str]
    formats: list[str]
    populations: list[str]
    languages: list[str]
    location_precision: str
    locality: str | None
    region: str | None
    country: str | None
    contacts: tuple[ContactRead, ...]


async def _details(
    session: AsyncSession, caches: Caches, version: Version, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Details]:
    found: dict[uuid.UUID, Details] = {}
    missing = []
    for listing_id in ids:
        hit = caches.get("listing_details", listing_id, version)
        if hit is not None:
            found[listing_id] = hit
        else:
            missing.append(listing_id)
    if missing:
        fields: dict[uuid.UUID, dict[str, Any]] = {}
        contacts: defaultdict[uuid.UUID, list[ContactRead]] = defaultdict(list)
        for row in await queries.shown_of(session, missing):  # named columns
            values = row._mapping
            fields.setdefault(row.id, {k: values[k] for k in Details.__struct_fields__ if k != "contacts"})
            if row.contact_id is not None:
                contacts[row.id].append(
                    ContactRead(**{f: values[f"contact_{f}"] for f in queries.CONTACT_FIELDS})
                )
        for listing_id in missing:
            details = Details(**fields[listing_id], contacts=tuple(contacts[listing_id]))
            caches.put(
                "listing_details", listing_id, version, details, weight=600 + 200 * len(details.contacts)
            )
            found[listing_id] = details
    return found


def _present(scored: scoring.Scored, details: Details, principal: Principal) -> MatchCandidate:
    candidate = scored.candidate
    return MatchCandidate(
        score=scored.score,
        distance_band=scored.placement.band,
        in_reach=scored.placement.in_reach,
        breakdown=[
            ScorePart(factor=p.factor, weight=p.weight, value=p.value, contribution=p.contribution)
            for p in scored.breakdown
        ],
        reasons=[ReasonRead(code=r.code, text=r.text) for r in scored.reasons],
        listing=MatchListing(
            id=uuid.UUID(candidate.id),
            kind=candidate.kind,
            name=candidate.name,
            organization_id=details.organization_id,
            description=details.description,
            side=candidate.side,
            specialties=details.specialties,
            formats=details.formats,
            populations=details.populations,
            languages=details.languages,
            evaluation_stage=candidate.evaluation_stage,
            open_to_mentoring=candidate.open_to_mentoring,
            accepting_partnerships=candidate.accepting_partnerships,
            remote_ok=candidate.remote_capable,
            location_precision=details.location_precision,
            locality=details.locality,
            region=details.region,
            country=details.country,
            contacts=visible_reads(details.contacts, principal),
        ),
    )


async def _answer(
    session: AsyncSession,
    principal: Principal,
    caches: Caches,
    version: Version,
    question: Question,
    kinds: Sequence[str],
) -> tuple[dict[str, list[MatchCandidate]], dict[str, int]]:
    chosen = await rank(session, caches, version, question, kinds)
    ids = [uuid.UUID(s.candidate.id) for picks, _ in chosen.values() for s in picks]
    details = await _details(session, caches, version, ids)
    results = {
        kind: [_present(s, details[uuid.UUID(s.candidate.id)], principal) for s in picks]
        for kind, (picks, _) in chosen.items()
    }
    return results, {kind: held for kind, (_, held) in chosen.items()}


class _Answer(msgspec.Struct):
    results: dict[str, list[MatchCandidate]]
    held_back: dict[str, int]


async def match(
    session: AsyncSession,
    principal: Principal,
    data: MatchRequest,
    weights: scoring.Weights,
    caches: Caches,
) -> bytes:
    """The MatchResponse, JSON-encoded (cached answers are spliced in as they were encoded)."""
    profile: Initiator | None = None
    if principal.role is Role.INITIATOR and principal.initiator_id is not None:
        profile = await session.get(Initiator, principal.initiator_id)
    side = data.side if data.side is not None else (profile.side if profile else None)
    populations = (
        data.populations if data.populations is not None else (profile.populations if profile else [])
    )
    formats = data.formats if data.formats is not None else (profile.formats if profile else [])
    languages = data.languages if data.languages is not None else (profile.languages if profile else [])
    topics = data.topics if data.topics is not None else sorted(scoring.DEFAULT_TOPICS)
    needs = list(dict.fromkeys(data.needs or (profile.needs if profile and profile.needs else ALL_NEEDS)))
    wanted = {"side": side, "populations": populations, "formats": formats, "languages": languages}
    await check_fields(session, wanted, INITIATOR_VOCABULARIES, caches=caches)
    await check_fields(session, {"topics": topics}, {"topics": "course_topic"}, caches=caches)
    # The search point is coarse whatever was sent: identical requests from one area look alike.
    if data.location is not None:
        place = coarse_location(data.location)
    elif profile is not None:
        place = {k: getattr(profile, k) for k in ("latitude", "longitude", "locality", "region", "country")}
    else:
        place = dict.fromkeys(("latitude", "longitude", "locality", "region", "country"))
    point = None if place["latitude"] is None else (place["latitude"], place["longitude"])
    if point is None and not data.include_remote:
        raise InvalidInput("location: give a location, or include_remote=true to find remote partners only")
    radius = data.radius_km or DEFAULT_RADIUS_KM
    country = place["country"]
    need = scoring.Need(
        side=side,
        populations=frozenset(populations),
        formats=frozenset(formats),
        languages=frozenset(languages),
        inferred_languages=frozenset() if languages else countries.languages(country),
        country=country,
        continent=countries.continent(country),
        topics=frozenset(topics),
    )
    question = Question(
        need, point, radius, data.include_remote, data.include_planning, data.per_kind, weights
    )
    # The one part of the caller that changes an answer is which contacts it may see.
    key = (
        contact_view(principal),
        need,
        tuple(needs),
        point,
        radius,
        data.include_remote,
        data.include_planning,
        data.per_kind,
        weights,
    )
    version = await caches.version()

    async def build() -> bytes:
        results, held_back = await _answer(session, principal, caches, version, question, needs)
        return _encoder.encode(_Answer(results, held_back))[1:-1]  # the members, spliced below

    encoded: bytes = await caches.memo("match_answers", key, version, build)
    echo = MatchQueryEcho(
        radius_km=radius,
        needs=needs,
        side=side,
        populations=sorted(populations),
        formats=sorted(formats),
        languages=sorted(languages),
        include_remote=data.include_remote,
        include_planning=data.include_planning,
        topics=sorted(topics),
        per_kind=data.per_kind,
        locality=place["locality"],
        region=place["region"],
        country=country,
    )
    return b'{"query":' + _encoder.encode(echo) + b"," + encoded + b"}"


# --- peers ---------------------------------------------------------------------------------------


async def peers(
    session: AsyncSession,
    principal: Principal,
    program_id: uuid.UUID,
    weights: scoring.Weights,
    caches: Caches,
    *,
    period: datetime,
    threshold: int,
) -> PeersResponse:
    program = await listings.get_listing(session, principal, program_id, ("peer_program",))
    if not (principal.is_steward or principal.owns(program.organization_id)):
        raise Forbidden("Only the program's own organization can see who is doing the same work near it.")
    if not principal.is_steward and not principal.organization_verified:
        # Initiators' needs near a point are what a fake "support group" would fish for.
        raise Forbidden("Your organization must be verified before it can see initiators' needs nearby.")
    point = (
        None
        if program.latitude is None or program.longitude is None
        else (program.latitude, program.longitude)
    )
    radius = float(program.service_radius_km or DEFAULT_RADIUS_KM)
    need = scoring.Need(
        side=program.side,
        populations=frozenset(program.populations),
        formats=frozenset(program.formats),
        languages=frozenset(program.languages),
        country=program.country,
        continent=countries.continent(program.country),
    )
    question = Question(need, point, radius, point is None, True, 20, weights, exclude=str(program.id))
    version = await caches.version()
    results, _ = await _answer(session, principal, caches, version, question, ("peer_program",))
    # Same kind of work: the sides are kept apart already; when the program names formats, an
    # overlapping one.
    same_work = [
        c
        for c in results["peer_program"]
        if not program.formats or set(program.formats) & set(c.listing.formats)
    ]
    initiators: list[InitiatorNeed] = []
    needs: list[NeedCount] = []
    if point is not None:
        for initiator, meters in await queries.initiators_near(
            session, point=point, radius_km=radius, side=program.side, formats=program.formats
        ):
            initiators.append(
                InitiatorNeed(
                    distance_band=distance_band(meters / 1000),
                    locality=initiator.locality,
                    side=initiator.side,
                    formats=initiator.formats,
                    populations=initiator.populations,
                    languages=initiator.languages,
                    needs=initiator.needs,
                    pathway_step=initiator.pathway_step,
                )
            )
        needs = await need_counts(session, period, point, radius, program.side, threshold)
    return PeersResponse(programs=same_work, initiators=initiators, initiator_needs=needs)


async def need_counts(
    session: AsyncSession,
    period: datetime,
    point: tuple[float, float],
    radius_km: float,
    side: str | None,
    threshold: int,
) -> list[NeedCount]:
    """Needs of the initiators near `point` (their ~10 km cells within the radius) who did not
    choose to be listed, from the period's release, published as the reports publish people."""
    counts: dict[str, int] = defaultdict(int)
    key_sums: dict[str, int] = defaultdict(int)
    sides = {"", side, "both"} if side else None
    for (lat, lon, their_side, need), n, key_sum in await releases.released(
        session, period, "initiators:place"
    ):
        if sides is not None and their_side not in sides:
            continue
        if lat is None or lon is None or haversine_km(point[0], point[1], float(lat), float(lon)) > radius_km:
            continue
        counts[need or ""] += n
        key_sums[need or ""] += key_sum
    cells, _ = report_service.published_counts(
        dict(sorted(counts.items())), key_sums, threshold, report_service.Tally()
    )
    return [
        NeedCount(need=need, initiators=CellRead(value=c.value, suppressed=c.suppressed))
        for need, c in cells.items()
    ]
