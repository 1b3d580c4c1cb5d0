"""The dashboard's coverage map: country outlines drawn offline as SVG, fitted to the places the
reports name, with each place marked by what it lacks.

Outlines: Natural Earth's 1:110m countries (public domain) as the world-atlas package ships them in
TopoJSON (`assets/countries-110m.json`, ISC licence, `assets/world-atlas-LICENSE`), decoded here.
A place is a first-level region, marked at its most populous place (dashboard_names), or at its
country's middle when the region is unknown. Markers never size or shade by a count of people:
their shape says which of three states a place is in, and a hidden count stays hidden."""

import functools
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any, Final, Literal

import msgspec

from registry.reports.dashboard_names import ASSETS, Names, country_by_number

TOPOLOGY: Final = ASSETS / "countries-110m.json"

WIDTH: Final = 760
MIN_HEIGHT: Final = 320
MAX_HEIGHT: Final = 520
PADDING: Final = 0.15  # of the places' span, on each side
MIN_SPAN_DEGREES: Final = 12.0
# Points closer than this (in pixels) to the last one drawn are left out: the outlines stay
# as sharp as the screen shows them and the page small when the view is wide.
MIN_STEP_PX: Final = 1

# Outlines without an ISO numeric code in the data.
_UNNUMBERED: Final = {"Kosovo": "XK"}

Box = tuple[float, float, float, float]  # west, south, east, north (degrees)
Ring = tuple[tuple[float, float], ...]  # (longitude, latitude)
State = Literal["demand", "gap", "covered"]


@dataclass(frozen=True, slots=True)
class Outline:
    code: str | None  # ISO 3166-1 alpha-2
    name: str
    rings: tuple[Ring, ...]  # outer rings and holes of every polygon (drawn even-odd)
    boxes: tuple[Box, ...]  # each ring's
    main: Box  # the largest polygon's: where the country "is", without far islands


@dataclass(frozen=True, slots=True)
class Place:
    country: str
    region: str | None
    name: str  # "Nairobi Area, Kenya"
    state: State
    detail: str  # one sentence: what is there and what is missing
    point: tuple[float, float] | None  # (longitude, latitude); None: not placed
    approximate: bool = False  # placed at the country's middle


class _Geometry(msgspec.Struct):
    type: str
    arcs: list[Any] = msgspec.field(default_factory=list)
    id: str | None = None
    properties: dict[str, str] = msgspec.field(default_factory=dict)


class _Collection(msgspec.Struct):
    geometries: list[_Geometry]


class _Transform(msgspec.Struct):
    scale: tuple[float, float]
    translate: tuple[float, float]


class _Topology(msgspec.Struct):
    objects: dict[str, _Collection]
    arcs: list[list[tuple[int, int]]]
    transform: _Transform


def _box(points: Iterable[tuple[float, float]]) -> Box:
    xs, ys = zip(*points, strict=True)
    return min(xs), min(ys), max(xs), max(ys)


def _area(ring: Ring) -> float:
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True)))


def decode(topology: _Topology) -> tuple[Outline, ...]:
    """The countries of a quantized TopoJSON topology (arcs delta-encoded, TopoJSON spec 2.1)."""
    (sx, sy), (tx, ty) = topology.transform.scale, topology.transform.translate
    arcs = []
    for arc in topology.arcs:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((round(x * sx + tx, 4), round(y * sy + ty, 4)))
        arcs.append(points)

    def ring(indexes: list[int]) -> Ring:
        points: list[tuple[float, float]] = []
        for index in indexes:
            arc = arcs[index] if index >= 0 else arcs[~index][::-1]
            points.extend(arc[1:] if points else arc)  # each arc starts where the last ended
        return tuple(points)

    numbers = country_by_number()
    outlines = []
    for geometry in topology.objects["countries"].geometries:
        if geometry.type == "Polygon":
            polygons = [geometry.arcs]
        elif geometry.type == "MultiPolygon":
            polygons = geometry.arcs
        else:
            continue
        name = geometry.properties.get("name", "")
        code = numbers.get(int(geometry.id)) if geometry.id and geometry.id.isdigit() else None
        rings = [[ring(r) for r in polygon] for polygon in polygons]
        largest = max((p for p in rings if p and p[0]), key=lambda p: _area(p[0]))
        flat = tuple(r for polygon in rings for r in polygon if len(r) > 2)
        outlines.append(
            Outline(
                code=code or _UNNUMBERED.get(name),
                name=name,
                rings=flat,
                boxes=tuple(_box(r) for r in flat),
                main=_box(largest[0]),
            )
        )
    return tuple(outlines)


@functools.cache
def outlines() -> tuple[Outline, ...]:
    return decode(msgspec.json.decode(TOPOLOGY.read_bytes(), type=_Topology))


@functools.cache
def _by_code() -> dict[str, Outline]:
    return {o.code: o for o in outlines() if o.code}


def country_middle(code: str) -> tuple[float, float] | None:
    outline = _by_code().get(code.upper())
    if outline is None:
        return None
    west, south, east, north = outline.main
    return (west + east) / 2, (south + north) / 2


@dataclass(frozen=True, slots=True)
class View:
    """An equirectangular view (longitudes shrunk by the cosine of the middle latitude)."""

    west: float
    north: float
    scale_x: float
    scale_y: float
    width: int
    height: int

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return (lon - self.west) * self.scale_x, (self.north - lat) * self.scale_y

    def sees(self, box: Box) -> bool:
        x0, y0 = self.xy(box[0], box[3])
        x1, y1 = self.xy(box[2], box[1])
        return x1 >= 0 and y1 >= 0 and x0 <= self.width and y0 <= self.height


def fit(boxes: Sequence[Box], width: int = WIDTH) -> View:
    """The view that shows every box, with a margin, at most MAX_HEIGHT pixels high."""
    west = min(b[0] for b in boxes)
    south = min(b[1] for b in boxes)
    east = max(b[2] for b in boxes)
    north = max(b[3] for b in boxes)
    middle_lon, middle_lat = (west + east) / 2, (south + north) / 2
    span_lon = max(east - west, MIN_SPAN_DEGREES) * (1 + 2 * PADDING)
    span_lat = max(north - south, MIN_SPAN_DEGREES) * (1 + 2 * PADDING)
    shrink = math.cos(math.radians(max(-60.0, min(60.0, middle_lat))))
    scale = width / (span_lon * shrink)
    if span_lat * scale > MAX_HEIGHT:
        scale = MAX_HEIGHT / span_lat
        span_lon = width / (scale * shrink)
    height = max(MIN_HEIGHT, round(span_lat * scale))
    span_lat = height / scale
    return View(
        west=middle_lon - span_lon / 2,
        north=middle_lat + span_lat / 2,
        scale_x=scale * shrink,
        scale_y=scale,
        width=width,
        height=height,
    )


Point = tuple[float, float]


def _cut(points: list[Point], axis: int, limit: float, keep_above: bool) -> list[Point]:
    """One side of a Sutherland-Hodgman clip: the ring on the kept side of axis = limit."""

    def inside(p: Point) -> bool:
        return p[axis] >= limit if keep_above else p[axis] <= limit

    def cross(p: Point, q: Point) -> Point:
        t = (limit - p[axis]) / (q[axis] - p[axis])
        return (limit, p[1] + (q[1] - p[1]) * t) if axis == 0 else (p[0] + (q[0] - p[0]) * t, limit)

    result: list[Point] = []
    previous = points[-1]
    for point in points:
        if inside(point):
            if not inside(previous):
                result.append(cross(previous, point))
            result.append(point)
        elif inside(previous):
            result.append(cross(previous, point))
        previous = point
    return result


def clip(points: Sequence[Point], x0: float, y0: float, x1: float, y1: float) -> list[Point]:
    """A polygon ring cut to a rectangle (Sutherland-Hodgman): what lies outside the view is
    not sent; the cut runs along the rectangle, which lies outside what is seen."""
    result = list(points)
    for axis, limit, keep_above in ((0, x0, True), (0, x1, False), (1, y0, True), (1, y1, False)):
        if not result:
            break
        result = _cut(result, axis, limit, keep_above)
    return result


def _path(outline: Outline, view: View) -> str:
    margin = 12.0
    parts = []
    for ring, box in zip(outline.rings, outline.boxes, strict=True):
        if not view.sees(box):
            continue
        projected = [view.xy(lon, lat) for lon, lat in ring]
        # Whole pixels, each point relative to the last: a third of the bytes of absolute decimals.
        kept: list[tuple[int, int]] = []
        for x, y in clip(projected, -margin, -margin, view.width + margin, view.height + margin):
            point = (round(x), round(y))
            if not kept or abs(point[0] - kept[-1][0]) + abs(point[1] - kept[-1][1]) >= MIN_STEP_PX:
                kept.append(point)
        if len(kept) > 2:
            steps = "".join(f"l{x - px} {y - py}" for (px, py), (x, y) in itertools.pairwise(kept))
            parts.append(f"M{kept[0][0]} {kept[0][1]}{steps}z")
    return "".join(parts)


MARKER_TEXT: Final[dict[State, str]] = {
    "demand": "Initiators waiting (counted or suppressed); "
    "a clinician, evaluator or trainer missing within 50 km",
    "gap": "Programs only; a clinician, evaluator or trainer missing within 50 km",
    "covered": "Programs; no partner missing within 50 km",
}
DEMAND_COLOUR: Final = "#c53030"
GAP_COLOUR: Final = "#c05621"
COVERED_COLOUR: Final = "#2b6cb0"


def marker(state: State, x: float, y: float) -> str:
    """The shape of a state: a red disc with "!", an orange diamond, a small blue dot."""
    if state == "demand":
        return (
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="9" fill="{DEMAND_COLOUR}" stroke="#fff" '
            'stroke-width="1.5"/>'
            f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle" font-weight="bold" fill="#fff">!</text>'
        )
    if state == "gap":
        return (
            f'<rect x="{x - 6:.1f}" y="{y - 6:.1f}" width="12" height="12" fill="{GAP_COLOUR}" stroke="#fff" '
            f'stroke-width="1.5" transform="rotate(45 {x:.1f} {y:.1f})"/>'
        )
    return (
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{COVERED_COLOUR}" stroke="#fff" stroke-width="1.5"/>'
    )


def legend_swatch(state: State) -> str:
    return f'<svg width="20" height="20" viewBox="0 0 20 20" aria-hidden="true">{marker(state, 10, 10)}</svg>'


_DRAW_ORDER: Final[dict[State, int]] = {"covered": 0, "gap": 1, "demand": 2}


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _label_at(
    point: tuple[float, float], text: str, view: View, taken: list[Box]
) -> tuple[float, float, Literal["start", "end"]]:
    """Where a place's name goes: beside its marker, else a little above or below it (the first
    spot that covers no marker and no other name), and taken for the next."""
    x, y = point
    width = 7.2 * len(text)
    sides: list[Literal["start", "end"]] = (
        ["end", "start"] if x + 13 + width > view.width else ["start", "end"]
    )
    spots = [(side, dy) for dy in (0, -15, 15, -30, 30, -45, 45, -60, 60) for side in sides]
    for side, dy in spots:
        lx = x + 13 if side == "start" else x - 13
        box = (
            (lx, y + dy - 8, lx + width, y + dy + 6)
            if side == "start"
            else (lx - width, y + dy - 8, lx, y + dy + 6)
        )
        if box[1] >= 0 and box[3] <= view.height - 14 and not any(_overlap(box, other) for other in taken):
            taken.append(box)
            return lx, y + dy + 4, side
    side, lx = sides[0], x + 13 if sides[0] == "start" else x - 13
    return lx, y + 4, side


def coverage_map(places: Sequence[Place], names: Names, map_id: str = "coverage-map") -> str:
    """The SVG map of `places` and the countries they are in, or a sentence when none is placed."""
    placed = [p for p in places if p.point is not None]
    if not placed:
        return f'<p id="{map_id}" class="note">No place in the reports can be put on the map yet.</p>'
    countries = sorted({p.country.upper() for p in placed})
    boxes: list[Box] = [_by_code()[c].main for c in countries if c in _by_code()]
    boxes += [(lon, lat, lon, lat) for lon, lat in (p.point for p in placed if p.point)]
    view = fit(boxes)
    demand = [p for p in placed if p.state == "demand"]
    description = (
        f"Map of {len(placed)} place{'s' if len(placed) != 1 else ''} in "
        f"{', '.join(names.country(c) for c in countries)}. "
        + (
            f"{len(demand)} with initiators and no clinician, evaluator or trainer within 50 km: "
            + "; ".join(p.name for p in demand)
            + "."
            if demand
            else "No place with initiators lacks a partner within 50 km."
        )
    )
    parts = [
        f'<svg id="{map_id}" class="map" role="img" aria-labelledby="{map_id}-title {map_id}-desc" '
        f'width="{view.width}" height="{view.height}" viewBox="0 0 {view.width} {view.height}" '
        'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{map_id}-title">Coverage map</title>'
        f'<desc id="{map_id}-desc">{escape(description)}</desc>'
        f'<rect class="sea" width="{view.width}" height="{view.height}" fill="#eef5fb"/>'
    ]
    labels = []
    taken: list[Box] = []  # pixel boxes (x0, y0, x1, y1) of what labels must not cover
    for outline in outlines():
        in_data = outline.code in countries
        if not in_data and not view.sees(outline.main) and not any(view.sees(b) for b in outline.boxes):
            continue
        d = _path(outline, view)
        if not d:
            continue
        name = names.country(outline.code) if outline.code else outline.name
        fill, stroke = ("#d6e4f0", "#6b8bab") if in_data else ("#f4f4f1", "#c3c8cf")
        parts.append(
            f'<path class="country{" in-data" if in_data else ""}" '
            f'data-country="{escape(outline.code or "")}" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="0.7" fill-rule="evenodd" d="{d}">'
            f"<title>{escape(name)}</title></path>"
        )
        if in_data:
            west, south, east, north = outline.main
            x, y = view.xy((west + east) / 2, (south + north) / 2)
            if 0 < x < view.width and 0 < y < view.height:
                labels.append((name.upper(), x, y))
    points = {id(p): view.xy(*p.point) for p in placed if p.point}
    taken += [(x - 10, y - 10, x + 10, y + 10) for x, y in points.values()]
    for text, x, y in labels:
        # A country's name sits where no place is: at its middle, or just above or below.
        for dy in (0, -16, 16, -32, 32):
            box = (x - 4.5 * len(text), y + dy - 11, x + 4.5 * len(text), y + dy + 3)
            if not any(_overlap(box, other) for other in taken):
                taken.append(box)
                parts.append(
                    f'<text class="country-name" x="{x:.1f}" y="{y + dy:.1f}" text-anchor="middle" '
                    'fill="#4a5568" font-size="13" letter-spacing="1" stroke="#fff" stroke-width="3" '
                    f'paint-order="stroke">{escape(text)}</text>'
                )
                break
    # Names of places that lack partners, the ones with initiators placed first.
    named = {}
    for place in sorted(placed, key=lambda p: (-_DRAW_ORDER[p.state], p.name)):
        if place.state != "covered":
            named[id(place)] = _label_at(
                points[id(place)], f"! {place.name}" if place.state == "demand" else place.name, view, taken
            )
    for place in sorted(placed, key=lambda p: (_DRAW_ORDER[p.state], p.name)):
        x, y = points[id(place)]
        where = " (placed at the country's middle: region not known)" if place.approximate else ""
        parts.append(
            f'<g class="place {place.state}" data-state="{place.state}" '
            f'data-country="{escape(place.country)}" '
            f'data-region="{escape(place.region or "")}" data-place="{escape(place.name)}">'
            f"<title>{escape(place.name)}: {escape(place.detail)}{where}</title>{marker(place.state, x, y)}"
        )
        found = named.get(id(place))
        if found is not None:
            lx, ly, anchor = found
            if abs(ly - 4 - y) > 8:  # moved away from its marker: a thin line leads back to it
                parts.append(
                    f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{lx:.1f}" y2="{ly - 4:.1f}" stroke="#4a5568" '
                    'stroke-width="0.8"/>'
                )
            bold = ' font-weight="bold"' if place.state == "demand" else ""
            parts.append(
                f'<text class="place-name" x="{lx:.1f}" y="{ly:.1f}" text-anchor="{anchor}" fill="#1a202c" '
                f'stroke="#fff" stroke-width="3" paint-order="stroke"{bold}>'
                f"{'! ' if place.state == 'demand' else ''}{escape(place.name)}</text>"
            )
        parts.append("</g>")
    parts.append(
        f'<text x="{view.width - 6}" y="{view.height - 6}" text-anchor="end" fill="#718096" font-size="10">'
        "Outlines: Natural Earth. Places: GeoNames.</text></svg>"
    )
    return "".join(parts)
