"""A listing's code lists (populations, languages, ...) read as one text each, their codes joined
by SEPARATOR, for the reads that take thousands of listings at once (matching's lists, a near
search's place): the driver then makes one string per list instead of a list of strings, and the
reader splits a text once for every listing that holds the same list. A code is [a-z0-9_]+, as
every vocabulary's terms are (`listings.schemas.Code`, `taxonomies.routes.TermCode`), so it never
holds the separator.

Codes a statement sends go as text[] (`sent`): asyncpg knows how to send and read text[] but asks
the server about varchar[] on every new connection, before its first statement that sends or
reads one (tests/test_type_lookups.py)."""

from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import ARRAY, ColumnElement, Text, bindparam, cast, func

SEPARATOR: Final = ","


def as_text_sql(column: str) -> str:
    """The column (SQL, a text[]) as one text: NULL stays NULL, an empty list is ''."""
    return f"array_to_string({column}, '{SEPARATOR}')"


def as_text(column: Any) -> ColumnElement[str | None]:
    """`as_text_sql`, for a statement built with SQLAlchemy."""
    text: ColumnElement[str | None] = func.array_to_string(column, SEPARATOR)
    return text


def codes_of(text: str | None) -> tuple[str, ...]:
    """A code list as read: its codes, in order (none for NULL or an empty list)."""
    return tuple(text.split(SEPARATOR)) if text else ()


def sent(codes: Sequence[str], column: Any) -> ColumnElement[Any]:
    """Codes to compare with an array column (`column.overlap(sent(...))`), sent as text[] and
    cast in SQL to the column's type."""
    return cast(bindparam(None, list(codes), type_=ARRAY(Text)), column.type)
