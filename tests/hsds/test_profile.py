"""The IPV profile: its schema modifications merge into the HSDS schemas as valid JSON Schema
(the HSDS profiles reference), every `ipv_` field the API answers is declared there and valid,
and the served document describes them."""

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from registry.hsds.profile import PATCHES, document
from tests.factories import Client
from tests.hsds import validation
from tests.hsds.conftest import all_pages, get_json


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON Merge Patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@pytest.mark.parametrize("name", list(PATCHES))
def test_each_patch_merges_into_a_valid_schema_that_only_adds(name: str) -> None:
    original = validation.load(name)
    merged = merge_patch(original, PATCHES[name])
    Draft202012Validator.check_schema(merged)
    added = set(merged["properties"]) - set(original["properties"])
    assert added == set(PATCHES[name]["properties"]) and all(key.startswith("ipv_") for key in added)
    assert {k: v for k, v in merged["properties"].items() if k not in added} == original["properties"]
    assert merged["required"] == original["required"]


def declared() -> dict[str, dict[str, Any]]:
    properties: dict[str, dict[str, Any]] = {}
    for patch in PATCHES.values():
        for key, schema in patch["properties"].items():
            assert key not in properties, f"{key} declared twice"
            properties[key] = schema
    return properties


def ipv_values(value: Any) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for key, child in value.items():
            if key.startswith("ipv_"):
                found.append((key, child))
            found.extend(ipv_values(child))
    elif isinstance(value, list):
        for child in value:
            found.extend(ipv_values(child))
    return found


@pytest.mark.usefixtures("seeded")
async def test_every_added_field_answered_is_declared_and_valid(client: Client) -> None:
    answers = [
        await all_pages(client, "/hsds/services", full="true"),
        await all_pages(client, "/hsds/service_at_locations", full="true"),
        await all_pages(client, "/hsds/taxonomy_terms", full="true"),
        await all_pages(client, "/hsds/organizations", full_service="true"),
    ]
    properties = declared()
    seen = set()
    for key, value in ipv_values(answers):
        assert key in properties, f"{key} is answered but not declared in the profile"
        problems = validation.errors(
            Draft202012Validator(properties[key], format_checker=validation.FORMATS), value
        )
        assert problems == [], (key, value, problems)
        seen.add(key)
    # The seeds exercise every added field.
    assert seen == set(properties)


async def test_the_document_describes_every_added_field(client: Client) -> None:
    text = document()
    for key in declared():
        assert key in text, key
    served = await client.get("/hsds/profile")
    assert served.text == text
    base = await get_json(client, "/hsds/")
    assert json.dumps(base).count("/hsds/profile") == 1
