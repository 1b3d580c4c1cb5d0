"""Match scoring: a pure function from (what the initiator asks for, one candidate) to a score
in [0, 1] with the reasons behind it. No I/O; every weight is named in `Weights`.

How a score is built
--------------------
score = SIDE_SHARE * side_fit + (1 - SIDE_SHARE) * rest, where

* side_fit is 1 when the candidate serves the initiator's side, 0.5 when it says nothing about
  sides, 0 when it serves only the other side;
* rest is the weighted mean of the soft factors (distance band, population, language and format
  fit, the kind's own strengths, accepting partnerships, freshness of verification).

A candidate that serves only the other side is further multiplied by MISMATCH_PENALTY, so its
score stays below SIDE_SHARE while a same-side candidate's score is at least SIDE_SHARE: a
partner serving only survivors never outranks one serving people who use violence for an
initiator working with people who use violence, and vice versa, whatever the other factors.

Ties are broken by distance band, then name, then id, so the order is deterministic.
"""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta

import msgspec

SIDE_SHARE = 0.5
MISMATCH_PENALTY = 0.9
SIDES = ("survivors", "people_who_use_violence")

# Distance band -> closeness in [0, 1]; a remote-capable candidate outside the radius gets REMOTE.
BAND_CLOSENESS: dict[str, float] = {
    "under_5_km": 1.0,
    "5_to_10_km": 0.85,
    "10_to_25_km": 0.7,
    "25_to_50_km": 0.5,
    "50_to_100_km": 0.3,
    "over_100_km": 0.15,
}
REMOTE_CLOSENESS = 0.4
STAGE_EVIDENCE: dict[str, float] = {
    "none": 0.0,
    "pilot_planned": 0.2,
    "pilot_running": 0.4,
    "pilot_completed": 0.6,
    "formally_evaluated": 0.9,
    "published": 1.0,
}


@dataclass(frozen=True, slots=True)
class Weights:
    """Relative weights of the soft factors (they need not sum to 1)."""

    distance: float = 0.30
    population: float = 0.12
    language: float = 0.10
    format: float = 0.10
    kind_strength: float = 0.20
    accepting: float = 0.08
    freshness: float = 0.10

    @classmethod
    def from_json(cls, text: str) -> "Weights":
        """Override some weights from JSON, e.g. '{"distance": 0.5}' (unknown names rejected)."""
        values = json.loads(text) if text else {}
        known = {f.name for f in fields(cls)}
        if not isinstance(values, dict) or set(values) - known:
            raise ValueError(f"match weights: expected an object with keys among {sorted(known)}")
        weights = replace(cls(), **{k: float(v) for k, v in values.items()})
        if any(getattr(weights, f.name) < 0 for f in fields(cls)) or not any(
            getattr(weights, f.name) for f in fields(cls)
        ):
            raise ValueError("match weights: must be non-negative and not all zero")
        return weights


@dataclass(frozen=True, slots=True)
class Need:
    """What the initiator asks for (codes only; no identity)."""

    side: str | None = None
    populations: frozenset[str] = frozenset()
    formats: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()


class Candidate(msgspec.Struct, frozen=True, gc=False):
    """What scoring needs to know about one listing. Kept by the thousand in the match caches, so
    never tracked by the garbage collector (`gc=False`: it holds only strings, numbers, frozen
    sets of strings and a datetime, and cannot be part of a reference cycle); a full collection
    walks every tracked object."""

    id: str
    kind: str
    name: str
    band: str | None  # None: no distance (remote-only, or no location)
    remote_capable: bool
    side: str | None = None  # programs
    specialties: frozenset[str] = frozenset()  # partners (sides appear here)
    populations: frozenset[str] = frozenset()
    formats: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    ipv_trained: bool = False
    methods: frozenset[str] = frozenset()
    courses: int = 0
    certifications: int = 0
    evaluation_stage: str = "none"
    open_to_mentoring: bool = False
    accepting_partnerships: bool = True
    last_verified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    text: str


@dataclass(frozen=True, slots=True)
class Scored:
    candidate: Candidate
    score: float
    reasons: tuple[Reason, ...] = field(default_factory=tuple)


# At most eight sets of sides: prepared candidates (kept in caches) share them.
_SIDE_SETS: dict[frozenset[str], frozenset[str]] = {}


def sides_served(candidate: Candidate) -> frozenset[str]:
    if candidate.kind == "peer_program":
        if candidate.side == "both":
            served = frozenset(SIDES)
        else:
            served = frozenset({candidate.side}) if candidate.side in SIDES else frozenset()
    else:
        served = candidate.specialties & frozenset(SIDES)
        if "couples_family" in candidate.specialties and not served:
            served = frozenset()
    return _SIDE_SETS.setdefault(served, served)


def side_fit(need_side: str | None, candidate: Candidate) -> float:
    """1 serves the initiator's side, 0.5 unknown (or no side asked), 0 only the other side."""
    served = sides_served(candidate)
    if need_side is None or not served:
        return 0.5
    wanted = frozenset(SIDES) if need_side == "both" else frozenset({need_side})
    if wanted <= served:
        return 1.0
    if wanted & served:
        return 0.75  # an initiator working with both sides, a candidate serving one
    return 0.0


def closeness(band: str | None, remote_capable: bool) -> float:
    if band is None:
        return REMOTE_CLOSENESS if remote_capable else 0.0
    return BAND_CLOSENESS[band]


def overlap(wanted: frozenset[str], offered: frozenset[str]) -> float | None:
    """Share of what was asked for that is offered; None when nothing was asked (no signal)."""
    if not wanted:
        return None
    return len(wanted & offered) / len(wanted)


def kind_strength(candidate: Candidate) -> float:
    """What makes a good partner of this kind, in [0, 1]."""
    if candidate.kind in ("clinician", "treatment_program"):
        high_risk = "high_risk_clients" in candidate.specialties
        return 0.6 * candidate.ipv_trained + 0.4 * high_risk
    if candidate.kind == "evaluator":
        return min(len(candidate.methods), 3) / 3
    if candidate.kind == "trainer":
        return 0.7 * min(candidate.courses, 3) / 3 + 0.3 * (candidate.certifications > 0)
    if candidate.kind == "peer_program":
        return 0.6 * STAGE_EVIDENCE.get(candidate.evaluation_stage, 0.0) + 0.4 * candidate.open_to_mentoring
    return 0.0


def freshness(last_verified_at: datetime | None, now: datetime) -> float:
    if last_verified_at is None:
        return 0.0
    age = now - last_verified_at
    if age <= timedelta(days=90):
        return 1.0
    if age <= timedelta(days=365):
        return 0.6
    return 0.2


def score(
    need: Need, candidate: Candidate, now: datetime, weights: Weights = Weights(), *, explain: bool = True
) -> Scored:
    fit = side_fit(need.side, candidate)
    factors: list[tuple[float, float]] = [
        (weights.distance, closeness(candidate.band, candidate.remote_capable)),
        (weights.kind_strength, kind_strength(candidate)),
        (weights.freshness, freshness(candidate.last_verified_at, now)),
    ]
    if candidate.kind != "peer_program":
        factors.append((weights.accepting, 1.0 if candidate.accepting_partnerships else 0.0))
    optional = [
        (weights.population, overlap(need.populations, candidate.populations)),
        (weights.language, overlap(need.languages, candidate.languages)),
    ]
    if candidate.kind == "peer_program":
        optional.append((weights.format, overlap(need.formats, candidate.formats)))
    factors += [(w, v) for w, v in optional if v is not None]
    # Added up one by one, left to right, as `prepare` and `need_scorer` do: sum() of floats
    # compensates for rounding since Python 3.12, and the scores must agree to the last digit.
    weighted = 0.0
    total_weight = 0.0
    for w, v in factors:
        weighted += w * v
        total_weight += w
    rest = weighted / total_weight if total_weight else 0.0
    value = SIDE_SHARE * fit + (1 - SIDE_SHARE) * rest
    if fit == 0.0:
        value *= MISMATCH_PENALTY
    explained = tuple(reasons(need, candidate, now)) if explain else ()
    return Scored(candidate=candidate, score=round(value, 4), reasons=explained)


def reasons(need: Need, candidate: Candidate, now: datetime) -> list[Reason]:
    out: list[Reason] = []
    fit = side_fit(need.side, candidate)
    if need.side and fit >= 0.75:
        out.append(Reason("serves_same_side", "Works with the same side of IPV as you."))
    elif need.side and fit == 0.0:
        out.append(Reason("serves_other_side", "Works only with the other side of IPV."))
    if need.populations & candidate.populations:
        shared = ", ".join(sorted(need.populations & candidate.populations))
        out.append(Reason("population_overlap", f"Serves the populations you named: {shared}."))
    if need.languages & candidate.languages:
        out.append(Reason("language_match", "Works in a language you named."))
    if candidate.kind == "peer_program" and need.formats & candidate.formats:
        out.append(Reason("format_overlap", "Runs a format you plan to use."))
    if candidate.kind in ("clinician", "treatment_program"):
        if candidate.ipv_trained:
            out.append(Reason("ipv_trained", "Has IPV-specific training."))
        if "high_risk_clients" in candidate.specialties:
            out.append(Reason("high_risk_experience", "Experienced with high-risk clients."))
    if candidate.kind == "evaluator" and candidate.methods:
        out.append(Reason("evaluation_methods", f"Offers {len(candidate.methods)} evaluation design(s)."))
    if candidate.kind == "trainer" and candidate.courses:
        out.append(Reason("courses_offered", f"Offers {candidate.courses} course(s)."))
    if candidate.kind == "peer_program":
        if STAGE_EVIDENCE.get(candidate.evaluation_stage, 0.0) >= STAGE_EVIDENCE["formally_evaluated"]:
            out.append(Reason("evidence_formally_evaluated", "Has been formally evaluated."))
        elif candidate.evaluation_stage.startswith("pilot"):
            out.append(Reason("evidence_pilot", "Is piloting with an evaluation plan."))
        if candidate.open_to_mentoring:
            out.append(Reason("open_to_mentoring", "Is open to talking with new initiators."))
    elif candidate.accepting_partnerships:
        out.append(Reason("accepting_partnerships", "Is accepting new partnerships."))
    if candidate.remote_capable:
        out.append(Reason("remote_available", "Can work with you remotely."))
    if candidate.band in ("under_5_km", "5_to_10_km"):
        out.append(Reason("nearby", "Is near you."))
    if freshness(candidate.last_verified_at, now) == 1.0:
        out.append(Reason("recently_verified", "Confirmed its listing in the last 90 days."))
    return out


_BAND_ORDER = {band: i for i, band in enumerate(BAND_CLOSENESS)}


def band_order(band: str | None) -> int:
    return _BAND_ORDER.get(band, len(_BAND_ORDER)) if band is not None else len(_BAND_ORDER)


class Prepared(msgspec.Struct, frozen=True, gc=False):
    """A candidate with the parts of its score that do not depend on the need worked out once
    (`prepare`), so that ranking it for many needs is cheap (`need_scorer`). Cached like
    candidates, and untracked like them."""

    candidate: Candidate
    served: frozenset[str]
    fixed_sum: float
    fixed_weight: float
    tie_break: tuple[int, str, str]


def prepare(candidate: Candidate, now: datetime, weights: Weights) -> Prepared:
    # The same factors, in the same order, as `score`: the sums round identically.
    fixed = [
        (weights.distance, closeness(candidate.band, candidate.remote_capable)),
        (weights.kind_strength, kind_strength(candidate)),
        (weights.freshness, freshness(candidate.last_verified_at, now)),
    ]
    if candidate.kind != "peer_program":
        fixed.append((weights.accepting, 1.0 if candidate.accepting_partnerships else 0.0))
    fixed_sum = 0.0
    fixed_weight = 0.0
    for w, v in fixed:
        fixed_sum += w * v
        fixed_weight += w
    return Prepared(
        candidate=candidate,
        served=sides_served(candidate),
        fixed_sum=fixed_sum,
        fixed_weight=fixed_weight,
        tie_break=(band_order(candidate.band), candidate.name, candidate.id),
    )


def need_scorer(need: Need, weights: Weights) -> Callable[[Prepared], float]:
    """Scores prepared candidates for one need, each equal to `score(need, candidate, now,
    weights).score` for the `now` it was prepared with. What depends on the need alone is worked
    out once, since a match scores up to a few hundred candidates for it."""
    wanted = None
    if need.side is not None:
        wanted = frozenset(SIDES) if need.side == "both" else frozenset({need.side})
    populations, languages, formats = need.populations, need.languages, need.formats
    per_population, per_language, per_format = len(populations), len(languages), len(formats)
    w_population, w_language, w_format = weights.population, weights.language, weights.format

    def scored(prepared: Prepared) -> float:
        candidate = prepared.candidate
        served = prepared.served
        if wanted is None or not served:
            fit = 0.5
        else:
            fit = 1.0 if wanted <= served else 0.75 if wanted & served else 0.0
        weighted = prepared.fixed_sum
        total_weight = prepared.fixed_weight
        if per_population:
            weighted += w_population * (len(populations & candidate.populations) / per_population)
            total_weight += w_population
        if per_language:
            weighted += w_language * (len(languages & candidate.languages) / per_language)
            total_weight += w_language
        if per_format and candidate.kind == "peer_program":
            weighted += w_format * (len(formats & candidate.formats) / per_format)
            total_weight += w_format
        rest = weighted / total_weight if total_weight else 0.0
        value = SIDE_SHARE * fit + (1 - SIDE_SHARE) * rest
        if fit == 0.0:
            value *= MISMATCH_PENALTY
        return round(value, 4)

    return scored


def rank_prepared(
    need: Need, prepared: list[Prepared], now: datetime, weights: Weights, limit: int
) -> list[Scored]:
    """Score and order prepared candidates: score, then distance band, then name, then id."""
    scorer = need_scorer(need, weights)
    scored = sorted(((scorer(p), p) for p in prepared), key=lambda sp: (-sp[0], sp[1].tie_break))
    return [
        Scored(candidate=p.candidate, score=value, reasons=tuple(reasons(need, p.candidate, now)))
        for value, p in scored[:limit]
    ]


def rank(
    need: Need, candidates: list[Candidate], now: datetime, weights: Weights, limit: int
) -> list[Scored]:
    """Score and order candidates: score, then distance band, then name, then id."""
    return rank_prepared(need, [prepare(c, now, weights) for c in candidates], now, weights, limit)


# Code sets repeat across listings ({"en"}, {"women"}, ...): kept candidates share one copy of each.
_code_sets: dict[tuple[str, ...], frozenset[str]] = {}
_CODE_SETS_MAX = 20_000


def shared_codes(values: Sequence[str] | None) -> frozenset[str]:
    """The set of `values` (none for NULL), one object for every equal list while there is room."""
    key = tuple(values or ())
    found = _code_sets.get(key)
    if found is None:
        found = frozenset(key)
        if len(_code_sets) < _CODE_SETS_MAX:
            _code_sets[key] = found
    return found
