"""mentoring between groups: an introduction asked by a program's organization

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("introduction", sa.Column("requester_listing_id", sa.Uuid(), nullable=True))
    op.add_column("introduction", sa.Column("requester_organization_id", sa.Uuid(), nullable=True))
    op.create_index(
        op.f("ix_introduction_requester_listing_id"), "introduction", ["requester_listing_id"], unique=False
    )
    op.create_index(
        op.f("ix_introduction_requester_organization_id"),
        "introduction",
        ["requester_organization_id"],
        unique=False,
    )
    op.create_foreign_key(
        op.f("fk_introduction_requester_listing_id_listing"),
        "introduction",
        "listing",
        ["requester_listing_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_foreign_key(
        op.f("fk_introduction_requester_organization_id_organization"),
        "introduction",
        "organization",
        ["requester_organization_id"],
        ["id"],
        ondelete="CASCADE",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_introduction_requester_organization_id_organization"), "introduction", type_="foreignkey"
    )
    op.drop_constraint(
        op.f("fk_introduction_requester_listing_id_listing"), "introduction", type_="foreignkey"
    )
    op.drop_index(op.f("ix_introduction_requester_organization_id"), table_name="introduction")
    op.drop_index(op.f("ix_introduction_requester_listing_id"), table_name="introduction")
    op.drop_column("introduction", "requester_organization_id")
    op.drop_column("introduction", "requester_listing_id")
