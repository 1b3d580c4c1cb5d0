"""Code lists read as one text each (listings.code_lists): exactly the codes, for every code a
listing or a vocabulary may hold."""

import re
from typing import Any

import msgspec
import pytest

from registry.listings import code_lists
from registry.listings import schemas as listing_schemas
from registry.taxonomies import routes as taxonomy_routes


def test_a_text_gives_back_the_codes_in_order_and_none_for_null_or_an_empty_list() -> None:
    joined = code_lists.SEPARATOR.join(["women", "court_referred", "women"])
    assert code_lists.codes_of(joined) == ("women", "court_referred", "women")
    assert code_lists.codes_of("lgbtq") == ("lgbtq",)
    assert code_lists.codes_of("") == code_lists.codes_of(None) == ()


@pytest.mark.parametrize("pattern", [listing_schemas.Code, taxonomy_routes.TermCode])
def test_no_code_can_hold_the_separator(pattern: Any) -> None:
    """A listing's codes, and the terms of every vocabulary they come from, are refused if they
    hold the separator: a text splits back into exactly its codes."""
    (meta,) = [m for m in pattern.__metadata__ if isinstance(m, msgspec.Meta)]
    assert meta.pattern is not None
    assert re.fullmatch(meta.pattern, f"a{code_lists.SEPARATOR}b") is None
    assert re.fullmatch(meta.pattern, "court_referred")
