"""Measure POST /matches against a running registry (a baseline for later tuning).

    make serve                                # in one terminal (seed data loads on first run)
    .venv/bin/python bench/matches.py --requests 2000 --concurrency 16

Bodies are realistic and mixed: places around the seed data's cities, different sides, needs,
populations and languages. Prints throughput, latency percentiles and errors, and (for context)
the same for GET /health.
"""

import argparse
import asyncio
import random
import statistics
import time
from typing import Any

import httpx

PLACES = [
    "Utrecht, NL",
    "Amsterdam, NL",
    "Denver, US",
    "Chicago, US",
    "Seattle, US",
    "Toronto, CA",
    "London, GB",
    "Manchester, GB",
    "Berlin, DE",
    "Nairobi, KE",
    "Melbourne, AU",
    "Madrid, ES",
    "Sao Paulo, BR",
    "Mumbai, IN",
    "Cape Town, ZA",
    "80202",
    "10001",
    "98101",
]
NEEDS = ["clinician", "treatment_program", "evaluator", "trainer", "peer_program"]
SIDES = ["survivors", "people_who_use_violence", "both", None]
POPULATIONS = ["women", "men", "lgbtq", "youth", "court_referred", "substance_use"]
LANGUAGES = ["en", "es", "nl", "de", "fr", "sw", "pt", "hi"]


def body(rng: random.Random) -> dict[str, Any]:
    place = rng.choice(PLACES)
    location = {"postal_code": place} if place.isdigit() else {"place": place}
    out: dict[str, Any] = {
        "location": location,
        "needs": rng.sample(NEEDS, rng.randint(1, 5)),
        "radius_km": rng.choice([25, 50, 100]),
        "populations": rng.sample(POPULATIONS, rng.randint(0, 2)),
        "languages": rng.sample(LANGUAGES, rng.randint(0, 2)),
        "per_kind": rng.choice([3, 5, 10]),
    }
    side = rng.choice(SIDES)
    if side:
        out["side"] = side
    return out


async def drive(
    url: str, method: str, path: str, bodies: list[dict[str, Any] | None], concurrency: int
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while not queue.empty():
            item = queue.get_nowait()
            started = time.perf_counter()
            try:
                response = await client.request(method, path, json=item)
                if response.status_code >= 400:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


def report(name: str, latencies: list[float], errors: int, elapsed: float) -> str:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{name:<16} {len(ordered) / elapsed:>9.1f} {p50:>9.1f} {p99:>9.1f} {errors:>7}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    bodies: list[dict[str, Any] | None] = [body(rng) for _ in range(args.requests)]
    # Warm the server (place index, connection pool) before measuring.
    await drive(args.url, "POST", "/matches", bodies[:50], 4)
    print(f"{'endpoint':<16} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7}")
    health = await drive(args.url, "GET", "/health", [None] * args.requests, args.concurrency)
    print(report("GET /health", *health))
    matches = await drive(args.url, "POST", "/matches", bodies, args.concurrency)
    print(report("POST /matches", *matches))


if __name__ == "__main__":
    asyncio.run(main())
