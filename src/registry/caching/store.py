"""One cache: values kept by key, each tagged with the version of the data it was built from.

At most `size` values and `max_bytes` in all (by weight: bytes are their length, other values say
what they weigh), the least recently used going first. A value is served again only while the
data's version is still the one it was built from and for at most `seconds`. Stores may share a
`Total`: what they hold together stays within its limit too.

What a cache keeps lives for minutes, so keep it where the garbage collector does not walk it:
encoded bytes, ints and bytes, or msgspec structs with `gc=False` that hold no reference cycle.
"""

import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class Total:
    """The most that several stores may hold together (by weight), and what they hold. Over it,
    the value least recently used in any of them goes, until they are within it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.bytes = 0
        self.stores: list[Store] = []

    def settle(self) -> None:
        while self.bytes > self.limit:
            min((s for s in self.stores if len(s)), key=Store.last_used).drop_oldest()


class Store:
    def __init__(self, size: int, max_bytes: int, seconds: float, total: Total | None = None) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.seconds = seconds
        # key -> (version, built at, value, weight, last used at), least recently used first
        self._values: OrderedDict[Hashable, tuple[Hashable, float, Any, int, float]] = OrderedDict()
        self.bytes = 0
        self._total = total if total is not None else Total(limit=max_bytes)
        self._total.stores.append(self)

    def _weigh(self, change: int) -> None:
        self.bytes += change
        self._total.bytes += change

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[Hashable]:
        return list(self._values)

    def get(self, key: Hashable, version: Hashable) -> Any:
        hit = self._values.get(key)
        now = time.monotonic()
        if hit is None or hit[0] != version or now - hit[1] >= self.seconds:
            return None
        self._values[key] = (*hit[:4], now)
        self._values.move_to_end(key)
        return hit[2]

    def last_used(self) -> float:
        """When its least recently used value was last used (it holds one)."""
        return next(iter(self._values.values()))[4]

    def put(self, key: Hashable, version: Hashable, value: Any, weight: int | None = None) -> None:
        self.discard(key)
        weight = len(value) if weight is None else weight
        now = time.monotonic()
        self._values[key] = (version, now, value, weight, now)
        self._weigh(weight)
        self._fit()

    def reweigh(self, key: Hashable, weight: int) -> None:
        """A kept value (that grew or shrank in place) now weighs `weight`."""
        old = self._values.get(key)
        if old is not None:
            self._values[key] = (*old[:3], weight, old[4])
            self._weigh(weight - old[3])
            self._fit()

    def _fit(self) -> None:
        """Within its count and bytes, then the total within its limit: the oldest values go."""
        while self._values and (len(self._values) > self.size or self.bytes > self.max_bytes):
            self.drop_oldest()
        self._total.settle()

    def drop_oldest(self) -> None:
        """The least recently used value goes."""
        _, dropped = self._values.popitem(last=False)
        self._weigh(-dropped[3])

    def discard(self, key: Hashable) -> None:
        old = self._values.pop(key, None)
        if old is not None:
            self._weigh(-old[3])

    def clear(self) -> None:
        self._values.clear()
        self._weigh(-self.bytes)
