"""Initiators (people starting a group) and their introductions to listings.

An initiator's profile is minimal and its location is stored only as a coarse point and
locality. Introductions keep, after the profile is erased, only what the other side already
received."""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from registry.database.base import Base, TimestampMixin, new_id

RECORD_KEY = text("floor(random() * 256)::smallint")


class Initiator(TimestampMixin, Base):
    __tablename__ = "initiator"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    display_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(320))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    locality: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(2))
    side: Mapped[str | None] = mapped_column(String(40))
    formats: Mapped[list[str]] = mapped_column(ARRAY(String(60)), default=list, server_default="{}")
    populations: Mapped[list[str]] = mapped_column(ARRAY(String(60)), default=list, server_default="{}")
    languages: Mapped[list[str]] = mapped_column(ARRAY(String(60)), default=list, server_default="{}")
    needs: Mapped[list[str]] = mapped_column(ARRAY(String(60)), default=list, server_default="{}")
    pathway_step: Mapped[int] = mapped_column(SmallInteger, default=1)
    # Listed to nearby programs' organizations (GET /programs/{id}/peers) only when chosen.
    visible_to_programs: Mapped[bool] = mapped_column(default=False, server_default="false")
    # Secret, random, never shown: this record's part of a report cell's key (reports.perturbation).
    report_key: Mapped[int] = mapped_column(SmallInteger, server_default=RECORD_KEY)
    version: Mapped[int] = mapped_column(default=1)


class Introduction(Base):
    __tablename__ = "introduction"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    # NULL once the initiator erased their profile (only accepted introductions survive that).
    initiator_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("initiator.id", ondelete="SET NULL"), index=True
    )
    listing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("listing.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    # Mentoring between groups: a program's organization asks another program (no initiator).
    requester_listing_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("listing.id", ondelete="CASCADE"), index=True
    )
    requester_organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    # What the organization sees of the initiator; the email only after acceptance.
    initiator_name: Mapped[str] = mapped_column(String(100))
    initiator_email: Mapped[str | None] = mapped_column(String(320))
    initiator_locality: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    report_key: Mapped[int] = mapped_column(SmallInteger, server_default=RECORD_KEY)

    __table_args__ = (Index("ix_introduction_status_expires", "status", "expires_at"),)


class IntroductionTally(Base):
    """Introductions counted per report dimension and stored status: one row per (asked listing's
    kind, status), per (its country and region, status) and per (quarter asked, status), told
    apart by `dimension` ('partner_kind', 'region', 'quarter'; the other keys are NULL). Kept by
    statement-level triggers on `introduction` and `listing` (migrations 0007, 0014), so the
    partnerships report reads a few thousand rows instead of every introduction."""

    __tablename__ = "introduction_tally"

    id: Mapped[int] = mapped_column(primary_key=True)
    dimension: Mapped[str] = mapped_column(String(20))
    partner_kind: Mapped[str | None] = mapped_column(String(40))
    country: Mapped[str | None] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(100))
    quarter: Mapped[str | None] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(20))
    n: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint(
            "dimension",
            "partner_kind",
            "country",
            "region",
            "quarter",
            "status",
            postgresql_nulls_not_distinct=True,
        ),
    )


class DemandPlace(Base):
    """Where programs and initiators are, by ~10 km cell (latitude and longitude rounded to 0.1
    degree) and region: public programs (verified organization, not archived) and initiators
    with a location, and verified partners of the kinds whose gaps the coverage report finds.
    Kept by statement-level triggers on listing, organization and initiator (migrations 0008,
    0010), so the coverage report reads thousands of cells instead of every row; and, per partner
    kind, whether one lies within 50 km of the cell (migration 0011; NULL: not searched yet)."""

    __tablename__ = "demand_place"

    id: Mapped[int] = mapped_column(primary_key=True)
    country: Mapped[str | None] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(100))
    lat: Mapped[float]
    lon: Mapped[float]
    programs: Mapped[int] = mapped_column(BigInteger)
    initiators: Mapped[int] = mapped_column(BigInteger)
    # Verified, active partners of the kinds the coverage report looks for (migration 0010).
    clinicians: Mapped[int] = mapped_column(BigInteger, server_default="0")
    evaluators: Mapped[int] = mapped_column(BigInteger, server_default="0")
    trainers: Mapped[int] = mapped_column(BigInteger, server_default="0")
    covered_clinician: Mapped[bool | None]
    covered_evaluator: Mapped[bool | None]
    covered_trainer: Mapped[bool | None]

    __table_args__ = (
        UniqueConstraint("country", "region", "lat", "lon", postgresql_nulls_not_distinct=True),
    )


class ReportSnapshot(Base):
    """Counts of people as they stood when a release period began, with the sum of their records'
    keys, one row per (measure, key): what every report of the period publishes, whichever
    process answers and however often it is asked (registry.reports.releases)."""

    __tablename__ = "report_snapshot"

    period_start: Mapped[datetime] = mapped_column(primary_key=True)
    measure: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[list[str | None]] = mapped_column(ARRAY(String(200)), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)
    key_sum: Mapped[int] = mapped_column(BigInteger)
