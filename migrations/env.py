"""Alembic environment: async engine, models' metadata as the target."""

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import registry.models  # noqa: F401  (registers every table on the metadata)
from registry.config import async_database_url
from registry.database.base import Base

config = context.config
target_metadata = Base.metadata

# Indexes on expressions, written by hand in revisions, that autogenerate cannot compare.
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


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    url = async_database_url(config.get_main_option("sqlalchemy.url") or "")
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        # Serialize concurrent starts (several API containers) on one advisory lock.
        await connection.exec_driver_sql("SELECT pg_advisory_lock(727272)")
        try:
            await connection.run_sync(do_run_migrations)
            await connection.commit()
        finally:
            await connection.exec_driver_sql("SELECT pg_advisory_unlock(727272)")
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_async_migrations())
