"""Tests for registry.locations.geo: place resolution, the privacy grid, bands and boxes."""

import math
import re
import time
import tracemalloc
import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from registry.locations import geo, zipdata
from registry.locations.geo import (
    BAND_CODES,
    DISTANCE_BANDS,
    EARTH_RADIUS_KM,
    InvalidLocation,
    Place,
    UnknownPlace,
    band_rank,
    bounding_box,
    distance_band,
    grid_cell,
    haversine_km,
    nearest_locality,
    parse_coordinates,
    parse_near,
    resolve_place,
    resolve_postal_code,
    snap_to_grid,
)

# Index-backed tests load GeoNames once per process (about a second), so the first
# Hypothesis example must not trip the per-example deadline.
INDEXED = settings(deadline=None, max_examples=200)

latitudes = st.floats(min_value=-90.0, max_value=90.0, allow_nan=False)
longitudes = st.floats(min_value=-180.0, max_value=180.0, allow_nan=False)
cell_sizes = st.sampled_from([5.0, 5.5, 7.3, 10.0, 25.0, 100.0, 1000.0]) | st.floats(
    min_value=5.0, max_value=1000.0
)
bearings = st.floats(min_value=0.0, max_value=2.0 * math.pi)

# Rounding every coordinate to 5 decimals moves a point by at most ~0.8 m.
ROUNDING_KM = 0.002


def destination(latitude: float, longitude: float, bearing: float, km: float) -> tuple[float, float]:
    """The point ``km`` away along ``bearing`` (radians) on the same sphere as geo."""
    phi1 = math.radians(latitude)
    lambda1 = math.radians(longitude)
    angular = km / EARTH_RADIUS_KM
    sin_phi2 = math.sin(phi1) * math.cos(angular) + math.cos(phi1) * math.sin(angular) * math.cos(bearing)
    phi2 = math.asin(max(-1.0, min(1.0, sin_phi2)))
    lambda2 = lambda1 + math.atan2(
        math.sin(bearing) * math.sin(angular) * math.cos(phi1),
        math.cos(angular) - math.sin(phi1) * sin_phi2,
    )
    lon = (math.degrees(lambda2) + 540.0) % 360.0 - 180.0
    return math.degrees(phi2), lon


def cell_corners(cell: geo.GridCell) -> list[tuple[float, float]]:
    return [
        (cell.south, cell.west),
        (cell.south, cell.east),
        (cell.north, cell.west),
        (cell.north, cell.east),
    ]


# --- exceptions ----------------------------------------------------------------------


def test_unknown_place_is_an_invalid_location_and_a_value_error() -> None:
    assert issubclass(UnknownPlace, InvalidLocation)
    assert issubclass(InvalidLocation, ValueError)


# --- US ZIP codes ---------------------------------------------------------------------


def test_zip_resolves_to_denver() -> None:
    place = resolve_postal_code("80202")
    assert place.locality == "Denver"
    assert place.region == "CO"
    assert place.country == "US"
    assert place.postal_code == "80202"
    assert haversine_km(place.latitude, place.longitude, 39.7392, -104.9903) < 5.0


def test_zip_plus_four_keeps_only_the_five_digit_zip() -> None:
    assert resolve_postal_code("80202-1234") == resolve_postal_code("80202")
    assert resolve_postal_code("80202-1234").postal_code == "80202"


def test_zip_surrounding_whitespace_is_ignored() -> None:
    assert resolve_postal_code("  80202 ") == resolve_postal_code("80202")


def test_the_zip_table_is_the_zipcodes_package() -> None:
    """The API reads a tab-separated copy of the zipcodes package's table; it must say the same
    (regenerate with `python -m registry.locations.zipdata` after upgrading zipcodes)."""
    import zipcodes

    from registry.locations import zipdata

    expected = zipdata.rows(zipcodes.list_all())  # type: ignore[no-untyped-call]
    lines = zipdata.TABLE.read_text(encoding="utf-8").splitlines()
    assert [line for line in lines if not line.startswith("#")] == expected
    for record in zipcodes.list_all()[::997]:  # type: ignore[no-untyped-call]
        lat, lon = float(record["lat"]), float(record["long"])
        if lat == 0.0 and lon == 0.0:
            continue
        place = resolve_postal_code(record["zip_code"])
        assert (place.latitude, place.longitude, place.locality) == (lat, lon, record["city"])


def test_unknown_zip() -> None:
    with pytest.raises(UnknownPlace, match=r"unknown US ZIP code '00000'"):
        resolve_postal_code("00000")


def test_zip_with_placeholder_coordinates_is_unknown() -> None:
    # 96200 is a military (DPO) ZIP that zipcodes places at 0,0.
    with pytest.raises(UnknownPlace, match="no known location"):
        resolve_postal_code("96200")


def test_territory_zip_gets_its_iso_country() -> None:
    place = resolve_postal_code("00601")
    assert place.country == "PR"
    assert place.region == "PR"
    assert place.locality == "Adjuntas"


@pytest.mark.parametrize(
    "text",
    [
        "8020",
        "802021",
        "80202-12",
        "802021234",
        "80202 1234",
        "abcde",
        "",
        "80 202",
        "\uff18\uff10\uff12\uff10\uff12",
    ],
)
def test_malformed_zip(text: str) -> None:
    with pytest.raises(InvalidLocation) as caught:
        resolve_postal_code(text)
    assert not isinstance(caught.value, UnknownPlace)


# --- free-text places -----------------------------------------------------------------


def test_utrecht() -> None:
    place = resolve_place("Utrecht, NL")
    assert place == Place(
        latitude=52.09083,
        longitude=5.12222,
        locality="Utrecht",
        region="09",
        country="NL",
        postal_code=None,
    )


def test_nairobi() -> None:
    place = resolve_place("Nairobi, KE")
    assert (place.locality, place.country) == ("Nairobi", "KE")
    assert haversine_km(place.latitude, place.longitude, -1.286, 36.817) < 10.0


def test_denver_with_state() -> None:
    place = resolve_place("Denver, CO, US")
    assert (place.locality, place.region, place.country) == ("Denver", "CO", "US")
    assert place.postal_code is None


def test_us_state_may_be_spelled_out() -> None:
    assert resolve_place("Denver, Colorado, US") == resolve_place("Denver, CO, US")


def test_denver_without_state_picks_the_most_populous() -> None:
    assert resolve_place("Denver, US") == resolve_place("Denver, CO, US")


def test_region_selects_among_namesakes() -> None:
    oregon = resolve_place("Portland, US")
    maine = resolve_place("Portland, ME, US")
    assert oregon.region == "OR"
    assert maine.region == "ME"
    assert haversine_km(oregon.latitude, oregon.longitude, maine.latitude, maine.longitude) > 3000


def test_accent_free_input_finds_sao_paulo() -> None:
    place = resolve_place("Sao Paulo, BR")
    assert place.locality == "São Paulo"
    assert place.country == "BR"
    assert resolve_place("São Paulo, BR") == place


@pytest.mark.parametrize(
    "text",
    ["utrecht, nl", "UTRECHT, NL", "  Utrecht ,  nl  ", "Utrecht,NL", "utrecht, Nl"],
)
def test_case_and_spacing_do_not_matter(text: str) -> None:
    assert resolve_place(text) == resolve_place("Utrecht, NL")


def test_alternate_names_are_a_fallback() -> None:
    assert resolve_place("Cologne, DE").locality == "Köln"
    assert resolve_place("Kobenhavn, DK").locality == "Copenhagen"
    assert resolve_place("Утрехт, NL").locality == "Utrecht"


def _reference_normalise(text: str) -> str:
    """A name's key the plain way, a character at a time: case folded, the letters without a
    decomposition folded, decomposed, every combining character dropped, each run of separators one
    space, none at the ends."""
    folded = "".join(geo._LETTER_FOLDS.get(c, c) for c in text.casefold())
    kept = "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))
    return re.sub(r"[\W_]+", " ", kept).strip()


@settings(max_examples=300)
@given(st.lists(st.text(max_size=12) | st.sampled_from(["São-Paulo", "Tromsø", "\0", "a\0b", "_x_", ""])))
@example(["Ångström\u0301s", "a\U0001d167b", "x\U000e0100y", "ǅ", "ß-İ", "\0\0"])
def test_names_are_normalised_alone_or_all_at_once_as_the_plain_way(texts: list[str]) -> None:
    expected = [_reference_normalise(text) for text in texts]
    assert [geo._normalise(text) for text in texts] == expected
    assert geo._normalise_all(texts) == expected


def test_every_geonames_name_is_normalised_at_once_as_alone() -> None:
    names = [name for r in geo._city_records(geo._AlternateNames) for name in r.names()]
    cities = geo._city_index().cities
    names += [cities.name(p) for p in range(len(cities))]
    assert len(names) > 380_000
    assert geo._normalise_all(names) == [_reference_normalise(name) for name in names]


def test_the_alternate_name_index_finds_every_alternate_name_as_a_dict_would() -> None:
    cities = geo._city_index().cities
    position_by_id = {geonameid: p for p, geonameid in enumerate(cities.geonameids)}
    pairs = []
    for record in geo._city_records(geo._AlternateNames):
        p = position_by_id.get(record.geonameid)
        if p is None:
            continue
        own = _reference_normalise(cities.name(p))
        keys = {_reference_normalise(alternate) for alternate in record.names()} - {"", own}
        pairs += [(geo._name_key(cities.country(p), key), p) for key in keys]
    expected = _reference_groups(pairs, cities)
    found = geo._alternate_name_index()
    assert len(expected) > 250_000
    assert all(tuple(found.get(key)) == positions for key, positions in expected.items())
    assert len(found._keys) == len(pairs)  # nothing more


def test_letters_without_decomposition_are_folded() -> None:
    assert resolve_place("Tromso, NO").locality == "Tromsø"


def test_uk_is_an_alias_for_gb() -> None:
    assert resolve_place("London, UK") == resolve_place("London, GB")
    assert resolve_place("London, UK").region == "ENG"


def test_non_us_region_is_a_geonames_admin1_code() -> None:
    assert resolve_place("Utrecht, 09, NL") == resolve_place("Utrecht, NL")
    with pytest.raises(UnknownPlace):
        resolve_place("Utrecht, Utrecht, NL")


def test_unknown_city() -> None:
    with pytest.raises(UnknownPlace, match=r"no city named 'Atlantis' in NL"):
        resolve_place("Atlantis, NL")


def test_unknown_city_in_region() -> None:
    with pytest.raises(UnknownPlace, match=r"region 'WY'"):
        resolve_place("Denver, WY, US")


def test_two_letter_region_without_country_is_read_as_a_country() -> None:
    # "CO" is Colombia; the message names the country so the user can see why.
    with pytest.raises(UnknownPlace, match=r"Colombia"):
        resolve_place("Denver, CO")


def test_unknown_country() -> None:
    with pytest.raises(UnknownPlace, match=r"unknown place 'Atlantis, XX'.*'City, CC'"):
        resolve_place("Atlantis, XX")


@pytest.mark.parametrize(
    "text",
    [
        "Utrecht",
        "Netherlands",
        "NL",
        "Utrecht, Netherlands",
        "Utrecht, N1",
        ", NL",
        "Utrecht, ",
        "Utrecht,,NL",
        "a, b, c, NL",
        "",
        "   ",
        "Utrecht, NLD",
    ],
)
def test_malformed_place(text: str) -> None:
    with pytest.raises(InvalidLocation) as caught:
        resolve_place(text)
    assert not isinstance(caught.value, UnknownPlace)
    assert "City, CC" in str(caught.value)


def test_overlong_place_is_rejected() -> None:
    with pytest.raises(InvalidLocation, match="longer than 200"):
        resolve_place("x" * 198 + ", NL")


# --- coordinates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("52.09,5.12", (52.09, 5.12)),
        ("52.09, 5.12", (52.09, 5.12)),
        ("  52.09 ,5.12  ", (52.09, 5.12)),
        ("-33.9,+18.4", (-33.9, 18.4)),
        ("+52,-5", (52.0, -5.0)),
        ("90,180", (90.0, 180.0)),
        ("-90,-180", (-90.0, -180.0)),
        ("90.000,-180.0", (90.0, -180.0)),
        ("0,0", (0.0, 0.0)),
        (".5,-.5", (0.5, -0.5)),
        ("52.09083000000001,4.367981939999277", (52.09083000000001, 4.367981939999277)),
    ],
)
def test_parse_coordinates(text: str, expected: tuple[float, float]) -> None:
    assert parse_coordinates(text) == expected


def test_negative_zero_is_normalised() -> None:
    latitude, longitude = parse_coordinates("-0,-0.0")
    assert math.copysign(1.0, latitude) == 1.0
    assert math.copysign(1.0, longitude) == 1.0


@pytest.mark.parametrize(
    "text",
    [
        "90.0001,0",
        "-90.0001,0",
        "0,180.00001",
        "0,-180.00001",
        "91,0",
        "0,181",
        "999,0",
        "nan,0",
        "0,nan",
        "inf,0",
        "-inf,0",
        "1e1,0",
        "52.09",
        "52.09,",
        ",5.12",
        "52.09,5.12,3",
        "52,09,5,12",
        "52.09;5.12",
        "52.09 5.12",
        "52.09.1,5",
        "5 2.09,5.12",
        "--52,5",
        "+-52,5",
        "0x10,5",
        "",
        "  ",
        "\u0665\u0662,\u0665",
        "1" * 201,
    ],
)
def test_parse_coordinates_rejects(text: str) -> None:
    with pytest.raises(InvalidLocation):
        parse_coordinates(text)


@given(latitudes, longitudes)
def test_parse_coordinates_round_trips_fixed_point_text(latitude: float, longitude: float) -> None:
    text = f"{latitude:.6f},{longitude:.6f}"
    assert parse_coordinates(text) == (float(f"{latitude:.6f}"), float(f"{longitude:.6f}"))


# --- the ``near`` parameter -------------------------------------------------------------


def test_near_zip() -> None:
    assert parse_near("80202") == resolve_postal_code("80202")
    assert parse_near(" 80202-1234 ") == resolve_postal_code("80202")


def test_near_coordinates_keep_the_query_point_and_label_it() -> None:
    place = parse_near("52.1,5.1")
    assert (place.latitude, place.longitude) == (52.1, 5.1)
    assert (place.locality, place.region, place.country) == ("Utrecht", "09", "NL")
    assert place.postal_code is None


def test_near_coordinates_in_the_ocean_have_no_locality() -> None:
    assert parse_near("0,-30") == Place(0.0, -30.0, None, None, None, None)


def test_near_place() -> None:
    assert parse_near("Utrecht, NL") == resolve_place("Utrecht, NL")
    assert parse_near("Denver, CO, US") == resolve_place("Denver, CO, US")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("8020", "ZIP"),
        ("80202-", "ZIP"),
        ("91,0", "latitude"),
        ("52.09;5.12", "coordinates"),
        ("1.2.3,4", "coordinates"),
        ("Utrecht", "City, CC"),
        ("x" * 201, "longer than 200"),
        ("52.09," + " " * 195 + "5.12", "longer than 200"),
    ],
)
def test_near_rejects(text: str, message: str) -> None:
    with pytest.raises(InvalidLocation, match=message):
        parse_near(text)


def test_near_unknown_places() -> None:
    with pytest.raises(UnknownPlace):
        parse_near("00000")
    with pytest.raises(UnknownPlace):
        parse_near("Atlantis, XX")


@INDEXED
@given(st.text(max_size=250))
@example("")
@example("nan,inf")
@example(",,,")
@example("-")
@example("São Paulo, , BR")
def test_near_only_ever_raises_invalid_location(text: str) -> None:
    try:
        place = parse_near(text)
    except InvalidLocation:
        return
    assert -90.0 <= place.latitude <= 90.0
    assert -180.0 <= place.longitude <= 180.0


# --- distance bands ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("km", "code"),
    [
        (0.0, "under_5_km"),
        (4.999, "under_5_km"),
        (5.0, "5_to_10_km"),
        (9.999, "5_to_10_km"),
        (10.0, "10_to_25_km"),
        (25.0, "25_to_50_km"),
        (50.0, "50_to_100_km"),
        (99.999, "50_to_100_km"),
        (100.0, "over_100_km"),
        (1e6, "over_100_km"),
        (math.inf, "over_100_km"),
    ],
)
def test_distance_band(km: float, code: str) -> None:
    assert distance_band(km) == code


@pytest.mark.parametrize("km", [-0.001, -1.0, -math.inf, math.nan])
def test_distance_band_rejects(km: float) -> None:
    with pytest.raises(ValueError, match="distance"):
        distance_band(km)


def test_band_codes_follow_the_bands() -> None:
    assert tuple(code for _, code in DISTANCE_BANDS) == BAND_CODES
    assert [upper for upper, _ in DISTANCE_BANDS] == sorted(upper for upper, _ in DISTANCE_BANDS)
    assert DISTANCE_BANDS[-1][0] == math.inf
    assert [band_rank(code) for code in BAND_CODES] == list(range(len(BAND_CODES)))


def test_band_rank_rejects_unknown_codes() -> None:
    with pytest.raises(ValueError, match="unknown distance band"):
        band_rank("under_1_km")


@given(st.floats(min_value=0.0, allow_nan=False), st.floats(min_value=0.0, allow_nan=False))
def test_bands_are_monotonic(a: float, b: float) -> None:
    near, far = sorted((a, b))
    assert band_rank(distance_band(near)) <= band_rank(distance_band(far))


# --- haversine ------------------------------------------------------------------------


def test_haversine_known_distances() -> None:
    assert haversine_km(0.0, 0.0, 0.0, 0.0) == 0.0
    quarter = math.pi * EARTH_RADIUS_KM / 2.0
    assert haversine_km(0.0, 0.0, 90.0, 0.0) == pytest.approx(quarter)
    assert haversine_km(0.0, 0.0, 0.0, 180.0) == pytest.approx(2.0 * quarter)
    # Utrecht to Amsterdam is about 35 km.
    assert haversine_km(52.0908, 5.1222, 52.3740, 4.8897) == pytest.approx(35.0, abs=1.5)


@given(latitudes, longitudes, latitudes, longitudes)
def test_haversine_is_symmetric_and_bounded(lat1: float, lon1: float, lat2: float, lon2: float) -> None:
    d = haversine_km(lat1, lon1, lat2, lon2)
    assert d == pytest.approx(haversine_km(lat2, lon2, lat1, lon1), abs=1e-6)
    assert 0.0 <= d <= math.pi * EARTH_RADIUS_KM + 1e-6


# --- the privacy grid -------------------------------------------------------------------


@given(latitudes, longitudes, cell_sizes)
def test_snap_is_idempotent(latitude: float, longitude: float, cell_km: float) -> None:
    snapped = snap_to_grid(latitude, longitude, cell_km)
    assert snap_to_grid(*snapped, cell_km) == snapped


@given(latitudes, longitudes, cell_sizes)
def test_snap_output_is_rounded_and_in_range(latitude: float, longitude: float, cell_km: float) -> None:
    snapped_lat, snapped_lon = snap_to_grid(latitude, longitude, cell_km)
    assert -90.0 <= snapped_lat <= 90.0
    assert -180.0 < snapped_lon < 180.0
    assert round(snapped_lat, 5) == snapped_lat
    assert round(snapped_lon, 5) == snapped_lon


@given(latitudes, longitudes, cell_sizes)
def test_snap_is_the_centre_of_the_containing_cell(latitude: float, longitude: float, cell_km: float) -> None:
    cell = grid_cell(latitude, longitude, cell_km)
    # Cell edges come from float arithmetic (e.g. longitude + 180), so a point within
    # rounding error of an edge may land on either side of it.
    assert cell.south - 1e-9 <= latitude <= cell.north + 1e-9
    # Longitude 180 (or within rounding of it) belongs to the cell starting at -180.
    assert cell.west - 1e-9 <= longitude <= cell.east + 1e-9 or (
        longitude >= 180.0 - 1e-9 and cell.west == -180.0
    )
    centre_lat, centre_lon = cell.centre
    assert snap_to_grid(latitude, longitude, cell_km) == (
        round(centre_lat, 5) + 0.0,
        round(centre_lon, 5) + 0.0,
    )


@given(
    latitudes,
    longitudes,
    cell_sizes,
    st.floats(min_value=0.001, max_value=0.999),
    st.floats(min_value=0.001, max_value=0.999),
)
def test_points_in_one_cell_snap_identically(
    latitude: float, longitude: float, cell_km: float, u: float, v: float
) -> None:
    cell = grid_cell(latitude, longitude, cell_km)
    other_lat = cell.south + u * (cell.north - cell.south)
    other_lon = cell.west + v * (cell.east - cell.west)
    assert snap_to_grid(other_lat, other_lon, cell_km) == snap_to_grid(latitude, longitude, cell_km)


@given(latitudes, longitudes, cell_sizes)
def test_snap_moves_a_point_at_most_half_a_diagonal(
    latitude: float, longitude: float, cell_km: float
) -> None:
    snapped = snap_to_grid(latitude, longitude, cell_km)
    cell = grid_cell(latitude, longitude, cell_km)
    half_diagonal = max(haversine_km(*snapped, *corner) for corner in cell_corners(cell))
    assert haversine_km(latitude, longitude, *snapped) <= half_diagonal + ROUNDING_KM


@given(
    st.floats(min_value=-85.0, max_value=85.0),
    longitudes,
    st.floats(min_value=5.0, max_value=50.0),
)
def test_snap_moves_a_point_less_than_a_cell_away_outside_polar_regions(
    latitude: float, longitude: float, cell_km: float
) -> None:
    snapped = snap_to_grid(latitude, longitude, cell_km)
    assert haversine_km(latitude, longitude, *snapped) <= 0.75 * cell_km


@given(latitudes, longitudes, cell_sizes)
@example(90.0, 0.0, 5.0)
@example(-90.0, 0.0, 5.0)
@example(89.95, 0.0, 5.0)
@example(0.0, 180.0, 5.0)
def test_every_cell_is_at_least_cell_km_on_a_side(latitude: float, longitude: float, cell_km: float) -> None:
    cell = grid_cell(latitude, longitude, cell_km)
    assert haversine_km(cell.south, cell.west, cell.north, cell.west) >= cell_km
    if cell.east - cell.west < 360.0:
        poleward = cell.north if abs(cell.north) >= abs(cell.south) else cell.south
        assert haversine_km(poleward, cell.west, poleward, cell.east) >= cell_km


@given(
    latitudes,
    longitudes,
    cell_sizes,
    bearings,
    st.floats(min_value=0.0, max_value=2.0),
)
@example(89.99, 10.0, 5.0, 0.0, 0.5)
@example(0.0, 179.999, 5.0, math.pi / 2.0, 0.5)
def test_distinct_snapped_centres_are_at_least_a_cell_apart(
    latitude: float, longitude: float, cell_km: float, bearing: float, cells_away: float
) -> None:
    other_lat, other_lon = destination(latitude, longitude, bearing, cells_away * cell_km)
    here = snap_to_grid(latitude, longitude, cell_km)
    there = snap_to_grid(other_lat, other_lon, cell_km)
    assume(here != there)
    assert haversine_km(*here, *there) >= cell_km - ROUNDING_KM


def test_snap_is_deterministic_and_known() -> None:
    assert snap_to_grid(52.1, 5.1) == snap_to_grid(52.1, 5.1)
    assert snap_to_grid(52.1, 5.1) == snap_to_grid(52.11, 5.11)
    assert snap_to_grid(90.0, 123.0) == snap_to_grid(90.0, -45.0)
    assert snap_to_grid(90.0, 123.0)[1] == 0.0
    assert snap_to_grid(0.0, 180.0) == snap_to_grid(0.0, -180.0)


def test_poles_are_single_cells() -> None:
    north = grid_cell(90.0, 17.0)
    assert (north.west, north.east, north.north) == (-180.0, 180.0, 90.0)
    south = grid_cell(-90.0, 17.0)
    assert (south.west, south.east, south.south) == (-180.0, 180.0, -90.0)


def test_larger_cells_are_coarser() -> None:
    small = grid_cell(52.1, 5.1, 5.0)
    large = grid_cell(52.1, 5.1, 50.0)
    assert large.north - large.south > small.north - small.south
    assert large.east - large.west > small.east - small.west


@pytest.mark.parametrize("cell_km", [4.999, 0.0, -5.0, math.nan, math.inf, 1000.1])
def test_snap_rejects_bad_cell_sizes(cell_km: float) -> None:
    with pytest.raises(ValueError, match="cell_km"):
        snap_to_grid(52.1, 5.1, cell_km)


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [(90.1, 0.0), (-90.1, 0.0), (0.0, 180.1), (0.0, -180.1), (math.nan, 0.0), (0.0, math.inf)],
)
def test_snap_rejects_bad_coordinates(latitude: float, longitude: float) -> None:
    with pytest.raises(InvalidLocation):
        snap_to_grid(latitude, longitude)


# --- bounding boxes ---------------------------------------------------------------------


@given(
    latitudes,
    longitudes,
    st.floats(min_value=0.0, max_value=25_000.0),
    bearings,
    st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
@example(0.0, 179.9, 50.0, math.pi / 2.0, 0.99)
@example(0.0, -179.9, 50.0, 3.0 * math.pi / 2.0, 0.99)
@example(89.8, 0.0, 50.0, 0.0, 0.99)
@example(-89.8, 0.0, 50.0, math.pi, 0.99)
@example(60.0, 10.0, 1000.0, math.pi / 2.0, 0.999999)
@example(0.0, 0.0, 0.0, 0.0, 0.0)
def test_bounding_box_contains_every_point_within_the_radius(
    latitude: float, longitude: float, radius_km: float, bearing: float, fraction: float
) -> None:
    min_lat, min_lon, max_lat, max_lon = bounding_box(latitude, longitude, radius_km)
    point_lat, point_lon = destination(latitude, longitude, bearing, fraction * radius_km)
    assert min_lat <= point_lat <= max_lat
    assert min_lon <= point_lon <= max_lon


@given(latitudes, longitudes, st.floats(min_value=0.0, max_value=25_000.0))
def test_bounding_box_is_well_formed(latitude: float, longitude: float, radius_km: float) -> None:
    min_lat, min_lon, max_lat, max_lon = bounding_box(latitude, longitude, radius_km)
    assert -90.0 <= min_lat <= latitude <= max_lat <= 90.0
    assert -180.0 <= min_lon <= longitude <= max_lon <= 180.0


def test_bounding_box_is_tight_enough_to_be_useful() -> None:
    min_lat, min_lon, max_lat, max_lon = bounding_box(52.1, 5.1, 50.0)
    assert max_lat - min_lat == pytest.approx(2.0 * 50.0 / (EARTH_RADIUS_KM * math.pi / 180), rel=1e-3)
    assert 1.4 < max_lon - min_lon < 1.5


def test_bounding_box_widens_across_the_antimeridian() -> None:
    assert bounding_box(0.0, 179.9, 50.0)[1::2] == (-180.0, 180.0)
    assert bounding_box(0.0, -179.9, 50.0)[1::2] == (-180.0, 180.0)


def test_bounding_box_widens_around_the_poles() -> None:
    min_lat, min_lon, max_lat, max_lon = bounding_box(89.9, 45.0, 50.0)
    assert (min_lon, max_lat, max_lon) == (-180.0, 90.0, 180.0)
    assert min_lat < 89.9
    min_lat, min_lon, max_lat, max_lon = bounding_box(-89.9, 45.0, 50.0)
    assert (min_lat, min_lon, max_lon) == (-90.0, -180.0, 180.0)


def test_bounding_box_for_a_huge_radius_is_the_world() -> None:
    assert bounding_box(10.0, 10.0, 30_000.0) == (-90.0, -180.0, 90.0, 180.0)
    assert bounding_box(10.0, 10.0, math.inf) == (-90.0, -180.0, 90.0, 180.0)


@pytest.mark.parametrize("radius_km", [-1.0, math.nan])
def test_bounding_box_rejects_bad_radii(radius_km: float) -> None:
    with pytest.raises(ValueError, match="radius"):
        bounding_box(0.0, 0.0, radius_km)


# --- nearest locality ---------------------------------------------------------------------


def test_nearest_locality_near_utrecht() -> None:
    place = nearest_locality(52.1, 5.1)
    assert place == resolve_place("Utrecht, NL")


def test_nearest_locality_mid_ocean_is_none() -> None:
    assert nearest_locality(0.0, -30.0) is None
    assert nearest_locality(-45.0, -140.0) is None


def test_nearest_locality_respects_max_km() -> None:
    # The Utrecht centroid is about 1.6 km from this point.
    assert nearest_locality(52.1, 5.1, max_km=0.5) is None
    assert nearest_locality(52.1, 5.1, max_km=2.0) == resolve_place("Utrecht, NL")


def test_nearest_locality_wraps_around_the_antimeridian() -> None:
    # Fiji's main towns lie around 178.5 E; this point is just across the antimeridian.
    place = nearest_locality(-18.14, -179.9, max_km=200.0)
    assert place is not None
    assert place.country == "FJ"
    assert place.longitude > 178.0
    assert place == brute_force_nearest(-18.14, -179.9, 200.0)


def test_nearest_locality_near_the_pole() -> None:
    assert nearest_locality(90.0, 0.0) is None


@pytest.mark.parametrize(
    ("latitude", "longitude", "max_km"),
    [(91.0, 0.0, 50.0), (0.0, 181.0, 50.0), (math.nan, 0.0, 50.0), (0.0, 0.0, -1.0)],
)
def test_nearest_locality_rejects_bad_input(latitude: float, longitude: float, max_km: float) -> None:
    with pytest.raises(ValueError, match=r"latitude|longitude|finite|max_km"):
        nearest_locality(latitude, longitude, max_km)


def brute_force_nearest(latitude: float, longitude: float, max_km: float) -> Place | None:
    cities = geo._city_index().cities
    best: tuple[float, int, int] | None = None
    best_at: int | None = None
    for p in range(len(cities)):
        km = haversine_km(latitude, longitude, cities.latitudes[p], cities.longitudes[p])
        rank = (km, -cities.populations[p], cities.geonameids[p])
        if km <= max_km and (best is None or rank < best):
            best, best_at = rank, p
    if best_at is None:
        return None
    where = (cities.name(best_at), cities.region(best_at), cities.country(best_at))
    return Place(cities.latitudes[best_at], cities.longitudes[best_at], *where, None)


def test_of_cities_at_one_point_the_more_populous_then_the_older_is_the_nearest() -> None:
    """GeoNames lists a few cities at the very same point: the answer must not flicker."""
    # Daman (44,282) and Nani Daman (62,000).
    assert (place := nearest_locality(20.41431, 72.83236)) is not None and place.locality == "Nani Daman"
    # Setun' and Bol'shaya Setun', 20,000 each: the lower GeoNames id (496456).
    assert (place := nearest_locality(55.71667, 37.41667)) is not None and place.locality == "Setun\u2019"


@settings(deadline=None, max_examples=60)
@given(
    st.integers(min_value=0),
    bearings,
    st.floats(min_value=0.0, max_value=80.0),
    st.sampled_from([5.0, 20.0, 50.0, 150.0]),
)
def test_nearest_locality_matches_brute_force(seed: int, bearing: float, km: float, max_km: float) -> None:
    # Start next to a real city so that most examples have candidates to choose from.
    cities = geo._city_index().cities
    anchor = seed % len(cities)
    latitude, longitude = destination(cities.latitudes[anchor], cities.longitudes[anchor], bearing, km)
    assert nearest_locality(latitude, longitude, max_km) == brute_force_nearest(latitude, longitude, max_km)


# --- warm lookups ---------------------------------------------------------------------------


def test_warm_lookups_run(record_property: Callable[[str, object], None]) -> None:
    # Timings are recorded for a human to look at, never asserted: CI machines vary.
    calls: dict[str, Callable[[], object]] = {
        "resolve_place": lambda: resolve_place("Sao Paulo, BR"),
        "resolve_postal_code": lambda: resolve_postal_code("80202"),
        "nearest_locality": lambda: nearest_locality(40.7, -74.0),
        "parse_near": lambda: parse_near("52.09,5.12"),
        "snap_to_grid": lambda: snap_to_grid(52.09, 5.12),
    }
    for name, call in calls.items():
        first = call()
        start = time.perf_counter()
        for _ in range(200):
            assert call() == first
        record_property(f"{name}_us", round((time.perf_counter() - start) / 200 * 1e6, 1))


# --- the indexes' shape -----------------------------------------------------------------------


def _reference_groups(pairs: list[tuple[int, int]], cities: "geo._Cities") -> dict[int, tuple[int, ...]]:
    """The groups as a dict of tuples, the plain way: most populous first, then lower GeoNames id."""
    grouped: dict[int, set[int]] = {}
    for key, position in pairs:
        grouped.setdefault(key, set()).add(position)
    return {
        key: tuple(sorted(positions, key=lambda p: (-cities.populations[p], cities.geonameids[p])))
        for key, positions in grouped.items()
    }


def test_the_city_index_finds_every_city_under_its_name_and_cell_as_a_dict_would() -> None:
    index = geo._city_index()
    cities = index.cities
    every = range(len(cities))
    names = [(geo._name_key(cities.country(p), geo._normalise(cities.name(p))), p) for p in every]
    cells = [(geo._bucket(cities.latitudes[p], cities.longitudes[p]), p) for p in every]
    for found, pairs in ((index.by_name, names), (index.buckets, cells)):
        expected = _reference_groups(pairs, cities)
        assert all(tuple(found.get(key)) == positions for key, positions in expected.items())
        assert not found.get(min(expected) - 1) and not found.get(max(expected) + 1)


def test_groups_put_the_most_populous_first_and_list_a_city_once() -> None:
    records = [
        geo._CityRecord(
            geonameid=i, name=f"C{i}", latitude=0.0, longitude=0.0, countrycode="nl", population=p
        )
        for i, p in [(30, 100), (10, 500), (20, 100), (40, 1)]
    ]
    cities = geo._Cities(records)
    groups = geo._Groups([7, 7, 7, 7, -3, 9], [0, 1, 2, 0, 3, 3], cities)
    # 500 first; of the two with 100, the lower GeoNames id (20, at position 2) first.
    assert tuple(groups.get(7)) == (1, 2, 0)
    assert list(groups.get(-3)) == list(groups.get(9)) == [3] and not groups.get(8)
    found = (cities.name(1), cities.region(1), cities.country(1), cities.populations[1], cities.geonameids[1])
    assert found == ("C10", None, "NL", 500, 10)


def test_the_zip_table_finds_each_five_digit_code_and_keeps_a_repeated_ones_last_line() -> None:
    table = geo._ZipTable(
        "# a comment\n00501\t1\t2\tA\tNY\n99950\t3\t4\tZ\tAK\n00501\t5\t6\tB\tNY\n1234\tx\n\n"
    )
    assert table.get("00501") == "5\t6\tB\tNY" and table.get("99950") == "3\t4\tZ\tAK"
    assert table.get("01234") is None and table.get("00000") is None and table.get("99999") is None


def test_the_place_indexes_keep_no_object_per_place() -> None:
    """Every process keeps them: as a dict and an object per city and per ZIP code they held about
    30 MB; as columns, a few."""
    tracemalloc.start()
    try:
        kept = (geo._ZipTable(zipdata.TABLE.read_text(encoding="utf-8")), geo._city_index.__wrapped__())
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(kept[1].cities) > 30_000
    assert held < 8 * 2**20
