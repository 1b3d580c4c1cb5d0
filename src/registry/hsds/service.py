"""One function per HSDS endpoint: query the public subset, map it, wrap it in a page."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from registry.caching.caches import Caches
from registry.hsds import filters as hsds_filters
from registry.hsds import ids, mapping, queries
from registry.hsds.locations import Locations
from registry.hsds.mapping import Json, ServiceRow, Term, Vocabulary
from registry.hsds.records import ServiceRecord
from registry.http.errors import InvalidInput, NotFound
from registry.http.pagination import offset
from registry.taxonomies.vocabulary import TAXONOMIES

_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, kw_only=True)
class ListParams:
    page: int
    per_page: int
    full: bool = False
    minimal: bool = False
    ndjson: bool = False

    def __post_init__(self) -> None:
        if self.full and self.minimal:
            raise InvalidInput("full and minimal: ask for one of them", extra={"field": "minimal"})

    @property
    def offset(self) -> int:
        return offset(self.page, self.per_page)


@dataclass(frozen=True, kw_only=True)
class ServiceQuery:
    search: str | None = None
    taxonomy_id: str | None = None
    taxonomy_term_id: str | None = None
    organization_id: str | None = None
    modified_after: str | None = None
    postcode: str | None = None
    proximity: str | None = None


def _id(text: str, what: str) -> uuid.UUID:
    value = ids.parse_id(text)
    if value is None:
        raise NotFound(f"No {what} {text!r}: HSDS ids here are UUIDs.")
    return value


async def _refs(session: AsyncSession, services: Sequence[ServiceRecord]) -> frozenset[uuid.UUID]:
    wanted: set[uuid.UUID] = set()
    for found in services:
        wanted |= mapping.referenced_ids(found, found.evaluations)
    return await queries.public_listing_ids(session, wanted)


async def _rows(session: AsyncSession, services: Sequence[ServiceRecord]) -> list[ServiceRow]:
    return _with_refs(services, await _refs(session, services))


def _with_refs(services: Sequence[ServiceRecord], public_refs: frozenset[uuid.UUID]) -> list[ServiceRow]:
    return [
        ServiceRow(listing=found, organization=found.organization, public_refs=public_refs)
        for found in services
    ]


def _page(contents: list[Json], total: int, params: ListParams) -> Json:
    return mapping.page_envelope(contents, total=total, page=params.page, per_page=params.per_page)


def _filters(vocab: Vocabulary, query: ServiceQuery) -> hsds_filters.ServiceFilters:
    return hsds_filters.service_filters(
        vocab,
        search=query.search,
        organization_id=query.organization_id,
        modified_after=query.modified_after,
        taxonomy_term_id=query.taxonomy_term_id,
        taxonomy_id=query.taxonomy_id,
        postcode=query.postcode,
        proximity=query.proximity,
    )


async def _public_refs(
    session: AsyncSession, services: Sequence[ServiceRecord], params: ListParams
) -> frozenset[uuid.UUID]:
    return frozenset() if params.minimal else await _refs(session, services)


def _shaped(
    services: Sequence[ServiceRecord], refs: frozenset[uuid.UUID], vocab: Vocabulary, params: ListParams
) -> list[Json]:
    """The services in the form asked for: full, minimal or the default summary."""
    if params.full:
        return [mapping.service_full(row, vocab) for row in _with_refs(services, refs)]
    if params.minimal:
        return [mapping.service_minimal(found) for found in services]
    return [mapping.service_summary(found, found.organization, vocab, refs) for found in services]


ID_BYTES = 16


async def _services(
    session: AsyncSession, caches: Caches, query: ServiceQuery, params: ListParams
) -> tuple[Vocabulary, list[ServiceRecord], int]:
    """A page of services, found in the matching services' order kept for the data's version (a
    page deep in the directory reads only its own rows, and the total is that order's length)."""
    version = await caches.version()
    vocab = await caches.memo(
        "hsds_vocabulary",
        "terms",
        version,
        lambda: queries.vocabulary(session),
        weigh=lambda v: 1000 * len(v.terms),
    )
    found = _filters(vocab, query)
    order: bytes = await caches.memo(
        "hsds_order", found, version, lambda: queries.service_order(session, found)
    )
    total = len(order) // ID_BYTES
    shown = range(min(params.offset, total), min(params.offset + params.per_page, total))
    wanted = [uuid.UUID(bytes=order[i * ID_BYTES : (i + 1) * ID_BYTES]) for i in shown]
    return vocab, await queries.services_by_id(session, wanted, details=params.full), total


async def list_services(
    session: AsyncSession, caches: Caches, query: ServiceQuery, params: ListParams
) -> Json:
    vocab, services, total = await _services(session, caches, query, params)
    refs = await _public_refs(session, services, params)
    return _page(_shaped(services, refs, vocab, params), total, params)


STREAM_BATCH = 500
STREAM_STEP = 50


async def stream_services(
    sessionmaker: async_sessionmaker[AsyncSession], query: ServiceQuery, params: ListParams
) -> AsyncGenerator[bytes, None]:
    """Every matching service, one JSON object a line, read in batches from one snapshot of the
    data (a repeatable-read transaction): memory stays that of two batches however big the
    directory. Each batch is read while the one before it is made into JSON."""
    async with sessionmaker() as session:
        if isinstance(session.bind, AsyncEngine):  # (the tests' sessions share one transaction)
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        vocab = await queries.vocabulary(session)
        found = _filters(vocab, query)

        async def batch(
            after: tuple[str, uuid.UUID] | None,
        ) -> tuple[list[ServiceRecord], frozenset[uuid.UUID]]:
            services = await queries.service_batch(
                session, found, after=after, limit=STREAM_BATCH, details=params.full
            )
            return services, await _public_refs(session, services, params)

        ahead = asyncio.ensure_future(batch(None))
        try:
            while True:
                services, refs = await asyncio.shield(ahead)  # (see finally)
                if not services:
                    return
                ahead = asyncio.ensure_future(batch((services[-1].name, services[-1].id)))
                # Made STREAM_STEP at a time, giving the loop a turn in between: the next batch's
                # rows come in meanwhile (PostgreSQL can only send so much before it is read).
                for start in range(0, len(services), STREAM_STEP):
                    await asyncio.sleep(0)
                    contents = _shaped(services[start : start + STREAM_STEP], refs, vocab, params)
                    yield b"".join(_encoder.encode(item) + b"\n" for item in contents)
        finally:
            # A client gone mid-stream (the generator closed, or the request's task cancelled): the
            # batch read ahead finishes, shielded (cancelled mid-statement, it would cost the
            # connection), and is dropped.
            with contextlib.suppress(Exception):
                await asyncio.shield(ahead)


async def get_service(session: AsyncSession, service_id: str) -> Json:
    found = await queries.public_service(session, _id(service_id, "service"))
    if found is None:
        raise NotFound(f"No public service {service_id}.")
    (row,) = await _rows(session, [found])
    return mapping.service_full(row, await queries.vocabulary(session))


async def list_service_at_locations(
    session: AsyncSession, caches: Caches, query: ServiceQuery, params: ListParams
) -> Json:
    vocab, services, total = await _services(session, caches, query, params)
    if params.full:
        contents = [mapping.service_at_location_full(row, vocab) for row in await _rows(session, services)]
    elif params.minimal:
        contents = [mapping.service_at_location_minimal(found) for found in services]
    else:
        refs = await _refs(session, services)
        contents = [
            mapping.service_at_location_summary(found, found.organization, vocab, refs) for found in services
        ]
    return _page(contents, total, params)


async def get_service_at_location(session: AsyncSession, caches: Caches, sal_id: str) -> Json:
    wanted = _id(sal_id, "service_at_location")
    kept = caches.store("hsds_locations")
    locations: Locations | None = kept.get("all", None)
    if locations is None:
        locations = Locations()
        kept.put("all", None, locations, weight=locations.weight())
    listing_id = await locations.listing_for(session, wanted, await caches.version())
    kept.reweigh("all", locations.weight())  # it grows as it reads the listings created since
    found = None if listing_id is None else await queries.public_service(session, listing_id)
    if found is None:
        raise NotFound(f"No public service_at_location {sal_id}.")
    (row,) = await _rows(session, [found])
    return mapping.service_at_location_full(row, await queries.vocabulary(session))


async def _organization_services(
    session: AsyncSession, org_ids: Sequence[uuid.UUID], vocab: Vocabulary, *, full_service: bool
) -> dict[uuid.UUID, list[Json]]:
    services: dict[uuid.UUID, list[Json]] = {org_id: [] for org_id in org_ids}
    found = await queries.services_of(session, org_ids, details=full_service)
    if full_service:
        for row in await _rows(session, found):
            services[row.organization.id].append(mapping.service_full(row, vocab))
    else:
        refs = await _refs(session, found)
        for record in found:
            services[record.organization_id].append(mapping.service_summary(record, None, vocab, refs))
    return services


async def list_organizations(
    session: AsyncSession, *, search: str | None, full_service: bool, params: ListParams
) -> Json:
    orgs, total = await queries.organization_page(
        session, search=(search or "").strip() or None, limit=params.per_page, offset=params.offset
    )
    if params.minimal:
        contents = [mapping.organization_minimal(org) for org in orgs]
    elif params.full or full_service:
        vocab = await queries.vocabulary(session)
        services = await _organization_services(
            session, [o.id for o in orgs], vocab, full_service=full_service
        )
        contents = [mapping.organization_full(org, services[org.id], vocab) for org in orgs]
    else:
        contents = [mapping.organization_summary(org) for org in orgs]
    return _page(contents, total, params)


async def get_organization(session: AsyncSession, organization_id: str, *, full_service: bool) -> Json:
    org = await queries.public_organization(session, _id(organization_id, "organization"))
    if org is None:
        raise NotFound(f"No public organization {organization_id}.")
    vocab = await queries.vocabulary(session)
    services = await _organization_services(session, [org.id], vocab, full_service=full_service)
    return mapping.organization_full(org, services[org.id], vocab)


def _matches(search: str | None, *texts: str | None) -> bool:
    needle = (search or "").strip().casefold()
    return not needle or any(needle in (text or "").casefold() for text in texts)


def list_taxonomies(*, search: str | None, params: ListParams) -> Json:
    names = [name for name in TAXONOMIES if _matches(search, name, TAXONOMIES[name])]
    shown = names[params.offset : params.offset + params.per_page]
    build = mapping.taxonomy_minimal if params.minimal else mapping.taxonomy_object
    return _page([build(name) for name in shown], len(names), params)


def get_taxonomy(taxonomy_id: str) -> Json:
    wanted = _id(taxonomy_id, "taxonomy")
    name = next((n for n in TAXONOMIES if ids.taxonomy_id(n) == wanted), None)
    if name is None:
        raise NotFound(f"No taxonomy {taxonomy_id}.")
    return mapping.taxonomy_object(name)


async def list_terms(
    session: AsyncSession,
    *,
    search: str | None,
    taxonomy_id: str | None,
    parent_id: str | None,
    params: ListParams,
) -> Json:
    vocab = await queries.vocabulary(session)
    terms: list[Term] = [t for t in vocab.terms.values() if _matches(search, t.code, t.label, t.description)]
    if taxonomy_id is not None:
        name = hsds_filters.taxonomy_name(taxonomy_id)
        terms = [t for t in terms if t.taxonomy == name]
    if parent_id is not None:
        terms = []  # the vocabularies are flat: no term has a parent
    shown = terms[params.offset : params.offset + params.per_page]
    if params.minimal:
        contents = [mapping.term_minimal(t) for t in shown]
    else:
        contents = [mapping.term_object(t, full=params.full) for t in shown]
    return _page(contents, len(terms), params)


async def get_term(session: AsyncSession, term_id: str) -> Json:
    term = (await queries.vocabulary(session)).by_id.get(_id(term_id, "taxonomy_term"))
    if term is None:
        raise NotFound(f"No taxonomy_term {term_id}.")
    return mapping.term_object(term, full=True)
