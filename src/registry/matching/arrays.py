"""A kind's candidates as arrays, one row each, so one request's quick scores (the values of
`scoring.quick_scorer`) come for thousands of them at once.

What a factor reads of a candidate takes few distinct values (a hundred sets of populations among
thousands of listings): each row holds the number of its value, and a request evaluates the
factor once per distinct value, with scoring's own functions on a candidate that has it, then
reads the row's from that table (kept per part of the request the function reads: the next
request asking for the same populations reads it again). Only distance and freshness are computed
per row."""

import functools
from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from registry.locations.geo import DISTANCE_BANDS
from registry.matching import scoring

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int32]

_BAND_UPPERS = np.array([upper for upper, _ in DISTANCE_BANDS[:-1]], dtype=np.float64)
_BAND_VALUES = np.array([scoring.BAND_CLOSENESS[code] for _, code in DISTANCE_BANDS], dtype=np.float64)


_ANY_NEED: Final = scoring.Need()  # strength reads the request only for trainers


class Table:
    """The distinct values of one thing the candidates hold, and which one each row has."""

    KEPT = 256  # tables of the function's values, per part of a request

    def __init__(self, candidates: Sequence[scoring.Candidate], key: Callable[[scoring.Candidate], Hashable]):
        keys = list(map(key, candidates))
        # Any candidate with a value stands for it: the functions read only what `key` reads.
        example = dict(zip(keys, candidates, strict=True))
        number = {value: n for n, value in enumerate(example)}
        self.examples: list[scoring.Candidate] = list(example.values())
        self.ids: Ints = np.fromiter(map(number.__getitem__, keys), dtype=np.int32, count=len(keys))
        self._kept: dict[Hashable, Floats] = {}

    def values(self, asked: Hashable, function: Callable[[scoring.Candidate], float]) -> Floats:
        """`function` of each row's value, evaluated once per distinct one and kept under `asked`:
        all that `function` reads of the request (and which factor it is)."""
        table = self._kept.get(asked)
        if table is None:
            if len(self._kept) >= self.KEPT:
                self._kept.clear()
            table = np.array([function(c) for c in self.examples], dtype=np.float64)
            self._kept[asked] = table
        return table[self.ids]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NEVER = np.iinfo(np.int64).min
_MICROSECOND = timedelta(microseconds=1)
_FRESH = timedelta(days=90) // _MICROSECOND
_RECENT = timedelta(days=365) // _MICROSECOND


def _microseconds(at: datetime | None) -> int:
    return _NEVER if at is None else (at - _EPOCH) // _MICROSECOND


class Candidates:
    """A kind's candidates, in a fixed order, as scoring reads them."""

    def __init__(self, candidates: Sequence[scoring.Candidate]) -> None:
        self.candidates = tuple(candidates)
        self.sides = Table(self.candidates, scoring.sides_served)
        self.populations = Table(self.candidates, attrgetter("populations"))
        self.languages = Table(self.candidates, attrgetter("languages"))
        self.formats = Table(self.candidates, attrgetter("formats"))
        # Strength reads the request only for trainers (the topics): the rest of it is the row's.
        self.strengths = Table(
            self.candidates,
            lambda c: (
                (c.kind, c.course_topics, c.certifications > 0)
                if c.kind == "trainer"
                else (c.kind, scoring.strength(_ANY_NEED, c))
            ),
        )
        self.accepting = np.array([c.accepting_partnerships for c in self.candidates], dtype=np.float64)
        self.verified = np.array([_microseconds(c.last_verified_at) for c in self.candidates], dtype=np.int64)
        self.remote_capable = np.array([c.remote_capable for c in self.candidates], dtype=bool)
        self.service_radius_m = np.array(
            [
                np.inf if c.service_radius_km is None else c.service_radius_km * 1000.0
                for c in self.candidates
            ],
            dtype=np.float64,
        )
        self.places = Table(self.candidates, attrgetter("country", "continent"))

    @functools.cached_property
    def position(self) -> dict[str, int]:
        """Each listing id's row (made when first asked: a remote pool's always is, a list near a
        point only to leave one listing out)."""
        return {c.id: row for row, c in enumerate(self.candidates)}

    def __len__(self) -> int:
        return len(self.candidates)

    def weight(self) -> int:
        """Roughly the bytes held, for the caches' budgets (the candidates themselves are
        shared with the other lists that hold them and weighed where they are made)."""
        return 120 * len(self.candidates)

    def remote_closeness(self, need: scoring.Need) -> Floats:
        return self.places.values(
            ("remote", need.country, need.continent),
            lambda c: scoring.REMOTE_CLOSENESS[scoring.remote_where(need, c)],
        )

    def offered(self, need: scoring.Need) -> npt.NDArray[np.bool_]:
        return self.sides.values(("offered", need.side), lambda c: float(scoring.offered(need, c))) > 0

    def quick(
        self, need: scoring.Need, kind: str, weights: scoring.Weights, closeness: Floats, now: datetime
    ) -> Floats:
        """scoring.quick_scorer(need, kind, weights)(candidate, closeness, now) for every row."""
        share = scoring.shares(need, kind, weights)
        value = share["distance"] * closeness
        value += share["strength"] * self.strengths.values(
            ("strength", need.topics), lambda c: scoring.strength(need, c)
        )
        value += share["freshness"] * freshness(self.verified, now)
        if share["accepting"]:
            value += share["accepting"] * self.accepting
        if share["side"]:
            value += share["side"] * self.sides.values(
                ("side", need.side), lambda c: scoring.side_fit(need, c) or 0.0
            )
        if share["population"]:
            value += share["population"] * self.populations.values(
                ("population", need.populations), lambda c: scoring.overlap(need.populations, c.populations)
            )
        if share["language"]:
            value += share["language"] * self.languages.values(
                ("language", need.languages, need.inferred_languages), _language(need)
            )
        if share["format"]:
            value += share["format"] * self.formats.values(
                ("format", need.formats), lambda c: scoring.overlap(need.formats, c.formats)
            )
        return value


def _language(need: scoring.Need) -> Callable[[scoring.Candidate], float]:
    def value(candidate: scoring.Candidate) -> float:
        found = scoring.language_value(need, candidate)
        return found[0] if found else 0.0

    return value


def freshness(verified: npt.NDArray[np.int64], now: datetime) -> Floats:
    """scoring.freshness of each row's last verification (microseconds since 1970; _NEVER)."""
    age = _microseconds(now) - verified
    out = np.where(age <= _FRESH, 1.0, np.where(age <= _RECENT, 0.6, 0.2))
    out[verified == _NEVER] = 0.0
    return out


def band_closeness(meters: Floats) -> Floats:
    """scoring.BAND_CLOSENESS of each distance's band (a distance on a boundary belongs to the
    farther band, as geo.distance_band has it)."""
    return _BAND_VALUES[np.searchsorted(_BAND_UPPERS, meters / 1000, side="right")]


def best_first(
    values: Floats, usable: npt.NDArray[np.bool_], floor: Callable[[], float], first: int = 64
) -> Any:
    """The usable rows' positions, highest value first, while the value is at least `floor()`
    (read again after each row: the caller raises it as its list fills). The best `first` are
    picked out and sorted; the rest only if the list is not settled by then."""
    rows = np.flatnonzero(usable)
    if not len(rows):
        return
    scores = values[rows]
    if len(rows) > first:
        best = np.argpartition(-scores, first - 1)  # the first `first`: the best, in no order
        parts = [best[:first], best[first:]]
    else:
        parts = [np.arange(len(rows))]
    for part in parts:
        ordered = part[np.argsort(-scores[part], kind="stable")]
        for row, value in zip(rows[ordered].tolist(), scores[ordered].tolist(), strict=True):
            if value < floor():
                return
            yield row


def floats(values: Sequence[Any]) -> Floats:
    return np.array(values, dtype=np.float64)
