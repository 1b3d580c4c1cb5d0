"""Answers kept per process, each tagged with the version of the data it was built from.

An answer is usually kept as the bytes that went out (one object each: small, and invisible to the
garbage collector); other values say what they weigh. At most `size` answers are kept and
`max_bytes` in all (by weight), the least recently used going first. One is served again only
while the data's version is still the one it was built from and for at most `seconds` (what
depends on the clock, like a listing turning stale, moves on too).
"""

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

V = TypeVar("V")


def weigh_bytes(value: object) -> int:
    return len(value)  # type: ignore[arg-type]


class AnswerCache(Generic[V]):
    def __init__(
        self, *, size: int, max_bytes: int, seconds: float, weigh: Callable[[V], int] = weigh_bytes
    ) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.seconds = seconds
        self.weigh = weigh
        self._answers: OrderedDict[Hashable, tuple[Hashable, float, V, int]] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._answers)

    def keys(self) -> list[Hashable]:
        return list(self._answers)

    def get(self, key: Hashable, version: Hashable) -> V | None:
        hit = self._answers.get(key)
        if hit is None or hit[0] != version or time.monotonic() - hit[1] >= self.seconds:
            return None
        self._answers.move_to_end(key)
        return hit[2]

    def put(self, key: Hashable, version: Hashable, value: V) -> None:
        old = self._answers.pop(key, None)
        if old is not None:
            self.bytes -= old[3]
        weight = self.weigh(value)
        self._answers[key] = (version, time.monotonic(), value, weight)
        self.bytes += weight
        while self._answers and (len(self._answers) > self.size or self.bytes > self.max_bytes):
            _, dropped = self._answers.popitem(last=False)
            self.bytes -= dropped[3]

    def clear(self) -> None:
        self._answers.clear()
        self.bytes = 0


# Code sets repeat across listings ({"en"}, {"women"}, ...): kept listings share one copy of each.
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
