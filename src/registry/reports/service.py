"""Build the reports: run the aggregations, shape them into tables, suppress people counts."""

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from registry.database.base import utcnow
from registry.http.errors import InvalidInput
from registry.reports import queries, releases
from registry.reports.perturbation import MAX_PERTURBATION, publish
from registry.reports.schemas import (
    SUPPRESSION_RULE,
    CellRead,
    ReportRead,
    RowRead,
    SuppressionRead,
    TableRead,
)
from registry.reports.suppression import Cell, rate, suppress_counts, suppress_table
from registry.taxonomies.vocabulary import STAGE_ORDER

A = TypeVar("A")
B = TypeVar("B")


class Tally:
    """Counts cells hidden across a report's tables."""

    def __init__(self) -> None:
        self.primary = 0
        self.complementary = 0


def _plain(value: int | float | None) -> CellRead:
    return CellRead(value=value, suppressed=False)


_CELL_READS: dict[Cell, CellRead] = {}


def _cell(cell: Cell) -> CellRead:
    # Large tables repeat a few values: one (never changed) CellRead each, at most a few thousand.
    read = _CELL_READS.get(cell)
    if read is None:
        read = CellRead(value=cell.value, suppressed=cell.suppressed)
        if len(_CELL_READS) < 4096:
            _CELL_READS[cell] = read
    return read


def _envelope(
    name: str, parameters: dict[str, Any], tables: list[TableRead], tally: Tally, threshold: int
) -> ReportRead:
    return ReportRead(
        report=name,
        parameters=parameters,
        computed_at=utcnow(),
        suppression=SuppressionRead(
            threshold=threshold,
            rule=SUPPRESSION_RULE,
            primary=tally.primary,
            complementary=tally.complementary,
            perturbation=MAX_PERTURBATION,
        ),
        tables=tables,
    )


def people_table(
    name: str,
    description: str,
    dimensions: list[str],
    row_keys: Sequence[tuple[str | None, ...]],
    columns: Sequence[str],
    counts: dict[tuple[tuple[str | None, ...], str], int],
    key_sums: dict[tuple[tuple[str | None, ...], str], int],
    threshold: int,
    tally: Tally,
    *,
    total_column: str,
) -> TableRead:
    """A rows x columns table of people counts with its row totals (`total_column`), column
    totals and grand total, suppressed together and each shown entry perturbed by its cell key
    (the sum of its records' keys: a total's is the sum of its line's)."""
    matrix = [[counts.get((key, col), 0) for col in columns] for key in row_keys]
    keys = [[key_sums.get((key, col), 0) for col in columns] for key in row_keys]
    result = suppress_table(matrix, threshold)

    def shown(cell: Cell, key_sum: int) -> CellRead:
        published = publish(cell, key_sum, threshold)
        tally.complementary += published.suppressed and not cell.suppressed
        return _cell(published)

    tally.primary += result.primary
    tally.complementary += result.complementary
    rows = [
        RowRead(
            key=dict(zip(dimensions, key, strict=True)),
            values={
                **{col: shown(result.cells[i][j], keys[i][j]) for j, col in enumerate(columns)},
                total_column: shown(result.row_totals[i], sum(keys[i])),
            },
        )
        for i, key in enumerate(row_keys)
    ]
    # An empty table has no column totals of its own; its totals are plain zeros.
    column_totals = result.column_totals or [Cell(value=0, suppressed=False) for _ in columns]
    rows.append(
        RowRead(
            key=dict.fromkeys(dimensions, "__total__"),
            values={
                **{col: shown(column_totals[j], sum(k[j] for k in keys)) for j, col in enumerate(columns)},
                total_column: shown(result.grand_total, sum(map(sum, keys))),
            },
        )
    )
    return TableRead(
        name=name,
        description=description,
        dimensions=dimensions,
        columns=[*columns, total_column],
        rows=rows,
        counts_people=True,
    )


async def programs_report(session: AsyncSession, group_by: Sequence[str], threshold: int) -> ReportRead:
    unknown = [d for d in group_by if d not in queries.PROGRAM_DIMENSIONS]
    if unknown or len(group_by) > 2 or len(set(group_by)) != len(group_by):
        raise InvalidInput(
            f"group_by: give up to two different dimensions among {', '.join(queries.PROGRAM_DIMENSIONS)}",
            extra={"field": "group_by", "allowed": list(queries.PROGRAM_DIMENSIONS)},
        )
    dims = list(group_by)
    counts = await queries.program_counts(session, dims)
    if any(d in queries.ARRAY_DIMENSIONS for d in dims):
        # A program with several formats or populations is in several groups: count it once.
        total = await queries.total_programs(session)
    else:
        total = sum(n for _, n in counts)
    rows = [
        RowRead(key=dict(zip(dims, key, strict=True)), values={"programs": _plain(n)}) for key, n in counts
    ]
    rows.append(RowRead(key=dict.fromkeys(dims, "__total__"), values={"programs": _plain(total)}))
    table = TableRead(
        name="programs",
        description="Verified, non-archived programs per group (a program with several formats or "
        "populations counts under each; the total counts each program once).",
        dimensions=dims,
        columns=["programs"],
        rows=rows,
        counts_people=False,
    )
    return _envelope("programs", {"group_by": dims}, [table], Tally(), threshold)


async def together(
    sessions: Sequence[AsyncSession],
    first: Callable[[AsyncSession], Awaitable[A]],
    second: Callable[[AsyncSession], Awaitable[B]],
) -> tuple[A, B]:
    """Two independent halves of a report: side by side when there is a session (a connection)
    for each, else one after the other on the first."""
    if len(sessions) >= 2:
        return await asyncio.gather(first(sessions[0]), second(sessions[1]))
    return await first(sessions[0]), await second(sessions[0])


async def evidence_report(sessions: Sequence[AsyncSession], threshold: int) -> ReportRead:
    # One connection is enough: the evaluation tables come from a small tally.
    stages, with_partner, total = await queries.programs_per_stage(sessions[0])
    transitions_rows, designs, outcomes = await queries.evaluation_tables(sessions[0])

    pipeline = TableRead(
        name="programs_per_stage",
        description="Programs at each evaluation stage.",
        dimensions=["evaluation_stage"],
        columns=["programs"],
        counts_people=False,
        rows=[
            RowRead(key={"evaluation_stage": s}, values={"programs": _plain(stages.get(s, 0))})
            for s in STAGE_ORDER
        ],
    )
    transitions = TableRead(
        name="stage_transitions",
        description="Evaluation records per quarter, by the stage they reached.",
        dimensions=["quarter", "evaluation_stage"],
        columns=["records"],
        counts_people=False,
        rows=[
            RowRead(key={"quarter": q, "evaluation_stage": s}, values={"records": _plain(n)})
            for q, s, n in transitions_rows
        ],
    )
    design_table = TableRead(
        name="evaluation_designs",
        description="Programs with an evaluation of each design.",
        dimensions=["evaluation_design"],
        columns=["programs"],
        counts_people=False,
        rows=[RowRead(key={"evaluation_design": d}, values={"programs": _plain(n)}) for d, n in designs],
    )
    outcome_table = TableRead(
        name="outcomes_measured",
        description="Programs whose evaluations measured each outcome.",
        dimensions=["outcome"],
        columns=["programs"],
        counts_people=False,
        rows=[RowRead(key={"outcome": o}, values={"programs": _plain(n)}) for o, n in outcomes],
    )
    share = TableRead(
        name="clinical_partner_share",
        description="Programs that name a clinical partner.",
        dimensions=[],
        columns=["with_clinical_partner", "programs", "share"],
        counts_people=False,
        rows=[
            RowRead(
                key={},
                values={
                    "with_clinical_partner": _plain(with_partner),
                    "programs": _plain(total),
                    "share": _plain(round(with_partner / total, 4) if total else None),
                },
            )
        ],
    )
    tables = [pipeline, transitions, design_table, outcome_table, share]
    return _envelope("evidence", {}, tables, Tally(), threshold)


def published_counts(
    counts: dict[str, int], key_sums: dict[str, int], threshold: int, tally: Tally
) -> tuple[dict[str, Cell], Cell]:
    """One-dimensional people counts and their total, suppressed and perturbed."""
    cells, total = suppress_counts(counts, threshold)
    small = sum(1 for n in counts.values() if 0 < n < threshold) + (0 < sum(counts.values()) < threshold)
    published = {k: publish(c, key_sums.get(k, 0), threshold) for k, c in cells.items()}
    published_total = publish(total, sum(key_sums.values()), threshold)
    hidden = sum(c.suppressed for c in published.values()) + published_total.suppressed
    tally.primary += small
    tally.complementary += max(0, hidden - small)
    return published, published_total


async def partnerships_report(
    sessions: Sequence[AsyncSession], threshold: int, period: datetime
) -> ReportRead:
    """Introductions and initiators as the period's release counted them (reports.releases)."""
    tally = Tally()
    statuses = list(queries.INTRODUCTION_STATUSES)
    tables = []
    specs = [
        ("partner_kind", ["partner_kind"], "Introductions by the kind of listing asked for, and status."),
        ("region", ["country", "region"], "Introductions by the listing's region, and status."),
        ("quarter", ["quarter"], "Introductions by quarter asked, and status."),
    ]
    session = sessions[0]
    for dimension, dims, description in specs:
        counts: dict[tuple[tuple[str | None, ...], str], int] = defaultdict(int)
        key_sums: dict[tuple[tuple[str | None, ...], str], int] = defaultdict(int)
        async for (status, *key), n, key_sum in releases.released(
            session, period, f"introductions:{dimension}"
        ):
            assert status is not None
            counts[(tuple(key), status)] += n
            key_sums[(tuple(key), status)] += key_sum
        keys = sorted({key for key, _ in counts}, key=lambda k: tuple(x or "" for x in k))
        tables.append(
            people_table(
                f"introductions_by_{dimension}",
                description,
                dims,
                keys,
                statuses,
                counts,
                key_sums,
                threshold,
                tally,
                total_column="requested",
            )
        )
    by_kind = tables[0]
    rates = []
    for row in by_kind.rows:
        # From the published (perturbed) counts: a rate says nothing the counts do not.
        accepted = row.values["accepted"].value
        requested = row.values["requested"].value
        rates.append(
            RowRead(
                key=row.key,
                values={"acceptance_rate": _plain(rate(_int(accepted), _int(requested), threshold))},
            )
        )
    tables.append(
        TableRead(
            name="acceptance_rate_by_partner_kind",
            description="Accepted / requested; never from hidden counts or fewer than threshold cases.",
            dimensions=["partner_kind"],
            columns=["acceptance_rate"],
            rows=rates,
            counts_people=True,
        )
    )
    steps = [row async for row in releases.released(session, period, "initiators:step")]
    step_counts = {str(step): 0 for step in range(1, 7)} | {str(k[0]): n for k, n, _ in steps}
    step_keys = {str(k[0]): key_sum for k, _, key_sum in steps}
    cells, total = published_counts(step_counts, step_keys, threshold, tally)
    tables.append(
        TableRead(
            name="initiators_by_pathway_step",
            description="Initiators by the step of the six they are on.",
            dimensions=["pathway_step"],
            columns=["initiators"],
            counts_people=True,
            rows=[RowRead(key={"pathway_step": s}, values={"initiators": _cell(c)}) for s, c in cells.items()]
            + [RowRead(key={"pathway_step": "__total__"}, values={"initiators": _cell(total)})],
        )
    )
    return _envelope("partnerships", {"released": period.isoformat()}, tables, tally, threshold)


def _int(value: float | int | None) -> int | None:
    return None if value is None else int(value)


async def coverage_report(sessions: Sequence[AsyncSession], threshold: int, period: datetime) -> ReportRead:
    tally = Tally()
    # Initiators as the period's release counted them; programs and partners as they are now.
    released = {
        (k[0], k[1]): (n, key_sum)
        async for k, n, key_sum in releases.released(sessions[0], period, "initiators:region")
    }
    # One connection: the places keep their answers (migration 0011), so this is a small read.
    regions = sorted(
        await queries.coverage(sessions[0]),
        key=lambda r: (r["country"] is None, r["country"] or "", r["region"] is None, r["region"] or ""),
    )
    for r in regions:
        r["initiators"], r["key_sum"] = released.get((r["country"], r["region"]), (0, 0))
    gaps = [r for r in regions if r["missing"] and (r["programs"] or r["initiators"])]
    name = "{}/{}".format
    cells, _ = published_counts(
        {name(r["country"], r["region"]): r["initiators"] for r in gaps},
        {name(r["country"], r["region"]): r["key_sum"] for r in gaps},
        threshold,
        tally,
    )
    rows = [
        RowRead(
            key={"country": r["country"], "region": r["region"]},
            values={
                "programs": _plain(r["programs"]),
                "initiators": _cell(cells[name(r["country"], r["region"])]),
                **{
                    f"no_{kind}_within_50_km": _plain(int(kind in r["missing"])) for kind in queries.GAP_KINDS
                },
            },
        )
        for r in gaps
    ]
    table = TableRead(
        name="coverage_gaps",
        description="Regions with programs or initiators but no verified clinician, evaluator or trainer "
        "within 50 km of any of them (1 = missing).",
        dimensions=["country", "region"],
        columns=["programs", "initiators", *(f"no_{k}_within_50_km" for k in queries.GAP_KINDS)],
        rows=rows,
        counts_people=True,
    )
    return _envelope(
        "coverage",
        {"radius_km": 50, "partner_kinds": list(queries.GAP_KINDS), "released": period.isoformat()},
        [table],
        tally,
        threshold,
    )


def to_csv(report: bytes) -> str:
    """Long format: one line per table x row x column, the same numbers as the JSON. `report` is
    the JSON as sent: read back untyped, each number is what it was written as (3 and 3.0)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["table", "key", "column", "value", "suppressed"])
    for table in msgspec.json.decode(report)["tables"]:
        for row in table["rows"]:
            key = ";".join(f"{k}={'' if v is None else v}" for k, v in row["key"].items())
            for column in table["columns"]:
                cell = row["values"].get(column)
                if cell is None:
                    continue
                writer.writerow(
                    [
                        table["name"],
                        key,
                        column,
                        "" if cell["value"] is None else cell["value"],
                        str(cell["suppressed"]).lower(),
                    ]
                )
    return out.getvalue()
