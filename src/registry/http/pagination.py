"""Capped page parameters and the page envelope every list answers with."""

from typing import Annotated, Generic, TypeVar

import msgspec
from litestar.params import QueryParameter

T = TypeVar("T")

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20

PageNumber = Annotated[int, QueryParameter(ge=1, le=100_000, description="1-based page number")]
PerPage = Annotated[
    int, QueryParameter(ge=1, le=MAX_PER_PAGE, description=f"items per page, at most {MAX_PER_PAGE}")
]


class Page(msgspec.Struct, Generic[T], kw_only=True):
    items: list[T]
    total: int
    page: int
    per_page: int


def offset(page: int, per_page: int) -> int:
    return (page - 1) * per_page
