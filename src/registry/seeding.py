"""Load the starter data set in seeds/ idempotently (stable ids, insert-or-update)."""

import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import Organization


def seeds_dir() -> Path:
    if configured := os.environ.get("REGISTRY_SEEDS_DIR"):
        return Path(configured)
    beside_source = Path(__file__).resolve().parents[2] / "seeds"
    return beside_source if beside_source.is_dir() else Path.cwd() / "seeds"


def _read(name: str, directory: Path) -> list[dict[str, Any]]:
    path = directory / name
    if not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError(f"{path} must hold a JSON array")
    return data


async def database_is_empty(session: AsyncSession) -> bool:
    return (await session.scalar(select(func.count()).select_from(Organization))) == 0


async def load_seeds(session: AsyncSession, directory: Path | None = None) -> dict[str, int]:
    """Insert or refresh every seed row; running it twice changes nothing the second time."""
    directory = directory or seeds_dir()
    counts: dict[str, int] = {}
    orgs = _read("organizations.json", directory)
    for row in orgs:
        stmt = insert(Organization).values(**row)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Organization.id],
            set_={k: stmt.excluded[k] for k in row if k != "id"},
        )
        await session.execute(stmt)
    counts["organizations"] = len(orgs)
    return counts
