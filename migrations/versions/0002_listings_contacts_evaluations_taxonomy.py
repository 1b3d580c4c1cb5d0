"""listings, contacts, evaluations, taxonomy

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:48:36.091610
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The vocabularies' starting terms, frozen here as they were when this revision was written.
# (taxonomy, code, label, description, position)
STARTING_TERMS = [
    ("side", "survivors", "Survivors", "Peer support for people who experienced IPV", 0),
    (
        "side",
        "people_who_use_violence",
        "People who use violence",
        "Groups that help people reduce or end their use of violence",
        1,
    ),
    ("side", "both", "Both", "Work with both sides, e.g. family or couples work", 2),
    ("format", "twelve_step", "12-step", "A 12-step fellowship, e.g. Batterers Anonymous", 0),
    (
        "format",
        "peer_led_support_group",
        "Peer-led support group",
        "Facilitated by people with lived experience",
        1,
    ),
    ("format", "co_facilitated", "Co-facilitated", "A peer and a clinician facilitate together", 2),
    ("format", "psychoeducational", "Psychoeducational", "Structured curriculum about abuse and change", 3),
    (
        "format",
        "mutual_aid_circle",
        "Mutual aid circle",
        "Members support each other without a set program",
        4,
    ),
    ("format", "one_to_one_peer_mentoring", "One-to-one peer mentoring", "A peer mentor meets one person", 5),
    ("group_type", "open_group", "Open group", "New members can join at any meeting", 0),
    ("group_type", "closed_group", "Closed group", "A fixed cohort starts and ends together", 1),
    ("delivery", "in_person", "In person", "Meets at a physical place", 0),
    ("delivery", "online", "Online", "Meets online", 1),
    ("delivery", "hybrid", "Hybrid", "Both in person and online", 2),
    ("population", "women", "Women", None, 0),
    ("population", "men", "Men", None, 1),
    ("population", "lgbtq", "LGBTQ+ people", None, 2),
    ("population", "youth", "Youth and teens", None, 3),
    ("population", "older_adults", "Older adults", None, 4),
    ("population", "cultural_community", "Specific cultural communities", None, 5),
    ("population", "language_community", "Specific language communities", None, 6),
    ("population", "court_referred", "People referred by courts", None, 7),
    ("population", "substance_use", "People with substance-use needs", None, 8),
    ("population", "disability", "People with disabilities", None, 9),
    ("population", "immigrants_refugees", "Immigrants and refugees", None, 10),
    ("population", "rural", "Rural communities", None, 11),
    ("population", "indigenous", "Indigenous communities", None, 12),
    ("language", "en", "English", None, 0),
    ("language", "es", "Spanish", None, 1),
    ("language", "fr", "French", None, 2),
    ("language", "de", "German", None, 3),
    ("language", "nl", "Dutch", None, 4),
    ("language", "pt", "Portuguese", None, 5),
    ("language", "it", "Italian", None, 6),
    ("language", "pl", "Polish", None, 7),
    ("language", "ro", "Romanian", None, 8),
    ("language", "sv", "Swedish", None, 9),
    ("language", "da", "Danish", None, 10),
    ("language", "no", "Norwegian", None, 11),
    ("language", "fi", "Finnish", None, 12),
    ("language", "el", "Greek", None, 13),
    ("language", "tr", "Turkish", None, 14),
    ("language", "ar", "Arabic", None, 15),
    ("language", "fa", "Persian", None, 16),
    ("language", "ur", "Urdu", None, 17),
    ("language", "hi", "Hindi", None, 18),
    ("language", "bn", "Bengali", None, 19),
    ("language", "pa", "Punjabi", None, 20),
    ("language", "ta", "Tamil", None, 21),
    ("language", "zh", "Chinese", None, 22),
    ("language", "ja", "Japanese", None, 23),
    ("language", "ko", "Korean", None, 24),
    ("language", "vi", "Vietnamese", None, 25),
    ("language", "tl", "Tagalog", None, 26),
    ("language", "th", "Thai", None, 27),
    ("language", "id", "Indonesian", None, 28),
    ("language", "ms", "Malay", None, 29),
    ("language", "sw", "Swahili", None, 30),
    ("language", "am", "Amharic", None, 31),
    ("language", "so", "Somali", None, 32),
    ("language", "yo", "Yoruba", None, 33),
    ("language", "ha", "Hausa", None, 34),
    ("language", "zu", "Zulu", None, 35),
    ("language", "af", "Afrikaans", None, 36),
    ("language", "ru", "Russian", None, 37),
    ("language", "uk", "Ukrainian", None, 38),
    ("language", "he", "Hebrew", None, 39),
    ("language", "ht", "Haitian Creole", None, 40),
    ("language", "asl", "American Sign Language", None, 41),
    ("partner_kind", "peer_program", "Peer program", "An existing peer-support program", 0),
    ("partner_kind", "clinician", "Clinician", "A clinician with IPV training", 1),
    ("partner_kind", "treatment_program", "Treatment program", "A specialised IPV treatment program", 2),
    ("partner_kind", "evaluator", "Evaluator", "An evaluator or research group", 3),
    ("partner_kind", "trainer", "Trainer", "A provider of IPV, peer-support or high-risk-client training", 4),
    ("specialty", "survivors", "Survivors", "Works with people who experienced IPV", 0),
    (
        "specialty",
        "people_who_use_violence",
        "People who use violence",
        "Works with people who use violence",
        1,
    ),
    (
        "specialty",
        "high_risk_clients",
        "High-risk clients",
        "Lethality and risk assessment, safety planning",
        2,
    ),
    ("specialty", "trauma", "Trauma", "Trauma-informed and trauma-focused care", 3),
    ("specialty", "substance_use", "Substance use", "Co-occurring substance use", 4),
    ("specialty", "couples_family", "Couples and family", "Couples and family work", 5),
    ("specialty", "youth", "Youth", "Work with young people", 6),
    ("specialty", "peer_support_training", "Peer-support training", "Trains peer facilitators", 7),
    ("specialty", "mental_health", "Mental health", "Co-occurring mental-health needs", 8),
    ("evaluation_stage", "none", "No evaluation", "No evaluation planned yet", 0),
    ("evaluation_stage", "pilot_planned", "Pilot planned", "A pilot is planned with partners", 1),
    ("evaluation_stage", "pilot_running", "Pilot running", "A pilot is under way", 2),
    ("evaluation_stage", "pilot_completed", "Pilot completed", "The pilot ended and was reviewed", 3),
    (
        "evaluation_stage",
        "formally_evaluated",
        "Formally evaluated",
        "An evaluator carried out a formal evaluation",
        4,
    ),
    ("evaluation_stage", "published", "Published", "Findings are published", 5),
    ("evaluation_design", "qualitative", "Qualitative", "Interviews, focus groups", 0),
    ("evaluation_design", "pre_post", "Pre/post", "Measures before and after", 1),
    (
        "evaluation_design",
        "quasi_experimental",
        "Quasi-experimental",
        "A comparison group without randomisation",
        2,
    ),
    ("evaluation_design", "randomised", "Randomised", "A randomised controlled trial", 3),
    ("evaluation_design", "mixed_methods", "Mixed methods", "Qualitative and quantitative together", 4),
    ("outcome", "mental_health", "Mental health", "Depression, anxiety, PTSD symptoms", 0),
    ("outcome", "empowerment", "Empowerment", "Self-efficacy and empowerment", 1),
    ("outcome", "ipv_recurrence", "IPV recurrence", "Recurrence of victimisation", 2),
    ("outcome", "use_of_violence", "Use of violence", "Reduction in the use of violence", 3),
    ("outcome", "help_seeking", "Help-seeking", "Seeking formal and informal help", 4),
    ("outcome", "stigma", "Stigma", "Perceived and internalised stigma", 5),
    ("outcome", "social_support", "Social support", "Perceived social support", 6),
]


def upgrade() -> None:
    # earthdistance gives an indexable great-circle distance (GiST over ll_to_earth).
    op.execute("CREATE EXTENSION IF NOT EXISTS cube")
    op.execute("CREATE EXTENSION IF NOT EXISTS earthdistance")
    op.create_table(
        "taxonomy_term",
        sa.Column("taxonomy", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("taxonomy", "code", name=op.f("pk_taxonomy_term")),
    )
    op.create_table(
        "listing",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("side", sa.String(length=40), nullable=True),
        sa.Column("formats", postgresql.ARRAY(sa.String(length=60)), server_default="{}", nullable=False),
        sa.Column("group_type", sa.String(length=40), nullable=True),
        sa.Column("delivery", sa.String(length=40), nullable=True),
        sa.Column("populations", postgresql.ARRAY(sa.String(length=60)), server_default="{}", nullable=False),
        sa.Column("languages", postgresql.ARRAY(sa.String(length=60)), server_default="{}", nullable=False),
        sa.Column("specialties", postgresql.ARRAY(sa.String(length=60)), server_default="{}", nullable=False),
        sa.Column("founded_on", sa.Date(), nullable=True),
        sa.Column("clinical_partner_id", sa.Uuid(), nullable=True),
        sa.Column("clinical_partner_name", sa.String(length=200), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("schedule_text", sa.String(length=500), nullable=True),
        sa.Column(
            "schedule_weekdays", postgresql.ARRAY(sa.String(length=60)), server_default="{}", nullable=False
        ),
        sa.Column("schedule_frequency", sa.String(length=40), nullable=True),
        sa.Column("open_to_mentoring", sa.Boolean(), nullable=False),
        sa.Column("evaluation_stage", sa.String(length=40), nullable=False),
        sa.Column(
            "credentials", postgresql.ARRAY(sa.String(length=200)), server_default="{}", nullable=False
        ),
        sa.Column("ipv_training", sa.String(length=500), nullable=True),
        sa.Column("ipv_trained", sa.Boolean(), nullable=False),
        sa.Column("methods", postgresql.ARRAY(sa.String(length=60)), server_default="{}", nullable=False),
        sa.Column("courses", postgresql.ARRAY(sa.String(length=200)), server_default="{}", nullable=False),
        sa.Column(
            "certifications", postgresql.ARRAY(sa.String(length=200)), server_default="{}", nullable=False
        ),
        sa.Column("accepting_partnerships", sa.Boolean(), nullable=False),
        sa.Column("remote_ok", sa.Boolean(), nullable=False),
        sa.Column("location_precision", sa.String(length=10), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("postal_code", sa.String(length=20), nullable=True),
        sa.Column("locality", sa.String(length=200), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("service_radius_km", sa.Integer(), nullable=True),
        sa.Column(
            "last_verified_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(description, ''))",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinical_partner_id"],
            ["listing.id"],
            name=op.f("fk_listing_clinical_partner_id_listing"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_listing_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listing")),
    )
    op.create_index("ix_listing_kind_name", "listing", ["kind", "name", "id"], unique=False)
    op.create_index(op.f("ix_listing_organization_id"), "listing", ["organization_id"], unique=False)
    op.create_index(
        "ix_listing_search_vector", "listing", ["search_vector"], unique=False, postgresql_using="gin"
    )
    op.create_index("ix_listing_updated_at", "listing", ["updated_at"], unique=False)
    op.create_table(
        "contact",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("role", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=True),
        sa.Column("preferred_method", sa.String(length=20), nullable=True),
        sa.Column("visibility", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listing.id"], name=op.f("fk_contact_listing_id_listing"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact")),
    )
    op.create_index(op.f("ix_contact_listing_id"), "contact", ["listing_id"], unique=False)
    op.create_table(
        "evaluation_record",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("listing_id", sa.Uuid(), nullable=False),
        sa.Column("stage", sa.String(length=40), nullable=False),
        sa.Column("previous_stage", sa.String(length=40), nullable=False),
        sa.Column("is_correction", sa.Boolean(), nullable=False),
        sa.Column("correction_reason", sa.String(length=1000), nullable=True),
        sa.Column("design", sa.String(length=60), nullable=True),
        sa.Column("outcomes", postgresql.ARRAY(sa.String(length=60)), server_default="{}", nullable=False),
        sa.Column("participant_count", sa.Integer(), nullable=True),
        sa.Column("evaluator_id", sa.Uuid(), nullable=True),
        sa.Column("evaluator_name", sa.String(length=200), nullable=True),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("findings_summary", sa.Text(), nullable=True),
        sa.Column("publication", sa.String(length=500), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("recorded_by_key_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["evaluator_id"],
            ["listing.id"],
            name=op.f("fk_evaluation_record_evaluator_id_listing"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listing.id"],
            name=op.f("fk_evaluation_record_listing_id_listing"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_record")),
    )
    op.create_index(
        op.f("ix_evaluation_record_listing_id"), "evaluation_record", ["listing_id"], unique=False
    )
    # ### end Alembic commands ###
    op.execute(
        "CREATE INDEX ix_listing_earth ON listing USING gist (ll_to_earth(latitude, longitude)) "
        "WHERE latitude IS NOT NULL AND archived_at IS NULL"
    )
    term = sa.table(
        "taxonomy_term",
        sa.column("taxonomy", sa.String),
        sa.column("code", sa.String),
        sa.column("label", sa.String),
        sa.column("description", sa.Text),
        sa.column("position", sa.Integer),
    )
    op.bulk_insert(
        term,
        [
            {"taxonomy": t, "code": c, "label": lab, "description": d, "position": pos}
            for t, c, lab, d, pos in STARTING_TERMS
        ],
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_listing_earth")
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_index(op.f("ix_evaluation_record_listing_id"), table_name="evaluation_record")
    op.drop_table("evaluation_record")
    op.drop_index(op.f("ix_contact_listing_id"), table_name="contact")
    op.drop_table("contact")
    op.drop_index("ix_listing_updated_at", table_name="listing")
    op.drop_index("ix_listing_search_vector", table_name="listing", postgresql_using="gin")
    op.drop_index(op.f("ix_listing_organization_id"), table_name="listing")
    op.drop_index("ix_listing_kind_name", table_name="listing")
    op.drop_table("listing")
    op.drop_table("taxonomy_term")
    # ### end Alembic commands ###
