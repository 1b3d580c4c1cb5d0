"""A chunk's organizations: about one per 8 listings of each kind, 95 % verified, each with a
home city (by population), and which of them owns each listing."""

import uuid
from dataclasses import dataclass, field

from registry.synthetic.places import _Cities
from registry.synthetic.random_rows import Draws, Row, stamp
from registry.synthetic.vocabulary import (
    KIND_SHARES,
    LISTINGS_PER_ORGANIZATION,
    ORG_THEMES,
    ORG_WORDS,
    PLACE_WORDS,
    VERIFIED_SHARE,
    slug,
)


@dataclass(slots=True)
class Organizations:
    """The rows, and what the listings need to know about the organizations (by position)."""

    ids: list[uuid.UUID] = field(default_factory=list)
    cities: list[int] = field(default_factory=list)  # home city
    verified: list[bool] = field(default_factory=list)
    created: list[float] = field(default_factory=list)
    kinds: list[set[str]] = field(default_factory=list)
    by_kind: dict[str, list[int]] = field(default_factory=dict)
    owners: list[int] = field(default_factory=list)  # the owner of each listing of the chunk
    domains: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)


def generate_organizations(
    draws: Draws, cities: _Cities, kinds: list[str], kind_counts: list[int], marker: uuid.UUID
) -> Organizations:
    """The organizations of a chunk whose listings have `kinds` (`kind_counts` of each, in
    KIND_SHARES order); the first one has the chunk's `marker` for id."""
    orgs = Organizations()
    _found(orgs, draws, cities, kind_counts, marker)
    _assign_owners(orgs, draws, kinds)
    _build_rows(orgs, draws, cities)
    return orgs


def _found(
    orgs: Organizations, draws: Draws, cities: _Cities, kind_counts: list[int], marker: uuid.UUID
) -> None:
    """Per kind about one per LISTINGS_PER_ORGANIZATION listings of that kind."""
    rand = draws.rand
    for (kind, _), count in zip(KIND_SHARES, kind_counts, strict=True):
        if not count:
            continue
        members = orgs.by_kind.setdefault(kind, [])
        for _ in range(max(1, round(count / LISTINGS_PER_ORGANIZATION))):
            members.append(len(orgs.ids))
            orgs.ids.append(marker if not orgs.ids else draws.new_id())
            orgs.cities.append(cities.draw(rand))
            orgs.verified.append(rand() < VERIFIED_SHARE)
            orgs.created.append(draws.days_ago(400, 6 * 365))
            orgs.kinds.append({kind})


def _assign_owners(orgs: Organizations, draws: Draws, kinds: list[str]) -> None:
    """Who lists what: mostly an organization of the listing's kind (a few big ones, many small),
    sometimes one of another kind (a treatment program that also runs a peer group)."""
    rand = draws.rand
    present_kinds = sorted(orgs.by_kind)
    for kind in kinds:
        pool = orgs.by_kind[kind] if rand() < 0.92 else orgs.by_kind[draws.pick(present_kinds)]
        owner = pool[int(len(pool) * rand() ** 1.6)]
        orgs.kinds[owner].add(kind)
        orgs.owners.append(owner)


def _build_rows(orgs: Organizations, draws: Draws, cities: _Cities) -> None:
    for o, org_id in enumerate(orgs.ids):
        home = cities.names[orgs.cities[o]]
        place = home if draws.rand() < 0.6 else draws.pick(PLACE_WORDS)
        name = f"{place} {draws.pick(ORG_THEMES)} {draws.pick(ORG_WORDS)}"
        domain = f"{slug(name)}-{org_id.hex[:6]}.example.org"
        orgs.domains.append(domain)
        created = orgs.created[o]
        verified_at = stamp(draws.between(created, draws.epoch)) if orgs.verified[o] else None
        orgs.rows.append(
            (
                org_id,
                name,
                [k for k, _ in KIND_SHARES if k in orgs.kinds[o]],
                f"https://{domain}/",
                cities.countries[orgs.cities[o]],
                f"{name} works on intimate partner violence in and around {home}.",
                "verified" if orgs.verified[o] else "unverified",
                verified_at,
                1,
                stamp(created),
                verified_at or stamp(created),
            )
        )
