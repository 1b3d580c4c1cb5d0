"""Turn location input into what may be stored, by precision. The privacy rules live here:
an `area` listing keeps only a coarse point and its locality, and a listing that comes to serve
survivors is `area` unless the same request chooses `exact` (DOMAIN.md, rule 2)."""

from collections.abc import Sequence

import msgspec

from registry.http.errors import InvalidInput
from registry.listings.schemas import LocationInput
from registry.locations import geo


class StoredLocation(msgspec.Struct, frozen=True, kw_only=True):
    precision: str
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = None
    postal_code: str | None = None
    locality: str | None = None
    region: str | None = None
    country: str | None = None


def resolve(location: LocationInput) -> tuple[geo.Place, bool]:
    """The place a location input names, and whether it is a city (centroid) rather than a point."""
    has_point = location.latitude is not None or location.longitude is not None
    forms = sum((has_point, location.postal_code is not None, location.place is not None))
    if forms != 1:
        raise InvalidInput(
            "location: give exactly one of latitude+longitude, postal_code or place",
            extra={"field": "location"},
        )
    try:
        if has_point:
            if location.latitude is None or location.longitude is None:
                raise InvalidInput(
                    "location: latitude and longitude go together", extra={"field": "location"}
                )
            return _point_place(location.latitude, location.longitude), False
        if location.postal_code is not None:
            return geo.resolve_postal_code(location.postal_code), False
        assert location.place is not None
        return geo.resolve_place(location.place), True
    except geo.InvalidLocation as exc:
        raise InvalidInput(f"location: {exc}", extra={"field": "location"}) from exc


def _point_place(latitude: float, longitude: float) -> geo.Place:
    near = geo.nearest_locality(latitude, longitude)
    return geo.Place(
        latitude=latitude,
        longitude=longitude,
        locality=near.locality if near else None,
        region=near.region if near else None,
        country=near.country if near else None,
        postal_code=None,
    )


def to_stored(location: LocationInput | None, precision: str) -> StoredLocation:
    if location is None:
        if precision != "remote":
            raise InvalidInput(
                f"location is required unless location_precision is remote (got {precision})",
                extra={"field": "location"},
            )
        return StoredLocation(precision="remote")
    place, is_city = resolve(location)
    if precision == "exact":
        return StoredLocation(
            precision="exact",
            latitude=round(place.latitude, 6),
            longitude=round(place.longitude, 6),
            address=location.address,
            postal_code=place.postal_code,
            locality=place.locality,
            region=place.region,
            country=place.country,
        )
    # area, and remote listings that still name a home area: coarse point, no address.
    if is_city:
        latitude, longitude = round(place.latitude, 4), round(place.longitude, 4)
    else:
        latitude, longitude = geo.snap_to_grid(place.latitude, place.longitude)
        if location.postal_code is None:
            # Name the locality from the coarse point, so it says no more than the point does.
            place = _point_place(latitude, longitude)
    return StoredLocation(
        precision=precision,
        latitude=latitude,
        longitude=longitude,
        locality=place.locality,
        region=place.region,
        country=place.country,
    )


SURVIVOR_SIDES = frozenset({"survivors", "both"})
COARSENED_NOTE = (
    "serves survivors: kept at area precision by default; the address and precise point were removed"
)


def serves_survivors(kind: str, side: str | None, specialties: Sequence[str]) -> bool:
    """Programs name their side; partners list the sides they work with among their specialties."""
    if kind == "peer_program":
        return side in SURVIVOR_SIDES
    return "survivors" in specialties


def coarsened(stored: StoredLocation) -> StoredLocation:
    """An exact location brought down to `area`: the grid cell's centre, the locality that point
    names, no address or postal code."""
    if stored.precision != "exact":
        return stored
    if stored.latitude is None or stored.longitude is None:
        return StoredLocation(precision="area", region=stored.region, country=stored.country)
    latitude, longitude = geo.snap_to_grid(stored.latitude, stored.longitude)
    place = _point_place(latitude, longitude)
    return StoredLocation(
        precision="area",
        latitude=latitude,
        longitude=longitude,
        locality=place.locality,
        region=place.region,
        country=place.country,
    )


def survivor_default(
    current: StoredLocation, *, serves: bool, came_to_serve: bool, moved: bool, chose_exact: bool
) -> StoredLocation:
    """The location to store after a write: `area` when the listing serves survivors and this
    write made it so (a new side or specialty, a new place, a new listing), unless the write chose
    `exact` itself."""
    if serves and (came_to_serve or moved) and not chose_exact and current.precision == "exact":
        return coarsened(current)
    return current


def parse_near(text: str) -> geo.Place:
    try:
        return geo.parse_near(text)
    except geo.InvalidLocation as exc:
        raise InvalidInput(f"near: {exc}", extra={"field": "near"}) from exc
