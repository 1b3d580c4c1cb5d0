"""Controlled vocabularies: one row per term, grouped by taxonomy name."""

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.database.base import Base, TimestampMixin


class TaxonomyTerm(TimestampMixin, Base):
    __tablename__ = "taxonomy_term"

    taxonomy: Mapped[str] = mapped_column(String(40), primary_key=True)
    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(default=1000)
    # Retired terms stay (old listings keep them) but new writes may not use them.
    retired_at: Mapped[datetime | None]
