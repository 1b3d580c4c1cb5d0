"""Encoded answers kept per process, each tagged with the version of the data it was built from.

An answer is kept as the bytes that went out (one object each: small, and invisible to the garbage
collector), at most `size` of them and `max_bytes` in all, the least recently used going first.
One is served again only while the data's version is still the one it was built from and for at
most `seconds` (what depends on the clock, like a listing turning stale, moves on too).
"""

import time
from collections import OrderedDict
from collections.abc import Hashable


class AnswerCache:
    def __init__(self, *, size: int, max_bytes: int, seconds: float) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.seconds = seconds
        self._answers: OrderedDict[Hashable, tuple[Hashable, float, bytes]] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._answers)

    def keys(self) -> list[Hashable]:
        return list(self._answers)

    def get(self, key: Hashable, version: Hashable) -> bytes | None:
        hit = self._answers.get(key)
        if hit is None or hit[0] != version or time.monotonic() - hit[1] >= self.seconds:
            return None
        self._answers.move_to_end(key)
        return hit[2]

    def put(self, key: Hashable, version: Hashable, body: bytes) -> None:
        old = self._answers.pop(key, None)
        if old is not None:
            self.bytes -= len(old[2])
        self._answers[key] = (version, time.monotonic(), body)
        self.bytes += len(body)
        while self._answers and (len(self._answers) > self.size or self.bytes > self.max_bytes):
            _, dropped = self._answers.popitem(last=False)
            self.bytes -= len(dropped[2])

    def clear(self) -> None:
        self._answers.clear()
        self.bytes = 0
