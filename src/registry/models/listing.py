"""Listings: peer programs and partners (clinicians, treatment programs, evaluators, trainers).

One table for every kind, so that search and matching are one indexed query whatever the kinds
asked for; kind-specific attributes are columns that other kinds leave empty.
"""

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.database.base import Base, TimestampMixin, new_id, utcnow

PROGRAM_KIND = "peer_program"


def _codes() -> Mapped[list[str]]:
    return mapped_column(ARRAY(String(60)), default=list, server_default="{}")


class Listing(TimestampMixin, Base):
    __tablename__ = "listing"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="active")

    # Who it serves and how (programs set side; partners list sides among their specialties).
    side: Mapped[str | None] = mapped_column(String(40))
    formats: Mapped[list[str]] = _codes()
    group_type: Mapped[str | None] = mapped_column(String(40))
    delivery: Mapped[str | None] = mapped_column(String(40))
    populations: Mapped[list[str]] = _codes()
    languages: Mapped[list[str]] = _codes()
    specialties: Mapped[list[str]] = _codes()

    # Programs
    founded_on: Mapped[date | None]
    clinical_partner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("listing.id", ondelete="SET NULL")
    )
    clinical_partner_name: Mapped[str | None] = mapped_column(String(200))
    capacity: Mapped[int | None]
    schedule_text: Mapped[str | None] = mapped_column(String(500))
    schedule_weekdays: Mapped[list[str]] = _codes()
    schedule_frequency: Mapped[str | None] = mapped_column(String(40))
    open_to_mentoring: Mapped[bool] = mapped_column(default=False)
    evaluation_stage: Mapped[str] = mapped_column(String(40), default="none")

    # Partners
    credentials: Mapped[list[str]] = mapped_column(ARRAY(String(200)), default=list, server_default="{}")
    ipv_training: Mapped[str | None] = mapped_column(String(500))
    ipv_trained: Mapped[bool] = mapped_column(default=False)
    methods: Mapped[list[str]] = _codes()
    courses: Mapped[list[str]] = mapped_column(ARRAY(String(200)), default=list, server_default="{}")
    course_topics: Mapped[list[str]] = _codes()
    certifications: Mapped[list[str]] = mapped_column(ARRAY(String(200)), default=list, server_default="{}")
    accepting_partnerships: Mapped[bool] = mapped_column(default=True)
    remote_ok: Mapped[bool] = mapped_column(default=False)

    # Where. For `area` listings the point is already coarse and there is no address.
    location_precision: Mapped[str] = mapped_column(String(10))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(500))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    locality: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(2))
    service_radius_km: Mapped[int | None]

    last_verified_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    archived_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    search_vector: Mapped[str] = mapped_column(
        TSVECTOR,
        Computed(
            "to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(description, ''))",
            persisted=True,
        ),
    )

    contacts: Mapped[list["Contact"]] = relationship(
        back_populates="listing",
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="Contact.position",
    )

    __table_args__ = (
        # DOMAIN.md rule 2: an address is kept only where it is published (migration 0015).
        CheckConstraint(
            "location_precision = 'exact' OR (address IS NULL AND postal_code IS NULL)",
            name="address_only_when_exact",
        ),
        Index("ix_listing_kind_name", "kind", "name", "id"),
        Index("ix_listing_name_id", "name", "id"),  # the HSDS directory in name order
        Index("ix_listing_search_vector", "search_vector", postgresql_using="gin"),
        Index("ix_listing_updated_at", "updated_at"),
    )


class Contact(Base):
    __tablename__ = "contact"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    listing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("listing.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(50))
    preferred_method: Mapped[str | None] = mapped_column(String(20))
    visibility: Mapped[str] = mapped_column(String(20), default="on_introduction")

    listing: Mapped[Listing] = relationship(back_populates="contacts", lazy="raise")


class EvaluationRecord(Base):
    """An append-only entry in a program's evaluation history."""

    __tablename__ = "evaluation_record"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    listing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("listing.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(40))
    previous_stage: Mapped[str] = mapped_column(String(40))
    is_correction: Mapped[bool] = mapped_column(default=False)
    correction_reason: Mapped[str | None] = mapped_column(String(1000))
    design: Mapped[str | None] = mapped_column(String(60))
    outcomes: Mapped[list[str]] = _codes()
    participant_count: Mapped[int | None]
    evaluator_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("listing.id", ondelete="SET NULL"))
    evaluator_name: Mapped[str | None] = mapped_column(String(200))
    started_on: Mapped[date | None]
    ended_on: Mapped[date | None]
    findings_summary: Mapped[str | None] = mapped_column(Text)
    publication: Mapped[str | None] = mapped_column(String(500))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    recorded_by_key_id: Mapped[uuid.UUID | None]


class EvaluationTally(Base):
    """The evidence report's counts over public programs (verified organization, live peer
    program): evaluation records per quarter recorded and stage reached (`fact` 'transition'),
    and programs per evaluation design and per outcome measured ('design', 'outcome'; `quarter`
    empty), each program counted once per code. Kept by statement-level triggers on
    evaluation_record, listing and organization (migration 0009)."""

    __tablename__ = "evaluation_tally"

    id: Mapped[int] = mapped_column(primary_key=True)
    fact: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(60))
    quarter: Mapped[str] = mapped_column(String(7))
    n: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (UniqueConstraint("fact", "code", "quarter"),)
