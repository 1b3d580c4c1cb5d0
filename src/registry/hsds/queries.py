"""SQL for the HSDS API. Everything here reads as an anonymous caller: verified organizations'
live listings (`listing_visible`) and verified organizations (`visible_organizations`), never more,
whoever is asking."""

import uuid
from collections.abc import Sequence

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    func,
    join,
    literal_column,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import ANONYMOUS
from registry.hsds import records
from registry.hsds.filters import DEFAULT_COVERAGE_KM, ServiceFilters
from registry.hsds.mapping import ATTRIBUTE_COLUMNS, PROGRAM_ONLY_TAXONOMIES, Term, Vocabulary
from registry.hsds.records import ServiceRecord
from registry.listings import code_lists
from registry.listings.queries import distance_m, within_radius
from registry.listings.visibility import public_listing
from registry.models import PROGRAM_KIND, EvaluationRecord, Listing, Organization, TaxonomyTerm
from registry.organizations.service import visible_organizations
from registry.taxonomies.vocabulary import TAXONOMIES


async def vocabulary(session: AsyncSession) -> Vocabulary:
    rows = (
        await session.scalars(
            select(TaxonomyTerm).order_by(TaxonomyTerm.taxonomy, TaxonomyTerm.position, TaxonomyTerm.code)
        )
    ).all()
    order = {name: rank for rank, name in enumerate(TAXONOMIES)}
    terms = sorted(rows, key=lambda t: (order.get(t.taxonomy, len(order)), t.taxonomy, t.position, t.code))
    return Vocabulary(
        {
            (t.taxonomy, t.code): Term(
                taxonomy=t.taxonomy,
                code=t.code,
                label=t.label,
                description=t.description,
                retired=t.retired_at is not None,
            )
            for t in terms
        }
    )


# --- services ----------------------------------------------------------------------------------


def _public() -> ColumnElement[bool]:
    return public_listing()


def _column(taxonomy: str) -> tuple[ColumnElement[object], bool]:
    column = getattr(Listing, ATTRIBUTE_COLUMNS[taxonomy] if taxonomy != "language" else "languages")
    return column, isinstance(column.type, ARRAY)


def _has_outcome(code: str | None) -> ColumnElement[bool]:
    measured = (
        EvaluationRecord.outcomes.contains(code_lists.sent([code], EvaluationRecord.outcomes))
        if code is not None
        else func.cardinality(EvaluationRecord.outcomes) > 0
    )
    return exists().where(EvaluationRecord.listing_id == Listing.id, measured)


def term_predicate(taxonomy: str, code: str) -> ColumnElement[bool]:
    """Listings described by this term: the same columns the attributes are made from."""
    if taxonomy == "outcome":
        return _has_outcome(code)
    if taxonomy not in ATTRIBUTE_COLUMNS and taxonomy != "language":
        return ~true()
    column, is_array = _column(taxonomy)
    matches = column.contains(code_lists.sent([code], column)) if is_array else column == code
    if taxonomy in PROGRAM_ONLY_TAXONOMIES:
        return and_(Listing.kind == PROGRAM_KIND, matches)
    return matches


def taxonomy_predicate(taxonomy: str) -> ColumnElement[bool]:
    """Listings described by any term of this vocabulary."""
    if taxonomy == "outcome":
        return _has_outcome(None)
    if taxonomy not in ATTRIBUTE_COLUMNS and taxonomy != "language":
        return ~true()
    if taxonomy in PROGRAM_ONLY_TAXONOMIES:
        return Listing.kind == PROGRAM_KIND
    column, is_array = _column(taxonomy)
    return func.cardinality(column) > 0 if is_array else column.is_not(None)


def _predicates(filters: ServiceFilters) -> list[ColumnElement[bool]]:
    where = [_public()]
    if filters.search:
        where.append(Listing.search_vector.op("@@")(func.plainto_tsquery("simple", filters.search)))
    if filters.organization_id is not None:
        where.append(Listing.organization_id == filters.organization_id)
    if filters.modified_after is not None:
        # HSDS: modified on or after.
        where.append(Listing.updated_at >= filters.modified_after)
    if filters.term is not None:
        where.append(term_predicate(*filters.term))
    if filters.taxonomy is not None:
        where.append(taxonomy_predicate(filters.taxonomy))
    if filters.near is not None:
        if filters.radius_km is not None:
            where.append(within_radius(filters.near, filters.radius_km))
        else:
            covered_km = func.coalesce(Listing.service_radius_km, DEFAULT_COVERAGE_KM)
            where.append(and_(Listing.latitude.is_not(None), distance_m(filters.near) <= covered_km * 1000))
    return where


def _services(details: bool) -> Select[str]:
    return select(literal_column(records.record_sql(details=details))).select_from(
        join(Listing, Organization, Organization.id == Listing.organization_id)
    )


async def _records(session: AsyncSession, stmt: Select[str]) -> list[ServiceRecord]:
    return [records.decode(found) for found in (await session.scalars(stmt)).all()]


async def service_order(session: AsyncSession, filters: ServiceFilters) -> bytes:
    """The ids of the public services matching `filters` in (name, id) order, 16 bytes each, as
    one value built by PostgreSQL."""
    if filters.matches_nothing:
        return b""
    ids: ColumnElement[bytes] = literal_column(
        "string_agg(uuid_send(listing.id), ''::bytea ORDER BY listing.name, listing.id)"
    )
    stmt = (
        select(ids)
        .select_from(join(Listing, Organization, Organization.id == Listing.organization_id))
        .where(*_predicates(filters))
    )
    found: bytes | None = await session.scalar(stmt)
    return found or b""


async def services_by_id(
    session: AsyncSession, listing_ids: Sequence[uuid.UUID], *, details: bool
) -> list[ServiceRecord]:
    """These listings, those of them still public, in (name, id) order."""
    if not listing_ids:
        return []
    stmt = _services(details).where(Listing.id.in_(listing_ids), _public()).order_by(Listing.name, Listing.id)
    return await _records(session, stmt)


async def service_batch(
    session: AsyncSession,
    filters: ServiceFilters,
    *,
    after: tuple[str, uuid.UUID] | None,
    limit: int,
    details: bool,
) -> list[ServiceRecord]:
    """The next `limit` public services in (name, id) order after `after`: the whole directory
    read batch by batch, each batch from the (name, id) index, however deep."""
    if filters.matches_nothing:
        return []
    stmt = _services(details).where(*_predicates(filters)).order_by(Listing.name, Listing.id).limit(limit)
    if after is not None:
        stmt = stmt.where(tuple_(Listing.name, Listing.id) > tuple_(*after))
    return await _records(session, stmt)


async def public_service(session: AsyncSession, listing_id: uuid.UUID) -> ServiceRecord | None:
    found = await _records(session, _services(True).where(Listing.id == listing_id, _public()))
    return found[0] if found else None


async def services_of(
    session: AsyncSession, organization_ids: Sequence[uuid.UUID], *, details: bool
) -> list[ServiceRecord]:
    if not organization_ids:
        return []
    stmt = (
        _services(details)
        .where(Listing.organization_id.in_(organization_ids), _public())
        .order_by(Listing.name, Listing.id)
    )
    return await _records(session, stmt)


async def public_listing_ids(session: AsyncSession, wanted: set[uuid.UUID]) -> frozenset[uuid.UUID]:
    """Which of these listings are public."""
    if not wanted:
        return frozenset()
    found = await session.scalars(
        select(Listing.id)
        .join(Organization, Organization.id == Listing.organization_id)
        .where(Listing.id.in_(wanted), _public())
    )
    return frozenset(found)


# --- organizations -----------------------------------------------------------------------------


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _organizations(search: str | None) -> Select[Organization]:
    stmt = visible_organizations(ANONYMOUS)
    if search:
        pattern = _like(search)
        stmt = stmt.where(
            or_(
                Organization.name.ilike(pattern, escape="\\"),
                Organization.description.ilike(pattern, escape="\\"),
            )
        )
    return stmt


async def organization_page(
    session: AsyncSession, *, search: str | None, limit: int, offset: int
) -> tuple[list[Organization], int]:
    stmt = _organizations(search)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.scalars(
        stmt.order_by(Organization.name, Organization.id).limit(limit).offset(offset)
    )
    return list(rows.all()), total


async def public_organization(session: AsyncSession, organization_id: uuid.UUID) -> Organization | None:
    return await session.scalar(visible_organizations(ANONYMOUS).where(Organization.id == organization_id))
