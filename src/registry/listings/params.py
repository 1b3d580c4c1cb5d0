"""Query parameters shared by the listing searches, typed once for validation and OpenAPI."""

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, TypeAlias

from litestar.params import QueryParameter

from registry.http.errors import InvalidInput
from registry.listings import location as locations

CodeQuery: TypeAlias = Annotated[
    str | None, QueryParameter(max_length=60, pattern=r"^[a-z0-9_]+$", description="a vocabulary code")
]
CodesQuery: TypeAlias = Annotated[
    list[str] | None,
    QueryParameter(max_items=30, description="vocabulary codes; repeat the parameter; matches any"),
]
Query: TypeAlias = Annotated[
    str | None, QueryParameter(max_length=200, description="full-text search over name and description")
]
Near: TypeAlias = Annotated[
    str | None,
    QueryParameter(
        max_length=200,
        description='"lat,lon", a US ZIP code or "City, CC"; results carry a distance band, ordered by it',
    ),
]
Radius: TypeAlias = Annotated[
    float, QueryParameter(gt=0, le=500, description="with near: how far to look, km (default 50)")
]
RemoteOk: TypeAlias = Annotated[
    bool | None,
    QueryParameter(description="true: only listings that can work remotely (any distance); false: none"),
]
ISO_DATETIME = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$"
ModifiedAfter: TypeAlias = Annotated[
    str | None,
    QueryParameter(
        max_length=40,
        pattern=ISO_DATETIME,
        description="changed after this time (ISO 8601; UTC if no offset)",
    ),
]


def parse_modified_after(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(
            f"modified_after: not an ISO 8601 time: {value!r}", extra={"field": "modified_after"}
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


OrganizationFilter: TypeAlias = Annotated[uuid.UUID | None, QueryParameter(description="one organization's")]
Flag: TypeAlias = Annotated[bool | None, QueryParameter()]
StatusQuery: TypeAlias = Annotated[
    str | None, QueryParameter(pattern=r"^(planning|active|paused|closed)$", description="listing status")
]


def common_filters(
    *,
    q: str | None,
    near: str | None,
    radius_km: float,
    remote_ok: bool | None,
    modified_after: str | None,
    organization_id: uuid.UUID | None,
) -> dict[str, Any]:
    point = None
    if near is not None:
        place = locations.parse_near(near)
        point = (place.latitude, place.longitude)
    return {
        "q": q.strip() or None if q else None,
        "near": point,
        "radius_km": radius_km,
        "remote_ok": remote_ok,
        "modified_after": parse_modified_after(modified_after),
        "organization_id": organization_id,
    }
