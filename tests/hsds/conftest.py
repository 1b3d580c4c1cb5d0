"""Fixtures for the HSDS tests: the starter data set loaded in the test's transaction."""

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from registry.seeding import load_seeds
from tests.factories import Client


@pytest.fixture
async def seeded(db: AsyncSession) -> AsyncSession:
    """The seeds (22 organizations, 66 listings), visible to the app; rolled back after the test."""
    await load_seeds(db)
    await db.commit()
    return db


async def get_json(client: Client, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params)
    assert response.status_code == 200, f"{path} {params}: {response.status_code} {response.text}"
    return response.json()


async def all_pages(client: Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list endpoint, page after page."""
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        body = await get_json(client, path, page=page, per_page=100, **params)
        items.extend(body["contents"])
        if body["last_page"]:
            return items
        page += 1
