"""The funders' dashboard: one server-rendered HTML page with inline SVG charts, no external
assets, built from the same (suppressed) report data as the JSON endpoints."""

from html import escape

from registry.reports.schemas import CellRead, ReportRead, TableRead

BAR_WIDTH = 360
LABEL_WIDTH = 330
ROW_HEIGHT = 22
SIDE_COLOURS = {
    "survivors": "#2b6cb0",
    "people_who_use_violence": "#c05621",
    "both": "#2f855a",
    None: "#718096",
}

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1a202c;max-width:70rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
.note{color:#4a5568;font-size:.9rem}
table{border-collapse:collapse}td,th{border:1px solid #cbd5e0;padding:.25rem .6rem;text-align:left}
svg text{font-size:12px}.suppressed{fill:#a0aec0;font-style:italic}
"""


def _value(cell: CellRead | None) -> int | None:
    if cell is None or cell.value is None:
        return None
    return int(cell.value)


def bar_chart(chart_id: str, title: str, bars: list[tuple[str, CellRead, str]]) -> str:
    """Horizontal bars: (label, cell, colour). Hidden (suppressed) cells get a label, no bar."""
    values = [_value(c) or 0 for _, c, _ in bars]
    top = max(values, default=0) or 1
    height = ROW_HEIGHT * len(bars) + 10
    parts = [
        f'<svg id="{chart_id}" role="img" aria-label="{escape(title)}" width="{LABEL_WIDTH + BAR_WIDTH + 80}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (label, cell, colour) in enumerate(bars):
        y = i * ROW_HEIGHT + 5
        parts.append(f'<text x="0" y="{y + 14}">{escape(label)}</text>')
        value = _value(cell)
        if cell.suppressed or value is None:
            parts.append(
                f'<text class="suppressed value" data-label="{escape(label)}" data-suppressed="true" '
                f'x="{LABEL_WIDTH}" y="{y + 14}">suppressed</text>'
            )
            continue
        width = round(BAR_WIDTH * value / top, 1)
        parts.append(
            f'<rect class="bar" data-label="{escape(label)}" data-value="{value}" x="{LABEL_WIDTH}" y="{y}" '
            f'width="{width}" height="{ROW_HEIGHT - 6}" fill="{colour}"/>'
        )
        parts.append(
            f'<text class="value" data-label="{escape(label)}" data-value="{value}" '
            f'x="{LABEL_WIDTH + width + 6}" y="{y + 14}">{value}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(report: ReportRead, name: str) -> TableRead:
    return next(t for t in report.tables if t.name == name)


def programs_chart(report: ReportRead) -> str:
    table = _table(report, "programs")
    bars = [
        (
            f"{row.key.get('format') or 'no format'} / {row.key.get('side') or 'no side'}",
            row.values["programs"],
            SIDE_COLOURS.get(row.key.get("side"), "#718096"),
        )
        for row in table.rows
        if "__total__" not in row.key.values()
    ]
    return bar_chart("chart-programs", "Programs by format and side", bars)


def pipeline_chart(report: ReportRead) -> str:
    table = _table(report, "programs_per_stage")
    bars = [(str(row.key["evaluation_stage"]), row.values["programs"], "#553c9a") for row in table.rows]
    return bar_chart("chart-pipeline", "Evaluation pipeline", bars)


def funnel_chart(report: ReportRead) -> str:
    table = _table(report, "introductions_by_partner_kind")
    total = next(row for row in table.rows if "__total__" in row.key.values())
    order = ["requested", "accepted", "declined", "expired", "pending", "withdrawn"]
    bars = [(status, total.values[status], "#2c7a7b") for status in order if status in total.values]
    return bar_chart("chart-funnel", "Partnership funnel", bars)


def coverage_table(report: ReportRead) -> str:
    table = _table(report, "coverage_gaps")
    head = "".join(f"<th>{escape(c)}</th>" for c in ["country", "region", *table.columns])
    lines = []
    for row in table.rows:
        cells = [escape(str(row.key.get("country") or "")), escape(str(row.key.get("region") or ""))]
        for column in table.columns:
            cell = row.values[column]
            cells.append("suppressed" if cell.suppressed else escape(str(cell.value)))
        lines.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    body = "".join(lines) or f'<tr><td colspan="{len(table.columns) + 2}">No gaps found.</td></tr>'
    return f'<table id="coverage-gaps"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def render(programs: ReportRead, evidence: ReportRead, partnerships: ReportRead, coverage: ReportRead) -> str:
    threshold = partnerships.suppression.threshold
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Registry dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body>
<h1>IPV peer-program registry: funders' dashboard</h1>
<p class="note">Computed {escape(programs.computed_at.isoformat(timespec="seconds"))}. Counts of people from 1 to
{threshold - 1} are never shown (marked "suppressed"), and further counts are hidden where they would reveal one.</p>
<h2>Programs by format and side</h2>{programs_chart(programs)}
<h2>Evaluation pipeline</h2>{pipeline_chart(evidence)}
<h2>Partnership funnel (introductions)</h2>{funnel_chart(partnerships)}
<h2>Coverage gaps</h2>{coverage_table(coverage)}
</body></html>"""


LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Registry dashboard: sign in</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}</style></head>
<body><h1>Funders' dashboard</h1>
<p>Paste a funder or steward API key. It is kept in a session cookie for this browser only.</p>
<form method="post" action="/reports/dashboard/session">
<input name="key" type="password" autocomplete="off" size="60" aria-label="API key">
<button type="submit">Open dashboard</button></form>
<script>
// A key passed in the URL fragment (#key=...) never reaches server logs; trade it for the cookie.
const key = new URLSearchParams(location.hash.slice(1)).get("key");
if (key) {
  history.replaceState(null, "", location.pathname);
  fetch("/reports/dashboard/session", {method: "POST", body: new URLSearchParams({key}),
    credentials: "same-origin"}).then(r => { if (r.ok || r.redirected) location.reload(); });
}
</script></body></html>"""
