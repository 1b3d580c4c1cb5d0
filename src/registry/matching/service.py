"""Matching: turn a request (and the caller's profile) into ranked candidates per kind."""

import itertools
import sys
import time
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import Principal, Role
from registry.caching.caches import Caches
from registry.caching.store import Store
from registry.caching.version import Version
from registry.db import utcnow
from registry.errors import Forbidden, InvalidInput
from registry.initiators.schemas import VOCABULARIES as INITIATOR_VOCABULARIES
from registry.initiators.service import coarse_location
from registry.listings import service as listings
from registry.listings.presenters import visible_reads
from registry.listings.schemas import ContactRead
from registry.listings.visibility import contact_view
from registry.locations.geo import BAND_CODES, distance_band, haversine_km
from registry.matching import queries, scoring
from registry.matching.schemas import (
    InitiatorNeed,
    MatchCandidate,
    MatchListing,
    MatchQueryEcho,
    MatchRequest,
    NeedCount,
    PeersResponse,
    ReasonRead,
)
from registry.models import Initiator
from registry.reports import releases
from registry.reports import service as report_service
from registry.reports.schemas import CellRead
from registry.taxonomies.service import check_fields

ALL_NEEDS = ("clinician", "treatment_program", "evaluator", "trainer", "peer_program")
DEFAULT_RADIUS_KM = 50.0

# Match inputs are coarse (a grid cell, vocabulary codes), so people searching from one area ask
# the same questions: answers are shared until anything they depend on changes (or 5 minutes).
CACHE_SIZE = 4096
CACHE_BYTES = 32 * 1024 * 1024
CACHE_SECONDS = 300.0
_answers = Store(CACHE_SIZE, CACHE_BYTES, CACHE_SECONDS)
_encoder = msgspec.json.Encoder()


def forget_cached_matches() -> None:
    _answers.clear()
    _candidate_cache.clear()
    _remote_cache.clear()
    _remote_picks.clear()
    _shown_cache.clear()


def to_candidate(row: Any) -> scoring.Candidate:
    # Positional access: this runs for every candidate row, and Row attribute lookups are slow.
    (
        id_,
        kind,
        name,
        side,
        specialties,
        formats,
        populations,
        languages,
        ipv_trained,
        methods,
        courses,
        certifications,
        stage,
        mentoring,
        accepting,
        last_verified_at,
        _distance,
        remote_capable,
        band_rank,
    ) = tuple(row)[:19]
    return scoring.Candidate(
        id=str(id_),
        kind=sys.intern(kind),
        name=name,
        band=None if band_rank is None else BAND_CODES[band_rank],
        remote_capable=bool(remote_capable),
        side=None if side is None else sys.intern(side),
        specialties=scoring.shared_codes(specialties),
        populations=scoring.shared_codes(populations),
        formats=scoring.shared_codes(formats),
        languages=scoring.shared_codes(languages),
        ipv_trained=ipv_trained,
        methods=scoring.shared_codes(methods),
        courses=courses or 0,
        certifications=certifications or 0,
        evaluation_stage=sys.intern(stage),
        open_to_mentoring=mentoring,
        accepting_partnerships=accepting,
        last_verified_at=last_verified_at,
    )


def _listing(
    candidate: scoring.Candidate, details: "_Details", contacts: Sequence[ContactRead], principal: Principal
) -> MatchListing:
    return MatchListing(
        id=details.id,
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
        contacts=visible_reads(contacts, principal),
    )


# Candidates near a (coarse) point, per kind, are shared by every request that asks for that
# kind there, whatever else it asks: scoring them for a particular need is cheap. Fewer entries
# than answers: each holds up to CANDIDATES_PER_KIND candidates.
CANDIDATE_CACHE_SIZE = 1024
# A radius finds the nearest CANDIDATES_PER_KIND within it, which are exactly those of a wider
# search that lie within the radius (nearer ones come first either way): one search out to
# SHARED_RADIUS_KM serves every smaller radius from one cache entry.
SHARED_RADIUS_KM = 100.0
# (version, stored at, prepared candidates, each one's distance in metres)
_CandidateEntry = tuple[Version, float, list[scoring.Prepared], list[float]]
_candidate_cache: OrderedDict[tuple[object, ...], _CandidateEntry] = OrderedDict()
# Remote-capable candidates are the freshest REMOTE_CANDIDATES_PER_KIND beyond the radius: the
# first ones of the freshest REMOTE_POOL (wherever they are) that lie beyond it. One pool per
# kind serves every point and radius; only when it runs short does a request ask the database.
REMOTE_POOL = 150
# (version, stored at, prepared candidates, each one's place)
_RemoteEntry = tuple[Version, float, list[scoring.Prepared], list[tuple[float | None, float | None]]]
_remote_cache: dict[tuple[object, ...], _RemoteEntry] = {}
# Per kind, point, radius (and excluded listing): the ones of the kind's pool that lie beyond the
# radius. A kind's cuts are dropped whenever its pool is fetched again.
REMOTE_PICKS_SIZE = 4096
_remote_picks: OrderedDict[tuple[object, ...], list[scoring.Prepared]] = OrderedDict()

# The shown-only fields (description, lists, place) and the contacts that may leave through
# matching, of listings recently chosen: the same few near each place are chosen again and again.
SHOWN_CACHE_SIZE = 4096
_Shown = tuple[Version, "_Details", tuple[ContactRead, ...]]  # (version, details, contacts)


class _Details(NamedTuple):
    id: uuid.UUID
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


_shown_cache: OrderedDict[uuid.UUID, _Shown] = OrderedDict()


def _within(entry: _CandidateEntry, meters: float) -> list[scoring.Prepared]:
    return [p for p, d in zip(entry[2], entry[3], strict=True) if d <= meters]


def _fresh(entry: tuple[Version, float, Any, Any] | None, version: Version) -> bool:
    return entry is not None and entry[0] == version and time.monotonic() - entry[1] < CACHE_SECONDS


async def _near(
    session: AsyncSession,
    version: Version,
    *,
    kinds: Sequence[str],
    point: tuple[float, float],
    radius_km: float,
    exclude_id: uuid.UUID | None,
    weights: scoring.Weights,
) -> dict[str, list[scoring.Prepared]]:
    search_km = max(radius_km, SHARED_RADIUS_KM)
    meters = radius_km * 1000
    found: dict[str, list[scoring.Prepared]] = {}
    missing = []
    for kind in kinds:
        key = (kind, point, search_km, exclude_id, weights)
        hit = _candidate_cache.get(key)
        if hit is not None and _fresh(hit, version):
            _candidate_cache.move_to_end(key)
            found[kind] = _within(hit, meters)
        else:
            missing.append(kind)
    if missing:
        rows = await queries.nearest(
            session, kinds=missing, point=point, radius_km=search_km, exclude_id=exclude_id
        )
        fetched: dict[str, _CandidateEntry] = {kind: (version, time.monotonic(), [], []) for kind in missing}
        today = utcnow()  # freshness changes by the day; answers live minutes
        for row in rows:
            entry = fetched[row.kind]
            entry[2].append(scoring.prepare(to_candidate(row), today, weights))
            entry[3].append(row.d)
        for kind, entry in fetched.items():
            found[kind] = _within(entry, meters)
            _candidate_cache[(kind, point, search_km, exclude_id, weights)] = entry
            if len(_candidate_cache) > CANDIDATE_CACHE_SIZE:
                _candidate_cache.popitem(last=False)
    return found


async def _remote(
    session: AsyncSession,
    version: Version,
    *,
    kinds: Sequence[str],
    point: tuple[float, float] | None,
    radius_km: float,
    exclude_id: uuid.UUID | None,
    weights: scoring.Weights,
) -> dict[str, list[scoring.Prepared]]:
    today = utcnow()
    missing = [kind for kind in kinds if not _fresh(_remote_cache.get((kind, weights)), version)]
    if missing:
        fetched: dict[str, _RemoteEntry] = {kind: (version, time.monotonic(), [], []) for kind in missing}
        for row in await queries.freshest_remote(session, kinds=missing, limit=REMOTE_POOL):
            entry = fetched[row.kind]
            entry[2].append(scoring.prepare(to_candidate(row), today, weights))
            entry[3].append((row.latitude, row.longitude))
        for kind, entry in fetched.items():
            _remote_cache[(kind, weights)] = entry
        # Cuts of the old pools must not outlive them (nor keep them in memory).
        for pick_key in [k for k in _remote_picks if k[0] in fetched]:
            del _remote_picks[pick_key]
    meters = radius_km * 1000
    excluded = str(exclude_id) if exclude_id else None
    found: dict[str, list[scoring.Prepared]] = {}
    short = []
    for kind in kinds:
        _, _, pool, places = _remote_cache[(kind, weights)]
        # The same cut of the same pool is asked for again and again from one place.
        pick_key = (kind, weights, point, meters, excluded)
        cut = _remote_picks.get(pick_key)
        if cut is not None:
            picked = cut
        else:
            # The first ones beyond the radius, freshest first: stop once there are enough
            # (most of a pool lies far away, and a distance each was a tenth of a cold match).
            picked = list(
                itertools.islice(
                    (
                        p
                        for p, (lat, lon) in zip(pool, places, strict=True)
                        if p.candidate.id != excluded
                        and (
                            point is None
                            or lat is None
                            or lon is None
                            or queries.distance_m(point, lat, lon) > meters
                        )
                    ),
                    queries.REMOTE_CANDIDATES_PER_KIND,
                )
            )
            _remote_picks[pick_key] = picked
            if len(_remote_picks) > REMOTE_PICKS_SIZE:
                _remote_picks.popitem(last=False)
        if len(picked) < queries.REMOTE_CANDIDATES_PER_KIND and len(pool) == REMOTE_POOL:
            short.append(kind)  # the pool may not hold all of them
        else:
            found[kind] = picked
    if short:
        found.update({kind: [] for kind in short})
        rows = await queries.freshest_remote(
            session,
            kinds=short,
            limit=queries.REMOTE_CANDIDATES_PER_KIND,
            point=point,
            radius_km=radius_km,
            exclude_id=exclude_id,
        )
        for row in rows:
            found[row.kind].append(scoring.prepare(to_candidate(row), today, weights))
    return found


async def _candidates(
    session: AsyncSession,
    version: Version,
    *,
    kinds: Sequence[str],
    point: tuple[float, float] | None,
    radius_km: float,
    include_remote: bool,
    exclude_id: uuid.UUID | None,
    weights: scoring.Weights,
) -> dict[str, list[scoring.Prepared]]:
    """Per kind: the nearest within the radius and, with include_remote, the freshest
    remote-capable ones beyond it."""
    found: dict[str, list[scoring.Prepared]] = {kind: [] for kind in kinds}
    if point is not None:
        found = await _near(
            session,
            version,
            kinds=kinds,
            point=point,
            radius_km=radius_km,
            exclude_id=exclude_id,
            weights=weights,
        )
    if include_remote:
        remote = await _remote(
            session,
            version,
            kinds=kinds,
            point=point,
            radius_km=radius_km,
            exclude_id=exclude_id,
            weights=weights,
        )
        for kind, pool in remote.items():
            found[kind] = found[kind] + pool
    return found


async def _shown(
    session: AsyncSession, version: Version, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[_Details, tuple[ContactRead, ...]]]:
    """Details and contacts of the chosen listings, from the cache when the version still holds."""
    out: dict[uuid.UUID, tuple[_Details, tuple[ContactRead, ...]]] = {}
    missing = []
    for listing_id in ids:
        hit = _shown_cache.get(listing_id)
        if hit is not None and hit[0] == version:
            _shown_cache.move_to_end(listing_id)
            out[listing_id] = (hit[1], hit[2])
        else:
            missing.append(listing_id)
    if missing:
        details: dict[uuid.UUID, _Details] = {}
        contacts: dict[uuid.UUID, list[ContactRead]] = defaultdict(list)
        for row in await queries.shown_of(session, missing):
            listing_id = row[0]
            if listing_id not in details:
                # A plain tuple keeps much less than the driver's row.
                details[listing_id] = _Details(*row[: queries.DETAILS])
            if row[queries.DETAILS] is not None:  # the listing has a contact shown
                contact = dict(zip(queries.CONTACT_FIELDS, row[queries.DETAILS :], strict=True))
                contacts[listing_id].append(ContactRead(**contact))
        for listing_id in missing:
            out[listing_id] = (details[listing_id], tuple(contacts[listing_id]))
            _shown_cache[listing_id] = (version, *out[listing_id])
            if len(_shown_cache) > SHOWN_CACHE_SIZE:
                _shown_cache.popitem(last=False)
    return out


async def _ranked(
    session: AsyncSession,
    principal: Principal,
    *,
    need: scoring.Need,
    kinds: Sequence[str],
    point: tuple[float, float] | None,
    radius_km: float,
    include_remote: bool,
    per_kind: int,
    weights: scoring.Weights,
    version: Version,
    exclude_id: uuid.UUID | None = None,
) -> dict[str, list[MatchCandidate]]:
    pool = await _candidates(
        session,
        version,
        kinds=kinds,
        point=point,
        radius_km=radius_km,
        include_remote=include_remote,
        exclude_id=exclude_id,
        weights=weights,
    )
    now = utcnow()
    chosen = {kind: scoring.rank_prepared(need, pool.get(kind, []), now, weights, per_kind) for kind in kinds}
    ids = [uuid.UUID(s.candidate.id) for picks in chosen.values() for s in picks]
    shown = await _shown(session, version, ids)
    results: dict[str, list[MatchCandidate]] = {}
    for kind, picks in chosen.items():
        results[kind] = []
        for s in picks:
            details, contacts = shown[uuid.UUID(s.candidate.id)]
            results[kind].append(
                MatchCandidate(
                    score=s.score,
                    distance_band=s.candidate.band,
                    reasons=[ReasonRead(code=r.code, text=r.text) for r in s.reasons],
                    listing=_listing(s.candidate, details, contacts, principal),
                )
            )
    return results


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
    needs = list(dict.fromkeys(data.needs or (profile.needs if profile and profile.needs else ALL_NEEDS)))
    wanted = {"side": side, "populations": populations, "formats": formats, "languages": languages}
    await check_fields(session, wanted, INITIATOR_VOCABULARIES, caches=caches)
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
    need = scoring.Need(
        side=side,
        populations=frozenset(populations),
        formats=frozenset(formats),
        languages=frozenset(languages),
    )
    key = (
        contact_view(principal),  # the one part of the caller that changes an answer
        need,
        tuple(needs),
        point,
        radius,
        data.include_remote,
        data.per_kind,
        weights,
    )
    version = await caches.version(session)
    encoded: bytes | None = _answers.get(key, version)
    if encoded is None:
        results = await _ranked(
            session,
            principal,
            need=need,
            kinds=needs,
            point=point,
            radius_km=radius,
            include_remote=data.include_remote,
            per_kind=data.per_kind,
            weights=weights,
            version=version,
        )
        encoded = _encoder.encode(results)
        _answers.put(key, version, encoded)
    echo = MatchQueryEcho(
        radius_km=radius,
        needs=needs,
        side=side,
        populations=sorted(populations),
        formats=sorted(formats),
        languages=sorted(languages),
        include_remote=data.include_remote,
        per_kind=data.per_kind,
        locality=place["locality"],
        region=place["region"],
        country=place["country"],
    )
    return b'{"query":' + _encoder.encode(echo) + b',"results":' + encoded + b"}"


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
    )
    ranked = await _ranked(
        session,
        principal,
        need=need,
        kinds=("peer_program",),
        point=point,
        radius_km=radius,
        include_remote=point is None,
        per_kind=20,
        weights=weights,
        version=await caches.version(session),
        exclude_id=program.id,
    )
    # Same kind of work: the same side and, when the program names formats, an overlapping one.
    same_work = [
        c
        for c in ranked["peer_program"]
        if scoring.side_fit(program.side, _as_candidate(c)) >= 0.75
        and (not program.formats or set(program.formats) & set(c.listing.formats))
    ]
    initiators: list[InitiatorNeed] = []
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
    needs: list[NeedCount] = []
    if point is not None:
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


def _as_candidate(c: MatchCandidate) -> scoring.Candidate:
    return scoring.Candidate(
        id=str(c.listing.id),
        kind=c.listing.kind,
        name=c.listing.name,
        band=c.distance_band,
        remote_capable=c.listing.remote_ok,
        side=c.listing.side,
    )
