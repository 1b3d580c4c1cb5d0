"""SVG charts for the dashboard, drawn on the server: bars, stacked bars, columns per quarter, and
the table of numbers behind each. A hidden (suppressed) cell is drawn as a crossed-out ring that
says "suppressed", never as a length, a height or a number; scales come from shown values only."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

from registry.reports.schemas import CellRead

ROW: Final = 26
LABEL_WIDTH: Final = 210
BAR_WIDTH: Final = 270
CHART_WIDTH: Final = 560
PLOT_HEIGHT: Final = 190
MUTED: Final = "#718096"
CHAR_PX: Final = 6.6  # average width of a 12px sans-serif character, for cutting long labels


def shown(cell: CellRead | None) -> float | None:
    """What to draw of a cell: None when it is hidden or missing."""
    if cell is None or cell.suppressed or cell.value is None:
        return None
    return cell.value


def number(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}"


def cell_text(cell: CellRead | None) -> str:
    if cell is not None and cell.suppressed:
        return "suppressed"
    value = shown(cell)
    return "-" if value is None else number(value)


def _cut(text: str, pixels: float) -> str:
    most = int(pixels / CHAR_PX)
    return text if len(text) <= most else text[: most - 1].rstrip() + "…"


def _open(chart_id: str, title: str, width: float, height: float) -> str:
    return (
        f'<svg id="{chart_id}" class="chart" role="img" aria-labelledby="{chart_id}-title" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'xmlns="http://www.w3.org/2000/svg"><title id="{chart_id}-title">{escape(title)}</title>'
    )


def glyph(x: float, y: float, colour: str = MUTED) -> str:
    """The mark of a hidden count: a dashed ring, crossed out."""
    return (
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="#fff" stroke="{colour}" stroke-dasharray="2 1.5"/>'
        f'<line x1="{x - 3.5:.1f}" y1="{y + 3.5:.1f}" x2="{x + 3.5:.1f}" y2="{y - 3.5:.1f}" '
        f'stroke="{colour}"/>'
    )


def suppressed_mark(label: str, x: float, y: float, *, words: bool = True, colour: str = MUTED) -> str:
    """A hidden cell: the ring, and (with `words`) the word "suppressed" beside it."""
    text = (
        f'<text class="suppressed" x="{x + 9:.1f}" y="{y + 4:.1f}" fill="{MUTED}" font-style="italic">'
        "suppressed</text>"
        if words
        else ""
    )
    return (
        f'<g class="hidden-cell" data-label="{escape(label)}" data-suppressed="true">'
        f"<title>{escape(label)}: suppressed</title>{glyph(x, y, colour)}{text}</g>"
    )


def legend(entries: Sequence[tuple[str, str]], *, hidden: bool = False) -> str:
    """An HTML legend: (label, colour) swatches, and the hidden-count mark when one is drawn."""
    items = [
        f'<li><svg width="12" height="12" viewBox="0 0 12 12" aria-hidden="true">'
        f'<rect width="12" height="12" rx="2" fill="{colour}"/></svg>{escape(label)}</li>'
        for label, colour in entries
    ]
    if hidden:
        items.append(
            '<li><svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true">'
            f"{glyph(7, 7)}</svg>suppressed (a small count, or one that would reveal it)</li>"
        )
    return f'<ul class="legend">{"".join(items)}</ul>'


def numbers_table(caption: str, head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """The numbers behind a chart, as a table (closed by default; screen readers reach it)."""
    header = "".join(f'<th scope="col">{escape(h)}</th>' for h in head)
    body = "".join(
        "<tr>"
        + "".join(
            f'<th scope="row">{escape(c)}</th>' if i == 0 else f"<td>{escape(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return (
        f'<details class="numbers"><summary>Numbers: {escape(caption)}</summary>'
        f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table></details>"
    )


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    cell: CellRead | None
    colour: str


def bar_chart(chart_id: str, title: str, bars: Sequence[Bar]) -> str:
    """Horizontal bars, one per label."""
    top = max((shown(b.cell) or 0 for b in bars), default=0) or 1
    height = ROW * len(bars) + 8
    parts = [_open(chart_id, title, LABEL_WIDTH + BAR_WIDTH + 70, height)]
    for i, bar in enumerate(bars):
        y = i * ROW + 4
        parts.append(
            f'<text class="label" x="{LABEL_WIDTH - 8}" y="{y + 15}" text-anchor="end">'
            f"<title>{escape(bar.label)}</title>{escape(_cut(bar.label, LABEL_WIDTH - 10))}</text>"
        )
        value = shown(bar.cell)
        if value is None:
            parts.append(suppressed_mark(bar.label, LABEL_WIDTH + 6, y + 11))
            continue
        width = round(BAR_WIDTH * value / top, 1)
        parts.append(
            f'<rect class="bar" data-label="{escape(bar.label)}" data-value="{number(value)}" '
            f'x="{LABEL_WIDTH}" y="{y}" width="{width}" height="{ROW - 8}" rx="2" fill="{bar.colour}"/>'
            f'<text class="value" x="{LABEL_WIDTH + width + 6}" y="{y + 15}">{number(value)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Segment:
    series: str
    cell: CellRead | None
    colour: str


def stacked_bars(chart_id: str, title: str, rows: Sequence[tuple[str, Sequence[Segment]]]) -> str:
    """Horizontal bars made of segments (one per series); a hidden segment is left out of the
    bar and marked after it."""
    sums = [sum(shown(s.cell) or 0 for s in segments) for _, segments in rows]
    top = max(sums, default=0) or 1
    height = ROW * len(rows) + 8
    parts = [_open(chart_id, title, LABEL_WIDTH + BAR_WIDTH + 90, height)]
    for i, (label, segments) in enumerate(rows):
        y = i * ROW + 4
        parts.append(
            f'<text class="label" x="{LABEL_WIDTH - 8}" y="{y + 15}" text-anchor="end">'
            f"<title>{escape(label)}</title>{escape(_cut(label, LABEL_WIDTH - 10))}</text>"
        )
        x = float(LABEL_WIDTH)
        for segment in segments:
            value = shown(segment.cell)
            if not value:
                continue
            width = round(BAR_WIDTH * value / top, 1)
            name = f"{label} · {segment.series}"
            parts.append(
                f'<rect class="bar" data-label="{escape(name)}" data-value="{number(value)}" '
                f'x="{x:.1f}" y="{y}" width="{width}" height="{ROW - 8}" fill="{segment.colour}" '
                'stroke="#fff" stroke-width="1">'
                f"<title>{escape(name)}: {number(value)}</title></rect>"
            )
            if width >= 8 * len(number(value)) + 6:
                parts.append(
                    f'<text class="value in-bar" x="{x + width / 2:.1f}" y="{y + 14}" text-anchor="middle" '
                    f'fill="#fff" font-size="11">{number(value)}</text>'
                )
            x += width
        parts.append(f'<text class="value total" x="{x + 6:.1f}" y="{y + 15}">{number(sums[i])}</text>')
        x += 12 + CHAR_PX * len(number(sums[i]))
        for segment in segments:
            if shown(segment.cell) is None and segment.cell is not None:
                parts.append(suppressed_mark(f"{label} · {segment.series}", x, y + 11, words=False))
                x += 14
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Column:
    key: str  # "2026-Q3"
    label: str  # "Q3 2026"
    segments: Sequence[Segment]
    total: CellRead | None = None  # a published total printed above the column


def _nice(top: float) -> float:
    """The scale's top: the smallest 2, 4 or 10 times a power of ten at or above `top`, so that
    its half (the middle grid line) is a whole number too."""
    if top <= 2:
        return 2
    power = 10.0 ** math.floor(math.log10(top))
    return next(step * power for step in (1.0, 2.0, 4.0, 10.0) if step * power >= top)


def stacked_columns(
    chart_id: str, title: str, columns: Sequence[Column], *, total_name: str = "Total"
) -> str:
    """One column per quarter, stacked by series from the bottom; above it the published total
    (or "suppressed"), below its label the marks of its hidden segments."""
    sums = [sum(shown(s.cell) or 0 for s in c.segments) for c in columns]
    totals = [shown(c.total) or 0 for c in columns]
    top = _nice(max([*sums, *totals], default=0))
    left, head = 44, 22
    step = max(44.0, min(80.0, (CHART_WIDTH - left) / max(len(columns), 1)))
    bar = step * 0.62
    per_line = max(1, int(bar // 13))
    hidden_lines = max(
        (
            math.ceil(sum(shown(s.cell) is None and s.cell is not None for s in c.segments) / per_line)
            for c in columns
        ),
        default=0,
    )
    width = left + step * len(columns) + 8
    height = head + PLOT_HEIGHT + 24 + 14 * hidden_lines + 4
    base = head + PLOT_HEIGHT
    parts = [_open(chart_id, title, max(width, 240), height)]
    for fraction in (0, 0.5, 1):
        y = base - PLOT_HEIGHT * fraction
        parts.append(
            f'<line x1="{left}" x2="{width - 4:.0f}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e8f0"/>'
            f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{MUTED}" '
            f'font-size="11">{number(top * fraction)}</text>'
        )
    for i, column in enumerate(columns):
        x = left + step * i + (step - bar) / 2
        middle = x + bar / 2
        y = float(base)
        parts.append(f'<g class="column" data-quarter="{escape(column.key)}">')
        for segment in column.segments:
            value = shown(segment.cell)
            if not value:
                continue
            h = PLOT_HEIGHT * value / top
            y -= h
            name = f"{column.label} · {segment.series}"
            parts.append(
                f'<rect class="bar" data-label="{escape(name)}" data-value="{number(value)}" x="{x:.1f}" '
                f'y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{segment.colour}" stroke="#fff" '
                f'stroke-width="1"><title>{escape(name)}: {number(value)}</title></rect>'
            )
            if h >= 14 and bar >= 8 * len(number(value)):
                parts.append(
                    f'<text class="value in-bar" x="{middle:.1f}" y="{y + h / 2 + 4:.1f}" '
                    f'text-anchor="middle" fill="#fff" font-size="11">{number(value)}</text>'
                )
        if column.total is not None:
            total_label = f"{column.label} · {total_name}"
            if shown(column.total) is None:
                parts.append(suppressed_mark(total_label, middle - 4, y - 12, words=False))
            else:
                parts.append(
                    f'<text class="value total" data-label="{escape(total_label)}" '
                    f'data-value="{number(totals[i])}" x="{middle:.1f}" y="{y - 6:.1f}" text-anchor="middle">'
                    f"{number(totals[i])}</text>"
                )
        elif not column.segments or not sums[i]:
            parts.append(
                f'<text class="value" x="{middle:.1f}" y="{base - 6}" text-anchor="middle" '
                f'fill="{MUTED}">0</text>'
            )
        parts.append(
            f'<text class="quarter" x="{middle:.1f}" y="{base + 16}" text-anchor="middle">'
            f"{escape(column.label)}</text>"
        )
        hidden = [s for s in column.segments if shown(s.cell) is None and s.cell is not None]
        for j, segment in enumerate(hidden):
            gx = x + 6 + 13 * (j % per_line)
            gy = base + 30 + 14 * (j // per_line)
            parts.append(
                suppressed_mark(
                    f"{column.label} · {segment.series}", gx, gy, words=False, colour=segment.colour
                )
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
