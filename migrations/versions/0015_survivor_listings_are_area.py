"""listings that serve survivors brought to area precision; audit events say what happened

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 14:00:00.000000

Before this revision a listing could come to serve survivors (a side or specialty change) and
keep the exact address it had as a group for people who use violence. Which exact survivor
listings were chosen on purpose cannot be told from the rows, so every one is brought to `area`
(its point snapped to the grid, no address or postal code), with an audit event saying why; an
organization that wants its office address public sends `location_precision: exact` again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from registry.listings.location import COARSENED_NOTE, StoredLocation, coarsened

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERVES_SURVIVORS = (
    "((kind = 'peer_program' AND side IN ('survivors', 'both')) "
    "OR (kind <> 'peer_program' AND 'survivors' = ANY(specialties)))"
)
CHANGED = ["address", "latitude", "longitude", "location_precision", "postal_code"]


def bring_under_rule(conn: sa.Connection) -> int:
    """Coarsen every exact listing that serves survivors, auditing each; the number changed."""
    rows = conn.execute(
        sa.text(
            "SELECT id, organization_id, latitude, longitude, region, country FROM listing "
            f"WHERE location_precision = 'exact' AND {SERVES_SURVIVORS} FOR UPDATE"
        )
    ).all()
    for row in rows:
        area = coarsened(
            StoredLocation(
                precision="exact",
                latitude=row.latitude,
                longitude=row.longitude,
                region=row.region,
                country=row.country,
            )
        )
        conn.execute(
            sa.text(
                "UPDATE listing SET location_precision = 'area', address = NULL, postal_code = NULL, "
                "latitude = :lat, longitude = :lon, locality = :locality, region = :region, "
                "country = :country, version = version + 1, updated_at = now() WHERE id = :id"
            ),
            {
                "id": row.id,
                "lat": area.latitude,
                "lon": area.longitude,
                "locality": area.locality,
                "region": area.region,
                "country": area.country,
            },
        )
        conn.execute(
            sa.text(
                "INSERT INTO audit_event (at, actor_role, action, entity_type, entity_id, "
                "owner_organization_id, changed_fields, note) VALUES (now(), 'system', "
                "'location_coarsened', 'listing', :id, :owner, :fields, :note)"
            ),
            {"id": row.id, "owner": row.organization_id, "fields": CHANGED, "note": COARSENED_NOTE},
        )
    return len(rows)


def upgrade() -> None:
    op.add_column("audit_event", sa.Column("note", sa.String(length=1000), nullable=True))
    bring_under_rule(op.get_bind())
    # What no code path may undo: an address is kept only where it is published.
    op.create_check_constraint(
        op.f("ck_listing_address_only_when_exact"),
        "listing",
        "location_precision = 'exact' OR (address IS NULL AND postal_code IS NULL)",
    )


def downgrade() -> None:
    op.drop_constraint("ck_listing_address_only_when_exact", "listing", type_="check")
    op.drop_column("audit_event", "note")
