"""What matching reads: every public listing of a kind within the radius, every remote-capable
one, the shown-only details of those chosen, and initiators who chose to be listed to programs."""

import functools
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.database.reads import Reads
from registry.listings import code_lists
from registry.listings.visibility import contact_listed_sql, public_listing_alone_sql
from registry.locations import distance
from registry.locations.distance import distance_sql
from registry.models import Initiator

REMOTE_PART = 2_000  # rows
KNOWN_KINDS = frozenset({"peer_program", "clinician", "treatment_program", "evaluator", "trainer"})

# What scoring needs, named as `scoring.Candidate` names it (in the order service.to_candidate
# reads them); what is only shown comes later, for the few candidates chosen (`shown_of`).
_REMOTE_SQL = (
    "(l.remote_ok OR coalesce(l.delivery, '') IN ('online', 'hybrid') OR l.location_precision = 'remote')"
)


# Each code list comes as one text (listings.code_lists), and the ids as text: a list of 9,000
# rows read this way took half the client's time to decode (2.4 against 5.5 µs a row) and three
# quarters of the memory (9.4 against 12.9 MB), as one string is made per column instead of a list
# of strings, and no UUID is made only to be written as text.
def _codes_sql(column: str) -> str:
    return f"{code_lists.as_text_sql(f'l.{column}')} AS {column}"


# Each column by name, as read (in the order service.to_candidate reads them).
_COLUMN_SQL = {
    "id": "l.id::text AS id",
    "kind": "l.kind",
    "name": "l.name",
    "organization_id": "l.organization_id::text AS organization_id",
    "country": "l.country",
    "service_radius_km": "l.service_radius_km",
    "status": "l.status",
    "side": "l.side",
    "specialties": _codes_sql("specialties"),
    "populations": _codes_sql("populations"),
    "formats": _codes_sql("formats"),
    "languages": _codes_sql("languages"),
    "ipv_trained": "l.ipv_trained",
    "methods": _codes_sql("methods"),
    "course_topics": _codes_sql("course_topics"),
    "certifications": "cardinality(l.certifications) AS certifications",
    "evaluation_stage": "l.evaluation_stage",
    "open_to_mentoring": "l.open_to_mentoring",
    "accepting_partnerships": "l.accepting_partnerships",
    "last_verified_at": "l.last_verified_at",
    "remote_capable": f"{_REMOTE_SQL} AS remote_capable",
}
# A listing a request keeps, read again by id: all of them.
COLUMNS = tuple(_COLUMN_SQL)
# A list's rows (service._part): all but the name, which is shown only for the few a request
# keeps (read again by id): a list of Shanghai's 8,667 peer programs held 9.1 MiB of rows as read
# with it, 8.4 without.
LIST_COLUMNS = tuple(name for name in COLUMNS if name != "name")


def _select(columns: tuple[str, ...]) -> str:
    return ", ".join(_COLUMN_SQL[name] for name in columns)


def _statuses(planning: bool, kind: str | None = None) -> str:
    """What matching offers: active listings, and peer programs being planned when asked (a partner
    being planned is never offered). `kind`: the one kind read, else any."""
    if not planning or kind not in (None, "peer_program"):
        return "l.status = 'active'"
    if kind == "peer_program":
        return "l.status IN ('active', 'planning')"
    return "(l.status = 'active' OR (l.kind = 'peer_program' AND l.status = 'planning'))"


def _listed(kind: str) -> str:
    """A kind's listings that matching may offer to some request: those it offers when asked for
    programs being planned. A list holds both, each row flagged (`Candidates.planned`), and each
    request offers the planned ones only when it asks for them (service._usable): one read serves
    both kinds of request."""
    # The kind is spelled out (not a parameter) so the planner can use that kind's own index.
    return f"l.kind = '{kind}' AND {_statuses(True, kind)} AND {public_listing_alone_sql('l')}"


@functools.cache
def _in_radius(kind: str) -> str:
    # From that kind's GiST index: the box bounds the walk; the corners beyond the radius go.
    lat, lon, meters = "$1::float8", "$2::float8", "$3::float8"
    return f"""
        SELECT * FROM (
            SELECT {_select(LIST_COLUMNS)}, {distance_sql("l.latitude", "l.longitude", lat, lon)} AS d
            FROM listing l
            WHERE {_listed(kind)} AND l.latitude IS NOT NULL
              AND earth_box(ll_to_earth({lat}, {lon}), {meters}) @> ll_to_earth(l.latitude, l.longitude)
        ) n
        WHERE d <= {meters}
        """


@functools.cache
def _remote_capable(kind: str) -> str:
    return f"""
        SELECT {_select(LIST_COLUMNS)}
        FROM listing l
        WHERE {_listed(kind)} AND {_REMOTE_SQL}
        """


@functools.cache
def _by_id(planning: bool) -> str:
    return f"""
        SELECT {_select(COLUMNS)}
        FROM listing l
        WHERE l.id = ANY($1::text[]::uuid[])
          AND {_statuses(planning)} AND {public_listing_alone_sql("l")}
        """


def _checked(kind: str) -> str:
    if kind not in KNOWN_KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    return kind


# These read through the request's one-statement reads (no session, one round trip each), whose
# pool plans a statement once per connection (Reads: plan_cache_mode): planning these takes
# longer than running them, and their plans never depend on the values.


async def in_radius(reads: Reads, kind: str, point: tuple[float, float], radius_km: float) -> list[Any]:
    """Every public listing of the kind whose stored point lies within the radius: LIST_COLUMNS,
    then its distance in metres. Active ones, and programs being planned (`_listed`)."""
    found: list[Any] = await reads.fetch(_in_radius(_checked(kind)), point[0], point[1], radius_km * 1000)
    return found


async def remote_capable(reads: Reads, kind: str) -> AsyncIterator[list[Any]]:
    """Every public listing of the kind that works remotely, wherever it is, REMOTE_PART rows at a
    time (LIST_COLUMNS; `_listed`): a million listings hold hundreds of thousands, and their rows
    read at once took far more memory than what is made of them (and kept it)."""
    async for rows in reads.parts(_remote_capable(_checked(kind)), size=REMOTE_PART):
        yield rows


async def by_id(reads: Reads, listing_ids: Sequence[str], *, planning: bool) -> list[Any]:
    """Those of the listings that are still what matching may offer (COLUMNS): read again for
    the few a request keeps, since the lists it ranked hold numbers, not listings. The ids as the
    lists read them (`l.id::text`), sent as text (tests/test_type_lookups.py)."""
    if not listing_ids:
        return []
    found: list[Any] = await reads.fetch(_by_id(planning), list(listing_ids))
    return found


# The id, then service.Details's fields in its order.
DETAIL_FIELDS = (
    "id",
    "organization_id",
    "description",
    "specialties",
    "formats",
    "populations",
    "languages",
    "location_precision",
    "locality",
    "region",
    "country",
)
# The fields as ContactRead names them.
CONTACT_FIELDS = ("id", "name", "role", "email", "phone", "preferred_method", "visibility")
# The lists as text[]: asyncpg decodes them without asking the server (it asks about varchar[] on
# each new connection, as it does about a uuid[] parameter: tests/test_type_lookups.py).
_DETAIL_LISTS = frozenset({"specialties", "formats", "populations", "languages"})
_SHOWN_SQL = f"""
    SELECT {", ".join(f"l.{f}::text[]" if f in _DETAIL_LISTS else f"l.{f}" for f in DETAIL_FIELDS)},
           {", ".join(f"c.{f}" for f in CONTACT_FIELDS)}
    FROM listing l
    LEFT JOIN contact c ON c.listing_id = l.id AND {contact_listed_sql("c")}
    WHERE l.id = ANY($1::text[]::uuid[])
    ORDER BY l.id, c.position
"""


async def shown_of(reads: Reads, listing_ids: Sequence[uuid.UUID]) -> list[Any]:
    """The shown-only fields of the chosen candidates, with the contacts that may leave through
    matching (in order), in one round trip: a row per contact (DETAIL_FIELDS, then the contact's
    CONTACT_FIELDS), and one row with no contact for a listing without."""
    if not listing_ids:
        return []
    found: list[Any] = await reads.fetch(_SHOWN_SQL, [str(i) for i in listing_ids])
    return found


async def initiators_near(
    session: AsyncSession,
    *,
    point: tuple[float, float],
    radius_km: float,
    side: str | None,
    formats: Sequence[str],
) -> list[tuple[Initiator, float]]:
    meters = distance.distance_clause(Initiator.latitude, Initiator.longitude, point)
    stmt = select(Initiator, meters.label("distance_m")).where(
        Initiator.latitude.is_not(None), Initiator.visible_to_programs.is_(True), meters <= radius_km * 1000
    )
    if side is not None:
        stmt = stmt.where(or_(Initiator.side.is_(None), Initiator.side == side, Initiator.side == "both"))
    if formats:
        stmt = stmt.where(
            or_(func.cardinality(Initiator.formats) == 0, Initiator.formats.overlap(list(formats)))
        )
    rows = await session.execute(stmt.order_by(meters, Initiator.pathway_step, Initiator.id).limit(100))
    return [(row[0], float(row[1])) for row in rows]
