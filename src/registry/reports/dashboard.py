"""The funders' dashboard: one server-rendered HTML page of inline SVG charts and a map, no script
and nothing from elsewhere, built from the same (suppressed) report data as the JSON endpoints and
labelled with the vocabularies' labels and places' names (dashboard_names). Drawing pieces are in
dashboard_charts and dashboard_map; a hidden cell is drawn as a mark saying so, never as a size."""

import base64
import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import Final

from registry.reports import queries
from registry.reports.dashboard_charts import (
    Bar,
    Column,
    Segment,
    bar_chart,
    cell_text,
    legend,
    numbers_table,
    shown,
    stacked_bars,
    stacked_columns,
)
from registry.reports.dashboard_map import (
    MARKER_TEXT,
    Place,
    State,
    country_middle,
    coverage_map,
    legend_swatch,
)
from registry.reports.dashboard_names import Labels, Names
from registry.reports.schemas import CellRead, ReportRead, RowRead, TableRead
from registry.taxonomies.vocabulary import STAGE_ORDER

TOTAL: Final = "__total__"
SIDE_ORDER: Final = ("survivors", "people_who_use_violence", "both", None)
SIDE_COLOURS: Final[dict[str | None, str]] = {
    "survivors": "#2b6cb0",
    "people_who_use_violence": "#c05621",
    "both": "#2f855a",
    None: "#718096",
}
STATUS_ORDER: Final = ("accepted", "pending", "declined", "expired", "withdrawn", "closed")
STATUS_COLOURS: Final = {
    "requested": "#2c7a7b",
    "accepted": "#2f855a",
    "pending": "#b7791f",
    "declined": "#9b2c2c",
    "expired": "#a0aec0",
    "withdrawn": "#6b46c1",
    "closed": "#2c5282",
}
STAGE_COLOURS: Final = {
    "none": "#cbd5e0",
    "pilot_planned": "#d6bcfa",
    "pilot_running": "#b794f4",
    "pilot_completed": "#9f7aea",
    "formally_evaluated": "#6b46c1",
    "published": "#44337a",
}
MAX_QUARTERS: Final = 12
_QUARTER = re.compile(r"(\d{4})-Q([1-4])")

STYLE: Final = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:1.5rem 2rem;color:#1a202c;max-width:78rem}
h1{font-size:1.5rem;margin:0 0 .3rem}h2{font-size:1.2rem;margin:2rem 0 .6rem;border-bottom:1px solid #e2e8f0;padding-bottom:.3rem}
h3{font-size:1rem;margin:.2rem 0 .4rem}
.note{color:#4a5568;font-size:.9rem;max-width:60rem}
.tiles{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0;padding:0;list-style:none}
.tiles li{border:1px solid #cbd5e0;border-radius:6px;padding:.5rem .9rem;min-width:12rem}
.tiles b{display:block;font-size:1.5rem}.tiles .alert{border-color:#c53030;border-width:2px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(34rem,1fr));gap:1rem 2rem;align-items:start}
.mapgrid{display:grid;grid-template-columns:minmax(0,48rem) minmax(16rem,1fr);gap:1rem 2rem;align-items:start}
@media (max-width:70rem){.mapgrid{grid-template-columns:1fr}}
svg{max-width:100%;height:auto}svg text{font-size:12px}
.legend{list-style:none;padding:0;margin:.3rem 0;display:flex;flex-wrap:wrap;gap:.2rem 1rem;font-size:.85rem;color:#2d3748}
.legend li{display:flex;align-items:center;gap:.35rem}
.gaps{padding-left:0;list-style:none;margin:0}.gaps li{margin:0 0 .6rem;padding-left:.6rem;border-left:4px solid #c05621}
.gaps li.demand{border-left-color:#c53030}.gaps b{display:block}
table{border-collapse:collapse;font-size:.9rem}td,th{border:1px solid #cbd5e0;padding:.25rem .6rem;text-align:left;vertical-align:top}
thead th{background:#f7fafc}.numbers{margin:.3rem 0 1rem;font-size:.85rem}.numbers summary{cursor:pointer;color:#2c5282}
.state-demand{color:#9b2c2c;font-weight:bold}.state-gap{color:#9c4221}
"""

# The page runs no script and loads nothing: everything else is refused. Its one style block is
# allowed by its hash (no 'unsafe-inline'); SVG presentation attributes are not styles.
_STYLE_HASH: Final = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
PAGE_POLICY: Final = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; form-action 'none'"
)


def headers(policy: str) -> dict[str, str]:
    """Response headers for a dashboard page: its policy (which a <meta> cannot carry whole:
    frame-ancestors), no framing, no sniffing, no referrer, no caching."""
    return {
        "Content-Security-Policy": f"{policy}; frame-ancestors 'none'",
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


HEADERS: Final = headers(PAGE_POLICY)


def _table(report: ReportRead, name: str) -> TableRead:
    return next(t for t in report.tables if t.name == name)


def _is_total(row: RowRead) -> bool:
    return TOTAL in row.key.values()


def _total_row(table: TableRead) -> RowRead | None:
    return next((row for row in table.rows if _is_total(row)), None)


def _plain(value: float) -> CellRead:
    return CellRead(value=value, suppressed=False)


# --- charts ---------------------------------------------------------------------------------


def programs_chart(report: ReportRead, names: Names) -> str:
    table = _table(report, "programs")
    by_format: dict[str | None, dict[str | None, CellRead]] = defaultdict(dict)
    for row in table.rows:
        if not _is_total(row):
            by_format[row.key.get("format")][row.key.get("side")] = row.values["programs"]
    sides = [s for s in SIDE_ORDER if any(s in cells for cells in by_format.values())]
    sides += sorted({s for cells in by_format.values() for s in cells if s not in SIDE_ORDER}, key=str)
    order = sorted(
        by_format, key=lambda f: (-sum(shown(c) or 0 for c in by_format[f].values()), names.term("format", f))
    )
    rows = [
        (
            names.term("format", code, "No format given"),
            [
                Segment(
                    names.term("side", side, "No side given"),
                    by_format[code].get(side),
                    SIDE_COLOURS.get(side, "#718096"),
                )
                for side in sides
                if side in by_format[code]
            ],
        )
        for code in order
    ]
    side_names = [names.term("side", s, "No side given") for s in sides]
    table_rows = [
        [label, *(cell_text(by_format[code].get(side)) if side in by_format[code] else "0" for side in sides)]
        for (label, _), code in zip(rows, order, strict=True)
    ]
    return (
        legend([(n, SIDE_COLOURS.get(s, "#718096")) for n, s in zip(side_names, sides, strict=True)])
        + stacked_bars("chart-programs", "Programs by format and side", rows)
        + numbers_table("programs by format and side", ["Format", *side_names], table_rows)
    )


def pipeline_chart(report: ReportRead, names: Names) -> str:
    table = _table(report, "programs_per_stage")
    bars = [
        Bar(
            names.term("evaluation_stage", row.key["evaluation_stage"]),
            row.values["programs"],
            STAGE_COLOURS.get(row.key["evaluation_stage"] or "", "#553c9a"),
        )
        for row in table.rows
    ]
    return bar_chart("chart-pipeline", "Programs at each evaluation stage", bars) + numbers_table(
        "programs per evaluation stage", ["Stage", "Programs"], [[b.label, cell_text(b.cell)] for b in bars]
    )


def funnel_chart(report: ReportRead, names: Names) -> str:
    table = _table(report, "introductions_by_partner_kind")
    total = _total_row(table)
    values = total.values if total is not None else {}
    order = ["requested", *STATUS_ORDER]
    bars = [Bar(names.status(s), values[s], STATUS_COLOURS[s]) for s in order if s in values]
    return (
        bar_chart("chart-funnel", "Introductions by status", bars)
        + legend([], hidden=any(shown(b.cell) is None for b in bars))
        + numbers_table(
            "introductions by status",
            ["Status", "Introductions"],
            [[b.label, cell_text(b.cell)] for b in bars],
        )
    )


def pathway_chart(report: ReportRead, names: Names) -> str:
    table = _table(report, "initiators_by_pathway_step")
    bars = [
        Bar(names.step(row.key["pathway_step"]), row.values["initiators"], "#2c7a7b")
        for row in table.rows
        if not _is_total(row)
    ]
    return (
        bar_chart("chart-pathway", "Initiators by the step they are on", bars)
        + legend([], hidden=any(shown(b.cell) is None for b in bars))
        + numbers_table(
            "initiators by step", ["Step", "Initiators"], [[b.label, cell_text(b.cell)] for b in bars]
        )
    )


def quarters(keys: Sequence[str | None]) -> list[tuple[str, str]]:
    """(key, label) of every quarter from the first to the last of `keys`, the last MAX_QUARTERS
    of them: a quarter without rows had none (the tallies keep non-zero counts only)."""
    found = sorted({(int(m[1]), int(m[2])) for k in keys if k and (m := _QUARTER.fullmatch(k))})
    if not found:
        return []
    (year, quarter), last = found[0], found[-1]
    every = []
    while (year, quarter) <= last:
        every.append((f"{year}-Q{quarter}", f"Q{quarter} {year}"))
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return every[-MAX_QUARTERS:]


def introductions_trend(report: ReportRead, names: Names) -> str:
    table = _table(report, "introductions_by_quarter")
    by_quarter = {row.key.get("quarter"): row for row in table.rows if not _is_total(row)}
    span = quarters(list(by_quarter))
    if not span:
        return '<p class="note" id="chart-introductions-trend">No introductions yet.</p>'
    statuses = [s for s in STATUS_ORDER if s in table.columns]
    zero = _plain(0)
    columns = []
    for key, label in span:
        row = by_quarter.get(key)
        columns.append(
            Column(
                key=key,
                label=label,
                segments=[
                    Segment(names.status(s), row.values.get(s) if row else zero, STATUS_COLOURS[s])
                    for s in statuses
                ],
                total=row.values.get("requested") if row else zero,
            )
        )
    hidden = any(shown(s.cell) is None for c in columns for s in c.segments) or any(
        shown(c.total) is None for c in columns
    )
    rows = [[c.label, *(cell_text(s.cell) for s in c.segments), cell_text(c.total)] for c in columns]
    return (
        legend([(names.status(s), STATUS_COLOURS[s]) for s in statuses], hidden=hidden)
        + stacked_columns(
            "chart-introductions-trend",
            "Introductions asked for, per quarter, by status",
            columns,
            total_name="Requested",
        )
        + numbers_table(
            "introductions per quarter", ["Quarter", *(names.status(s) for s in statuses), "Requested"], rows
        )
    )


def evaluation_trend(report: ReportRead, names: Names) -> str:
    table = _table(report, "stage_transitions")
    cells: dict[str | None, dict[str | None, CellRead]] = defaultdict(dict)
    for row in table.rows:
        cells[row.key.get("quarter")][row.key.get("evaluation_stage")] = row.values["records"]
    span = quarters(list(cells))
    if not span:
        return '<p class="note" id="chart-evaluation-trend">No evaluation records yet.</p>'
    seen = {s for by_stage in cells.values() for s in by_stage}
    stages = [s for s in STAGE_ORDER if s in seen] + sorted(s for s in seen if s and s not in STAGE_ORDER)
    zero = _plain(0)
    columns = [
        Column(
            key=key,
            label=label,
            segments=[
                Segment(
                    names.term("evaluation_stage", s),
                    cells.get(key, {}).get(s, zero),
                    STAGE_COLOURS.get(s, "#553c9a"),
                )
                for s in stages
            ],
        )
        for key, label in span
    ]
    rows = [[c.label, *(cell_text(s.cell) for s in c.segments)] for c in columns]
    hidden = any(shown(s.cell) is None for c in columns for s in c.segments)
    return (
        legend(
            [(names.term("evaluation_stage", s), STAGE_COLOURS.get(s, "#553c9a")) for s in stages],
            hidden=hidden,
        )
        + stacked_columns(
            "chart-evaluation-trend", "Evaluation records per quarter, by the stage reached", columns
        )
        + numbers_table(
            "evaluation records per quarter",
            ["Quarter", *(names.term("evaluation_stage", s) for s in stages)],
            rows,
        )
    )


# --- places ---------------------------------------------------------------------------------


def _missing(row: RowRead) -> list[str]:
    return [k for k in queries.GAP_KINDS if shown(row.values.get(f"no_{k}_within_50_km")) == 1]


def _or(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _state(row: RowRead) -> State:
    # A hidden initiators count may be any number: the place is shown as one with initiators,
    # whatever it is, so that the mark says nothing the table does not.
    initiators = row.values.get("initiators")
    if initiators is not None and (initiators.suppressed or (shown(initiators) or 0) > 0):
        return "demand"
    return "gap"


def _point(names: Names, country: str, region: str | None) -> tuple[tuple[float, float] | None, bool]:
    found = names.region_of(country, region)
    if found is not None and found.latitude is not None and found.longitude is not None:
        return (found.longitude, found.latitude), False
    return country_middle(country), True


def _plural(n: float, word: str) -> str:
    return f"{number_text(n)} {word}{'' if n == 1 else 's'}"


def number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def map_places(coverage: ReportRead, programs_by_region: ReportRead | None, names: Names) -> list[Place]:
    """Every region the coverage report lists (its gaps), and the other regions with programs."""
    found = []
    gaps = set()
    for row in _table(coverage, "coverage_gaps").rows:
        country, region = row.key.get("country"), row.key.get("region")
        if country is None:
            continue
        gaps.add((country, region))
        missing = _missing(row)
        programs = shown(row.values.get("programs")) or 0
        detail = (
            f"{_plural(programs, 'program')}; initiators: {cell_text(row.values.get('initiators'))}; "
            f"no {_or(missing)} within 50 km."
        )
        point, approximate = _point(names, country, region)
        found.append(
            Place(country, region, names.place(country, region), _state(row), detail, point, approximate)
        )
    if programs_by_region is not None:
        table = _table(programs_by_region, "programs")
        if {"country", "region"} <= set(table.dimensions):
            for row in table.rows:
                country, region = row.key.get("country"), row.key.get("region")
                if country is None or _is_total(row) or (country, region) in gaps:
                    continue
                programs = shown(row.values.get("programs")) or 0
                detail = f"{_plural(programs, 'program')}; no partner missing within 50 km."
                point, approximate = _point(names, country, region)
                found.append(
                    Place(
                        country, region, names.place(country, region), "covered", detail, point, approximate
                    )
                )
    return found


def gap_list(places: Sequence[Place]) -> str:
    needing = sorted((p for p in places if p.state != "covered"), key=lambda p: (p.state != "demand", p.name))
    if not needing:
        return '<p class="note">Every place with programs or initiators has a clinician, evaluator and trainer within 50 km.</p>'
    items = "".join(
        f'<li class="{p.state}" data-place="{escape(p.name)}"><b>{"! " if p.state == "demand" else ""}'
        f"{escape(p.name)}</b>{escape(p.detail)}</li>"
        for p in needing
    )
    return f'<h3>Where partners are missing</h3><ul class="gaps">{items}</ul>'


def map_legend() -> str:
    items = "".join(
        f"<li>{legend_swatch(state)}{escape(MARKER_TEXT[state])}</li>"
        for state in ("demand", "gap", "covered")
    )
    return f'<ul class="legend map-legend">{items}</ul>'


def coverage_table(report: ReportRead, names: Names) -> str:
    table = _table(report, "coverage_gaps")
    rows = sorted(
        table.rows,
        key=lambda r: (_state(r) != "demand", names.place(r.key.get("country"), r.key.get("region"))),
    )
    lines = []
    for row in rows:
        state = _state(row)
        missing = _missing(row)
        initiators = row.values.get("initiators")
        hidden = ' class="suppressed"' if initiators is not None and initiators.suppressed else ""
        lines.append(
            f'<tr data-state="{state}" data-country="{escape(row.key.get("country") or "")}" '
            f'data-region="{escape(row.key.get("region") or "")}">'
            f'<th scope="row">{escape(names.region(row.key.get("country"), row.key.get("region")))}</th>'
            f"<td>{escape(names.country(row.key.get('country')))}</td>"
            f"<td>{escape(cell_text(row.values.get('programs')))}</td>"
            f"<td{hidden}>{escape(cell_text(row.values.get('initiators')))}</td>"
            f"<td>{escape(', '.join(k.capitalize() for k in missing) or 'none')}</td>"
            f'<td class="state-{state}">{"! Initiators waiting" if state == "demand" else "Programs only"}</td></tr>'
        )
    body = "".join(lines) or '<tr><td colspan="6">No gaps found.</td></tr>'
    return (
        '<table id="coverage-gaps"><caption class="note">Regions with programs or initiators where no verified '
        "clinician, evaluator or trainer (of the kinds named) is within 50 km of any of them.</caption><thead><tr>"
        '<th scope="col">Region</th><th scope="col">Country</th><th scope="col">Programs</th>'
        '<th scope="col">Initiators</th><th scope="col">No partner within 50 km</th><th scope="col">Need</th>'
        f"</tr></thead><tbody>{body}</tbody></table>"
    )


def tiles(programs: ReportRead, partnerships: ReportRead, places: Sequence[Place]) -> str:
    total = _total_row(_table(programs, "programs"))
    introductions = _total_row(_table(partnerships, "introductions_by_partner_kind"))
    rates = _total_row(_table(partnerships, "acceptance_rate_by_partner_kind"))
    rate = shown(rates.values.get("acceptance_rate")) if rates else None
    demand = sum(p.state == "demand" for p in places)
    gaps = sum(p.state != "covered" for p in places)
    items = [
        ("Programs listed", cell_text(total.values["programs"]) if total else "0", ""),
        (
            "Places with initiators and a partner missing within 50 km",
            str(demand),
            ' class="alert"' if demand else "",
        ),
        ("Places lacking a clinician, evaluator or trainer within 50 km", str(gaps), ""),
        (
            "Introductions asked for",
            cell_text(introductions.values.get("requested")) if introductions else "0",
            "",
        ),
        ("Accepted", "not shown (too few)" if rate is None else f"{rate:.0%}", ""),
    ]
    return (
        '<ul class="tiles">'
        + "".join(f"<li{attrs}><b>{escape(v)}</b>{escape(k)}</li>" for k, v, attrs in items)
        + "</ul>"
    )


def _when(moment: datetime | str | None) -> str:
    if isinstance(moment, str):
        try:
            return _when(datetime.fromisoformat(moment))
        except ValueError:
            return moment
    if moment is None:
        return "not known"
    return moment.astimezone(UTC).strftime("%d %b %Y %H:%M UTC")


def render(
    programs: ReportRead,
    evidence: ReportRead,
    partnerships: ReportRead,
    coverage: ReportRead,
    *,
    places: ReportRead | None = None,
    labels: Labels | None = None,
) -> str:
    """The page. `places` is the programs report grouped by country and region (the map marks
    its regions without gaps too); `labels` the vocabularies' labels (defaults when not given)."""
    names = Names(labels)
    threshold = partnerships.suppression.threshold
    marked = map_places(coverage, places, names)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{PAGE_POLICY}">
<meta name="referrer" content="no-referrer">
<title>Registry dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body>
<h1>IPV peer-program registry: funders' dashboard</h1>
<p class="note">Computed {escape(_when(programs.computed_at))}. Counts of people (initiators,
introductions) are those of the release of {escape(_when(partnerships.parameters.get("released")))}: each is moved by
at most {partnerships.suppression.perturbation}, counts from 1 to {threshold - 1} are never shown, and further counts are
hidden where they would reveal one. A hidden count is marked "suppressed", never drawn as a size.</p>
{tiles(programs, partnerships, marked)}
<h2>Where partners are missing</h2>
<div class="mapgrid"><div>{coverage_map(marked, names)}{map_legend()}</div><div>{gap_list(marked)}</div></div>
<h2>Trends by quarter</h2>
<div class="grid">
<section><h3>Introductions asked for</h3>{introductions_trend(partnerships, names)}</section>
<section><h3>Evaluation records, by stage reached</h3>{evaluation_trend(evidence, names)}</section>
</div>
<h2>What exists</h2>
<div class="grid">
<section><h3>Programs by format and side</h3>{programs_chart(programs, names)}</section>
<section><h3>Evaluation pipeline</h3>{pipeline_chart(evidence, names)}</section>
</div>
<h2>Partnerships</h2>
<div class="grid">
<section><h3>Introductions by status</h3>{funnel_chart(partnerships, names)}</section>
<section><h3>Initiators by step</h3>{pathway_chart(partnerships, names)}</section>
</div>
<h2>Coverage gaps</h2>{coverage_table(coverage, names)}
</body></html>"""


LOGIN_STYLE: Final = "body{font-family:system-ui,sans-serif;margin:2rem}"
LOGIN_SCRIPT: Final = """
// A key passed in the URL fragment (#key=...) never reaches server logs; trade it for the cookie.
const key = new URLSearchParams(location.hash.slice(1)).get("key");
if (key) {
  history.replaceState(null, "", location.pathname);
  fetch("/reports/dashboard/session", {method: "POST", body: new URLSearchParams({key}),
    credentials: "same-origin"}).then(r => { if (r.ok || r.redirected) location.reload(); });
}
"""


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


LOGIN_POLICY: Final = (
    f"default-src 'none'; style-src {_hash(LOGIN_STYLE)}; script-src {_hash(LOGIN_SCRIPT)}; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'"
)
LOGIN_HEADERS: Final = headers(LOGIN_POLICY)
LOGIN_PAGE: Final = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{LOGIN_POLICY}">
<title>Registry dashboard: sign in</title>
<style>{LOGIN_STYLE}</style></head>
<body><h1>Funders' dashboard</h1>
<p>Paste a funder or steward API key. It is kept in a session cookie for this browser only.</p>
<form method="post" action="/reports/dashboard/session">
<input name="key" type="password" autocomplete="off" size="60" aria-label="API key">
<button type="submit">Open dashboard</button></form>
<script>{LOGIN_SCRIPT}</script></body></html>"""
