"""The report envelope: every report is a list of tables with its parameters and suppression."""

from datetime import datetime
from typing import Any

import msgspec


class CellRead(msgspec.Struct, kw_only=True):
    value: float | None
    suppressed: bool = False


class RowRead(msgspec.Struct, kw_only=True):
    key: dict[str, str | None]
    values: dict[str, CellRead]


class TableRead(msgspec.Struct, kw_only=True):
    name: str
    description: str
    dimensions: list[str]
    columns: list[str]
    rows: list[RowRead]
    counts_people: bool


class SuppressionRead(msgspec.Struct, kw_only=True):
    threshold: int
    rule: str
    primary: int
    complementary: int


class ReportRead(msgspec.Struct, kw_only=True):
    report: str
    parameters: dict[str, Any]
    computed_at: datetime
    suppression: SuppressionRead
    tables: list[TableRead]


SUPPRESSION_RULE = (
    "Counts of people (initiators, introductions and anything derived from them) from 1 to "
    "threshold-1 are hidden (value null, suppressed true), and further cells and totals are hidden "
    "so that no hidden value can be worked out from what is shown. Rates need at least threshold "
    "cases. Counts of programs and partners are not counts of people and are shown as they are."
)
