"""The pure scoring function: each factor, the side rule, ordering and weights."""

import gc
import math
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.matching import scoring
from registry.matching.scoring import Candidate, Need, Weights

NOW = datetime(2026, 11, 26, tzinfo=UTC)
BANDS = [*scoring.BAND_CLOSENESS, None]


def clinician(**kw: object) -> Candidate:
    base = Candidate(
        id="c1",
        kind="clinician",
        name="A",
        band="under_5_km",
        remote_capable=False,
        last_verified_at=NOW - timedelta(days=10),
    )
    return msgspec.structs.replace(base, **kw)


def program(**kw: object) -> Candidate:
    base = Candidate(
        id="p1",
        kind="peer_program",
        name="P",
        band="under_5_km",
        remote_capable=False,
        side="survivors",
        last_verified_at=NOW - timedelta(days=10),
    )
    return msgspec.structs.replace(base, **kw)


@pytest.mark.parametrize(
    ("need", "specialties", "expected"),
    [
        ("people_who_use_violence", {"people_who_use_violence"}, 1.0),
        ("people_who_use_violence", {"survivors"}, 0.0),
        ("survivors", {"survivors", "people_who_use_violence"}, 1.0),
        ("survivors", set(), 0.5),
        (None, {"survivors"}, 0.5),
        ("both", {"survivors"}, 0.75),
        ("both", {"survivors", "people_who_use_violence"}, 1.0),
    ],
)
def test_side_fit_for_partners(need: str | None, specialties: set[str], expected: float) -> None:
    assert scoring.side_fit(need, clinician(specialties=frozenset(specialties))) == expected


def test_side_fit_for_programs() -> None:
    assert scoring.side_fit("survivors", program(side="survivors")) == 1.0
    assert scoring.side_fit("survivors", program(side="both")) == 1.0
    assert scoring.side_fit("survivors", program(side="people_who_use_violence")) == 0.0


def test_closeness_decays_with_band() -> None:
    values = [scoring.closeness(b, False) for b in scoring.BAND_CLOSENESS]
    assert values == sorted(values, reverse=True)
    assert scoring.closeness(None, True) == scoring.REMOTE_CLOSENESS
    assert scoring.closeness(None, False) == 0.0


def test_overlap_is_none_without_a_request() -> None:
    assert scoring.overlap(frozenset(), frozenset({"en"})) is None
    assert scoring.overlap(frozenset({"en", "nl"}), frozenset({"en"})) == 0.5


def test_kind_strengths() -> None:
    assert (
        scoring.kind_strength(clinician(ipv_trained=True, specialties=frozenset({"high_risk_clients"})))
        == 1.0
    )
    assert scoring.kind_strength(clinician()) == 0.0
    evaluator = clinician(kind="evaluator", methods=frozenset({"pre_post", "qualitative", "randomised"}))
    assert scoring.kind_strength(evaluator) == 1.0
    trainer = clinician(kind="trainer", courses=3, certifications=1)
    assert scoring.kind_strength(trainer) == pytest.approx(1.0)
    assert scoring.kind_strength(program(evaluation_stage="published", open_to_mentoring=True)) == 1.0
    assert scoring.kind_strength(program()) == 0.0


def test_freshness_steps() -> None:
    assert scoring.freshness(NOW - timedelta(days=30), NOW) == 1.0
    assert scoring.freshness(NOW - timedelta(days=200), NOW) == 0.6
    assert scoring.freshness(NOW - timedelta(days=400), NOW) == 0.2
    assert scoring.freshness(None, NOW) == 0.0


candidate_strategy = st.builds(
    Candidate,
    id=st.text(min_size=1, max_size=4),
    kind=st.sampled_from(["clinician", "treatment_program", "evaluator", "trainer"]),
    name=st.text(max_size=5),
    band=st.sampled_from(BANDS),
    remote_capable=st.booleans(),
    specialties=st.frozensets(st.sampled_from(["trauma", "high_risk_clients", "substance_use"])),
    populations=st.frozensets(st.sampled_from(["women", "men", "youth"])),
    languages=st.frozensets(st.sampled_from(["en", "nl", "es"])),
    ipv_trained=st.booleans(),
    methods=st.frozensets(st.sampled_from(["pre_post", "qualitative"])),
    courses=st.integers(0, 5),
    certifications=st.integers(0, 2),
    accepting_partnerships=st.booleans(),
    last_verified_at=st.one_of(st.none(), st.integers(0, 800).map(lambda d: NOW - timedelta(days=d))),
)
need_strategy = st.builds(
    Need,
    side=st.sampled_from(["survivors", "people_who_use_violence"]),
    populations=st.frozensets(st.sampled_from(["women", "men", "youth"])),
    languages=st.frozensets(st.sampled_from(["en", "nl", "es"])),
)


@given(need_strategy, candidate_strategy, candidate_strategy)
def test_the_other_side_never_outranks_the_same_side(need: Need, a: Candidate, b: Candidate) -> None:
    assert need.side is not None
    other = "survivors" if need.side == "people_who_use_violence" else "people_who_use_violence"
    same_side = msgspec.structs.replace(a, specialties=a.specialties | {need.side})
    other_side = msgspec.structs.replace(b, specialties=b.specialties | {other}, band=a.band)
    assert scoring.score(need, same_side, NOW).score > scoring.score(need, other_side, NOW).score


@given(need_strategy, candidate_strategy)
def test_scores_are_between_zero_and_one(need: Need, candidate: Candidate) -> None:
    value = scoring.score(need, candidate, NOW).score
    assert math.isfinite(value)
    assert 0.0 <= value <= 1.0


def test_nearer_scores_higher_all_else_equal() -> None:
    need = Need(side="survivors")
    near = scoring.score(need, clinician(band="under_5_km"), NOW).score
    far = scoring.score(need, clinician(band="50_to_100_km"), NOW).score
    assert near > far


def test_rank_breaks_ties_by_band_then_name_then_id() -> None:
    need = Need()
    same = {"ipv_trained": True, "band": "10_to_25_km"}
    cands = [
        clinician(id="2", name="B", **same),
        clinician(id="1", name="B", **same),
        clinician(id="3", name="A", **same),
    ]
    ranked = scoring.rank(need, cands, NOW, Weights(), limit=3)
    assert [s.candidate.id for s in ranked] == ["3", "1", "2"]
    assert scoring.rank(need, cands, NOW, Weights(), limit=1)[0].candidate.id == "3"


def test_reasons_name_the_factors() -> None:
    need = Need(side="survivors", populations=frozenset({"women"}))
    c = clinician(
        specialties=frozenset({"survivors", "high_risk_clients"}),
        ipv_trained=True,
        populations=frozenset({"women"}),
        remote_capable=True,
    )
    codes = {r.code for r in scoring.score(need, c, NOW).reasons}
    assert codes >= {
        "serves_same_side",
        "population_overlap",
        "ipv_trained",
        "high_risk_experience",
        "accepting_partnerships",
        "remote_available",
        "recently_verified",
        "nearby",
    }
    evaluated = program(evaluation_stage="formally_evaluated", open_to_mentoring=True)
    assert {"evidence_formally_evaluated", "open_to_mentoring"} <= {
        r.code for r in scoring.score(need, evaluated, NOW).reasons
    }


def test_weights_from_json() -> None:
    assert Weights.from_json('{"distance": 0.9}').distance == 0.9
    assert Weights.from_json("") == Weights()
    for bad in ('{"nope": 1}', '{"distance": -1}', "[1]"):
        with pytest.raises(ValueError, match="match weights"):
            Weights.from_json(bad)


def test_weights_change_the_order() -> None:
    need = Need()
    near_untrained = clinician(id="near", name="near", band="under_5_km", ipv_trained=False)
    far_trained = clinician(
        id="far",
        name="far",
        band="25_to_50_km",
        ipv_trained=True,
        specialties=frozenset({"high_risk_clients"}),
    )
    distance_heavy = Weights.from_json('{"distance": 5}')
    strength_heavy = Weights.from_json('{"kind_strength": 5}')
    assert scoring.rank(need, [near_untrained, far_trained], NOW, distance_heavy, 1)[0].candidate.id == "near"
    assert scoring.rank(need, [near_untrained, far_trained], NOW, strength_heavy, 1)[0].candidate.id == "far"


any_candidate = st.builds(
    Candidate,
    id=st.text(min_size=1, max_size=4),
    kind=st.sampled_from(["clinician", "treatment_program", "evaluator", "trainer", "peer_program"]),
    name=st.text(max_size=5),
    band=st.sampled_from(BANDS),
    remote_capable=st.booleans(),
    side=st.sampled_from([None, "survivors", "people_who_use_violence", "both"]),
    specialties=st.frozensets(
        st.sampled_from(["survivors", "people_who_use_violence", "couples_family", "high_risk_clients"])
    ),
    populations=st.frozensets(st.sampled_from(["women", "men", "youth"])),
    formats=st.frozensets(st.sampled_from(["peer_led_support_group", "twelve_step"])),
    languages=st.frozensets(st.sampled_from(["en", "nl", "es"])),
    ipv_trained=st.booleans(),
    methods=st.frozensets(st.sampled_from(["pre_post", "qualitative"])),
    courses=st.integers(0, 5),
    certifications=st.integers(0, 2),
    evaluation_stage=st.sampled_from(list(scoring.STAGE_EVIDENCE)),
    open_to_mentoring=st.booleans(),
    accepting_partnerships=st.booleans(),
    last_verified_at=st.one_of(st.none(), st.integers(0, 800).map(lambda d: NOW - timedelta(days=d))),
)
any_need = st.builds(
    Need,
    side=st.sampled_from([None, "survivors", "people_who_use_violence", "both"]),
    populations=st.frozensets(st.sampled_from(["women", "men", "youth"])),
    formats=st.frozensets(st.sampled_from(["peer_led_support_group", "twelve_step"])),
    languages=st.frozensets(st.sampled_from(["en", "nl", "es"])),
)
any_weights = st.builds(
    Weights,
    **{name: st.floats(0, 1) for name in ("distance", "population", "language", "format", "kind_strength")},
)


@given(any_need, any_candidate, any_weights)
def test_the_prepared_score_is_the_score(need: Need, candidate: Candidate, weights: Weights) -> None:
    """Ranking uses the need-independent parts worked out once per candidate: same numbers."""
    prepared = scoring.prepare(candidate, NOW, weights)
    assert scoring.need_scorer(need, weights)(prepared) == scoring.score(need, candidate, NOW, weights).score


@given(any_need, st.lists(any_candidate, max_size=12, unique_by=lambda c: c.id), st.integers(1, 5))
def test_rank_orders_by_score_then_band_name_and_id(
    need: Need, candidates: list[Candidate], limit: int
) -> None:
    ranked = scoring.rank(need, candidates, NOW, Weights(), limit)
    expected = sorted(
        (scoring.score(need, c, NOW) for c in candidates),
        key=lambda s: (-s.score, scoring.band_order(s.candidate.band), s.candidate.name, s.candidate.id),
    )[:limit]
    assert [(s.candidate.id, s.score, s.reasons) for s in ranked] == [
        (s.candidate.id, s.score, s.reasons) for s in expected
    ]


def test_cached_candidates_are_invisible_to_the_garbage_collector() -> None:
    # The match caches keep thousands of these: a full collection would walk each one.
    candidate = program(populations=frozenset({"women"}))
    prepared = scoring.prepare(candidate, NOW, Weights())
    assert not gc.is_tracked(candidate)
    assert not gc.is_tracked(prepared)
    assert prepared.candidate is candidate
