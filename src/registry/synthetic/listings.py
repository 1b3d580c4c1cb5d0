"""A chunk's listings with their contacts and evaluation histories.

Privacy rules hold as they do for data entered through the API: `area` listings (and remote
ones with a home area) keep only a 5 km grid cell's centre (`geo.snap_to_grid`) and their
locality, never an address; `exact` listings carry a made-up street address.
"""

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

from registry.locations.geo import snap_to_grid
from registry.synthetic.organizations import Organizations
from registry.synthetic.places import _Cities
from registry.synthetic.random_rows import DAY, EMPTY, Draws, Row, day, stamp
from registry.synthetic.tables import EVALUATION_COLUMNS, LISTING_COLUMNS
from registry.synthetic.vocabulary import (
    CERTIFICATION_SETS,
    CLINICIAN_CREDENTIALS,
    CONTACT_ROLES,
    COUNTRY_LANGUAGES,
    COURSE_SETS,
    DEFAULT_LANGUAGES,
    DELIVERIES,
    DELIVERY_CUM,
    DESIGNS,
    EVALUATOR_WORDS,
    FINDINGS,
    FIRST_NAMES,
    FORMAT_SETS,
    FORMAT_WORDS,
    FREQUENCIES,
    GROUP_TYPES,
    GROUP_WORDS,
    IPV_TRAININGS,
    LAST_NAMES,
    LISTING_STATUSES,
    METHOD_SETS,
    OUTCOME_SETS,
    PARTNER_DESCRIPTIONS,
    PLACE_WORDS,
    POPULATION_SETS,
    PROGRAM_DESCRIPTIONS,
    PROGRAM_THEMES,
    ROLE_SLUGS,
    SERVICE_RADII,
    SIDE_CUM,
    SIDES,
    SPECIALTY_SETS,
    STAGE_CUM,
    STATUS_CUM,
    STREET_TYPES,
    STREETS,
    TRAINER_WORDS,
    TREATMENT_CREDENTIALS,
    TREATMENT_WORDS,
    VISIBILITIES,
    VISIBILITY_CUM,
    WEEKDAY_NAMES,
    WEEKDAY_SETS,
    WHO,
)
from registry.taxonomies.vocabulary import STAGE_ORDER

# Where a partner's id sits in a row, and its name right after it (filled in at the end).
_CLINICAL_PARTNER: tuple[int, int] = (
    LISTING_COLUMNS.index("clinical_partner_id"),
    LISTING_COLUMNS.index("clinical_partner_name"),
)
_EVALUATOR: tuple[int, int] = (
    EVALUATION_COLUMNS.index("evaluator_id"),
    EVALUATION_COLUMNS.index("evaluator_name"),
)


@dataclass(slots=True)
class Listings:
    ids: list[uuid.UUID]
    rows: list[Row] = field(default_factory=list)
    contacts: list[Row] = field(default_factory=list)
    evaluations: list[Row] = field(default_factory=list)
    # Listings an initiator can be introduced to (positions): a verified organization's, not archived.
    reachable: list[int] = field(default_factory=list)


def _no_codes() -> list[str]:
    return EMPTY


@dataclass(slots=True)
class _Profile:
    """What a listing's kind decides: its name, description, precision and kind-specific columns."""

    name: str = ""
    description: str = ""
    precision: str = "exact"
    remote_ok: bool = False
    side: str | None = None
    formats: list[str] = field(default_factory=_no_codes)
    group_type: str | None = None
    delivery: str | None = None
    founded_on: date | None = None
    clinical_id: uuid.UUID | None = None
    clinical_name: str | None = None
    capacity: int | None = None
    schedule_text: str | None = None
    weekdays: list[str] = field(default_factory=_no_codes)
    frequency: str | None = None
    open_to_mentoring: bool = False
    stage: str = "none"
    specialties: list[str] = field(default_factory=_no_codes)
    credentials: list[str] = field(default_factory=_no_codes)
    ipv_training: str | None = None
    ipv_trained: bool = False
    methods: list[str] = field(default_factory=_no_codes)
    courses: list[str] = field(default_factory=_no_codes)
    certifications: list[str] = field(default_factory=_no_codes)


class _Dates(NamedTuple):
    created: float
    verified: float
    updated: float
    archived_at: datetime | None


class _Location(NamedTuple):
    latitude: float | None
    longitude: float | None
    address: str | None
    postal_code: str | None
    locality: str | None
    region: str | None
    country: str | None


def generate_listings(draws: Draws, cities: _Cities, kinds: list[str], orgs: Organizations) -> Listings:
    """One listing of each of `kinds`, owned by `orgs.owners`, with contacts and evaluations."""
    rand = draws.rand
    out = Listings(ids=[draws.new_id() for _ in kinds])
    clinical_ids = [out.ids[i] for i, kind in enumerate(kinds) if kind in ("clinician", "treatment_program")]
    evaluator_ids = [out.ids[i] for i, kind in enumerate(kinds) if kind == "evaluator"]
    names: list[str] = []
    month_ago = draws.epoch - 30 * DAY
    for i, kind in enumerate(kinds):
        owner = orgs.owners[i]
        home = orgs.cities[owner]
        # Mostly in the organization's city, else another city of its country (by population).
        city = home if rand() < 0.85 else cities.draw_in_country(cities.countries[home], rand)
        dates = _dates(draws, orgs.created[owner], month_ago)
        if dates.archived_at is None and orgs.verified[owner]:
            out.reachable.append(i)
        languages = _languages(draws, cities.countries[city])
        if kind == "peer_program":
            profile = _peer_program(draws, cities, city, dates.created, clinical_ids)
        else:
            profile = _partner(draws, cities, city, kind)
        names.append(profile.name)
        location = _location(draws, cities, city, profile.precision)
        out.rows.append(_row(draws, out.ids[i], orgs.ids[owner], kind, profile, languages, location, dates))
        out.contacts.extend(_contacts(draws, out.ids[i], orgs.domains[owner]))
        if profile.stage != "none":
            out.evaluations.extend(
                _evaluations(draws, out.ids[i], profile.stage, dates.created, evaluator_ids)
            )
    # A program's clinical partner and an evaluation's evaluator carry the partner's name,
    # as they do when set through the API.
    name_of = dict(zip(out.ids, names, strict=True))
    _name_partners(out.rows, _CLINICAL_PARTNER, name_of)
    _name_partners(out.evaluations, _EVALUATOR, name_of)
    return out


def _name_partners(rows: list[Row], columns: tuple[int, int], name_of: dict[uuid.UUID, str]) -> None:
    id_column, name_column = columns
    for i, row in enumerate(rows):
        if row[id_column] is not None:
            rows[i] = (*row[:name_column], name_of[row[id_column]], *row[name_column + 1 :])


def _dates(draws: Draws, org_created: float, month_ago: float) -> _Dates:
    """Created after its organization; most were confirmed within the year, 8 % are stale (over
    12 months); 2 % are archived."""
    created = draws.between(org_created, month_ago)
    stale = draws.rand() >= 0.92
    verified = max(created, draws.days_ago(370, 730) if stale else draws.days_ago(0, 360))
    updated = draws.between(verified, draws.epoch)
    archived_at = None
    if draws.rand() < 0.02:
        updated = draws.between(updated, draws.epoch)
        archived_at = stamp(updated)
    return _Dates(created, verified, updated, archived_at)


def _languages(draws: Draws, country: str) -> list[str]:
    """Mostly the country's first language, a quarter with a second one; some ASL in the US."""
    spoken = COUNTRY_LANGUAGES.get(country, DEFAULT_LANGUAGES)
    first_language = spoken[0] if draws.rand() < 0.8 else draws.pick(spoken)
    languages = [first_language]
    if draws.rand() < 0.25:
        other = draws.pick(spoken) if draws.rand() < 0.5 else "en"
        if other != first_language:
            languages = sorted((first_language, other))
    if country == "US" and draws.rand() < 0.02:
        languages = sorted({*languages, "asl"})
    return languages


def _peer_program(
    draws: Draws, cities: _Cities, city: int, created: float, clinical_ids: list[uuid.UUID]
) -> _Profile:
    rand, pick = draws.rand, draws.pick
    side = draws.weighted(SIDES, SIDE_CUM)
    formats = draws.subset(FORMAT_SETS)
    group_type = pick(GROUP_TYPES) if rand() < 0.85 else None
    delivery = draws.weighted(DELIVERIES, DELIVERY_CUM)
    founded_on = day(created - rand() * 15 * 365 * DAY)
    capacity = 6 + int(rand() * 35) if rand() < 0.7 else None
    frequency = pick(FREQUENCIES)
    weekdays = pick(WEEKDAY_SETS)
    hour = 9 + int(rand() * 12)
    open_to_mentoring = rand() < 0.3
    place = cities.names[city] if rand() < 0.5 else pick(PLACE_WORDS)
    name = f"{place} {pick(PROGRAM_THEMES[side])} {pick(GROUP_WORDS)}"
    if rand() < 0.3:
        name = f"{name} ({WEEKDAY_NAMES[weekdays[0]]})"
    description = pick(PROGRAM_DESCRIPTIONS).format(
        freq=frequency, who=pick(WHO), fmt=FORMAT_WORDS[formats[0]]
    )
    clinical_id = clinical_name = None
    r = rand()
    if clinical_ids and r < 0.15:
        clinical_id = pick(clinical_ids)  # its name is filled in at the end
    elif r < 0.25:
        clinical_name = f"{pick(FIRST_NAMES)} {pick(LAST_NAMES)}, LCSW"
    stage = draws.weighted(STAGE_ORDER, STAGE_CUM)
    if delivery == "online" and rand() < 0.5:
        precision = "remote"
    else:  # as the API defaults: survivor-side groups are stored at area precision
        precision = "exact" if side == "people_who_use_violence" else "area"
    return _Profile(
        name=name,
        description=description,
        precision=precision,
        remote_ok=delivery != "in_person" or precision == "remote",
        side=side,
        formats=formats,
        group_type=group_type,
        delivery=delivery,
        founded_on=founded_on,
        clinical_id=clinical_id,
        clinical_name=clinical_name,
        capacity=capacity,
        schedule_text=f"{'/'.join(WEEKDAY_NAMES[d] for d in weekdays)} {hour}:00-{hour + 1}:30",
        weekdays=weekdays,
        frequency=frequency,
        open_to_mentoring=open_to_mentoring,
        stage=stage,
    )


def _partner(draws: Draws, cities: _Cities, city: int, kind: str) -> _Profile:
    """A clinician, treatment program, evaluator or trainer: mostly at an exact address."""
    rand, pick = draws.rand, draws.pick
    profile = _Profile(specialties=draws.subset(SPECIALTY_SETS))
    if kind == "clinician":
        profile.credentials = pick(CLINICIAN_CREDENTIALS)
        profile.name = f"{pick(FIRST_NAMES)} {pick(LAST_NAMES)}, {profile.credentials[0]}"
    elif kind == "treatment_program":
        profile.credentials = TREATMENT_CREDENTIALS if rand() < 0.6 else EMPTY
        profile.name = f"{cities.names[city]} {pick(TREATMENT_WORDS)}"
    elif kind == "evaluator":
        profile.methods = draws.subset(METHOD_SETS)
        profile.name = f"{pick(LAST_NAMES)} {pick(EVALUATOR_WORDS)}"
    else:
        profile.courses = pick(COURSE_SETS)
        profile.certifications = pick(CERTIFICATION_SETS)
        profile.name = f"{pick(PLACE_WORDS)} {pick(TRAINER_WORDS)}"
    if kind in ("clinician", "treatment_program"):
        profile.ipv_trained = rand() < 0.8
        profile.ipv_training = pick(IPV_TRAININGS) if profile.ipv_trained else None
    profile.description = pick(PARTNER_DESCRIPTIONS[kind])
    r = rand()
    profile.precision = "exact" if r < 0.9 else ("remote" if r < 0.95 else "area")
    profile.remote_ok = profile.precision == "remote" or rand() < 0.3
    return profile


def _location(draws: Draws, cities: _Cities, city: int, precision: str) -> _Location:
    """Half the remote listings have no home area at all; the others are near the city: exact
    ones at a jittered point with a made-up address, the rest at the grid cell's centre."""
    country = cities.countries[city]
    if precision == "remote" and draws.rand() < 0.5:
        return _Location(None, None, None, None, None, None, None)
    lat, lon = cities.jitter(city, draws.rand)
    address = postal_code = None
    if precision == "exact":
        lat, lon = round(lat, 6), round(lon, 6)
        address = f"{1 + int(draws.rand() * 2999)} {draws.pick(STREETS)} {draws.pick(STREET_TYPES)}"
        if country == "US":
            postal_code = f"{10000 + int(draws.rand() * 89999)}"
    else:  # area (and remote with a home area): the 5 km grid cell's centre, no address
        lat, lon = snap_to_grid(lat, lon)
    return _Location(lat, lon, address, postal_code, cities.names[city], cities.regions[city], country)


def _row(
    draws: Draws,
    listing_id: uuid.UUID,
    organization_id: uuid.UUID,
    kind: str,
    p: _Profile,
    languages: list[str],
    location: _Location,
    dates: _Dates,
) -> Row:
    """The listing's row, in LISTING_COLUMNS order."""
    return (
        listing_id,
        organization_id,
        kind,
        p.name,
        p.description,
        draws.weighted(LISTING_STATUSES, STATUS_CUM),
        p.side,
        p.formats,
        p.group_type,
        p.delivery,
        draws.subset(POPULATION_SETS),
        languages,
        p.specialties,
        p.founded_on,
        p.clinical_id,
        p.clinical_name,
        p.capacity,
        p.schedule_text,
        p.weekdays,
        p.frequency,
        p.open_to_mentoring,
        p.stage,
        p.credentials,
        p.ipv_training,
        p.ipv_trained,
        p.methods,
        p.courses,
        p.certifications,
        draws.rand() < 0.85,  # accepting_partnerships
        p.remote_ok,
        p.precision,
        *location,
        draws.pick(SERVICE_RADII),
        stamp(dates.verified),
        dates.archived_at,
        1,
        stamp(dates.created),
        stamp(dates.updated),
    )


def _contacts(draws: Draws, listing_id: uuid.UUID, domain: str) -> list[Row]:
    """None for 10 % of the listings, one for most, two for 15 %; an e-mail, a phone or both."""
    rand, pick = draws.rand, draws.pick
    r = rand()
    rows: list[Row] = []
    for position in range(0 if r < 0.10 else (1 if r < 0.85 else 2)):
        role = pick(CONTACT_ROLES)
        has_email = rand() < 0.9
        email = f"{ROLE_SLUGS[role]}{position or ''}@{domain}" if has_email else None
        phone = None
        if not has_email or rand() < 0.5:
            phone = f"+{1 + int(rand() * 98)} 555 {100 + int(rand() * 900)} {1000 + int(rand() * 9000)}"
        r = rand()
        rows.append(
            (
                draws.new_id(),
                listing_id,
                position,
                f"{pick(FIRST_NAMES)} {pick(LAST_NAMES)}" if rand() < 0.5 else None,
                role,
                email,
                phone,
                None if r < 0.5 else ("email" if email else "phone"),
                draws.weighted(VISIBILITIES, VISIBILITY_CUM),
            )
        )
    return rows


def _evaluations(
    draws: Draws, listing_id: uuid.UUID, stage: str, created: float, evaluator_ids: list[uuid.UUID]
) -> list[Row]:
    """Forward moves from none up to the listing's stage, some skipped, at distinct moments
    between the listing's creation and now, in order."""
    rand, pick = draws.rand, draws.pick
    path = [s for s in STAGE_ORDER[1 : STAGE_ORDER.index(stage)] if rand() < 0.7]
    path.append(stage)
    moments = sorted(created + (draws.epoch - created) * rand() for _ in path)
    rows: list[Row] = []
    previous = "none"
    started_on: date | None = None
    for step, recorded in zip(path, moments, strict=True):
        level = STAGE_ORDER.index(step)
        if started_on is None:
            started_on = day(recorded - rand() * 60 * DAY)
        evaluator_id = evaluator_name = None
        if level >= 2:
            if evaluator_ids and rand() < 0.6:
                evaluator_id = pick(evaluator_ids)  # its name is filled in at the end
            else:
                evaluator_name = f"{pick(LAST_NAMES)} {pick(EVALUATOR_WORDS)}"
        done = level >= 3
        publication = None
        if step == "published":
            publication = f"https://doi.org/10.5555/ipv.{10000 + int(rand() * 90000)}"
        rows.append(
            (
                draws.new_id(),
                listing_id,
                step,
                previous,
                False,
                None,
                pick(DESIGNS) if level >= 2 else None,
                draws.subset(OUTCOME_SETS) if level >= 2 else EMPTY,
                8 + int(rand() * 400) if done else None,
                evaluator_id,
                evaluator_name,
                started_on,
                day(recorded) if done else None,
                pick(FINDINGS) if done else None,
                publication,
                stamp(recorded),
                None,
            )
        )
        previous = step
    return rows
