"""HSDS query parameters -> typed filters. Pure: no I/O beyond the offline place lookups."""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from registry.hsds import ids
from registry.hsds.mapping import Vocabulary
from registry.http.errors import InvalidInput
from registry.locations import geo
from registry.taxonomies.vocabulary import TAXONOMIES

# A postcode alone asks "who serves this place": a listing covers the places within its service
# radius of its (coarse) point, or within this many km when it gives none.
DEFAULT_COVERAGE_KM = 25.0
MAX_PROXIMITY_M = 500_000.0


@dataclass(frozen=True, kw_only=True)
class ServiceFilters:
    search: str | None = None
    organization_id: uuid.UUID | None = None
    modified_after: datetime | None = None
    term: tuple[str, str] | None = None
    taxonomy: str | None = None
    near: tuple[float, float] | None = None
    # With `near`: how far to look, or None for "whose service area covers `near`".
    radius_km: float | None = None
    # An id that names nothing (an unknown term or taxonomy): the answer is an empty page.
    matches_nothing: bool = False


def _uuid(name: str, text: str) -> uuid.UUID:
    value = ids.parse_id(text.strip())
    if value is None:
        raise InvalidInput(f"{name}: not a UUID: {text!r}", extra={"field": name})
    return value


def parse_modified_after(text: str) -> datetime:
    """An ISO 8601 date or date-time; without a zone it is UTC."""
    raw = text.strip()
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(
            f"modified_after: give an ISO 8601 date or date-time, not {text!r}",
            extra={"field": "modified_after"},
        ) from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def taxonomy_name(taxonomy_id: str) -> str | None:
    """The vocabulary an HSDS taxonomy id names, or None."""
    wanted = _uuid("taxonomy_id", taxonomy_id)
    return next((name for name in TAXONOMIES if ids.taxonomy_id(name) == wanted), None)


def _meters(text: str) -> float:
    try:
        meters = float(text)
    except ValueError:
        meters = 0.0
    # NaN fails both comparisons, so it is refused too.
    if not 0 < meters <= MAX_PROXIMITY_M:
        raise InvalidInput(
            f"proximity: a distance in meters, above 0 and at most {MAX_PROXIMITY_M:.0f}",
            extra={"field": "proximity"},
        )
    return meters


def parse_proximity(
    postcode: str | None, proximity: str | None
) -> tuple[tuple[float, float] | None, float | None]:
    """(point, radius_km) from HSDS `postcode` and `proximity`.

    - `postcode` + `proximity=N`: within N meters of the postcode's centroid (HSDS);
    - `proximity=lat,lon,N`: within N meters of that point (no postcode needed);
    - `postcode` alone: listings whose service area covers the postcode's centroid (radius None).
    A postcode is a US ZIP code; "City, CC" is read as a place too."""
    point: tuple[float, float] | None = None
    if postcode is not None:
        try:
            place = geo.parse_near(postcode)
        except geo.InvalidLocation as exc:
            raise InvalidInput(f"postcode: {exc}", extra={"field": "postcode"}) from exc
        point = (place.latitude, place.longitude)
    if proximity is None:
        return point, None
    parts = [part.strip() for part in proximity.split(",")]
    if len(parts) == 3:
        if point is not None:
            raise InvalidInput(
                "proximity: give either postcode with proximity=meters, or proximity=lat,lon,meters",
                extra={"field": "proximity"},
            )
        try:
            latitude, longitude = geo.parse_coordinates(f"{parts[0]},{parts[1]}")
        except geo.InvalidLocation as exc:
            raise InvalidInput(f"proximity: {exc}", extra={"field": "proximity"}) from exc
        return (latitude, longitude), _meters(parts[2]) / 1000
    if len(parts) != 1:
        raise InvalidInput(
            "proximity: meters from the postcode's centroid, or lat,lon,meters", extra={"field": "proximity"}
        )
    if point is None:
        raise InvalidInput(
            "proximity: give a postcode too, or use proximity=lat,lon,meters", extra={"field": "proximity"}
        )
    return point, _meters(parts[0]) / 1000


def service_filters(
    vocab: Vocabulary,
    *,
    search: str | None = None,
    organization_id: str | None = None,
    modified_after: str | None = None,
    taxonomy_term_id: str | None = None,
    taxonomy_id: str | None = None,
    postcode: str | None = None,
    proximity: str | None = None,
) -> ServiceFilters:
    nothing = False
    term = None
    if taxonomy_term_id is not None:
        found = vocab.by_id.get(_uuid("taxonomy_term_id", taxonomy_term_id))
        if found is None:
            nothing = True
        else:
            term = (found.taxonomy, found.code)
    taxonomy = None
    if taxonomy_id is not None:
        taxonomy = taxonomy_name(taxonomy_id)
        nothing = nothing or taxonomy is None
    near, radius_km = parse_proximity(postcode, proximity)
    return ServiceFilters(
        search=(search or "").strip() or None,
        organization_id=_uuid("organization_id", organization_id) if organization_id is not None else None,
        modified_after=parse_modified_after(modified_after) if modified_after is not None else None,
        term=term,
        taxonomy=taxonomy,
        near=near,
        radius_km=radius_km,
        matches_nothing=nothing,
    )
