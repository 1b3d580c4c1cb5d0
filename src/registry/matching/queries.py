"""Candidate selection for matching: one query over every needed kind at once."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.listings.queries import band_rank, remote_capable, within_radius
from registry.models import Contact, Initiator, Listing, Organization

# Per kind, how many of the nearest candidates are scored; scoring is cheap, the cap bounds work.
CANDIDATES_PER_KIND = 200

CANDIDATE_COLUMNS = (
    Listing.id,
    Listing.kind,
    Listing.name,
    Listing.organization_id,
    Listing.description,
    Listing.side,
    Listing.specialties,
    Listing.formats,
    Listing.populations,
    Listing.languages,
    Listing.ipv_trained,
    Listing.methods,
    func.cardinality(Listing.courses).label("course_count"),
    func.cardinality(Listing.certifications).label("certification_count"),
    Listing.evaluation_stage,
    Listing.open_to_mentoring,
    Listing.accepting_partnerships,
    Listing.remote_ok,
    Listing.delivery,
    Listing.location_precision,
    Listing.locality,
    Listing.region,
    Listing.country,
    Listing.last_verified_at,
)


async def candidates(
    session: AsyncSession,
    *,
    kinds: Sequence[str],
    point: tuple[float, float] | None,
    radius_km: float,
    include_remote: bool,
    exclude_id: uuid.UUID | None = None,
) -> Sequence[Row[tuple[object, ...]]]:
    """Active listings of verified organizations, within the radius or remote-capable."""
    remote = remote_capable()
    if point is not None:
        near = within_radius(point, radius_km)
        reach = or_(near, remote) if include_remote else near
        rank: ColumnElement[Any] = case((near, band_rank(point)), else_=literal(None))
    else:
        reach = remote if include_remote else literal(False)
        rank = literal(None)
    ranked = (
        select(
            *CANDIDATE_COLUMNS,
            rank.label("band_rank"),
            remote.label("remote_capable"),
            func.row_number()
            .over(
                partition_by=Listing.kind,
                order_by=(rank.asc().nulls_last(), Listing.last_verified_at.desc(), Listing.id),
            )
            .label("kind_rank"),
        )
        .join(Organization, Organization.id == Listing.organization_id)
        .where(
            Organization.verification_status == "verified",
            Listing.archived_at.is_(None),
            Listing.status == "active",
            Listing.kind.in_(list(kinds)),
            reach,
        )
    )
    if exclude_id is not None:
        ranked = ranked.where(Listing.id != exclude_id)
    sub = ranked.subquery()
    stmt = select(sub).where(sub.c.kind_rank <= CANDIDATES_PER_KIND)
    return (await session.execute(stmt)).all()


async def contacts_of(session: AsyncSession, listing_ids: Sequence[uuid.UUID]) -> Sequence[Contact]:
    if not listing_ids:
        return []
    return (
        await session.scalars(
            select(Contact)
            .where(Contact.listing_id.in_(list(listing_ids)), Contact.visibility != "on_introduction")
            .order_by(Contact.listing_id, Contact.position)
        )
    ).all()


async def initiators_near(
    session: AsyncSession,
    *,
    point: tuple[float, float],
    radius_km: float,
    side: str | None,
    formats: Sequence[str],
) -> list[tuple[Initiator, float]]:
    distance = func.earth_distance(
        func.ll_to_earth(point[0], point[1]), func.ll_to_earth(Initiator.latitude, Initiator.longitude)
    )
    stmt = select(Initiator, distance.label("distance_m")).where(
        Initiator.latitude.is_not(None), distance <= radius_km * 1000
    )
    if side is not None:
        stmt = stmt.where(or_(Initiator.side.is_(None), Initiator.side == side, Initiator.side == "both"))
    if formats:
        stmt = stmt.where(
            or_(func.cardinality(Initiator.formats) == 0, Initiator.formats.overlap(list(formats)))
        )
    rows = await session.execute(stmt.order_by(distance, Initiator.pathway_step, Initiator.id).limit(100))
    return [(row[0], float(row[1])) for row in rows]
