"""How the generators draw: a chunk's random generator behind a few small methods, and helpers."""

import itertools
import math
import random
import uuid
from bisect import bisect_right
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any, Final, TypeVar

Row = tuple[Any, ...]
# Every sorted subset of some codes of size low..high, grouped by size (see `subsets`).
Subsets = tuple[tuple[list[str], ...], ...]

EMPTY: Final[list[str]] = []  # shared by every row that has an empty list: never mutate it
DAY: Final = 86_400.0

T = TypeVar("T")

# uuid.UUID(int=x, version=4) clears these bits and sets the version and variant; doing it on
# the integer and building asyncpg's own UUID type (a uuid.UUID subclass) is 4x faster.
_V4_KEEP: Final = ((1 << 128) - 1) ^ (0xF000 << 64) ^ (0xC000 << 48)
_V4_SET: Final = (0x4000 << 64) | (0x8000 << 48)
try:
    from asyncpg.pgproto.pgproto import UUID as _FAST_UUID
except ImportError:  # pragma: no cover - asyncpg has shipped it for years; stay correct anyway
    _FAST_UUID = None


def uuid_from_bits(bits: int) -> uuid.UUID:
    raw = ((bits & _V4_KEEP) | _V4_SET).to_bytes(16, "big")
    value: uuid.UUID = _FAST_UUID(raw) if _FAST_UUID is not None else uuid.UUID(bytes=raw)
    return value


def normalised_cumulative(weights: Sequence[float]) -> tuple[float, ...]:
    """Cumulative weights scaled to end at exactly 1.0, for `bisect_right(cum, rng.random())`."""
    total = float(sum(weights))
    out: list[float] = []
    running = 0.0
    for weight in weights:
        running += weight
        out.append(running / total)
    out[-1] = 1.0
    return tuple(out)


def subsets(values: Sequence[str], low: int, high: int) -> Subsets:
    """Every sorted subset of size low..high, grouped by size (shared lists: never mutate them)."""
    return tuple(tuple(sorted(c) for c in itertools.combinations(values, k)) for k in range(low, high + 1))


def split_counts(total: int, shares: Sequence[float]) -> list[int]:
    """Largest-remainder apportionment: integer counts in the given shares, summing to total."""
    exact = [total * share / sum(shares) for share in shares]
    counts = [math.floor(x) for x in exact]
    order = sorted(range(len(shares)), key=lambda i: (counts[i] - exact[i], i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def stamp(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def day(ts: float) -> date:
    return datetime.fromtimestamp(ts, UTC).date()


class Draws:
    """One chunk's draws, ids included, from its generator; times are epoch seconds before `now`.

    Each method takes a fixed number of draws whatever its arguments, and times are drawn
    relative to `now`, so the sequence of draws (and so every id) does not depend on `now`.
    Record keys (reports.perturbation) come from a generator of their own: the rest of the data
    set is what it was before they existed.
    """

    __slots__ = ("_bits", "_record_keys", "epoch", "rand", "shuffle")

    rand: Callable[[], float]
    shuffle: Callable[[list[Any]], None]
    epoch: float

    def __init__(self, rng: random.Random, record_keys: random.Random, now: datetime) -> None:
        self.rand = rng.random
        self.shuffle = rng.shuffle
        self.epoch = now.timestamp()
        self._bits = rng.getrandbits
        self._record_keys = record_keys.randrange

    def pick(self, values: Sequence[T]) -> T:
        return values[int(self.rand() * len(values))]

    def weighted(self, values: Sequence[T], cum: Sequence[float]) -> T:
        return values[bisect_right(cum, self.rand())]

    def subset(self, groups: Subsets) -> list[str]:
        group = groups[int(self.rand() * len(groups))]
        return group[int(self.rand() * len(group))]

    def new_id(self) -> uuid.UUID:
        return uuid_from_bits(self._bits(128))

    def days_ago(self, low: float, high: float) -> float:
        return self.epoch - (low + (high - low) * self.rand()) * DAY

    def between(self, start: float, end: float) -> float:
        r = self.rand()  # always one draw, even when there is no room between the two
        return end if end <= start else start + (end - start) * r

    def record_key(self) -> int:
        return self._record_keys(256)
