"""Matching: a request (and the caller's profile) -> the best partners per kind, by fit.

Fetch: every public listing of a kind within the radius (per point and radius), and every
remote-capable one (per kind), kept in the app's caches for the data's version as arrays (no
object per listing). Rank: each in-reach candidate, and remote ones best-first, on quick scores
until no other could enter the list. Score: the few kept (from the rows cache, else read again
by id) in full. Present: the chosen ones' shown-only details and contacts, kept per listing.
"""

import sys
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import msgspec
import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import Principal, Role
from registry.caching import shared
from registry.caching.caches import Caches
from registry.caching.version import Version
from registry.database import routing
from registry.database.base import utcnow
from registry.database.reads import Reads
from registry.http.errors import Forbidden, InvalidInput
from registry.initiators.schemas import VOCABULARIES as INITIATOR_VOCABULARIES
from registry.initiators.service import coarse_location
from registry.listings import code_lists
from registry.listings import service as listings
from registry.listings.presenters import visible_reads
from registry.listings.schemas import ContactRead
from registry.listings.visibility import contact_view
from registry.locations import countries
from registry.locations.geo import distance_band, haversine_km
from registry.matching import arrays, queries, schemas, scoring
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
CANDIDATE_BYTES = 500  # roughly, one scoring.Candidate (its code sets are shared)
# Answers are shared between processes (caching.shared) of the same matching code only.
_CODE = shared.code_digest(sys.modules[__name__], arrays, queries, schemas, scoring)


def explanations() -> Explanations:
    return Explanations(
        factors=[Explanation(code=c, text=t) for c, t in scoring.FACTORS.items()],
        reasons=[Explanation(code=c, text=t) for c, t in scoring.REASONS.items()],
    )


# --- fetch ---------------------------------------------------------------------------------------


def _codes(text: str | None) -> frozenset[str]:
    return scoring.shared_codes(code_lists.codes_of(text))


def to_candidate(row: Any) -> scoring.Candidate:
    """A row of queries' columns (in their order) as scoring reads it."""
    (
        listing_id,
        kind,
        name,
        organization_id,
        country,
        service_radius_km,
        status,
        side,
        specialties,
        populations,
        formats,
        languages,
        ipv_trained,
        methods,
        course_topics,
        certifications,
        evaluation_stage,
        open_to_mentoring,
        accepting_partnerships,
        last_verified_at,
        remote_capable,
        *_,  # the distance, for rows within a radius
    ) = row
    return scoring.Candidate(
        listing_id,
        sys.intern(kind),
        name,
        sys.intern(organization_id),  # an organization's listings share one string
        bool(remote_capable),
        None if country is None else sys.intern(country),
        countries.continent(country),
        service_radius_km,
        sys.intern(status),
        None if side is None else sys.intern(side),
        _codes(specialties),
        _codes(populations),
        _codes(formats),
        _codes(languages),
        ipv_trained,
        _codes(methods),
        _codes(course_topics),
        certifications or 0,
        sys.intern(evaluation_stage),
        open_to_mentoring,
        accepting_partnerships,
        last_verified_at,
    )


_AT: Final = {name: i for i, name in enumerate(queries.LIST_COLUMNS)}  # a column's place in a list's row


def example_of(row: Any) -> scoring.Candidate:
    """A list's row (queries.LIST_COLUMNS) as the list's tables read it: what their keys read
    (arrays._KEYS: kind, sides, codes, strengths' columns, country), and nothing of the listing's
    own (its id, organization, dates). An example outlives its list's read, and a text of the row kept
    in it would keep the memory the read's other rows were made in from being given back."""
    kind, country, side = row[_AT["kind"]], row[_AT["country"]], row[_AT["side"]]
    return scoring.Candidate(
        "",
        sys.intern(kind),
        "",
        "",
        False,
        None if country is None else sys.intern(country),
        countries.continent(country),
        side=None if side is None else sys.intern(side),
        specialties=_codes(row[_AT["specialties"]]),
        populations=_codes(row[_AT["populations"]]),
        formats=_codes(row[_AT["formats"]]),
        languages=_codes(row[_AT["languages"]]),
        ipv_trained=row[_AT["ipv_trained"]],
        methods=_codes(row[_AT["methods"]]),
        course_topics=_codes(row[_AT["course_topics"]]),
        certifications=row[_AT["certifications"]] or 0,
        evaluation_stage=sys.intern(row[_AT["evaluation_stage"]]),
        open_to_mentoring=row[_AT["open_to_mentoring"]],
    )


def _part(rows: Sequence[Any]) -> arrays.Part:
    """A list's rows (queries.LIST_COLUMNS) as a part of it. Each table's value depends only on the
    columns given as its source (scoring's functions read no other of the candidate made of the
    row), so a row is made into a candidate only when one of its sources is new to the list."""
    columns: list[tuple[Any, ...]] = list(zip(*rows, strict=True)) or [()] * len(queries.LIST_COLUMNS)
    # By name: the distance that rows read within a radius end with is not one of them.
    column = dict(zip(queries.LIST_COLUMNS, columns, strict=False))
    # A code list's text is its source as it is (code_lists.codes_of reads it only for a new one).
    kinds, specialties = column["kind"], column["specialties"]
    return arrays.Part(
        ids=column["id"],
        organizations=column["organization_id"],
        accepting=column["accepting_partnerships"],
        verified=column["last_verified_at"],
        remote_capable=column["remote_capable"],
        service_radius_km=column["service_radius_km"],
        planned=[status == "planning" for status in column["status"]],
        sources=arrays.Sources(
            sides=list(zip(kinds, column["side"], specialties, strict=True)),
            populations=column["populations"],
            languages=column["languages"],
            formats=column["formats"],
            strengths=list(
                zip(
                    kinds,
                    column["ipv_trained"],
                    specialties,
                    column["methods"],
                    column["course_topics"],
                    column["certifications"],
                    column["evaluation_stage"],
                    column["open_to_mentoring"],
                    strict=True,
                )
            ),
            places=column["country"],
        ),
        candidate=lambda i: example_of(rows[i]),
    )


class Near(msgspec.Struct, frozen=True, gc=False):
    """A kind's public listings within a radius of a point, with their distances in metres: the
    radius asked for, or a wider one read before (`within` says which rows are in the radius)."""

    candidates: arrays.Candidates
    meters: arrays.Floats

    def within(self, radius_km: float) -> npt.NDArray[np.bool_]:
        # The bound and the distances are those `queries.in_radius` compares: the same rows.
        within: npt.NDArray[np.bool_] = self.meters <= radius_km * 1000
        return within

    def holds(self, ids: npt.NDArray[np.bytes_], radius_km: float) -> npt.NDArray[np.bool_]:
        """Which of the listings `ids` are here within the radius."""
        rows = self.candidates.positions(ids)
        held: npt.NDArray[np.bool_] = rows >= 0
        held[held] = self.meters[rows[held]] <= radius_km * 1000
        return held


# A kind's list around a point is read for the first of these radii at or beyond the one asked
# (a wider ring, not one list per radius asked), so that nearby radii share a read, and a list read
# for a wider one is found by asking for each (not by looking through every list kept).
READ_RADII_KM: Final = (10.0, 25.0, 50.0, 100.0, 200.0, 500.0)


def read_radius(radius_km: float) -> float:
    """The radius a list is read for, to answer `radius_km` (beyond the last one: itself)."""
    return next((r for r in READ_RADII_KM if r >= radius_km), radius_km)


async def _near(
    reads: Reads,
    caches: Caches,
    version: Version,
    kind: str,
    point: tuple[float, float],
    radius_km: float,
) -> Near:
    read_at = read_radius(radius_km)

    async def fetch() -> Near:
        rows = await queries.in_radius(reads, kind, point, read_at)
        found = arrays.Candidates()
        found.add(_part(rows))
        found.done()
        return Near(found, arrays.floats([r[-1] for r in rows]))

    key = (kind, point, read_at)
    kept = caches.store("match_candidates")
    if kept.get(key, version) is None:
        # A list kept for a wider radius around the point holds this one's rows: no read.
        for wider in (r for r in READ_RADII_KM if r > read_at):
            found: Near | None = kept.get((kind, point, wider), version)
            if found is not None:
                return found
    near: Near = await caches.memo(
        "match_candidates", key, version, fetch, weigh=lambda n: n.candidates.weight() + n.meters.nbytes
    )
    return near


async def _pool(reads: Reads, caches: Caches, version: Version, kind: str) -> arrays.Candidates:
    """A kind's remote-capable listings."""

    async def fetch() -> arrays.Candidates:
        pool = arrays.Candidates()
        async for rows in queries.remote_capable(reads, kind):
            pool.add(_part(rows))
        pool.done()
        return pool

    pool: arrays.Candidates = await caches.memo(
        "match_remote", kind, version, fetch, weigh=arrays.Candidates.weight
    )
    return pool


async def warm_pools(caches: Caches) -> None:
    """Read every kind's remote pool for the data's current version, so that the first matches a
    process answers do not each wait for one (a server's start-up runs this in the background;
    after a change, the first match of a kind reads its pool again)."""
    assert caches.reads is not None, "the app gives its caches a way to read"
    version = await caches.version()
    for kind in sorted(queries.KNOWN_KINDS):
        await _pool(caches.reads, caches, version, kind)


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


class Ranking:
    """One kind's candidates for one request, kept while they could still make the list: ranked
    on quick scores (`scoring.quick_scorer`), the few kept scored in full at the end (`_kept`
    finds them)."""

    def __init__(self, question: Question, now: datetime) -> None:
        self.per_kind = question.per_kind
        self.need = question.need
        self.weights = question.weights
        self.now = now
        # (quick score, organization id, listing id, placement)
        self.kept: list[tuple[float, str, str, scoring.Placement]] = []
        # The quick score of the list's last place as it stands (at most two per organization);
        # -1 while it is not full. Whoever scores below it by QUICK_MARGIN cannot make the list.
        self.bar = -1.0

    def floor(self) -> float:
        return self.bar - scoring.QUICK_MARGIN

    def offer(self, value: float, found: arrays.Candidates, row: int, placement: scoring.Placement) -> None:
        if value < self.floor():
            return
        self.kept.append((value, found.organization_id(row), found.id(row), placement))
        if value > self.bar:
            self._raise_bar()

    def _raise_bar(self) -> None:
        self.kept.sort(key=lambda entry: -entry[0])
        count: dict[str, int] = {}
        placed = 0
        for value, org, _, _ in self.kept:
            if count.get(org, 0) < scoring.MAX_PER_ORGANIZATION:
                count[org] = count.get(org, 0) + 1
                placed += 1
                if placed == self.per_kind:
                    self.bar = value
                    floor = self.floor()
                    self.kept = [entry for entry in self.kept if entry[0] >= floor]
                    return

    def wanted(self) -> list[str]:
        """The listings that could make the list: to be read again."""
        floor = self.floor()
        return [listing_id for value, _, listing_id, _ in self.kept if value >= floor]

    def chosen(self, candidates: Mapping[str, scoring.Candidate]) -> tuple[list[scoring.Scored], int]:
        """The list on reported scores (score(), in scoring.order_key's order), and how many were
        held back (two per organization). A listing no longer offered since its list was read (not
        in `candidates`) is left out."""
        floor = self.floor()
        scored = [
            scoring.score(self.need, candidates[listing_id], placement, self.now, self.weights)
            for value, _, listing_id, placement in self.kept
            if value >= floor and listing_id in candidates
        ]
        scored.sort(key=scoring.order_key)
        return scoring.choose(scored, self.per_kind)


def _usable(question: Question, found: arrays.Candidates) -> npt.NDArray[np.bool_]:
    """The rows the request may be offered: those the sides rule offers (scoring.offered), active
    ones (and programs being planned, when asked for), and not the one it excludes."""
    usable = found.offered(question.need)
    if not question.planning:
        usable &= ~found.planned
    if question.exclude is not None:
        usable[found.rows_of([question.exclude])] = False
    return usable


def _rank_near(question: Question, kind: str, near: Near, ranking: Ranking) -> None:
    """Offer the kind's listings within the radius, best first, while they could make the list. One
    beyond the area it serves comes as a remote partner, if it works remotely."""
    need, found = question.need, near.candidates
    usable = _usable(question, found) & near.within(question.radius_km)
    beyond = near.meters > found.service_radius_m
    usable &= ~beyond | (found.remote_capable if question.include_remote else False)
    closeness = np.where(beyond, found.remote_closeness(need), arrays.band_closeness(near.meters))
    values = found.quick(need, kind, question.weights, closeness, ranking.now)
    for row in arrays.best_first(values, usable, ranking.floor):
        if beyond[row]:
            where = scoring.remote_where(need, found.tables.places.example(row))
            placement = scoring.Placement(None, False, where, beyond_service_radius=True)
        else:
            placement = scoring.Placement(distance_band(float(near.meters[row]) / 1000), True)
        ranking.offer(float(values[row]), found, row, placement)


def _rank_remote(
    question: Question, kind: str, pool: arrays.Candidates, near: Near | None, ranking: Ranking
) -> None:
    """Offer remote candidates beyond the radius (those within it were offered there), best first,
    while they could make the list: every one of them can reach it on its merits, whatever their
    number."""
    need = question.need
    usable = _usable(question, pool)
    keep = None
    if near is not None:
        # Only the rows the ranking reaches are looked up in the list within the radius (a pool
        # holds 160,000 rows at 1,000,000 listings, the list thousands; a request reaches dozens).
        def keep(rows: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
            return ~near.holds(pool.ids[rows], question.radius_km)

    values = pool.quick(need, kind, question.weights, pool.remote_closeness(need), ranking.now)
    placements = {where: scoring.Placement(None, False, where) for where in scoring.REMOTE_CLOSENESS}
    for row in arrays.best_first(values, usable, ranking.floor, keep=keep):
        where = scoring.remote_where(need, pool.tables.places.example(row))
        ranking.offer(float(values[row]), pool, row, placements[where])


async def _kept(
    reads: Reads, caches: Caches, version: Version, listing_ids: Sequence[str], planning: bool
) -> dict[str, scoring.Candidate]:
    """The listings a request kept, as scoring reads them: from the rows cache (for the version
    their lists were read for; which of a list's rows a request may be offered is `_usable`'s to
    say, before they are kept), else read again by id, and only while matching may still offer
    them to the request (`queries.by_id`)."""
    known = caches.store("match_rows")
    found: dict[str, scoring.Candidate] = {}
    missing = []
    for listing_id in listing_ids:
        candidate = known.get(listing_id, version)
        if candidate is None:
            missing.append(listing_id)
        else:
            found[listing_id] = candidate
    for row in await queries.by_id(reads, missing, planning=planning):
        candidate = to_candidate(row)
        known.put(candidate.id, version, candidate, CANDIDATE_BYTES)
        found[candidate.id] = candidate
    return found


async def rank(
    reads: Reads, caches: Caches, version: Version, question: Question, kinds: Sequence[str]
) -> dict[str, tuple[list[scoring.Scored], int]]:
    """Per kind: the chosen (best first) and how many were held back (two per organization)."""
    now = utcnow()
    rankings = {}
    for kind in kinds:
        ranking = rankings[kind] = Ranking(question, now)
        near = None
        if question.point is not None:
            near = await _near(reads, caches, version, kind, question.point, question.radius_km)
            _rank_near(question, kind, near, ranking)
        if question.include_remote:
            pool = await _pool(reads, caches, version, kind)
            _rank_remote(question, kind, pool, near, ranking)
    wanted = [listing_id for ranking in rankings.values() for listing_id in ranking.wanted()]
    candidates = await _kept(reads, caches, version, wanted, question.planning)
    return {kind: ranking.chosen(candidates) for kind, ranking in rankings.items()}


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
    reads: Reads, caches: Caches, version: Version, ids: Sequence[uuid.UUID]
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
        fields: dict[uuid.UUID, Sequence[Any]] = {}
        contacts: defaultdict[uuid.UUID, list[ContactRead]] = defaultdict(list)
        shown = len(queries.DETAIL_FIELDS)  # the listing's id, its fields, then the contact's
        for row in await queries.shown_of(reads, missing):
            listing_id = row[0]
            if listing_id not in fields:
                fields[listing_id] = row[1:shown]
            if row[shown] is not None:
                contacts[listing_id].append(
                    ContactRead(**dict(zip(queries.CONTACT_FIELDS, row[shown:], strict=True)))
                )
        for listing_id in missing:
            details = Details(*(*fields[listing_id], tuple(contacts[listing_id])))
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
    principal: Principal, caches: Caches, version: Version, question: Question, kinds: Sequence[str]
) -> tuple[dict[str, list[MatchCandidate]], dict[str, int]]:
    """Read through the request's database (a replica's, or the primary's)."""
    assert caches.reads is not None, "the app gives its caches a way to read"
    reads = routing.reads_for(caches.reads)
    chosen = await rank(reads, caches, version, question, kinds)
    ids = [uuid.UUID(s.candidate.id) for picks, _ in chosen.values() for s in picks]
    details = await _details(reads, caches, version, ids)
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
    version = await caches.version()  # once for the request: the codes' and the answer's
    vocabularies = {**INITIATOR_VOCABULARIES, "topics": "course_topic"}
    await check_fields(session, {**wanted, "topics": topics}, vocabularies, caches=caches, version=version)
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

    async def build() -> bytes:
        results, held_back = await _answer(principal, caches, version, question, needs)
        return _encoder.encode(_Answer(results, held_back))[1:-1]  # the members, spliced below

    encoded = await caches.memo_shared(
        "match_answers", key, lambda: shared.digest(_CODE, *key), version, build
    )
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
    results, _ = await _answer(principal, caches, version, question, ("peer_program",))
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
    async for (lat, lon, their_side, need), n, key_sum in releases.released(
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
