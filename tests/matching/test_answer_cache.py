"""The match answer cache stays within its count and byte budgets, oldest answers out first."""

import pytest

from registry.matching import service


def test_answers_are_dropped_oldest_first_when_over_the_byte_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "CACHE_BYTES", 250)
    service.forget_cached_matches()
    for n in range(5):
        service._remember((n,), ((), 0.0, b"x" * 100))
    assert list(service._cache) == [(3,), (4,)]
    assert service._cache_bytes == 200
    # Replacing an answer counts its new size only.
    service._remember((4,), ((), 0.0, b"y" * 10))
    assert service._cache_bytes == 110
    service.forget_cached_matches()
    assert service._cache_bytes == 0


def test_answers_are_dropped_when_over_the_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "CACHE_SIZE", 3)
    service.forget_cached_matches()
    for n in range(5):
        service._remember((n,), ((), 0.0, b"z"))
    assert list(service._cache) == [(2,), (3,), (4,)]
    assert service._cache_bytes == 3
    service.forget_cached_matches()
