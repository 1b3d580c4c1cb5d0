"""Partners: kind-specific attributes, vocabulary checks, mapping onto listings."""

import uuid
from typing import Any

import msgspec
from msgspec import UNSET
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import Principal
from registry.caching.caches import Caches
from registry.caching.version import Version
from registry.http.errors import InvalidInput
from registry.listings import location as locations
from registry.listings import service as listings
from registry.listings.queries import ListingFilters
from registry.models import Listing
from registry.partners.schemas import PARTNER_KINDS, VOCABULARIES, PartnerCreate, PartnerUpdate
from registry.taxonomies.service import check_fields

_PLAIN = (
    "name",
    "description",
    "specialties",
    "populations",
    "languages",
    "credentials",
    "ipv_trained",
    "ipv_training",
    "methods",
    "courses",
    "course_topics",
    "certifications",
    "accepting_partnerships",
    "remote_ok",
    "service_radius_km",
    "status",
)
_SETS = ("specialties", "populations", "languages", "methods", "course_topics")
# Attributes that belong to some kinds only; sending them for another kind is an error.
KIND_ONLY: dict[str, frozenset[str]] = {
    "credentials": frozenset({"clinician", "treatment_program"}),
    "ipv_trained": frozenset({"clinician", "treatment_program"}),
    "ipv_training": frozenset({"clinician", "treatment_program"}),
    "methods": frozenset({"evaluator"}),
    "courses": frozenset({"trainer"}),
    "course_topics": frozenset({"trainer"}),
    "certifications": frozenset({"trainer"}),
}
_EMPTY: dict[str, Any] = {
    "credentials": [],
    "ipv_trained": False,
    "ipv_training": None,
    "methods": [],
    "courses": [],
    "course_topics": [],
    "certifications": [],
}


def check_kind_attributes(kind: str, values: dict[str, Any]) -> None:
    wrong = sorted(
        name
        for name, kinds in KIND_ONLY.items()
        if kind not in kinds and values.get(name, _EMPTY[name]) != _EMPTY[name]
    )
    if wrong:
        raise InvalidInput(
            f"{', '.join(wrong)}: not an attribute of a {kind} "
            + "; ".join(f"{n} is for {', '.join(sorted(KIND_ONLY[n]))}" for n in wrong),
            extra={"fields": wrong},
        )


async def create_partner(
    session: AsyncSession, principal: Principal, data: PartnerCreate, *, listing_id: uuid.UUID | None = None
) -> Listing:
    values = {name: getattr(data, name) for name in _PLAIN}
    for name in _SETS:
        values[name] = sorted(set(values[name]))
    check_kind_attributes(data.kind, values)
    await check_fields(session, values, VOCABULARIES)
    serves = locations.serves_survivors(data.kind, None, values["specialties"])
    default = ("area" if serves else "exact") if data.location else "remote"
    stored = locations.to_stored(data.location, data.location_precision or default)
    if stored.precision == "remote":
        values["remote_ok"] = True
    return await listings.create_listing(
        session,
        principal,
        kind=data.kind,
        organization_id=data.organization_id,
        values=values,
        location=stored,
        contacts=data.contacts,
        listing_id=listing_id,
    )


async def update_partner(
    session: AsyncSession,
    principal: Principal,
    partner_id: uuid.UUID,
    data: PartnerUpdate,
    if_match: str | None,
) -> Listing:
    listing = await listings.get_listing(session, principal, partner_id, PARTNER_KINDS, lock=True)
    given = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not UNSET}
    values = {name: given[name] for name in _PLAIN if name in given}
    for name in _SETS:
        if name in values:
            values[name] = sorted(set(values[name]))
    for required in ("name", "status"):
        if required in given and given[required] is None:
            raise InvalidInput(f"{required}: cannot be null")
    check_kind_attributes(listing.kind, values)
    await check_fields(session, values, VOCABULARIES)
    stored = None
    if "location" in given or "location_precision" in given:
        precision = given.get("location_precision", listing.location_precision)
        if "location" not in given and precision != "remote":
            raise InvalidInput(f"location: send the location again to change precision to {precision}")
        stored = locations.to_stored(given.get("location"), precision)
        if stored.precision == "remote":
            values["remote_ok"] = True
    specialties = values.get("specialties", listing.specialties)
    after = stored or listings.stored_of(listing)
    kept = locations.survivor_default(
        after,
        serves=locations.serves_survivors(listing.kind, None, specialties),
        came_to_serve=set(specialties) != set(listing.specialties),
        moved="location" in given,
        chose_exact=given.get("location_precision") == "exact",
    )
    if kept is not after:
        stored = kept
    return await listings.update_listing(
        session,
        principal,
        listing,
        if_match=if_match,
        values=values,
        location=stored,
        contacts=given.get("contacts"),
        coarsened=kept is not after,
    )


async def partner_filters(
    session: AsyncSession,
    *,
    kind: str | None,
    specialties: list[str],
    populations: list[str],
    languages: list[str],
    methods: list[str],
    status: str | None,
    accepting_partnerships: bool | None,
    ipv_trained: bool | None,
    caches: Caches,
    version: Version,
    **common: Any,
) -> ListingFilters:
    filters = {
        "specialties": specialties,
        "populations": populations,
        "languages": languages,
        "methods": methods,
    }
    await check_fields(
        session,
        filters,
        VOCABULARIES,
        allow_retired=True,
        caches=caches,
        version=version,
        named={
            "specialties": "specialty",
            "populations": "population",
            "languages": "language",
            "methods": "method",
        },
    )
    flags = {
        k: v
        for k, v in {"accepting_partnerships": accepting_partnerships, "ipv_trained": ipv_trained}.items()
        if v is not None
    }
    return ListingFilters(
        kinds=(kind,) if kind else PARTNER_KINDS,
        equals={"status": status} if status else {},
        overlaps={
            "specialties": specialties,
            "populations": populations,
            "languages": languages,
            "methods": methods,
        },
        flags=flags,
        **common,
    )
