"""The report envelope: every report is a list of tables with its parameters and suppression."""

from datetime import datetime
from typing import Annotated, Any

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
    perturbation: Annotated[
        int, msgspec.Meta(description="a shown count of people is the true count moved by at most this")
    ]


class ReportRead(msgspec.Struct, kw_only=True):
    report: str
    parameters: dict[str, Any]
    computed_at: datetime
    suppression: SuppressionRead
    tables: list[TableRead]


SUPPRESSION_RULE = (
    "Counts of people (initiators, introductions and anything derived from them) are those of the "
    "period's release (parameters.released), the same for every reader until the next one. Each is "
    "moved by the cell-key method (the same people always move a cell the same way; one more or one "
    "fewer moves it unpredictably) by at most `perturbation`; counts from 1 to threshold-1, true or "
    "moved, are hidden (value null, suppressed true), and further cells and totals are hidden so that "
    "no hidden value can be worked out from what is shown. Totals are moved on their own, so parts need "
    "not add up to them. Rates need at least threshold cases. Counts of programs and partners are not "
    "counts of people and are shown as they are, at once."
)
