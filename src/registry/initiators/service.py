"""Initiator profiles: create with a key, read and change with it, erase everything."""

import functools
from typing import Any

import msgspec
from msgspec import UNSET
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.audit import service as audit
from registry.auth.dependencies import require_role
from registry.auth.keys import generate_key, hash_key, visible_prefix
from registry.auth.principal import Principal, Role
from registry.database import routing
from registry.database.base import utcnow
from registry.http.errors import InvalidInput, NotFound
from registry.http.etags import check_if_match
from registry.initiators.schemas import (
    VOCABULARIES,
    CoarseLocation,
    InitiatorCreate,
    InitiatorRead,
    InitiatorUpdate,
)
from registry.listings import location as locations
from registry.listings.schemas import LocationInput
from registry.models import ApiKey, Initiator, Introduction
from registry.taxonomies.service import check_fields

ENTITY = "initiator"


def coarse_location(location: LocationInput | None) -> dict[str, Any]:
    """Initiators' places are always kept at area precision (grid cell or city centre)."""
    if location is None:
        return dict.fromkeys(("latitude", "longitude", "locality", "region", "country"))
    # The address plays no part at area precision; the same places are asked for again and again.
    stored = _coarse(location.latitude, location.longitude, location.postal_code, location.place)
    return {
        "latitude": stored.latitude,
        "longitude": stored.longitude,
        "locality": stored.locality,
        "region": stored.region,
        "country": stored.country,
    }


@functools.lru_cache(maxsize=4096)
def _coarse(
    latitude: float | None, longitude: float | None, postal_code: str | None, place: str | None
) -> locations.StoredLocation:
    given = LocationInput(latitude=latitude, longitude=longitude, postal_code=postal_code, place=place)
    return locations.to_stored(given, "area")


def to_read(initiator: Initiator) -> InitiatorRead:
    return InitiatorRead(
        id=initiator.id,
        display_name=initiator.display_name,
        email=initiator.email,
        location=CoarseLocation(
            latitude=initiator.latitude,
            longitude=initiator.longitude,
            locality=initiator.locality,
            region=initiator.region,
            country=initiator.country,
        ),
        side=initiator.side,
        formats=initiator.formats,
        populations=initiator.populations,
        languages=initiator.languages,
        pathway_step=initiator.pathway_step,
        needs=initiator.needs,
        visible_to_programs=initiator.visible_to_programs,
        created_at=initiator.created_at,
        updated_at=initiator.updated_at,
    )


async def create_initiator(session: AsyncSession, data: InitiatorCreate) -> tuple[Initiator, str]:
    values = {
        "display_name": data.display_name.strip(),
        "email": data.email,
        "side": data.side,
        "formats": sorted(set(data.formats)),
        "populations": sorted(set(data.populations)),
        "languages": sorted(set(data.languages)),
        "pathway_step": data.pathway_step,
        "needs": sorted(set(data.needs)),
        "visible_to_programs": data.visible_to_programs,
    }
    await check_fields(session, values, VOCABULARIES)
    initiator = Initiator(**values, **coarse_location(data.location))
    session.add(initiator)
    await session.flush()
    key = generate_key()
    issued = ApiKey(
        prefix=visible_prefix(key),
        key_hash=hash_key(key),
        role=Role.INITIATOR.value,
        initiator_id=initiator.id,
        label="initiator",
        created_at=utcnow(),
    )
    session.add(issued)
    await session.flush()
    routing.wrote_as(issued.id)  # the new key's first reads follow this write
    actor = Principal(role=Role.INITIATOR, initiator_id=initiator.id)
    audit.record(
        session,
        actor,
        "create",
        ENTITY,
        initiator.id,
        owner_organization_id=None,
        changed_fields=values.keys(),
    )
    return initiator, key


async def get_own(session: AsyncSession, principal: Principal, *, lock: bool = False) -> Initiator:
    require_role(principal, Role.INITIATOR)
    initiator = await session.get(Initiator, principal.initiator_id, with_for_update=lock)
    if initiator is None:
        raise NotFound("This initiator profile no longer exists.")
    return initiator


async def update_own(
    session: AsyncSession, principal: Principal, data: InitiatorUpdate, if_match: str | None
) -> Initiator:
    initiator = await get_own(session, principal, lock=True)
    check_if_match(if_match, initiator.id, initiator.version)
    given = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not UNSET}
    await check_fields(session, given, VOCABULARIES)
    for name in ("display_name", "email", "pathway_step", "visible_to_programs"):
        if name in given:
            if given[name] is None:
                raise InvalidInput(f"{name}: cannot be null")
            setattr(initiator, name, given[name])
    for name in ("formats", "populations", "languages", "needs"):
        if name in given:
            setattr(initiator, name, sorted(set(given[name])))
    if "side" in given:
        initiator.side = given["side"]
    if "location" in given:
        for name, value in coarse_location(given["location"]).items():
            setattr(initiator, name, value)
    initiator.version += 1
    initiator.updated_at = utcnow()
    audit.record(
        session,
        principal,
        "update",
        ENTITY,
        initiator.id,
        owner_organization_id=None,
        changed_fields=given.keys(),
    )
    await session.flush()
    return initiator


async def erase_own(session: AsyncSession, principal: Principal, if_match: str | None) -> None:
    """Erase the profile, its keys and every introduction except accepted ones, which keep only
    what the organization already received (name, email, message) and lose the link."""
    initiator = await get_own(session, principal, lock=True)
    check_if_match(if_match, initiator.id, initiator.version)
    await session.execute(
        delete(Introduction).where(
            Introduction.initiator_id == initiator.id, Introduction.status != "accepted"
        )
    )
    await session.execute(
        update(Introduction)
        .where(Introduction.initiator_id == initiator.id)
        .values(initiator_id=None, initiator_locality=None)
    )
    await session.execute(delete(ApiKey).where(ApiKey.initiator_id == initiator.id))
    await session.delete(initiator)
    audit.record(
        session,
        principal,
        "erase",
        ENTITY,
        initiator.id,
        owner_organization_id=None,
        changed_fields=["profile"],
    )
    await session.flush()
