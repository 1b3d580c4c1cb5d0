"""Match scoring, the pure part: sides kept apart, an honest distance model, breakdowns that add up,
reasons that are all true, and at most two of one organization."""

import gc
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.locations.geo import DISTANCE_BANDS, distance_band
from registry.matching import arrays, scoring
from registry.matching.scoring import (
    BAND_CLOSENESS,
    MAX_PER_ORGANIZATION,
    REASONS,
    Candidate,
    Need,
    Placement,
    Weights,
    choose,
    offered,
    order_key,
    score,
)

NOW = datetime(2026, 12, 1, tzinfo=UTC)
BANDS = list(BAND_CLOSENESS)
IN_REACH = [Placement(band, True) for band in BANDS]
REMOTE = [Placement(None, False, where) for where in scoring.REMOTE_CLOSENESS]


def candidate(**kw: object) -> Candidate:
    values: dict[str, object] = {
        "id": "c1",
        "kind": "clinician",
        "name": "A",
        "organization_id": "o1",
        "remote_capable": True,
        "country": "NL",
        "continent": "EU",
        "last_verified_at": NOW - timedelta(days=10),
    }
    values.update(kw)
    return Candidate(**values)  # type: ignore[arg-type]


sides = st.sampled_from([None, "survivors", "people_who_use_violence", "both"])
codes = st.frozensets(st.sampled_from(["women", "men", "lgbtq", "youth"]), max_size=3)
languages = st.frozensets(st.sampled_from(["en", "nl", "fr", "ar"]), max_size=2)
kinds = st.sampled_from(["clinician", "treatment_program", "evaluator", "trainer", "peer_program"])
needs = st.builds(
    Need,
    side=sides,
    populations=codes,
    formats=st.frozensets(st.sampled_from(["twelve_step", "co_facilitated"]), max_size=2),
    languages=languages,
    inferred_languages=languages,
    country=st.sampled_from([None, "NL", "FR", "CA"]),
    continent=st.sampled_from([None, "EU", "NA"]),
)
candidates = st.builds(
    candidate,
    kind=kinds,
    side=st.sampled_from([None, "survivors", "people_who_use_violence", "both"]),
    specialties=st.frozensets(st.sampled_from(["survivors", "people_who_use_violence", "high_risk_clients"])),
    populations=codes,
    languages=languages,
    ipv_trained=st.booleans(),
    methods=st.frozensets(st.sampled_from(["qualitative", "pre_post", "randomised"])),
    course_topics=st.frozensets(st.sampled_from(["ipv_basics", "facilitation", "evaluation"])),
    evaluation_stage=st.sampled_from(list(scoring.STAGE_EVIDENCE)),
    open_to_mentoring=st.booleans(),
    accepting_partnerships=st.booleans(),
    last_verified_at=st.sampled_from([None, NOW, NOW - timedelta(days=200), NOW - timedelta(days=800)]),
    country=st.sampled_from([None, "NL", "FR", "CA"]),
)
placements = st.sampled_from(IN_REACH + REMOTE)


@given(needs, candidates, placements)
def test_a_breakdown_adds_up_to_the_score_and_its_weights_to_one(
    need: Need, c: Candidate, where: Placement
) -> None:
    scored = score(need, c, where, NOW)
    assert 0.0 <= scored.score <= 1.0
    assert sum(p.contribution for p in scored.breakdown) == pytest.approx(scored.score, abs=1e-9)
    assert sum(p.weight for p in scored.breakdown) == pytest.approx(1.0, abs=1e-3)
    for part in scored.breakdown:
        assert 0.0 <= part.value <= 1.0
        assert part.contribution == pytest.approx(part.weight * part.value, abs=1e-4)
    assert len({p.factor for p in scored.breakdown}) == len(scored.breakdown)


@pytest.mark.parametrize("kind", ["clinician", "trainer", "evaluator", "treatment_program", "peer_program"])
@pytest.mark.parametrize("side", [None, "survivors"])
@pytest.mark.parametrize("populations", [frozenset(), frozenset({"x"})])
@pytest.mark.parametrize("languages", [frozenset(), frozenset({"en"})])
def test_the_shown_weights_add_up_to_one_exactly_and_a_perfect_fit_scores_one(
    kind: str, side: str | None, populations: frozenset[str], languages: frozenset[str]
) -> None:
    """Four decimals each: 0.3, 0.2, 0.06 and 0.06 of 0.62 round to 0.4839 + 0.3226 + 0.0968 * 2,
    1.0001; a candidate perfect on each then scored above 1."""
    need = Need(side=side, populations=populations, formats=frozenset({"y"}), languages=languages)
    perfect = candidate(
        kind=kind,
        side=side,
        specialties=frozenset({side} if side else ()),
        populations=populations,
        formats=need.formats,
        languages=languages,
        ipv_trained=True,
        evaluation_stage="published",
        certifications=2,
        course_topics=frozenset(scoring.DEFAULT_TOPICS),
        methods=frozenset({"rct"}),
    )
    scored = score(need, perfect, IN_REACH[0], NOW)
    assert sum(round(p.weight * 10_000) for p in scored.breakdown) == 10_000
    assert scored.score <= 1.0
    assert sum(p.contribution for p in scored.breakdown) == pytest.approx(scored.score, abs=1e-9)


@given(needs, candidates, st.sampled_from(IN_REACH), st.sampled_from(REMOTE))
def test_in_reach_never_scores_below_an_identical_remote_candidate(
    need: Need, c: Candidate, near: Placement, remote: Placement
) -> None:
    assert score(need, c, near, NOW).score > score(need, c, remote, NOW).score


def test_closer_is_better_and_home_beats_abroad() -> None:
    need = Need(country="FR", continent="EU")
    ordered = [score(need, candidate(), where, NOW).score for where in IN_REACH + REMOTE]
    assert ordered == sorted(ordered, reverse=True) and len(set(ordered)) == len(ordered)


@given(needs, candidates)
def test_sides_are_kept_apart(need: Need, c: Candidate) -> None:
    served = scoring.sides_served(c)
    if not offered(need, c):
        assert need.side in ("survivors", "people_who_use_violence")
        assert served and need.side not in served
    elif need.side in ("survivors", "people_who_use_violence") and served:
        assert need.side in served  # offered: it serves the side asked (maybe both)
    if need.side in (None, "both"):
        assert offered(need, c)  # `both` sees both sides


def test_who_is_offered_to_whom() -> None:
    pwuv, survivors, both = "people_who_use_violence", "survivors", "both"
    program = {s: candidate(kind="peer_program", side=s) for s in (pwuv, survivors, both)}
    assert not offered(Need(side=pwuv), program[survivors])
    assert not offered(Need(side=survivors), program[pwuv])
    assert offered(Need(side=pwuv), program[both]) and offered(Need(side=survivors), program[both])
    assert all(offered(Need(side=both), p) for p in program.values())
    only_other = candidate(specialties=frozenset({survivors, "trauma"}))
    assert not offered(Need(side=pwuv), only_other)
    assert offered(Need(side=pwuv), candidate(specialties=frozenset({"trauma"})))  # says nothing
    assert offered(Need(side=pwuv), candidate(specialties=frozenset({survivors, pwuv})))


@given(needs, candidates, placements)
def test_every_reason_is_a_documented_code_and_true(need: Need, c: Candidate, where: Placement) -> None:
    found = {r.code: r.text for r in score(need, c, where, NOW).reasons}
    assert set(found) <= set(REASONS)
    if "ipv_trained" in found:
        assert c.ipv_trained
    if "not_ipv_trained" in found:
        assert not c.ipv_trained and c.kind in ("clinician", "treatment_program")
    if "no_shared_language" in found:
        assert need.languages and c.languages and not need.languages & c.languages
    if "not_accepting" in found:
        assert not c.accepting_partnerships
    if "nearby" in found:
        assert where.band in ("under_5_km", "5_to_10_km")
    if "far" in found:
        assert where.band in ("50_to_100_km", "over_100_km")
    if c.kind == "peer_program":
        stage_reasons = [code for code in found if code.startswith("evidence_")]
        assert stage_reasons == [scoring.STAGE_REASONS[c.evaluation_stage]]


def test_the_evaluation_reason_says_the_actual_stage() -> None:
    for stage, code in scoring.STAGE_REASONS.items():
        reasons = score(
            Need(), candidate(kind="peer_program", side="survivors", evaluation_stage=stage), IN_REACH[0], NOW
        ).reasons
        assert code in [r.code for r in reasons]
    running = score(
        Need(),
        candidate(kind="peer_program", side="both", evaluation_stage="pilot_planned"),
        IN_REACH[0],
        NOW,
    )
    assert "Plans a pilot" in next(r.text for r in running.reasons if r.code.startswith("evidence_"))


def test_negative_reasons_say_what_is_missing() -> None:
    far_away = candidate(
        languages=frozenset({"en"}),
        service_radius_km=10,
        accepting_partnerships=False,
        last_verified_at=NOW - timedelta(days=500),
    )
    scored = score(
        Need(languages=frozenset({"nl"})), far_away, Placement(None, False, "same_country", True), NOW
    )
    texts = {r.code: r.text for r in scored.reasons}
    assert texts["serves_area_up_to"] == "Serves its area up to 10 km; works with you remotely."
    assert {"no_shared_language", "not_accepting", "not_recently_verified", "not_ipv_trained"} <= set(texts)
    elsewhere = score(Need(), candidate(), Placement(None, False, "elsewhere"), NOW)
    assert "remote_elsewhere" in {r.code for r in elsewhere.reasons}


def test_a_country_language_is_a_soft_preference_when_none_was_named() -> None:
    need = Need(inferred_languages=frozenset({"nl"}), country="NL", continent="EU")
    local = score(need, candidate(languages=frozenset({"nl"})), IN_REACH[2], NOW)
    english = score(need, candidate(languages=frozenset({"en"})), IN_REACH[2], NOW)
    assert local.score > english.score
    named = Need(languages=frozenset({"nl"}))
    part = {p.factor: p for p in score(named, candidate(), IN_REACH[2], NOW).breakdown}["language"]
    soft = {p.factor: p for p in local.breakdown}["language"]
    assert soft.weight < part.weight  # inferred counts less than named
    assert "country_language" in {r.code for r in local.reasons}


def test_a_trainer_is_matched_by_what_its_courses_cover() -> None:
    need = Need(topics=frozenset({"ipv_basics", "high_risk_clients"}))
    covering = candidate(kind="trainer", course_topics=frozenset({"ipv_basics", "high_risk_clients"}))
    many_others = candidate(kind="trainer", course_topics=frozenset({"evaluation", "facilitation"}))
    assert score(need, covering, IN_REACH[0], NOW).score > score(need, many_others, IN_REACH[0], NOW).score
    assert "courses_miss" in {r.code for r in score(need, many_others, IN_REACH[0], NOW).reasons}


def test_freshness_is_a_factor_not_a_gate() -> None:
    stale = candidate(
        last_verified_at=NOW - timedelta(days=900),
        ipv_trained=True,
        specialties=frozenset({"high_risk_clients"}),
    )
    fresh = candidate(last_verified_at=NOW, ipv_trained=False)
    assert score(Need(), stale, IN_REACH[0], NOW).score > score(Need(), fresh, IN_REACH[0], NOW).score


def scored_of(org: str, value: float, name: str) -> scoring.Scored:
    c = candidate(id=name, name=name, organization_id=org)
    return scoring.Scored(c, IN_REACH[0], value, (), ())


def test_at_most_two_of_one_organization_unless_too_few_others() -> None:
    ranked = sorted(
        [
            scored_of("big", 0.9, "a"),
            scored_of("big", 0.89, "b"),
            scored_of("big", 0.88, "c"),
            scored_of("other", 0.5, "d"),
            scored_of("third", 0.4, "e"),
        ],
        key=order_key,
    )
    chosen, held = choose(ranked, 3)
    assert [s.candidate.name for s in chosen] == ["a", "b", "d"] and held == 1
    chosen, held = choose(ranked, 5)  # too few others: the held-back one fills the list
    assert [s.candidate.name for s in chosen] == ["a", "b", "c", "d", "e"] and held == 0
    assert MAX_PER_ORGANIZATION == 2


def test_ties_break_by_reach_band_name_and_id() -> None:
    a = scoring.Scored(candidate(id="2", name="B"), IN_REACH[1], 0.5, (), ())
    b = scoring.Scored(candidate(id="1", name="B"), IN_REACH[1], 0.5, (), ())
    c = scoring.Scored(candidate(id="0", name="A"), IN_REACH[2], 0.5, (), ())
    d = scoring.Scored(candidate(id="9", name="A"), REMOTE[0], 0.5, (), ())
    assert [s.candidate.id for s in sorted([d, c, a, b], key=order_key)] == ["1", "2", "0", "9"]


def test_weights_from_json() -> None:
    assert Weights.from_json('{"distance": 0.5}').distance == 0.5
    for bad in ('{"nope": 1}', '{"distance": -1}', "[1]"):
        with pytest.raises(ValueError, match="match weights"):
            Weights.from_json(bad)


def test_cached_candidates_are_invisible_to_the_garbage_collector() -> None:
    assert not gc.is_tracked(candidate())


# --- quick scores: what the ranking runs on before the few kept are scored in full ----------------


@given(
    needs,
    kinds,
    st.lists(candidates, min_size=1, max_size=12),
    st.sampled_from([NOW, NOW + timedelta(days=95)]),
)
def test_the_array_scores_are_the_quick_scores_and_within_the_margin_of_the_reported_ones(
    need: Need, kind: str, drawn: list[Candidate], now: datetime
) -> None:
    pool = [msgspec.structs.replace(c, kind=kind, id=f"c{i}") for i, c in enumerate(drawn)]
    rows = arrays.Candidates.of(pool)
    remote = rows.remote_closeness(need)
    quick = scoring.quick_scorer(need, kind, Weights())
    values = rows.quick(need, kind, Weights(), remote, now)
    for c, value, closeness in zip(pool, values.tolist(), remote.tolist(), strict=True):
        assert value == pytest.approx(quick(c, closeness, now), abs=1e-12)
        where = Placement(None, False, scoring.remote_where(need, c))
        assert closeness == scoring.closeness(where)
        assert abs(value - score(need, c, where, now).score) < scoring.QUICK_MARGIN
    offered_ = rows.offered(need).tolist()
    assert offered_ == [offered(need, c) for c in pool]


@given(st.lists(needs, min_size=2, max_size=6), kinds, st.lists(candidates, min_size=1, max_size=12))
def test_the_tables_kept_for_one_request_never_answer_another(
    asked: list[Need], kind: str, drawn: list[Candidate]
) -> None:
    """One set of candidates serves request after request: what a table keeps for one request's
    populations (say) must be what the next request, with other ones, would compute."""
    pool = [msgspec.structs.replace(c, kind=kind, id=f"c{i}") for i, c in enumerate(drawn)]
    rows = arrays.Candidates.of(pool)
    for need in asked:
        quick = scoring.quick_scorer(need, kind, Weights())
        remote = rows.remote_closeness(need)
        values = rows.quick(need, kind, Weights(), remote, NOW)
        for c, value, closeness in zip(pool, values.tolist(), remote.tolist(), strict=True):
            assert value == pytest.approx(quick(c, closeness, NOW), abs=1e-12)
        assert rows.offered(need).tolist() == [offered(need, c) for c in pool]


@given(st.lists(st.integers(0, 20), min_size=0, max_size=300), st.integers(0, 20), st.integers(1, 70))
def test_best_first_is_every_usable_row_above_the_floor_in_order_however_many(
    drawn: list[int], floor: int, first: int
) -> None:
    """Past the first rows picked out, the rest come in order too (ties in row order)."""
    values = arrays.floats([v / 20 for v in drawn])
    usable = np.array([v % 7 != 3 for v in drawn], dtype=bool)
    found = list(arrays.best_first(values, usable, lambda: floor / 20, first=first))
    expected = sorted((r for r, v in enumerate(drawn) if v % 7 != 3 and v >= floor), key=lambda r: -drawn[r])
    assert [drawn[r] for r in found] == [drawn[r] for r in expected]
    assert sorted(found) == sorted(expected)


def test_array_bands_put_a_boundary_in_the_farther_band() -> None:
    km = [0.0, 4.999, 5.0, 9.99, 10.0, 25.0, 49.9, 50.0, 99.99, 100.0, 3000.0]
    found = arrays.band_closeness(arrays.floats([k * 1000 for k in km])).tolist()
    assert found == [BAND_CLOSENESS[distance_band(k)] for k in km]
    assert len(DISTANCE_BANDS) == len(BAND_CLOSENESS)


def test_best_first_stops_below_a_floor_raised_as_the_list_fills() -> None:
    values = arrays.floats([0.2, 0.9, 0.5, 0.7, 0.95, 0.1])
    usable = values > 0.15  # the last is not offered
    taken: list[int] = []
    for row in arrays.best_first(values, usable, lambda: 0.6 if len(taken) >= 2 else 0.0):
        taken.append(row)
    assert taken == [4, 1, 3]  # 0.95, 0.9, then 0.7 >= the raised floor; 0.5 is below it
    assert list(arrays.best_first(values, values > 2, lambda: 0.0)) == []


@given(
    st.lists(st.integers(0, 20), min_size=0, max_size=300),
    st.integers(0, 20),
    st.integers(1, 70),
    st.integers(2, 9),
)
def test_best_first_with_keep_is_best_first_over_the_rows_kept(
    drawn: list[int], floor: int, first: int, every: int
) -> None:
    """`keep` takes out rows as a usable mask would (the remote ranking's rows within the radius)."""
    values = arrays.floats([v / 20 for v in drawn])
    usable = np.array([v % 7 != 3 for v in drawn], dtype=bool)
    kept = np.array([r % every != 0 for r in range(len(drawn))], dtype=bool)
    asked: list[int] = []

    def keep(rows: Any) -> Any:
        asked.extend(rows.tolist())
        return kept[rows]

    found = list(arrays.best_first(values, usable, lambda: floor / 20, first=first, keep=keep))
    expected = list(arrays.best_first(values, usable & kept, lambda: floor / 20, first=first))
    assert [drawn[r] for r in found] == [drawn[r] for r in expected]  # ties in either order
    assert sorted(found) == sorted(expected)
    assert len(asked) == len(set(asked)) and all(usable[r] for r in asked)


def test_best_first_asks_keep_only_of_the_rows_it_may_reach() -> None:
    values = arrays.floats([r / 1000 for r in range(1000)])
    asked: list[int] = []

    def keep(rows: Any) -> Any:
        asked.extend(rows.tolist())
        return rows % 2 == 0

    taken: list[int] = []
    for row in arrays.best_first(values, values >= 0, lambda: 0.993 if len(taken) >= 3 else 0.0, keep=keep):
        taken.append(row)
    assert taken == [998, 996, 994]  # the odd ones taken out; the floor then rises above the rest
    assert sorted(asked) == list(range(936, 1000))  # the best 64, not the other 936


def test_best_first_past_the_first_rows_asks_keep_of_four_times_as_many_at_a_time() -> None:
    values = arrays.floats([r / 1000 for r in range(1000)])
    asked: list[int] = []

    def keep(rows: Any) -> Any:
        asked.extend(rows.tolist())
        return rows < 800  # the best 200 are taken out (within the radius, say)

    taken: list[int] = []
    for row in arrays.best_first(values, values >= 0, lambda: 0.797 if len(taken) >= 3 else 0.0, keep=keep):
        taken.append(row)
    assert taken == [799, 798, 797]
    assert sorted(asked) == list(range(680, 1000))  # the best 64, then the next 256: not the other 680
