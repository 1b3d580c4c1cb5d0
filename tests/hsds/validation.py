"""The official HSDS 3.0 schemas (copied in schemas/, see schemas/LICENSE.md), ready to validate
answers with jsonschema: every schema is registered under its canonical URL, so the `$ref`s of
the HSDS OpenAPI document resolve without a network."""

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMAS = Path(__file__).parent / "schemas"
CANONICAL = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/"
OPENAPI = CANONICAL + "openapi.json"

FILES = (
    "compiled/service.json",
    "compiled/service_list.json",
    "compiled/organization.json",
    "compiled/organization_list.json",
    "compiled/service_at_location.json",
    "compiled/service_at_location_list.json",
    "taxonomy.json",
    "taxonomy_term.json",
    "metadata.json",
    "openapi.json",
)
PAGE_FIELDS = ("total_items", "total_pages", "page_number", "size", "first_page", "last_page", "empty")

FORMATS = FormatChecker()


def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme and (parts.netloc or parts.path)) and " " not in value


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if "T" not in value.upper():
        raise ValueError(f"{value!r} has no time")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return True


# jsonschema checks "uri" and "date-time" only with optional packages; these two do without.
FORMATS.checks("uri")(_is_uri)
FORMATS.checks("date-time", raises=ValueError)(_is_date_time)


@cache
def load(name: str) -> Any:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


@cache
def registry() -> Registry[Any]:
    resources = [
        (CANONICAL + name, Resource.from_contents(load(name), default_specification=DRAFT202012))
        for name in FILES
    ]
    return Registry().with_resources(resources)


@cache
def validator(schema_file: str) -> Any:
    """A validator for one object schema, e.g. "compiled/service.json"."""
    return Draft202012Validator(
        {"$ref": CANONICAL + schema_file}, registry=registry(), format_checker=FORMATS
    )


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


@cache
def operation_validator(hsds_path: str) -> Any:
    """The 200 answer schema the HSDS OpenAPI document gives an endpoint, as it stands."""
    pointer = _pointer("paths", hsds_path, "get", "responses", "200", "content", "application/json", "schema")
    return Draft202012Validator(
        {"$ref": f"{OPENAPI}#/{pointer}"}, registry=registry(), format_checker=FORMATS
    )


LIST_ITEMS: dict[str, tuple[str, str]] = {
    # list path -> (the item schema of a page, of a page with full=true)
    "/services": ("compiled/service_list.json", "compiled/service.json"),
    "/organizations": ("compiled/organization_list.json", "compiled/organization.json"),
    "/service_at_locations": ("compiled/service_at_location_list.json", "compiled/service_at_location.json"),
    "/taxonomies": ("taxonomy.json", "taxonomy.json"),
    "/taxonomy_terms": ("taxonomy_term.json", "taxonomy_term.json"),
}


def item_validator(hsds_path: str, *, full: bool) -> Any:
    return validator(LIST_ITEMS[hsds_path][1 if full else 0])


@cache
def page_validator(hsds_path: str) -> Any:
    """The 200 answer schema the HSDS OpenAPI document gives a list endpoint ("/services"), with
    every Page field and `contents` required."""
    pointer = _pointer("paths", hsds_path, "get", "responses", "200", "content", "application/json", "schema")
    schema = {"allOf": [{"$ref": f"{OPENAPI}#/{pointer}"}], "required": [*PAGE_FIELDS, "contents"]}
    return Draft202012Validator(schema, registry=registry(), format_checker=FORMATS)


def errors(check: Any, instance: Any) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(check.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    ]
