"""Programs: vocabulary checks, defaults and mapping onto listings."""

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
from registry.models import PROGRAM_KIND, Listing
from registry.programs.schemas import VOCABULARIES, ProgramCreate, ProgramUpdate, Schedule
from registry.taxonomies.service import check_fields

KINDS = (PROGRAM_KIND,)
_PLAIN = (
    "name",
    "description",
    "side",
    "formats",
    "group_type",
    "delivery",
    "populations",
    "languages",
    "service_radius_km",
    "status",
    "founded_on",
    "capacity",
    "open_to_mentoring",
)


def default_precision(side: str, delivery: str | None, has_location: bool) -> str:
    if not has_location and delivery == "online":
        return "remote"
    # Survivor groups (and groups for both sides) are hidden at area level unless asked otherwise.
    return "exact" if side == "people_who_use_violence" else "area"


def _schedule_values(schedule: Schedule | None) -> dict[str, Any]:
    schedule = schedule or Schedule()
    return {
        "schedule_text": schedule.text,
        "schedule_weekdays": list(dict.fromkeys(schedule.weekdays)),
        "schedule_frequency": schedule.frequency,
    }


async def _clinical_partner(
    session: AsyncSession, principal: Principal, partner_id: uuid.UUID | None, name: str | None
) -> dict[str, Any]:
    if partner_id is None:
        return {"clinical_partner_id": None, "clinical_partner_name": name}
    partner = await listings.get_listing(session, principal, partner_id, ["clinician", "treatment_program"])
    return {"clinical_partner_id": partner.id, "clinical_partner_name": name or partner.name}


def works_remotely(delivery: str | None, precision: str) -> bool:
    """A program meets online (or partly), or is listed without a place: it reaches people anywhere."""
    return delivery in ("online", "hybrid") or precision == "remote"


async def create_program(
    session: AsyncSession, principal: Principal, data: ProgramCreate, *, listing_id: uuid.UUID | None = None
) -> Listing:
    values = {name: getattr(data, name) for name in _PLAIN}
    for name in ("formats", "populations", "languages"):
        values[name] = sorted(set(values[name]))
    await check_fields(session, values, VOCABULARIES)
    precision = data.location_precision or default_precision(
        data.side, data.delivery, data.location is not None
    )
    stored = locations.to_stored(data.location, precision)
    values |= _schedule_values(data.schedule)
    values |= await _clinical_partner(
        session, principal, data.clinical_partner_id, data.clinical_partner_name
    )
    values["remote_ok"] = works_remotely(data.delivery, precision)
    return await listings.create_listing(
        session,
        principal,
        kind=PROGRAM_KIND,
        organization_id=data.organization_id,
        values=values,
        location=stored,
        contacts=data.contacts,
        listing_id=listing_id,
    )


async def update_program(
    session: AsyncSession,
    principal: Principal,
    program_id: uuid.UUID,
    data: ProgramUpdate,
    if_match: str | None,
) -> Listing:
    listing = await listings.get_listing(session, principal, program_id, KINDS, lock=True)
    given = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not UNSET}
    values = {name: given[name] for name in _PLAIN if name in given}
    for name in ("formats", "populations", "languages"):
        if name in values:
            values[name] = sorted(set(values[name]))
    for required in ("name", "side", "delivery", "status"):
        if required in given and given[required] is None:
            raise InvalidInput(f"{required}: cannot be null")
    await check_fields(session, values, VOCABULARIES)
    if "schedule" in given:
        values |= _schedule_values(given["schedule"])
    if "clinical_partner_id" in given or "clinical_partner_name" in given:
        values |= await _clinical_partner(
            session,
            principal,
            given.get("clinical_partner_id", listing.clinical_partner_id),
            given.get("clinical_partner_name"),
        )
    stored = None
    if "location" in given or "location_precision" in given:
        precision = given.get("location_precision", listing.location_precision)
        if "location" in given:
            stored = locations.to_stored(given["location"], precision)
        elif precision != listing.location_precision:
            if precision == "exact" or (listing.latitude is None and precision == "area"):
                # Exact needs a fresh location: the stored one may be coarse.
                raise InvalidInput(f"location: send the location again to change precision to {precision}")
            stored = locations.coarsened(listings.stored_of(listing))
            stored = msgspec.structs.replace(stored, precision=precision)
    side = values.get("side", listing.side)
    after = stored or listings.stored_of(listing)
    kept = locations.survivor_default(
        after,
        serves=locations.serves_survivors(PROGRAM_KIND, side, ()),
        came_to_serve=side != listing.side,
        moved="location" in given,
        chose_exact=given.get("location_precision") == "exact",
    )
    if kept is not after:
        stored = kept
    delivery = values.get("delivery", listing.delivery)
    precision_now = stored.precision if stored else listing.location_precision
    values["remote_ok"] = works_remotely(delivery, precision_now)
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


async def program_filters(
    session: AsyncSession,
    *,
    side: str | None,
    formats: list[str],
    group_type: str | None,
    delivery: str | None,
    populations: list[str],
    languages: list[str],
    status: str | None,
    evaluation_stage: str | None,
    open_to_mentoring: bool | None,
    caches: Caches,
    version: Version,
    **common: Any,
) -> ListingFilters:
    filters = {
        "side": side,
        "formats": formats,
        "group_type": group_type,
        "delivery": delivery,
        "populations": populations,
        "languages": languages,
        "evaluation_stage": evaluation_stage,
    }
    await check_fields(
        session,
        filters,
        VOCABULARIES,
        allow_retired=True,
        caches=caches,
        version=version,
        named={"formats": "format", "populations": "population", "languages": "language"},
    )
    equals = {
        k: v
        for k, v in {
            "side": side,
            "group_type": group_type,
            "delivery": delivery,
            "status": status,
            "evaluation_stage": evaluation_stage,
        }.items()
        if v is not None
    }
    flags = {"open_to_mentoring": open_to_mentoring} if open_to_mentoring is not None else {}
    return ListingFilters(
        kinds=KINDS,
        equals=equals,
        overlaps={"formats": formats, "populations": populations, "languages": languages},
        flags=flags,
        **common,
    )
