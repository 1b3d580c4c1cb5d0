"""The floor: a minimal Litestar + asyncpg + msgspec app that answers what the registry answers for
`GET /programs/{id}` (a public program, its public contacts and its evaluation history, in one
query) and a bare `GET /health`. `bench/run.py` serves it beside the registry, on the same
database and with as many workers, and reports each of the registry's rows against it
("vs floor"): what the same stack does when the request path is lean.

    granian --interface asgi --workers 2 --port 8100 floor:app   (DATABASE_URL set, from bench/)
"""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from litestar import Litestar, MediaType, Response, get

# A public program (a live peer program of a verified organization) with its public contacts
# and its evaluation history, as one JSON document built by PostgreSQL.
PROGRAM = """
SELECT json_build_object(
    'id', l.id, 'organization_id', l.organization_id, 'kind', l.kind, 'name', l.name,
    'description', l.description, 'side', l.side, 'formats', l.formats, 'group_type', l.group_type,
    'delivery', l.delivery, 'populations', l.populations, 'languages', l.languages,
    'location', json_build_object(
        'precision', l.location_precision, 'latitude', l.latitude, 'longitude', l.longitude,
        'address', CASE WHEN l.location_precision = 'exact' THEN l.address END,
        'postal_code', CASE WHEN l.location_precision = 'exact' THEN l.postal_code END,
        'locality', l.locality, 'region', l.region, 'country', l.country),
    'service_radius_km', l.service_radius_km, 'status', l.status, 'founded_on', l.founded_on,
    'capacity', l.capacity,
    'schedule', json_build_object('text', l.schedule_text, 'weekdays', l.schedule_weekdays,
                                  'frequency', l.schedule_frequency),
    'open_to_mentoring', l.open_to_mentoring,
    'evaluation', json_build_object('stage', l.evaluation_stage, 'history', coalesce((
        SELECT json_agg(json_build_object('id', e.id, 'stage', e.stage, 'previous_stage', e.previous_stage,
                                          'design', e.design, 'outcomes', e.outcomes,
                                          'recorded_at', e.recorded_at) ORDER BY e.recorded_at, e.id)
        FROM evaluation_record e WHERE e.listing_id = l.id), '[]'::json)),
    'contacts', coalesce((
        SELECT json_agg(json_build_object('id', c.id, 'name', c.name, 'role', c.role, 'email', c.email,
                                          'phone', c.phone, 'preferred_method', c.preferred_method,
                                          'visibility', c.visibility) ORDER BY c.position)
        FROM contact c WHERE c.listing_id = l.id AND c.visibility = 'public'), '[]'::json),
    'last_verified_at', l.last_verified_at, 'archived', false,
    'created_at', l.created_at, 'updated_at', l.updated_at)::text
FROM listing l JOIN organization o ON o.id = l.organization_id
WHERE l.id = $1 AND l.kind = 'peer_program' AND l.archived_at IS NULL AND o.verification_status = 'verified'
"""


@asynccontextmanager
async def pool(app: Litestar) -> AsyncIterator[None]:
    url = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    app.state.pool = await asyncpg.create_pool(url, min_size=2, max_size=10)
    try:
        yield
    finally:
        await app.state.pool.close()


@get("/health", media_type=MediaType.JSON)
async def health() -> bytes:
    return b'{"status":"ok"}'


@get("/programs/{program_id:uuid}")
async def program(program_id: uuid.UUID) -> Response[bytes]:
    found = await app.state.pool.fetchval(PROGRAM, program_id)
    if found is None:
        return Response(b'{"status":404}', status_code=404, media_type=MediaType.JSON)
    return Response(found.encode(), media_type=MediaType.JSON)


app = Litestar([health, program], lifespan=[pool], openapi_config=None)
