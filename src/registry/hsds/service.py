"""One function per HSDS endpoint: query the public subset, map it, wrap it in a page."""

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from registry.hsds import filters as hsds_filters
from registry.hsds import ids, mapping, queries
from registry.hsds.mapping import Json, ServiceRow, Term, Vocabulary
from registry.http.errors import InvalidInput, NotFound
from registry.http.pagination import offset
from registry.models import EvaluationRecord
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


async def _refs(
    session: AsyncSession,
    pairs: Sequence[queries.ServicePair],
    history: Mapping[uuid.UUID, Sequence[EvaluationRecord]],
) -> frozenset[uuid.UUID]:
    wanted: set[uuid.UUID] = set()
    for listing, _ in pairs:
        wanted |= mapping.referenced_ids(listing, history.get(listing.id, ()))
    return await queries.public_listing_ids(session, wanted)


async def _rows(session: AsyncSession, pairs: Sequence[queries.ServicePair]) -> list[ServiceRow]:
    history = await queries.evaluations_for(session, [listing.id for listing, _ in pairs])
    public_refs = await _refs(session, pairs, history)
    return [
        ServiceRow(
            listing=listing,
            organization=org,
            contacts=listing.contacts,
            evaluations=history[listing.id],
            public_refs=public_refs,
        )
        for listing, org in pairs
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


async def _contents(
    session: AsyncSession, pairs: Sequence[queries.ServicePair], vocab: Vocabulary, params: ListParams
) -> list[Json]:
    """The services in the form asked for: full, minimal or the default summary."""
    if params.full:
        return [mapping.service_full(row, vocab) for row in await _rows(session, pairs)]
    if params.minimal:
        return [mapping.service_minimal(listing) for listing, _ in pairs]
    refs = await _refs(session, pairs, {})
    return [mapping.service_summary(listing, org, vocab, refs) for listing, org in pairs]


async def _service_pairs(
    session: AsyncSession, query: ServiceQuery, params: ListParams
) -> tuple[Vocabulary, list[queries.ServicePair], int]:
    vocab = await queries.vocabulary(session)
    found = _filters(vocab, query)
    pairs, total = await queries.service_page(
        session, found, limit=params.per_page, offset=params.offset, with_contacts=params.full
    )
    return vocab, pairs, total


async def list_services(session: AsyncSession, query: ServiceQuery, params: ListParams) -> Json:
    vocab, pairs, total = await _service_pairs(session, query, params)
    return _page(await _contents(session, pairs, vocab, params), total, params)


STREAM_BATCH = 500


async def stream_services(
    sessionmaker: async_sessionmaker[AsyncSession], query: ServiceQuery, params: ListParams
) -> AsyncIterator[bytes]:
    """Every matching service, one JSON object a line, read in batches from one snapshot of the
    data (a repeatable-read transaction): memory stays that of a batch however big the directory."""
    async with sessionmaker() as session:
        if isinstance(session.bind, AsyncEngine):  # (the tests' sessions share one transaction)
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        vocab = await queries.vocabulary(session)
        found = _filters(vocab, query)
        after: tuple[str, uuid.UUID] | None = None
        while pairs := await queries.service_batch(
            session, found, after=after, limit=STREAM_BATCH, with_contacts=params.full
        ):
            contents = await _contents(session, pairs, vocab, params)
            yield b"".join(_encoder.encode(item) + b"\n" for item in contents)
            session.expunge_all()  # the batch's rows are not needed again
            after = (pairs[-1][0].name, pairs[-1][0].id)


async def get_service(session: AsyncSession, service_id: str) -> Json:
    pair = await queries.public_service(session, _id(service_id, "service"))
    if pair is None:
        raise NotFound(f"No public service {service_id}.")
    (row,) = await _rows(session, [pair])
    return mapping.service_full(row, await queries.vocabulary(session))


async def list_service_at_locations(session: AsyncSession, query: ServiceQuery, params: ListParams) -> Json:
    vocab, pairs, total = await _service_pairs(session, query, params)
    if params.full:
        contents = [mapping.service_at_location_full(row, vocab) for row in await _rows(session, pairs)]
    elif params.minimal:
        contents = [mapping.service_at_location_minimal(listing) for listing, _ in pairs]
    else:
        refs = await _refs(session, pairs, {})
        contents = [mapping.service_at_location_summary(listing, org, vocab, refs) for listing, org in pairs]
    return _page(contents, total, params)


async def get_service_at_location(session: AsyncSession, sal_id: str) -> Json:
    wanted = _id(sal_id, "service_at_location")
    listing_id = await queries.listing_for_derived_id(session, wanted, ids.service_at_location_id)
    pair = None if listing_id is None else await queries.public_service(session, listing_id)
    if pair is None:
        raise NotFound(f"No public service_at_location {sal_id}.")
    (row,) = await _rows(session, [pair])
    return mapping.service_at_location_full(row, await queries.vocabulary(session))


async def _organization_services(
    session: AsyncSession, org_ids: Sequence[uuid.UUID], vocab: Vocabulary, *, full_service: bool
) -> dict[uuid.UUID, list[Json]]:
    services: dict[uuid.UUID, list[Json]] = {org_id: [] for org_id in org_ids}
    pairs = await queries.services_of(session, org_ids)
    if full_service:
        for row in await _rows(session, pairs):
            services[row.organization.id].append(mapping.service_full(row, vocab))
    else:
        refs = await _refs(session, pairs, {})
        for listing, _ in pairs:
            services[listing.organization_id].append(mapping.service_summary(listing, None, vocab, refs))
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
