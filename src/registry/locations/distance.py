"""Great-circle distance: one definition, one sphere, for Python and SQL alike.

The sphere is earthdistance's `earth()` (6,378,168 m): the GiST indexes on `ll_to_earth(...)` and
`earth_box` are built on it, so a listing that a radius search finds by index, the distance its
band is computed from, and the same distance worked out in Python all agree. The formula is the
haversine, written out in SQL (about ten times cheaper per row than
`earth_distance(ll_to_earth(), ll_to_earth())`)."""

import math
from typing import Any, Final

from sqlalchemy import ColumnElement, SQLColumnExpression, func

EARTH_RADIUS_M: Final = 6378168.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    h = (
        math.sin(math.radians(lat2 - lat1) / 2) ** 2
        + math.cos(math.radians(lat1))
        * math.cos(math.radians(lat2))
        * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    # Rounding can push h a hair above 1 for antipodal points, which asin rejects.
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    return distance_m(lat1, lon1, lat2, lon2) / 1000


def distance_sql(latitude: str, longitude: str, lat: str = ":lat", lon: str = ":lon") -> str:
    """`distance_m` as SQL text from the point (`lat`, `lon`) to the columns given."""
    return (
        f"(2 * {EARTH_RADIUS_M} * asin(least(1.0, sqrt("
        f"power(sin(radians({latitude} - {lat}) / 2), 2) + cos(radians({lat})) * cos(radians({latitude})) "
        f"* power(sin(radians({longitude} - {lon}) / 2), 2)))))"
    )


def distance_clause(
    latitude: SQLColumnExpression[Any], longitude: SQLColumnExpression[Any], point: tuple[float, float]
) -> ColumnElement[float]:
    """`distance_m` as an SQL expression from a fixed point to the columns given."""
    lat, lon = point
    inner = func.power(func.sin(func.radians(latitude - lat) / 2), 2) + math.cos(
        math.radians(lat)
    ) * func.cos(func.radians(latitude)) * func.power(func.sin(func.radians(longitude - lon) / 2), 2)
    return 2 * EARTH_RADIUS_M * func.asin(func.least(1.0, func.sqrt(inner)))
