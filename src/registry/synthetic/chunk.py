"""One chunk: `CHUNK_SIZE` listings and everything that goes with them, built independently.

The rows, ids included, are a function of (random_seed, n, chunk_size, chunk) and of the `now`
anchor: each chunk draws from its own generators, so chunks can be built in any order, and
its first organization's id (`marker_id`) tells whether it is already loaded.
"""

import random
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from registry.synthetic.listings import generate_listings
from registry.synthetic.organizations import generate_organizations
from registry.synthetic.people import generate_initiators, generate_introductions
from registry.synthetic.places import _cities
from registry.synthetic.random_rows import Draws, Row, split_counts, uuid_from_bits
from registry.synthetic.vocabulary import KIND_SHARES

CHUNK_SIZE: Final = 20_000


@dataclass(slots=True)
class _Chunk:
    organizations: list[Row]
    listings: list[Row]
    contacts: list[Row]
    evaluations: list[Row]
    initiators: list[Row]
    introductions: list[Row]
    kinds: dict[str, int]


def marker_id(random_seed: int, n: int, chunk: int = 0, chunk_size: int = CHUNK_SIZE) -> uuid.UUID:
    """The id of a chunk's first organization: present means that chunk is already loaded."""
    key = f"registry-synthetic-marker:{random_seed}:{n}:{chunk_size}:{chunk}"
    return uuid_from_bits(random.Random(key).getrandbits(128))  # noqa: S311 (test data)


def _chunk_draws(random_seed: int, n: int, chunk_size: int, chunk: int, now: datetime) -> Draws:
    rng = random.Random(f"registry-synthetic:{random_seed}:{n}:{chunk_size}:{chunk}")  # noqa: S311
    record_keys = random.Random(f"{random_seed}:{n}:{chunk_size}:{chunk}:record-keys")  # noqa: S311
    return Draws(rng, record_keys, now)


def _generate_chunk(random_seed: int, n: int, chunk_size: int, chunk: int, now: datetime) -> _Chunk:
    """The rows of one chunk, from its own random generators (so chunks are independent)."""
    size = min(chunk_size, n - chunk * chunk_size)
    draws = _chunk_draws(random_seed, n, chunk_size, chunk, now)
    cities = _cities()
    kind_counts = split_counts(size, [share for _, share in KIND_SHARES])
    kinds = [kind for (kind, _), count in zip(KIND_SHARES, kind_counts, strict=True) for _ in range(count)]
    draws.shuffle(kinds)
    marker = marker_id(random_seed, n, chunk, chunk_size)
    orgs = generate_organizations(draws, cities, kinds, kind_counts, marker)
    listings = generate_listings(draws, cities, kinds, orgs)
    initiators, signed_up = generate_initiators(draws, cities, size)
    return _Chunk(
        organizations=orgs.rows,
        listings=listings.rows,
        contacts=listings.contacts,
        evaluations=listings.evaluations,
        initiators=initiators,
        introductions=generate_introductions(draws, size, initiators, signed_up, listings),
        kinds={kind: count for (kind, _), count in zip(KIND_SHARES, kind_counts, strict=True)},
    )
