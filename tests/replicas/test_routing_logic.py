"""The read routing's own logic, without servers: WAL positions, which replica a read may use,
and how a check classes a replica (streaming, lagging, down, promoted)."""

import asyncio
from typing import Any, cast

import pytest

from registry.database import routing


class Answers:
    """Stands in for a database's one-statement reads: the primary's position, a replica's state."""

    def __init__(self, value: Any = None, row: dict[str, Any] | None = None, error: Exception | None = None):
        self.value, self.row, self.error = value, row, error

    async def fetchval(self, query: str, *args: Any, writes: bool = False) -> Any:
        if self.error:
            raise self.error
        return self.value

    async def fetchrow(self, query: str, *args: Any) -> Any:
        if self.error:
            raise self.error
        return self.row


def replica(name: str, answers: Answers) -> routing.Replica:
    return routing.Replica(name=name, sessionmaker=cast(Any, None), reads=cast(Any, answers))


def routes(primary: Answers, *replicas: routing.Replica, max_lag_s: float = 5.0) -> routing.Routing:
    target = routing.Target("primary", sessionmaker=cast(Any, None), reads=cast(Any, primary))
    return routing.Routing(primary=target, replicas=list(replicas), max_lag_s=max_lag_s)


def test_wal_positions_read_and_write_as_postgresql_prints_them() -> None:
    assert routing.parse_lsn("0/0") == 0
    assert routing.parse_lsn("16/B374D848") == (0x16 << 32) + 0xB374D848
    assert routing.format_lsn(routing.parse_lsn("16/B374D848")) == "16/B374D848"
    for bad in ("", "16", "/1", "x/1", "123456789/0", "1/2/3"):
        with pytest.raises(ValueError, match=r"WAL position|invalid literal"):
            routing.parse_lsn(bad)


async def test_a_check_classes_each_replica() -> None:
    caught_up = replica("a", Answers(row={"in_recovery": True, "replayed": 100}))
    behind = replica("b", Answers(row={"in_recovery": True, "replayed": 50}))
    promoted = replica("c", Answers(row={"in_recovery": False, "replayed": 100}))
    down = replica("d", Answers(error=OSError("connection refused")))
    found = routes(Answers(value=100), caught_up, behind, promoted, down, max_lag_s=5.0)
    await found.check()
    assert [r.state for r in found.replicas] == ["streaming", "streaming", "promoted", "down"]
    assert caught_up.lag_s == 0.0 and behind.lag_s is not None and behind.lag_s < 5.0
    assert found.for_read(after=100) is caught_up  # only one has replayed the caller's write
    assert found.for_read(after=101) is None  # none has: the primary
    assert {getattr(found.for_read(), "name", None) for _ in range(4)} == {
        "a",
        "b",
    }  # round robin over healthy ones


async def test_a_replica_behind_for_longer_than_the_bound_is_lagging() -> None:
    behind = replica("b", Answers(row={"in_recovery": True, "replayed": 50}))
    primary = Answers(value=100)
    found = routes(primary, behind, max_lag_s=0.05)
    await found.check()  # the primary already holds WAL the replica lacks
    assert behind.state == "streaming"  # within the bound so far
    await asyncio.sleep(0.1)
    primary.value = 120
    await found.check()
    assert behind.state == "lagging" and behind.lag_s is not None and behind.lag_s > 0
    assert found.for_read() is None
    behind.reads = cast(Any, Answers(row={"in_recovery": True, "replayed": 120}))
    await found.check()
    assert behind.state == "streaming" and behind.lag_s == 0.0


def test_a_replica_a_request_could_not_reach_is_skipped_at_once() -> None:
    lost = replica("a", Answers())
    lost.state = "streaming"
    found = routes(Answers(), lost)
    found.lost(lost, OSError("gone"))
    assert lost.state == "down" and found.for_read() is None
    assert found.report() == [{"name": "a", "state": "down", "lag_s": None, "reads_served": 0}]
