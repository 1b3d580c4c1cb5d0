"""An attacker querying from hundreds of points learns nothing finer than an area listing's
coarse point: every endpoint that relates listings to a place answers from that point only."""

import math
import random
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.app import create_app
from registry.config import Settings
from registry.locations.geo import DISTANCE_BANDS, haversine_km, snap_to_grid
from registry.models import Listing
from tests.factories import Client, app_client, bearer, role_key, verified_org

BAND_RANGES = {
    code: (low, high)
    for (low, _), (high, code) in zip([(0.0, None), *DISTANCE_BANDS[:-1]], DISTANCE_BANDS, strict=True)
}
TARGETS = [(52.0912, 5.1187), (51.9227, 4.4792), (53.2187, 6.5702)]  # true meeting places
QUERIES_PER_TARGET = 210


def server_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    return haversine_km(*a, *b)  # one sphere for the server and for geo (registry.locations.distance)


def offset(lat: float, lon: float, km_north: float, km_east: float) -> tuple[float, float]:
    return lat + km_north / 111.32, lon + km_east / (111.32 * math.cos(math.radians(lat)))


async def observe(client: Client, endpoint: str, point: tuple[float, float], target_id: str) -> str | None:
    near = f"{point[0]:.5f},{point[1]:.5f}"
    if endpoint == "programs":
        body = (
            await client.get("/programs", params={"near": near, "radius_km": 200, "per_page": 100})
        ).json()
        items = body["items"]
        return next((i["distance_band"] for i in items if i["id"] == target_id), None)
    if endpoint == "partners":
        body = (
            await client.get("/partners", params={"near": near, "radius_km": 200, "per_page": 100})
        ).json()
        return next((i["distance_band"] for i in body["items"] if i["id"] == target_id), None)
    body = (
        await client.post(
            "/matches",
            json={
                "location": {"latitude": point[0], "longitude": point[1]},
                "radius_km": 200,
                "needs": ["peer_program", "trainer"],
                "per_kind": 20,
                "include_remote": False,
            },
        )
    ).json()
    for kind in body["results"].values():
        for c in kind:
            if c["listing"]["id"] == target_id:
                return str(c["distance_band"])
    return None


def best_estimate(
    observations: list[tuple[tuple[float, float], str]], around: tuple[float, float]
) -> tuple[float, float]:
    """The centre of every point (on a 100 m grid, 20 km around) consistent with all observations."""
    feasible: list[tuple[float, float]] = []
    for north in range(-100, 101):
        for east in range(-100, 101):
            p = offset(*around, north * 0.1, east * 0.1)
            ok = True
            for q, band in observations:
                low, high = BAND_RANGES[band]
                d = server_km(p, q)
                if not low <= d < high:
                    ok = False
                    break
            if ok:
                feasible.append(p)
    assert feasible, "no point is consistent with what the API said"
    return sum(p[0] for p in feasible) / len(feasible), sum(p[1] for p in feasible) / len(feasible)


async def test_attacker_learns_no_more_than_the_coarse_point(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], db: AsyncSession, client: Client
) -> None:
    steward = await role_key(db)
    _, key = await verified_org(client, steward, kinds=["peer_program", "trainer"])
    targets: list[tuple[str, str, tuple[float, float]]] = []
    for lat, lon in TARGETS:
        program = await client.post(
            "/programs",
            json={
                "name": "Hidden circle",
                "side": "survivors",
                "location": {"latitude": lat, "longitude": lon},
            },
            headers=bearer(key),
        )
        assert program.json()["location"]["precision"] == "area"
        targets.append(("programs", program.json()["id"], (lat, lon)))
    partner = await client.post(
        "/partners",
        json={
            "kind": "trainer",
            "name": "Home trainer",
            "location_precision": "area",
            "location": {"latitude": 52.3702, "longitude": 4.8951},
        },
        headers=bearer(key),
    )
    targets.append(("partners", partner.json()["id"], (52.3702, 4.8951)))

    unlimited = create_app(
        msgspec.structs.replace(settings, rate_limit_scale=1000.0), sessionmaker=sessionmaker
    )
    rng = random.Random(42)
    results: list[dict[str, Any]] = []
    async with app_client(unlimited) as attacker:
        for endpoint, target_id, true_point in targets:
            observations: list[tuple[tuple[float, float], str]] = []
            for i in range(QUERIES_PER_TARGET):
                # Points from 0.5 to 30 km away in every direction, the way a trilaterating attacker would.
                bearing, km = rng.uniform(0, 2 * math.pi), rng.uniform(0.5, 30)
                q = offset(*true_point, km * math.cos(bearing), km * math.sin(bearing))
                ep = endpoint if i % 2 == 0 else "matches"
                band = await observe(attacker, ep, q, target_id)
                assert band is not None, (ep, q)
                # Matching snaps the searcher's point to the public 5 km grid; the attacker knows that.
                observations.append((snap_to_grid(*q) if ep == "matches" else q, band))
            row = await db.scalar(select(Listing).where(Listing.id == target_id))
            assert row is not None
            assert row.latitude is not None
            assert row.longitude is not None
            coarse = (row.latitude, row.longitude)
            estimate = best_estimate(observations, true_point)
            results.append(
                {
                    "target": target_id,
                    "coarse_error_km": haversine_km(*coarse, *true_point),
                    "estimate_error_km": haversine_km(*estimate, *true_point),
                    "estimate_to_coarse_km": haversine_km(*estimate, *coarse),
                }
            )
    for r in results:
        # The attacker's best guess is the coarse point, not the meeting place.
        assert r["estimate_error_km"] >= r["coarse_error_km"] - 0.25, r
        assert r["estimate_to_coarse_km"] < 2.0, r
