"""Distance has one definition: Python, SQL text, the ORM expression and earthdistance's own
`earth_distance` (the sphere the GiST indexes are built on) agree."""

import random

from sqlalchemy import literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from registry.locations.distance import distance_clause, distance_m, distance_sql
from registry.locations.geo import haversine_km


async def test_python_and_sql_measure_the_same_distance(db: AsyncSession) -> None:
    rng = random.Random(3)
    points = [(rng.uniform(-89, 89), rng.uniform(-180, 180)) for _ in range(60)]
    points += [(52.0907, 5.1214), (52.0908, 5.1214), (0.0, 0.0), (0.0, 179.999), (-33.9, 151.2)]
    sql = text(
        f"SELECT {distance_sql('CAST(:la AS float8)', 'CAST(:lo AS float8)')}, "
        "earth_distance(ll_to_earth(:lat, :lon), ll_to_earth(:la, :lo))"
    )
    for (lat, lon), (la, lo) in zip(points, reversed(points), strict=True):
        expected = distance_m(lat, lon, la, lo)
        written, earth = (await db.execute(sql, {"lat": lat, "lon": lon, "la": la, "lo": lo})).one()
        clause = float(await db.scalar(select(distance_clause(literal(la), literal(lo), (lat, lon)))) or 0)
        assert abs(written - expected) <= 1e-6 * max(1.0, expected)
        assert abs(clause - expected) <= 1e-6 * max(1.0, expected)
        assert abs(earth - expected) <= 1e-3 * max(1.0, expected / 1000)  # the index's sphere
        assert abs(haversine_km(lat, lon, la, lo) * 1000 - expected) <= 1e-6 * max(1.0, expected)
