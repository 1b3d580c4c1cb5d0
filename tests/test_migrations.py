"""The models and the migrations describe the same schema, and the newest migration can be undone."""

import asyncio
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import registry.models  # noqa: F401
from registry.database.base import Base
from registry.database.migrations import alembic_config, upgrade

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
    heads = ScriptDirectory.from_config(alembic_config("postgresql://unused")).get_heads()
    async with engine.connect() as conn:
        current = await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_heads())
    assert set(current) == set(heads) and len(heads) == 1


_SCHEMA_SQL = """
    SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
           || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
           || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid AND c.relkind IN ('r', 'p', 'v', 'm')
    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attnum > 0 AND NOT a.attisdropped
    UNION ALL SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' '
                     || pg_get_constraintdef(oid)
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace
    UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
    UNION ALL SELECT 'function ' || pg_get_functiondef(p.oid)
    FROM pg_proc p
    WHERE p.pronamespace = 'public'::regnamespace AND p.prokind = 'f' AND NOT EXISTS
          (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
    UNION ALL SELECT 'trigger ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal
    UNION ALL SELECT 'type ' || t.typname || ' ' || t.typtype::text FROM pg_type t
    WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'd', 'c')
      AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid)
"""


def test_the_newest_migration_can_be_undone_and_done_again(database_url: str) -> None:
    """`alembic downgrade -1` from head leaves the revision before it with the schema it had
    (columns with their types, defaults and nullability, constraints, indexes, functions as
    defined, triggers and types), and upgrading again gives the same schema as the first time."""
    name = f"registry_migrations_{uuid.uuid4().hex[:10]}"
    url = urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))

    async def admin(statement: str) -> None:
        engine = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(statement))
        finally:
            await engine.dispose()

    async def state() -> tuple[str | None, set[str]]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                revision = await conn.scalar(text("SELECT version_num FROM alembic_version"))
                return revision, set((await conn.scalars(text(_SCHEMA_SQL))).all())
        finally:
            await engine.dispose()

    script = ScriptDirectory.from_config(alembic_config(url))
    head = script.get_current_head()
    assert head is not None
    previous = script.get_revision(head).down_revision
    assert isinstance(previous, str)
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        upgrade(url, previous)
        _, schema_before = asyncio.run(state())
        upgrade(url)
        at_head, schema = asyncio.run(state())
        command.downgrade(alembic_config(url), "-1")
        below, schema_below = asyncio.run(state())
        upgrade(url)
        again, schema_again = asyncio.run(state())
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    assert (at_head, below, again) == (head, previous, head)
    assert schema_below == schema_before, "the newest migration's downgrade left another schema"
    assert schema_again == schema
