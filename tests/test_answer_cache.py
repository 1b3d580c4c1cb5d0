"""The answer cache stays within its count and byte budgets, oldest answers out first, and serves
an answer only for the version it was built from and only while it is young enough."""

import time

import pytest

from registry.answers import AnswerCache, shared_codes


def test_answers_are_dropped_oldest_first_when_over_the_byte_budget() -> None:
    cache: AnswerCache[bytes] = AnswerCache(size=100, max_bytes=250, seconds=60)
    for n in range(5):
        cache.put((n,), "v", b"x" * 100)
    assert cache.keys() == [(3,), (4,)]
    assert cache.bytes == 200
    # Replacing an answer counts its new size only.
    cache.put((4,), "v", b"y" * 10)
    assert cache.bytes == 110
    cache.clear()
    assert cache.bytes == 0 and len(cache) == 0


def test_answers_are_dropped_when_over_the_count() -> None:
    cache: AnswerCache[bytes] = AnswerCache(size=3, max_bytes=1000, seconds=60)
    for n in range(5):
        cache.put((n,), "v", b"z")
    assert cache.keys() == [(2,), (3,), (4,)]
    assert cache.bytes == 3


def test_reading_an_answer_keeps_it_longer() -> None:
    cache: AnswerCache[bytes] = AnswerCache(size=2, max_bytes=1000, seconds=60)
    cache.put("a", "v", b"1")
    cache.put("b", "v", b"2")
    assert cache.get("a", "v") == b"1"
    cache.put("c", "v", b"3")
    assert cache.keys() == ["a", "c"]


def test_an_answer_serves_only_its_own_version_and_only_while_young(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    cache: AnswerCache[bytes] = AnswerCache(size=10, max_bytes=1000, seconds=300)
    cache.put("k", ("notified", 1), b"old")
    assert cache.get("k", ("notified", 1)) == b"old"
    assert cache.get("k", ("notified", 2)) is None
    assert cache.get("other", ("notified", 1)) is None
    now[0] += 299.9
    assert cache.get("k", ("notified", 1)) == b"old"
    now[0] += 0.1
    assert cache.get("k", ("notified", 1)) is None


def test_other_values_are_weighed_as_the_cache_is_told() -> None:
    cache: AnswerCache[tuple[int, ...]] = AnswerCache(
        size=100, max_bytes=1000, seconds=60, weigh=lambda value: 100 * len(value)
    )
    cache.put(("a",), "v", (1, 2, 3, 4))
    cache.put(("b",), "v", (1, 2, 3, 4, 5))
    assert cache.bytes == 900 and cache.get(("a",), "v") == (1, 2, 3, 4)
    cache.put(("c",), "v", (1, 2))  # 1,100: the least recently used ("b") goes
    assert cache.keys() == [("a",), ("c",)] and cache.bytes == 600


def test_code_sets_are_shared() -> None:
    assert shared_codes(["en", "nl"]) is shared_codes(("en", "nl"))
    assert shared_codes(None) == frozenset() == shared_codes([])
    assert shared_codes(["nl", "en"]) == frozenset({"en", "nl"})
