"""How far the published counts of people move from the truth, on benchmark data.

Loads (or reuses, with --data-dir) the benchmark's synthetic data set, takes a release of the
people counts (as the first report of a period does), builds the partnerships and coverage
reports from it, and compares every people count with the true one: how many are shown, how many
hidden (small, or hidden to protect them), and, of those shown, how far from the truth.

    .venv/bin/python bench/disclosure.py --n 100000 --introductions 1000000 --data-dir D
"""

import argparse
import asyncio
import os
import statistics
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from run import count_rows, database, run_registry, top_up_introductions
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from registry import synthetic
from registry.config import async_database_url
from registry.reports import releases, service
from registry.reports.schemas import ReportRead


def truth_of(rows: list[releases.Row], width: int) -> dict[tuple[str | None, ...], int]:
    return {key[:width]: n for key, n, _ in rows}


async def measure(url: str) -> dict[str, Any]:
    engine = create_async_engine(async_database_url(url))
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    period = datetime(1999, 1, 1, tzinfo=UTC)  # a period of its own, replaced on every run
    async with sessions() as session:
        await session.execute(text("DELETE FROM report_snapshot WHERE period_start = :p"), {"p": period})
        await releases.take(session, period)
        await session.commit()
        partnerships = await service.partnerships_report([session], 11, period)
        coverage = await service.coverage_report([session], 11, period)
        truth: dict[str, dict[tuple[str | None, ...], int]] = defaultdict(dict)
        for dimension in ("partner_kind", "region", "quarter"):
            async for (status, *key), n, _ in releases.released(
                session, period, f"introductions:{dimension}"
            ):
                truth[f"introductions_by_{dimension}"][(*key, status)] = n
        async for (step,), n, _ in releases.released(session, period, "initiators:step"):
            truth["initiators_by_pathway_step"][(step, "initiators")] = n
        async for (country, region), n, _ in releases.released(session, period, "initiators:region"):
            truth["coverage_gaps"][(country, region, "initiators")] = n
        await session.execute(text("DELETE FROM report_snapshot WHERE period_start = :p"), {"p": period})
        await session.commit()
    await engine.dispose()
    return compare([partnerships, coverage], truth)


def compare(reports: list[ReportRead], truth: dict[str, dict[tuple[str | None, ...], int]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for report in reports:
        for table in report.tables:
            if table.name not in truth:
                continue
            known = truth[table.name]
            shown, hidden, moves, totals = 0, 0, [], []
            for row in table.rows:
                key = tuple(v for v in row.key.values())
                for column, cell in row.values.items():
                    if column not in ("initiators",) and table.name == "coverage_gaps":
                        continue
                    if "__total__" in key or column == "requested":
                        true = sum(
                            n
                            for k, n in known.items()
                            if all(a == b for a, b in zip(k[:-1], key, strict=False) if b != "__total__")
                            and (column == "requested" or k[-1] == column)
                        )
                    else:
                        true = known.get((*key, column), 0)
                    if cell.suppressed:
                        hidden += 1
                        continue
                    shown += 1
                    assert cell.value is not None
                    moves.append(abs(cell.value - true))
                    if set(key) == {"__total__"} and column in ("requested", "initiators"):
                        totals.append((true, cell.value))
            out[table.name] = {
                "cells": shown + hidden,
                "shown": shown,
                "hidden": hidden,
                "mean_abs_move": round(statistics.fmean(moves), 3) if moves else None,
                "max_move": max(moves) if moves else None,
                "grand_total": totals[0] if totals else None,
            }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--introductions", type=int, default=0)
    parser.add_argument("--random-seed", type=int, default=1)
    parser.add_argument("--data-dir")
    parser.add_argument("--keep-data", action="store_true")
    args = parser.parse_args()
    with database(args) as (url, workdir, _):
        env = os.environ | {"DATABASE_URL": url, "REGISTRY_DATA_DIR": str(workdir)}
        run_registry(env, "migrate")
        synthetic.run(url, args.n, args.random_seed)
        if args.introductions:
            asyncio.run(top_up_introductions(url, args.introductions, args.random_seed))
        people = asyncio.run(count_rows(url, "introduction")), asyncio.run(count_rows(url, "initiator"))
        print(f"{args.n} listings, {people[0]} introductions, {people[1]} initiators")
        result = asyncio.run(measure(url))
    print(
        f"{'table':<36} {'cells':>6} {'shown':>6} {'hidden':>6} {'mean |move|':>11} {'max':>4}  grand total"
    )
    for name, r in result.items():
        total = f"{r['grand_total'][0]} -> {r['grand_total'][1]}" if r["grand_total"] else ""
        print(
            f"{name:<36} {r['cells']:>6} {r['shown']:>6} {r['hidden']:>6} "
            f"{r['mean_abs_move'] if r['mean_abs_move'] is not None else '':>11} "
            f"{r['max_move'] if r['max_move'] is not None else '':>4}  {total}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
