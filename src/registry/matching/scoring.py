"""Match scoring: pure functions from (request, candidate, where it lies) to a score in [0, 1],
its breakdown by factor and the reasons behind it. No I/O.

A score is the weighted mean of the factors that apply (their weights scaled to sum to 1); the
breakdown's contributions add up to it. In reach (within the radius and the candidate's own
service radius) scores 1.0 to 0.5 by band; beyond it only remote-capable candidates, at 0.4 in the
initiator's country, 0.25 on its continent, 0.1 elsewhere: in reach never scores below an
otherwise identical remote candidate. Sides are kept apart before scoring (`offered`)."""

import functools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Final, Literal

import msgspec

SIDES: Final = ("survivors", "people_who_use_violence")

BAND_CLOSENESS: Final[dict[str, float]] = {
    "under_5_km": 1.0,
    "5_to_10_km": 0.9,
    "10_to_25_km": 0.8,
    "25_to_50_km": 0.7,
    "50_to_100_km": 0.6,
    "over_100_km": 0.5,
}
# Beyond the radius: same country, same continent, elsewhere (or not known).
REMOTE_CLOSENESS: Final[dict[str, float]] = {"same_country": 0.4, "same_continent": 0.25, "elsewhere": 0.1}
STAGE_EVIDENCE: Final[dict[str, float]] = {
    "none": 0.0,
    "pilot_planned": 0.2,
    "pilot_running": 0.4,
    "pilot_completed": 0.6,
    "formally_evaluated": 0.9,
    "published": 1.0,
}
# What a trainer's courses should cover when the request names no topic: the seed article's step 2
# (IPV, peer-support facilitation and high-risk clients).
DEFAULT_TOPICS: Final = frozenset({"ipv_basics", "facilitation", "high_risk_clients"})
# A request that names no language prefers the languages of its country, at this share of the
# language factor's weight.
INFERRED_LANGUAGE_SHARE: Final = 0.5


@dataclass(frozen=True, slots=True)
class Weights:
    """Relative weights of the factors (they need not sum to 1)."""

    distance: float = 0.30
    side: float = 0.10
    population: float = 0.10
    language: float = 0.10
    format: float = 0.08
    strength: float = 0.20
    accepting: float = 0.06
    freshness: float = 0.06

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


Factor = Literal["distance", "side", "population", "language", "format", "strength", "accepting", "freshness"]
FACTORS: Final[dict[Factor, str]] = {
    "distance": "How near: the distance band within your radius, or for a remote partner beyond it, "
    "whether it is in your country or on your continent",
    "side": "Whether it works with the side of IPV you work with (the other side is never offered)",
    "population": "The share of the populations you named that it serves",
    "language": "Whether it works in a language you named (or, if you named none, one of your country's)",
    "format": "The share of the formats you named that the program runs (programs)",
    "strength": "What makes a good partner of its kind: IPV training and high-risk experience "
    "(clinicians, treatment programs), an IPV focus and evaluation designs (evaluators), courses "
    "covering the topics you need (trainers), evaluation evidence and openness to mentoring (programs)",
    "accepting": "Whether it is accepting new partnerships (partners)",
    "freshness": "How recently it confirmed its listing",
}


@dataclass(frozen=True, slots=True)
class Need:
    """What the initiator asks for (codes and a coarse place; no identity)."""

    side: str | None = None
    populations: frozenset[str] = frozenset()
    formats: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    # The languages of the initiator's country, when no language was named.
    inferred_languages: frozenset[str] = frozenset()
    country: str | None = None
    continent: str | None = None
    topics: frozenset[str] = DEFAULT_TOPICS


class Candidate(msgspec.Struct, frozen=True, gc=False):
    """What scoring needs to know about one listing. Kept by the thousand in the match caches, so
    never tracked by the garbage collector (it holds only strings, numbers, frozen sets of strings
    and a datetime, and cannot be part of a reference cycle)."""

    id: str
    kind: str
    name: str
    organization_id: str
    remote_capable: bool
    country: str | None = None
    continent: str | None = None
    service_radius_km: int | None = None
    status: str = "active"
    side: str | None = None  # programs
    specialties: frozenset[str] = frozenset()  # partners (sides appear here)
    populations: frozenset[str] = frozenset()
    formats: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    ipv_trained: bool = False
    methods: frozenset[str] = frozenset()
    course_topics: frozenset[str] = frozenset()
    certifications: int = 0
    evaluation_stage: str = "none"
    open_to_mentoring: bool = False
    accepting_partnerships: bool = True
    last_verified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a candidate lies for one request: in reach (its band) or remote (how far off)."""

    band: str | None  # the distance band, when it has a place and the request a point
    in_reach: bool
    remote: str | None = None  # REMOTE_CLOSENESS key when not in reach
    beyond_service_radius: bool = False


# What a full score is made of, for the few listings a request shows: structs, which are made in a
# tenth of the time of a frozen dataclass (whose fields are set one `object.__setattr__` at a time).


class Reason(msgspec.Struct, frozen=True, gc=False):
    code: "ReasonCode"
    text: str


class Part(msgspec.Struct, frozen=True, gc=False):
    factor: "Factor"
    weight: float
    value: float
    contribution: float


class Scored(msgspec.Struct, frozen=True, gc=False):
    candidate: Candidate
    placement: Placement
    score: float
    breakdown: tuple[Part, ...]
    reasons: tuple[Reason, ...]


# --- sides ---------------------------------------------------------------------------------------


_BOTH: Final = frozenset(SIDES)
_ONE: Final = {side: frozenset({side}) for side in SIDES}


def sides_served(candidate: Candidate) -> frozenset[str]:
    if candidate.kind == "peer_program":
        if candidate.side == "both":
            return _BOTH
        return _ONE.get(candidate.side or "", frozenset())
    return candidate.specialties & _BOTH


def wanted_sides(side: str | None) -> frozenset[str] | None:
    if side is None:
        return None
    return frozenset(SIDES) if side == "both" else frozenset({side})


def offered(need: Need, candidate: Candidate) -> bool:
    """Sides are kept apart (DOMAIN.md rule 8): a program for the other side, or a partner that
    serves only the other side, is never offered; `both` is offered to either and sees both."""
    wanted = wanted_sides(need.side)
    if wanted is None:
        return True
    served = sides_served(candidate)
    return not served or bool(served & wanted)  # one that says nothing is neither side's


def side_fit(need: Need, candidate: Candidate) -> float | None:
    wanted = wanted_sides(need.side)
    if wanted is None:
        return None
    served = sides_served(candidate)
    if not served:
        return 0.5  # says nothing about sides
    return 1.0 if wanted <= served else 0.6


# --- factor values -------------------------------------------------------------------------------


def closeness(placement: Placement) -> float:
    if placement.in_reach:
        return BAND_CLOSENESS[placement.band] if placement.band else 0.5
    return REMOTE_CLOSENESS[placement.remote or "elsewhere"]


def overlap(wanted: frozenset[str], offered_: frozenset[str]) -> float:
    return len(wanted & offered_) / len(wanted) if wanted else 0.0


def strength(need: Need, candidate: Candidate) -> float:
    """What makes a good partner of this kind, in [0, 1]."""
    if candidate.kind in ("clinician", "treatment_program"):
        return 0.6 * candidate.ipv_trained + 0.4 * ("high_risk_clients" in candidate.specialties)
    if candidate.kind == "evaluator":
        focus = bool(candidate.specialties & frozenset(SIDES))
        return 0.5 * focus + 0.5 * min(len(candidate.methods), 3) / 3
    if candidate.kind == "trainer":
        return 0.8 * overlap(need.topics, candidate.course_topics) + 0.2 * (candidate.certifications > 0)
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


def language_value(need: Need, candidate: Candidate) -> tuple[float, bool] | None:
    """(value, whether the request named the languages) or None when neither it nor its country
    says anything; a candidate that lists no language is neither a match nor a miss (0.5)."""
    wanted = need.languages or need.inferred_languages
    if not wanted:
        return None
    if not candidate.languages:
        return 0.5, bool(need.languages)
    if need.languages:
        return overlap(need.languages, candidate.languages), True
    return (1.0 if wanted & candidate.languages else 0.0), False


def applicable(need: Need, kind: str, weights: Weights) -> dict[Factor, float]:
    """The raw weight of every factor that applies to this request and kind (those that depend on
    the candidate, like language for one that lists none, apply all the same)."""
    w: dict[Factor, float] = {
        "distance": weights.distance,
        "strength": weights.strength,
        "freshness": weights.freshness,
    }
    if need.side is not None:
        w["side"] = weights.side
    if need.populations:
        w["population"] = weights.population
    if need.languages:
        w["language"] = weights.language
    elif need.inferred_languages:
        w["language"] = weights.language * INFERRED_LANGUAGE_SHARE
    if kind == "peer_program" and need.formats:
        w["format"] = weights.format
    if kind != "peer_program":
        w["accepting"] = weights.accepting
    return w


def values(need: Need, candidate: Candidate, placement: Placement, now: datetime) -> dict[Factor, float]:
    found: dict[Factor, float] = {
        "distance": closeness(placement),
        "strength": strength(need, candidate),
        "freshness": freshness(candidate.last_verified_at, now),
        "accepting": 1.0 if candidate.accepting_partnerships else 0.0,
        "population": overlap(need.populations, candidate.populations),
        "format": overlap(need.formats, candidate.formats),
    }
    fit = side_fit(need, candidate)
    if fit is not None:
        found["side"] = fit
    language = language_value(need, candidate)
    if language is not None:
        found["language"] = language[0]
    return found


def _shown_shares(raw: dict[Factor, float]) -> dict[Factor, float]:
    """Each factor's share of the weights to four places, adding up to exactly 1 (the largest
    remainders take the last ten-thousandths): rounded one by one, they could add up to 1.0002,
    and a candidate perfect on every factor scored above 1."""
    total = sum(raw.values())
    exact = {factor: weight / total * 10_000 for factor, weight in raw.items()}
    units = {factor: math.floor(value) for factor, value in exact.items()}
    by_remainder = sorted(exact, key=lambda factor: units[factor] - exact[factor])
    for factor in by_remainder[: 10_000 - sum(units.values())]:
        units[factor] += 1
    return {factor: units[factor] / 10_000 for factor in raw}


@functools.lru_cache(maxsize=1024)
def shown_shares(need: Need, kind: str, weights: Weights) -> dict[Factor, float]:
    """_shown_shares of the factors that apply: the same for every candidate of a kind that one
    request scores (read only)."""
    return _shown_shares(applicable(need, kind, weights))


def score(
    need: Need, candidate: Candidate, placement: Placement, now: datetime, weights: Weights = Weights()
) -> Scored:
    found = values(need, candidate, placement, now)
    parts = []
    for factor, share in shown_shares(need, candidate.kind, weights).items():
        value = round(found[factor], 4)
        parts.append(Part(factor, share, value, round(share * value, 4)))
    value = round(sum(p.contribution for p in parts), 4)
    return Scored(candidate, placement, value, tuple(parts), tuple(reasons(need, candidate, placement, now)))


# Quick scores leave out score()'s rounding (to 4 places, per contribution and in all): they differ
# from the reported score by less than this, so a list chosen on quick scores keeps every
# candidate within QUICK_MARGIN of its last place and orders those by their reported scores.
QUICK_MARGIN: Final = 0.005


def shares(need: Need, kind: str, weights: Weights) -> dict[Factor, float]:
    """Each factor's share of the score for this request and kind (0 when it does not apply)."""
    raw = applicable(need, kind, weights)
    total = sum(raw.values())
    return {factor: raw.get(factor, 0.0) / total for factor in FACTORS}


def remote_where(need: Need, candidate: Candidate) -> str:
    """Where a remote candidate lies for the request: REMOTE_CLOSENESS's key."""
    if need.country and candidate.country == need.country:
        return "same_country"
    if need.continent and candidate.continent == need.continent:
        return "same_continent"
    return "elsewhere"


def quick_scorer(need: Need, kind: str, weights: Weights) -> Callable[[Candidate, float, datetime], float]:
    """score()'s value, unrounded, for one (request, kind), from a candidate and its closeness:
    the same factor functions without the breakdown and reasons, for ranking many candidates."""
    share = shares(need, kind, weights)
    distance, strength_, freshness_ = share["distance"], share["strength"], share["freshness"]
    side, population, language, format_, accepting = (
        share["side"],
        share["population"],
        share["language"],
        share["format"],
        share["accepting"],
    )

    def quick(candidate: Candidate, closeness_: float, now: datetime) -> float:
        value = distance * closeness_ + strength_ * strength(need, candidate)
        value += freshness_ * freshness(candidate.last_verified_at, now)
        if accepting and candidate.accepting_partnerships:
            value += accepting
        if side:
            value += side * (side_fit(need, candidate) or 0.0)
        if population:
            value += population * overlap(need.populations, candidate.populations)
        if language:
            found = language_value(need, candidate)
            value += language * (found[0] if found else 0.0)
        if format_:
            value += format_ * overlap(need.formats, candidate.formats)
        return value

    return quick


# --- reasons -------------------------------------------------------------------------------------

ReasonCode = Literal[
    "same_side",
    "both_sides",
    "one_of_your_sides",
    "no_side_stated",
    "population_overlap",
    "no_shared_population",
    "language_match",
    "country_language",
    "no_shared_language",
    "no_country_language",
    "no_languages_listed",
    "format_overlap",
    "no_shared_format",
    "ipv_trained",
    "not_ipv_trained",
    "high_risk_experience",
    "ipv_focus",
    "evaluation_methods",
    "no_evaluation_methods",
    "courses_cover",
    "courses_miss",
    "evidence_none",
    "evidence_pilot_planned",
    "evidence_pilot_running",
    "evidence_pilot_completed",
    "evidence_formally_evaluated",
    "evidence_published",
    "open_to_mentoring",
    "planning",
    "accepting_partnerships",
    "not_accepting",
    "nearby",
    "far",
    "remote_same_country",
    "remote_same_continent",
    "remote_elsewhere",
    "serves_area_up_to",
    "recently_verified",
    "not_recently_verified",
]
# Every reason code and its text (`{}` stands for what the reason names), for the API's catalogue.
REASONS: Final[dict[ReasonCode, str]] = {
    "same_side": "Works with the same side of IPV as you.",
    "both_sides": "Works with both sides of IPV.",
    "one_of_your_sides": "Works with one of the sides you work with.",
    "no_side_stated": "Does not say which side of IPV it works with.",
    "population_overlap": "Serves populations you named: {}.",
    "no_shared_population": "Serves none of the populations you named.",
    "language_match": "Works in a language you named: {}.",
    "country_language": "Works in a language of your country: {}.",
    "no_shared_language": "Works in none of the languages you named.",
    "no_country_language": "Works in none of your country's languages.",
    "no_languages_listed": "Lists no languages.",
    "format_overlap": "Runs a format you plan to use: {}.",
    "no_shared_format": "Runs none of the formats you named.",
    "ipv_trained": "Has IPV-specific training.",
    "not_ipv_trained": "Does not list IPV-specific training.",
    "high_risk_experience": "Experienced with high-risk clients.",
    "ipv_focus": "Evaluates work on intimate partner violence.",
    "evaluation_methods": "Offers evaluation designs: {}.",
    "no_evaluation_methods": "Lists no evaluation designs.",
    "courses_cover": "Its courses cover: {}.",
    "courses_miss": "Its courses cover none of: {}.",
    "evidence_none": "Has no evaluation yet.",
    "evidence_pilot_planned": "Plans a pilot with an evaluation.",
    "evidence_pilot_running": "Is running a pilot.",
    "evidence_pilot_completed": "Has completed a pilot and reviewed it.",
    "evidence_formally_evaluated": "Has been formally evaluated.",
    "evidence_published": "Has published evaluation findings.",
    "open_to_mentoring": "Is open to talking with new initiators.",
    "planning": "Is still being planned.",
    "accepting_partnerships": "Is accepting new partnerships.",
    "not_accepting": "Is not accepting new partnerships now.",
    "nearby": "Is within 10 km of you.",
    "far": "Is over 50 km away.",
    "remote_same_country": "Is beyond your radius, in your country; works with you remotely.",
    "remote_same_continent": "Is in another country on your continent; works with you remotely.",
    "remote_elsewhere": "Is on another continent (or its place is not known); works with you remotely.",
    "serves_area_up_to": "Serves its area up to {} km; works with you remotely.",
    "recently_verified": "Confirmed its listing in the last 90 days.",
    "not_recently_verified": "Has not confirmed its listing in over a year.",
}


STAGE_REASONS: Final[dict[str, ReasonCode]] = {
    "none": "evidence_none",
    "pilot_planned": "evidence_pilot_planned",
    "pilot_running": "evidence_pilot_running",
    "pilot_completed": "evidence_pilot_completed",
    "formally_evaluated": "evidence_formally_evaluated",
    "published": "evidence_published",
}
REMOTE_REASONS: Final[dict[str, ReasonCode]] = {
    "same_country": "remote_same_country",
    "same_continent": "remote_same_continent",
    "elsewhere": "remote_elsewhere",
}


def _reason(code: ReasonCode, *named: str) -> Reason:
    text = REASONS[code]
    return Reason(code, text.format(", ".join(named)) if named else text)


def _labels(codes: frozenset[str]) -> list[str]:
    return sorted(codes)


def reasons(need: Need, candidate: Candidate, placement: Placement, now: datetime) -> list[Reason]:
    """Every one of them true of this candidate for this request, the negative ones too."""
    out: list[Reason] = []
    wanted = wanted_sides(need.side)
    served = sides_served(candidate)
    if wanted is not None:
        if not served:
            out.append(_reason("no_side_stated"))
        elif wanted <= served:
            out.append(_reason("both_sides" if served == frozenset(SIDES) else "same_side"))
        else:
            out.append(_reason("one_of_your_sides"))
    if need.populations:
        shared = need.populations & candidate.populations
        out.append(
            _reason("population_overlap", *_labels(shared)) if shared else _reason("no_shared_population")
        )
    wanted_languages = need.languages or need.inferred_languages
    if wanted_languages:
        shared = wanted_languages & candidate.languages
        if not candidate.languages:
            out.append(_reason("no_languages_listed"))
        elif shared:
            out.append(_reason("language_match" if need.languages else "country_language", *_labels(shared)))
        else:
            out.append(_reason("no_shared_language" if need.languages else "no_country_language"))
    if candidate.kind == "peer_program" and need.formats:
        shared = need.formats & candidate.formats
        out.append(_reason("format_overlap", *_labels(shared)) if shared else _reason("no_shared_format"))
    out += _kind_reasons(need, candidate)
    if candidate.kind != "peer_program":
        out.append(_reason("accepting_partnerships" if candidate.accepting_partnerships else "not_accepting"))
    out += _place_reasons(candidate, placement)
    age = freshness(candidate.last_verified_at, now)
    if age == 1.0:
        out.append(_reason("recently_verified"))
    elif age < 0.6:
        out.append(_reason("not_recently_verified"))
    return out


def _kind_reasons(need: Need, candidate: Candidate) -> list[Reason]:
    out = []
    if candidate.kind in ("clinician", "treatment_program"):
        out.append(_reason("ipv_trained" if candidate.ipv_trained else "not_ipv_trained"))
        if "high_risk_clients" in candidate.specialties:
            out.append(_reason("high_risk_experience"))
    elif candidate.kind == "evaluator":
        if candidate.specialties & frozenset(SIDES):
            out.append(_reason("ipv_focus"))
        methods = _labels(candidate.methods)
        out.append(_reason("evaluation_methods", *methods) if methods else _reason("no_evaluation_methods"))
    elif candidate.kind == "trainer":
        covered = need.topics & candidate.course_topics
        out.append(
            _reason("courses_cover", *_labels(covered))
            if covered
            else _reason("courses_miss", *_labels(need.topics))
        )
    elif candidate.kind == "peer_program":
        out.append(_reason(STAGE_REASONS.get(candidate.evaluation_stage, "evidence_none")))
        if candidate.open_to_mentoring:
            out.append(_reason("open_to_mentoring"))
        if candidate.status == "planning":
            out.append(_reason("planning"))
    return out


def _place_reasons(candidate: Candidate, placement: Placement) -> list[Reason]:
    if placement.in_reach:
        if placement.band in ("under_5_km", "5_to_10_km"):
            return [_reason("nearby")]
        if placement.band in ("50_to_100_km", "over_100_km"):
            return [_reason("far")]
        return []
    if placement.beyond_service_radius and candidate.service_radius_km is not None:
        return [_reason("serves_area_up_to", str(candidate.service_radius_km))]
    return [_reason(REMOTE_REASONS[placement.remote or "elsewhere"])]


# --- ordering ------------------------------------------------------------------------------------

_BAND_ORDER: Final = {band: i for i, band in enumerate(BAND_CLOSENESS)}


def order_key(scored: Scored) -> tuple[float, int, int, str, str]:
    """Score, then in reach before remote, then nearer band, then name, then id."""
    placement = scored.placement
    band = _BAND_ORDER.get(placement.band, len(_BAND_ORDER)) if placement.band else len(_BAND_ORDER)
    return (-scored.score, 0 if placement.in_reach else 1, band, scored.candidate.name, scored.candidate.id)


MAX_PER_ORGANIZATION: Final = 2


def choose(ranked: Sequence[Scored], per_kind: int) -> tuple[list[Scored], int]:
    """The best `per_kind` with at most MAX_PER_ORGANIZATION of one organization, unless there are
    too few others to fill the list; and how many were held back for that reason."""
    chosen: list[Scored] = []
    held: list[Scored] = []
    count: dict[str, int] = {}
    for scored in ranked:
        if len(chosen) == per_kind:
            break
        org = scored.candidate.organization_id
        if count.get(org, 0) < MAX_PER_ORGANIZATION:
            chosen.append(scored)
            count[org] = count.get(org, 0) + 1
        else:
            held.append(scored)
    if len(chosen) < per_kind and held:  # fewer candidates than places: the held-back ones fill them
        chosen = sorted([*chosen, *held[: per_kind - len(chosen)]], key=order_key)
        return chosen, 0
    return chosen, len(held)


# Code sets repeat across listings ({"en"}, {"women"}, ...): kept candidates share one copy of each.
_code_sets: dict[tuple[str, ...], frozenset[str]] = {}
_CODE_SETS_MAX = 20_000


def shared_codes(values_: Sequence[str] | None) -> frozenset[str]:
    """The set of `values_` (none for NULL), one object for every equal list while there is room."""
    key = tuple(values_ or ())
    found = _code_sets.get(key)
    if found is None:
        found = frozenset(key)
        if len(_code_sets) < _CODE_SETS_MAX:
            _code_sets[key] = found
    return found
