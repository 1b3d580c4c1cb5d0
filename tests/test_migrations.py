"""The models and the migrations describe the same schema."""

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import registry.models  # noqa: F401
from registry.database.base import Base

HAND_WRITTEN_INDEXES = frozenset(
    {"ix_listing_earth", "ix_listing_remote_kind", "ix_listing_program_facts", "ix_evaluation_record_facts"}
    | {"ix_demand_place_earth", "ix_demand_place_unknown"}
    | {
        f"ix_listing_earth_{kind}"
        for kind in ("peer_program", "clinician", "treatment_program", "evaluator", "trainer")
    }
)


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    return not (type_ == "index" and name in HAND_WRITTEN_INDEXES)


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": include_object}
    )
    return list(compare_metadata(context, Base.metadata))


async def test_autogenerate_finds_no_drift(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    assert diff == [], f"models and migrations differ; run `registry revision -m ...`: {diff}"


async def test_schema_is_at_head(engine: AsyncEngine) -> None:
    from alembic.script import ScriptDirectory

    from registry.database.migrations import alembic_config

    heads = ScriptDirectory.from_config(alembic_config("postgresql://unused")).get_heads()
    async with engine.connect() as conn:
        current = await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_heads())
    assert set(current) == set(heads) and len(heads) == 1
