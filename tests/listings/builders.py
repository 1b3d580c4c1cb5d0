"""Builders and checks for the listing tests (programs and partners), through the API."""

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.locations.geo import BAND_CODES, haversine_km
from registry.models import AuditEvent, Contact, EvaluationRecord, Listing
from tests.factories import Client, bearer

JSON = dict[str, Any]

# A point in Utrecht (NL) with decimals no grid centre or city centroid will share.
UTRECHT = (52.091234, 5.121987)
# Downtown Denver (US), near ZIP 80202.
DENVER = (39.741234, -104.991987)
KM_PER_DEGREE_LAT = 111.195
# The only numbers a listing answer may hold; a distance would be a number under another key.
NUMERIC_KEYS = frozenset(
    {"latitude", "longitude", "capacity", "service_radius_km", "hidden_contacts", "participant_count"}
    | {"total", "page", "per_page"}
)


def north_of(point: tuple[float, float], km: float) -> tuple[float, float]:
    """A point `km` due north of `point` (on the mean sphere)."""
    return round(point[0] + km / KM_PER_DEGREE_LAT, 6), point[1]


def with_etag(key: str, etag: str) -> dict[str, str]:
    return {**bearer(key), "If-Match": etag}


def program_body(**overrides: Any) -> JSON:
    """An in-person group for people who use violence (so `exact` by default) in Utrecht."""
    body: JSON = {
        "name": f"Program {uuid.uuid4().hex[:8]}",
        "side": "people_who_use_violence",
        "formats": ["twelve_step"],
        "languages": ["nl"],
        "location": {"latitude": UTRECHT[0], "longitude": UTRECHT[1]},
    }
    body.update(overrides)
    return body


async def create_program(client: Client, key: str, **overrides: Any) -> tuple[JSON, str]:
    """POST a program; answer its representation and ETag."""
    response = await client.post("/programs", json=program_body(**overrides), headers=bearer(key))
    assert response.status_code == 201, response.text
    return response.json(), response.headers["etag"]


def partner_body(kind: str = "clinician", **overrides: Any) -> JSON:
    body: JSON = {
        "kind": kind,
        "name": f"Partner {uuid.uuid4().hex[:8]}",
        "specialties": ["survivors"],
        "languages": ["en"],
        "location": {"latitude": UTRECHT[0], "longitude": UTRECHT[1]},
    }
    body.update(overrides)
    return body


async def create_partner(client: Client, key: str, kind: str = "clinician", **overrides: Any) -> JSON:
    response = await client.post("/partners", json=partner_body(kind, **overrides), headers=bearer(key))
    assert response.status_code == 201, response.text
    data: JSON = response.json()
    return data


def items_of(response: httpx.Response) -> list[JSON]:
    """The listings in an answer: a page's items, or the one listing."""
    assert response.status_code in (200, 201), response.text
    data: JSON = response.json()
    items: list[JSON] = data.get("items", [data])
    return items


async def etag_of(client: Client, path: str, key: str) -> str:
    response = await client.get(path, headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.headers["etag"]


async def listing_row(db: AsyncSession, listing_id: str) -> Listing:
    """The listing as stored now (not a stale copy from the session's identity map)."""
    stmt = (
        select(Listing).where(Listing.id == uuid.UUID(listing_id)).execution_options(populate_existing=True)
    )
    return (await db.scalars(stmt)).one()


async def contact_rows(db: AsyncSession, listing_id: str) -> list[Contact]:
    stmt = (
        select(Contact)
        .where(Contact.listing_id == uuid.UUID(listing_id))
        .order_by(Contact.position)
        .execution_options(populate_existing=True)
    )
    return list((await db.scalars(stmt)).all())


async def evaluation_rows(db: AsyncSession, listing_id: str) -> list[EvaluationRecord]:
    stmt = (
        select(EvaluationRecord)
        .where(EvaluationRecord.listing_id == uuid.UUID(listing_id))
        .order_by(EvaluationRecord.recorded_at, EvaluationRecord.id)
        .execution_options(populate_existing=True)
    )
    return list((await db.scalars(stmt)).all())


async def audit_rows(db: AsyncSession, entity_id: str) -> list[AuditEvent]:
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.entity_id == uuid.UUID(entity_id))
        .order_by(AuditEvent.id)
        .execution_options(populate_existing=True)
    )
    return list((await db.scalars(stmt)).all())


def walk(value: Any, path: str = "$", key: str | None = None) -> Iterator[tuple[str, str | None, Any]]:
    """Every (path, key, value) in a JSON document; key is None for list items and the root."""
    yield path, key, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, f"{path}.{k}", k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk(v, f"{path}[{i}]")


def assert_only_distance_bands(document: Any) -> None:
    """No distance leaves the API as a figure: the only distance key is `distance_band`, a band code."""
    for path, key, value in walk(document):
        if key is not None and "distance" in key.lower():
            assert key == "distance_band", path
            assert value is None or value in BAND_CODES, (path, value)
        if key is not None and key != "service_radius_km":
            lowered = key.lower()
            assert not lowered.endswith(("_km", "_m", "_miles", "km", "meters", "metres")), path
        if isinstance(value, int | float) and not isinstance(value, bool):
            assert key in NUMERIC_KEYS, (path, value)


def km_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    return haversine_km(a[0], a[1], b[0], b[1])


def coordinate_texts(value: float) -> set[str]:
    """Ways a precise coordinate could be printed (as given, or trimmed to 4-6 decimals)."""
    return {repr(value), *(f"{value:.{digits}f}" for digits in (4, 5, 6))}
