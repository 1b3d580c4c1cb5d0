"""matching by fit: what a trainer's courses cover (course_topic vocabulary)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOPICS = [
    ("ipv_basics", "IPV basics", "Intimate partner violence: forms, dynamics, risk"),
    ("facilitation", "Facilitation", "Running a peer group safely"),
    ("high_risk_clients", "High-risk clients", "Risk assessment, lethality and safety planning"),
    ("trauma_informed_practice", "Trauma-informed practice", "Working without retraumatising"),
    ("evaluation", "Evaluation", "Planning and running a pilot evaluation"),
]


def upgrade() -> None:
    op.add_column(
        "listing",
        sa.Column("course_topics", sa.ARRAY(sa.String(length=60)), server_default="{}", nullable=False),
    )
    for position, (code, label, description) in enumerate(TOPICS, start=1):
        op.execute(
            sa.text(
                "INSERT INTO taxonomy_term (taxonomy, code, label, description, position) "
                "VALUES ('course_topic', :code, :label, :description, :position) ON CONFLICT DO NOTHING"
            ).bindparams(code=code, label=label, description=description, position=position)
        )


def downgrade() -> None:
    op.execute("DELETE FROM taxonomy_term WHERE taxonomy = 'course_topic'")
    op.drop_column("listing", "course_topics")
