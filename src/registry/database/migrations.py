"""Run Alembic migrations from code (the CLI, the server start, the tests)."""

import os
from pathlib import Path

from alembic import command
from alembic.config import Config


def migrations_dir() -> Path:
    if configured := os.environ.get("REGISTRY_MIGRATIONS_DIR"):
        return Path(configured)
    # src/registry/database/migrations.py -> repository root / migrations (checkouts, editable installs)
    beside_source = Path(__file__).resolve().parents[3] / "migrations"
    return beside_source if beside_source.is_dir() else Path.cwd() / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # Percent signs in passwords would otherwise be read as interpolation.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations. Must run outside an event loop (Alembic's env starts its own)."""
    command.upgrade(alembic_config(url), revision)
