"""A kind's candidates as arrays, one row each, so one request's quick scores (the values of
`scoring.quick_scorer`) come for thousands of them at once.

What a factor reads of a candidate takes few distinct values (a hundred sets of populations among
thousands of listings): each row holds the number of its value, and a request evaluates the
factor once per distinct value, with scoring's own functions on a candidate that has it, then
reads the row's from that table (kept per part of the request the function reads: the next
request asking for the same populations reads it again). Only distance and freshness are computed
per row."""

import array
import functools
from collections.abc import Callable, Hashable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any, Final, Generic, NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

from registry.locations.geo import DISTANCE_BANDS
from registry.matching import scoring

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int32]
T = TypeVar("T")

_BAND_UPPERS = np.array([upper for upper, _ in DISTANCE_BANDS[:-1]], dtype=np.float64)
_BAND_VALUES = np.array([scoring.BAND_CLOSENESS[code] for _, code in DISTANCE_BANDS], dtype=np.float64)


_ANY_NEED: Final = scoring.Need()  # strength reads the request only for trainers
_ID: Final = np.dtype("S36")  # an id's text (a UUID's; shorter ones are padded)


def _texts(identifiers: Sequence[Any]) -> npt.NDArray[np.bytes_]:
    """The ids' text (`str` of each) as an array of _ID."""
    texts = [str(identifier) for identifier in identifiers]
    longest = max(texts, key=len, default="")
    if len(longest) > _ID.itemsize:
        raise ValueError(f"an id of at most {_ID.itemsize} characters, not {longest!r}")
    return np.array(texts, dtype=_ID)


class Table:
    """The distinct values of one thing the candidates hold, and which one each row has."""

    KEPT = 256  # tables of the function's values, per part of a request

    def __init__(self, key: Callable[[scoring.Candidate], Hashable]) -> None:
        self._key = key
        self._number: dict[Hashable, int] = {}
        self._made: dict[Hashable, int] = {}  # a row's source (see `add`) -> its value's number
        self._rows = array.array("i")
        # Any candidate with a value stands for it: the functions read only what `key` reads.
        self.examples: list[scoring.Candidate] = []
        self.ids: npt.NDArray[np.integer[Any]] = np.zeros(0, dtype=np.uint16)
        self._kept: dict[Hashable, Floats] = {}

    def add(self, sources: Iterable[Hashable], candidate: Callable[[int], scoring.Candidate]) -> None:
        """Rows whose values are `key` of `candidate(i)` for the i-th; `sources[i]` is all that the
        i-th row's value depends on (a few of its columns), so that a candidate is asked for only
        for a source not seen before: thousands of rows share a few."""
        made, rows = self._made, self._rows
        for i, source in enumerate(sources):
            number = made.get(source)
            if number is None:
                example = candidate(i)
                value = self._key(example)
                number = self._number.get(value)
                if number is None:
                    number = self._number[value] = len(self.examples)
                    self.examples.append(example)
                made[source] = number
            rows.append(number)

    def done(self) -> None:
        # Two bytes a row while the values are few (they are: hundreds, thousands at most).
        self.ids = np.array(self._rows, dtype=np.uint16 if len(self.examples) <= 2**16 else np.int32)
        del self._number, self._made, self._rows

    def example(self, row: int) -> scoring.Candidate:
        """A candidate with the row's value (which is all that `key` reads)."""
        return self.examples[int(self.ids[row])]

    def values(
        self, asked: Hashable, function: Callable[[scoring.Candidate], float], times: float = 1.0
    ) -> Floats:
        """`function` of each row's value (`times` it), evaluated once per distinct one and kept
        under `asked`: all that `function` reads of the request (and which factor it is)."""
        table = self._kept.get(asked)
        if table is None:
            if len(self._kept) >= self.KEPT:
                self._kept.clear()
            table = np.array([function(c) for c in self.examples], dtype=np.float64)
            self._kept[asked] = table
        return np.take(table if times == 1.0 else table * times, self.ids)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NEVER = np.iinfo(np.int64).min
_ALWAYS = np.iinfo(np.int64).max
_MICROSECOND = timedelta(microseconds=1)
_FRESH = timedelta(days=90) // _MICROSECOND
_RECENT = timedelta(days=365) // _MICROSECOND


def _microseconds(at: datetime | None) -> int:
    return _NEVER if at is None else (at - _EPOCH) // _MICROSECOND


def _strength_key(c: scoring.Candidate) -> Hashable:
    # Strength reads the request only for trainers (the topics): the rest of it is the row's.
    if c.kind == "trainer":
        return (c.kind, c.course_topics, c.certifications > 0)
    return (c.kind, scoring.strength(_ANY_NEED, c))


class Sources(NamedTuple, Generic[T]):
    """One thing per table of a list (its key, the table, a part's sources: `Table.add`)."""

    sides: T
    populations: T
    languages: T
    formats: T
    strengths: T
    places: T


class Part(NamedTuple):
    """Rows to add to a list, as columns: one value per row, in the rows' order."""

    ids: Sequence[Any]  # the listings' ids (their text is kept)
    organizations: Sequence[Any]
    accepting: Sequence[bool]
    verified: Sequence[datetime | None]
    remote_capable: Sequence[bool | None]
    service_radius_km: Sequence[float | None]
    planned: Sequence[bool]  # a program still being planned (offered only when asked for)
    sources: Sources[Sequence[Hashable]]
    candidate: Callable[[int], scoring.Candidate]  # the i-th row's, as the tables read it (_KEYS)


_KEYS: Final[Sources[Callable[[scoring.Candidate], Hashable]]] = Sources(
    sides=scoring.sides_served,
    populations=attrgetter("populations"),
    languages=attrgetter("languages"),
    formats=attrgetter("formats"),
    strengths=_strength_key,
    places=attrgetter("country", "continent"),
)


def part_of(candidates: Sequence[scoring.Candidate]) -> Part:
    """Candidates as a part of a list (whose tables read their values of them)."""
    return Part(
        ids=[c.id for c in candidates],
        organizations=[c.organization_id for c in candidates],
        accepting=[c.accepting_partnerships for c in candidates],
        verified=[c.last_verified_at for c in candidates],
        remote_capable=[c.remote_capable for c in candidates],
        service_radius_km=[c.service_radius_km for c in candidates],
        planned=[c.status == "planning" for c in candidates],
        sources=Sources(*([key(c) for c in candidates] for key in _KEYS)),
        candidate=candidates.__getitem__,
    )


class Candidates:
    """A kind's candidates, in a fixed order, as scoring reads them: numbers per row and the few
    distinct values of the rest (`Table`), but no object per listing: a remote pool holds every
    listing of its kind that works remotely (hundreds of thousands in a big directory), so the
    few candidates a request keeps are found by id (`ids`: matching.service._kept)."""

    def __init__(self) -> None:
        """Empty: `add` the rows (in as many parts as they are read), then `done`."""
        self.tables: Sources[Table] = Sources(*(Table(key) for key in _KEYS))
        self._parts: list[tuple[Any, ...]] = []
        # Listings of one organization are many: each row holds its organization's number.
        self._organization_numbers: dict[Any, int] = {}

    @classmethod
    def of(cls, candidates: Iterable[scoring.Candidate]) -> "Candidates":
        made = cls()
        made.add(part_of(list(candidates)))
        made.done()
        return made

    def add(self, part: Part) -> None:
        made: dict[int, scoring.Candidate] = {}

        def candidate(i: int) -> scoring.Candidate:
            found = made.get(i)
            if found is None:
                found = made[i] = part.candidate(i)
            return found

        for table, sources in zip(self.tables, part.sources, strict=True):
            table.add(sources, candidate)
        numbers = self._organization_numbers
        organizations = [numbers.setdefault(o, len(numbers)) for o in part.organizations]
        radius = np.array(part.service_radius_km, dtype=np.float64) * 1000.0
        self._parts.append(
            (
                _texts(part.ids),
                np.array(organizations, dtype=np.int32),
                np.array(part.accepting, dtype=bool),
                np.array([_microseconds(at) for at in part.verified], dtype=np.int64),
                np.array(part.remote_capable, dtype=bool),  # None (unknown) is not remote
                # None: no limit. Whole kilometres, in metres: exact as float32 up to 16,777 km.
                np.where(np.isnan(radius), np.inf, radius).astype(np.float32),
                np.array(part.planned, dtype=bool),
            )
        )

    def done(self) -> None:
        for table in self.tables:
            table.done()
        # Each listing's id as text, and its organization's number: no object per listing (a string
        # each would be made among the rows read, and keep the memory they were read into).
        dtypes = (_ID, np.int32, bool, np.int64, bool, np.float32, bool)
        empty = tuple(np.zeros(0, dtype) for dtype in dtypes)
        columns = [np.concatenate(parts) for parts in zip(*self._parts, empty, strict=True)]
        self.ids, self.organizations, self.accepting, self.verified = columns[:4]
        self.remote_capable, self.service_radius_m, self.planned = columns[4:]
        self._organizations = _texts(list(self._organization_numbers))
        del self._parts, self._organization_numbers
        # freshness(now): from when to when it holds (microseconds), and each row's
        self._freshness: tuple[int, int, Floats] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def id(self, row: int) -> str:
        return str(self.ids[row], "ascii")

    def organization_id(self, row: int) -> str:
        return str(self._organizations[self.organizations[row]], "ascii")

    @functools.cached_property
    def _order(self) -> Ints:
        """The rows in the order of their ids (a copy of the ids in that order would be as big as
        the ids themselves)."""
        order: Ints = np.argsort(self.ids, kind="stable").astype(np.int32)
        return order

    def rows_of(self, ids: npt.NDArray[np.bytes_] | Sequence[str]) -> Ints:
        """The rows of those of the listings `ids` names that are here."""
        found = self.positions(ids)
        rows: Ints = found[found >= 0]
        return rows

    def positions(self, ids: npt.NDArray[np.bytes_] | Sequence[str]) -> Ints:
        """Each of `ids`'s row here, in their order: -1 for one that is not here."""
        wanted = np.asarray(ids, dtype=np.bytes_)
        found: Ints = np.full(len(wanted), -1, dtype=np.int32)
        if not len(self.ids) or not len(wanted):
            return found
        fits = np.char.str_len(wanted) <= _ID.itemsize  # a longer one is none of them
        wanted = wanted.astype(_ID)  # (cut short where it does not fit: masked below)
        order = self._order
        at = order[np.minimum(np.searchsorted(self.ids, wanted, sorter=order), len(order) - 1)]
        hit = fits & (self.ids[at] == wanted)
        found[hit] = at[hit]
        return found

    def weight(self) -> int:
        """Roughly the bytes held, for the caches' budgets: the rows' columns (and their order by id),
        and a candidate standing for each distinct value."""
        columns = (self.ids, self.organizations, self.accepting, self.verified, self.remote_capable)
        rows = sum(c.nbytes for c in (*columns, self.service_radius_m, self.planned, self._organizations))
        rows += sum(t.ids.nbytes for t in self.tables) + 12 * len(self.ids)  # _order, freshness
        return rows + 600 * sum(len(t.examples) for t in self.tables)

    def remote_closeness(self, need: scoring.Need) -> Floats:
        return self.tables.places.values(
            ("remote", need.country, need.continent),
            lambda c: scoring.REMOTE_CLOSENESS[scoring.remote_where(need, c)],
        )

    def offered(self, need: scoring.Need) -> npt.NDArray[np.bool_]:
        return self.tables.sides.values(("offered", need.side), lambda c: float(scoring.offered(need, c))) > 0

    def quick(
        self, need: scoring.Need, kind: str, weights: scoring.Weights, closeness: Floats, now: datetime
    ) -> Floats:
        """scoring.quick_scorer(need, kind, weights)(candidate, closeness, now) for every row."""
        share = scoring.shares(need, kind, weights)
        tables = self.tables
        value = share["distance"] * closeness
        value += tables.strengths.values(
            ("strength", need.topics), lambda c: scoring.strength(need, c), share["strength"]
        )
        value += share["freshness"] * self.freshness(now)
        if share["accepting"]:
            value += share["accepting"] * self.accepting
        if share["side"]:
            value += tables.sides.values(
                ("side", need.side), lambda c: scoring.side_fit(need, c) or 0.0, share["side"]
            )
        if share["population"]:
            value += tables.populations.values(
                ("population", need.populations),
                lambda c: scoring.overlap(need.populations, c.populations),
                share["population"],
            )
        if share["language"]:
            value += tables.languages.values(
                ("language", need.languages, need.inferred_languages), _language(need), share["language"]
            )
        if share["format"]:
            value += tables.formats.values(
                ("format", need.formats), lambda c: scoring.overlap(need.formats, c.formats), share["format"]
            )
        return value

    def freshness(self, now: datetime) -> Floats:
        """`freshness` of every row at `now`: made again only once a row's value has changed since
        (it changes as a verification turns 90 and 365 days old), not for each request."""
        at = _microseconds(now)
        kept = self._freshness
        if kept is not None and kept[0] <= at <= kept[1]:
            return kept[2]
        verified = self.verified[self.verified != _NEVER]
        turns = np.concatenate((verified + _FRESH, verified + _RECENT))  # the last moments of a value
        turns = turns[turns >= at]
        until = int(turns.min()) if len(turns) else _ALWAYS
        found = freshness(self.verified, now)
        self._freshness = (at, until, found)
        return found


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
    values: Floats,
    usable: npt.NDArray[np.bool_],
    floor: Callable[[], float],
    first: int = 64,
    keep: Callable[[npt.NDArray[np.intp]], npt.NDArray[np.bool_]] | None = None,
) -> Any:
    """The usable rows' positions, highest value first, while the value is at least `floor()`
    (read again after each row: the caller raises it as its list fills). The best `first` are
    picked out and sorted, then, only while the list is not settled, the best four times as many
    of the rest, and so on. `keep(rows)` says which of some usable rows are usable after all: asked
    of each such part as it is reached (cheaper than asking of every row when that takes a search:
    a remote pool holds 160,000 rows at 1,000,000 listings, and a request reaches dozens)."""
    rows = np.flatnonzero(usable)
    scores = values[rows]
    rest = np.arange(len(rows))  # positions in `rows`, not yet picked out
    size = first
    while len(rest):
        if len(rest) > size:
            best = np.argpartition(-scores[rest], size - 1)  # the best `size`, in no order
            part, rest = rest[best[:size]], rest[best[size:]]
        else:
            part, rest = rest, rest[:0]
        ordered = part[np.argsort(-scores[part], kind="stable")]
        if keep is not None:
            ordered = ordered[keep(rows[ordered])]
        for row, value in zip(rows[ordered].tolist(), scores[ordered].tolist(), strict=True):
            if value < floor():
                return
            yield row
        size *= 4


def floats(values: Sequence[Any]) -> Floats:
    return np.array(values, dtype=np.float64)
