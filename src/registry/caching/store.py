"""One cache: values kept by key, each tagged with the version of the data it was built from.

At most `size` values and `max_bytes` in all (by weight: bytes are their length, other values say
what they weigh), the least recently used going first. A value is served again only while the
data's version is still the one it was built from and for at most `seconds`.

What a cache keeps lives for minutes, so keep it where the garbage collector does not walk it:
encoded bytes, ints and bytes, or msgspec structs with `gc=False` that hold no reference cycle.
"""

import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class Store:
    def __init__(self, size: int, max_bytes: int, seconds: float) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.seconds = seconds
        self._values: OrderedDict[Hashable, tuple[Hashable, float, Any, int]] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[Hashable]:
        return list(self._values)

    def get(self, key: Hashable, version: Hashable) -> Any:
        hit = self._values.get(key)
        if hit is None or hit[0] != version or time.monotonic() - hit[1] >= self.seconds:
            return None
        self._values.move_to_end(key)
        return hit[2]

    def put(self, key: Hashable, version: Hashable, value: Any, weight: int | None = None) -> None:
        old = self._values.pop(key, None)
        if old is not None:
            self.bytes -= old[3]
        weight = len(value) if weight is None else weight
        self._values[key] = (version, time.monotonic(), value, weight)
        self.bytes += weight
        while self._values and (len(self._values) > self.size or self.bytes > self.max_bytes):
            _, dropped = self._values.popitem(last=False)
            self.bytes -= dropped[3]

    def discard(self, key: Hashable) -> None:
        old = self._values.pop(key, None)
        if old is not None:
            self.bytes -= old[3]

    def clear(self) -> None:
        self._values.clear()
        self.bytes = 0
