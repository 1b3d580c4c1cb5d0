"""A chunk's initiators (people starting a group) and their introductions to listings."""

from datetime import timedelta
from typing import Final

from registry.locations.geo import snap_to_grid
from registry.synthetic.listings import Listings
from registry.synthetic.places import _Cities
from registry.synthetic.random_rows import DAY, Draws, Row, stamp
from registry.synthetic.vocabulary import (
    COUNTRY_LANGUAGES,
    DEFAULT_LANGUAGES,
    FIRST_NAMES,
    INITIATOR_FORMAT_SETS,
    INITIATORS_PER_LISTING,
    INTRODUCTION_MESSAGES,
    INTRODUCTIONS_PER_LISTING,
    LAST_NAMES,
    NEED_SETS,
    OLD_INTRO_CUM,
    OLD_INTRO_STATUSES,
    PATHWAY_CUM,
    PATHWAY_STEPS,
    POPULATION_SETS,
    RECENT_INTRO_CUM,
    RECENT_INTRO_STATUSES,
    SIDE_CUM,
    SIDES,
    slug,
)

_EXPIRES_AFTER: Final = timedelta(days=30)


def generate_initiators(draws: Draws, cities: _Cities, size: int) -> tuple[list[Row], list[float]]:
    """INITIATORS_PER_LISTING per listing (at least one), with when each signed up (within two
    years): a minimal profile, always at a coarse point (grid cell centre) and locality."""
    rand, pick = draws.rand, draws.pick
    rows: list[Row] = []
    created_at: list[float] = []
    for _ in range(max(1, round(size * INITIATORS_PER_LISTING))):
        city = cities.draw(rand)
        initiator_id = draws.new_id()
        display_name = f"{pick(FIRST_NAMES)} {pick(LAST_NAMES)[0]}."
        latitude, longitude = snap_to_grid(*cities.jitter(city, rand))
        created = draws.days_ago(1, 2 * 365)
        created_at.append(created)
        country = cities.countries[city]
        rows.append(
            (
                initiator_id,
                display_name,
                f"{slug(display_name)}.{initiator_id.hex[:8]}@example.net",
                latitude,
                longitude,
                cities.names[city],
                cities.regions[city],
                country,
                draws.weighted(SIDES, SIDE_CUM) if rand() < 0.7 else None,
                draws.subset(INITIATOR_FORMAT_SETS),
                draws.subset(POPULATION_SETS),
                [COUNTRY_LANGUAGES.get(country, DEFAULT_LANGUAGES)[0]],
                draws.subset(NEED_SETS),
                draws.weighted(PATHWAY_STEPS, PATHWAY_CUM),
                1,
                stamp(created),
                stamp(draws.between(created, draws.epoch)),
                draws.record_key(),
            )
        )
    return rows, created_at


def generate_introductions(
    draws: Draws, size: int, initiators: list[Row], initiators_created: list[float], listings: Listings
) -> list[Row]:
    """INTRODUCTIONS_PER_LISTING per listing, to reachable listings, at any time since the
    initiator signed up. Only those under 30 days old can still be pending; older ones were
    answered, withdrawn or expired."""
    rand, epoch, reachable = draws.rand, draws.epoch, listings.reachable
    rows: list[Row] = []
    for _ in range(round(size * INTRODUCTIONS_PER_LISTING) if reachable else 0):
        k = int(rand() * len(initiators))
        initiator = initiators[k]
        target = reachable[int(rand() * len(reachable))]
        created = draws.between(initiators_created[k], epoch - 600.0)
        age = epoch - created
        if age < 30 * DAY:
            status = draws.weighted(RECENT_INTRO_STATUSES, RECENT_INTRO_CUM)
        else:
            status = draws.weighted(OLD_INTRO_STATUSES, OLD_INTRO_CUM)
        created_at = stamp(created)
        expires_at = created_at + _EXPIRES_AFTER
        decided_at = None
        if status == "expired":
            decided_at = expires_at
        elif status != "pending":
            decided_at = stamp(created + rand() * min(age, 29 * DAY))
        rows.append(
            (
                draws.new_id(),
                initiator[0],
                listings.ids[target],
                listings.rows[target][1],
                draws.pick(INTRODUCTION_MESSAGES).format(place=initiator[5]),
                status,
                initiator[1],
                initiator[2] if status == "accepted" else None,
                initiator[5],
                created_at,
                expires_at,
                decided_at,
                draws.record_key(),
            )
        )
    return rows
