"""Pages of search results, kept encoded and shared by callers who see the same listings.

Searches are coarse too (a city or ZIP, vocabulary codes, a page number), so people looking in one
area send the same ones. A page is kept per what the caller may see (`visibility.listing_view`:
stewards; else the caller's organization, which sees its own unpublished listings, and whether
it is verified, which shows contacts for verified organizations). Anonymous callers, funders
and initiators share the public pages. A page one API process built is kept for the others too
(caching.shared), and here as it is sent.
"""

import functools
import sys
from typing import Any, Protocol

from litestar.serialization import encode_json
from sqlalchemy.ext.asyncio import AsyncSession

from registry.auth.principal import Principal
from registry.caching import shared
from registry.caching.caches import Caches
from registry.caching.version import Version
from registry.http.pagination import Page, offset
from registry.listings import nearby, presenters, queries, records, visibility
from registry.listings.presenters import AnyListing
from registry.listings.queries import ListingFilters
from registry.listings.visibility import listing_view


class Present(Protocol):
    def __call__(self, listing: AnyListing, principal: Principal, *, band: str | None = None) -> Any: ...


@functools.lru_cache(maxsize=8)
def _code(presenting: str) -> bytes:
    """What a page is made by, with the module that presents its listings: a page kept by a
    process of another release is not reused."""
    return shared.code_digest(
        sys.modules[__name__], sys.modules[presenting], nearby, presenters, queries, records, visibility
    )


async def search_page(
    session: AsyncSession,
    principal: Principal,
    caches: Caches,
    version: Version,
    filters: ListingFilters,
    *,
    page: int,
    per_page: int,
    what: str,
    present: Present,
) -> bytes:
    """One page of the search, JSON-encoded: a Page of what `present` makes of each listing
    (`what` names that presentation in the cache), for the data's `version` (read by the caller)."""
    # The filters' repr is deterministic (a frozen dataclass of plain values, built in one order).
    key = (what, listing_view(principal), repr(filters), page, per_page)

    async def build() -> bytes:
        if nearby.serves(filters):
            rows, total = await nearby.search(
                session, principal, filters, version, caches, limit=per_page, offset=offset(page, per_page)
            )
        else:
            rows, total = await queries.search(
                session, principal, filters, limit=per_page, offset=offset(page, per_page)
            )
        items = [present(listing, principal, band=band) for listing, band in rows]
        return encode_json(Page(items=items, total=total, page=page, per_page=per_page))

    body = await caches.memo_across(
        "search_pages",
        key,
        lambda: shared.digest(_code(present.__module__), *key),
        version,
        build,
        pack=bytes,
        unpack=bytes,
    )
    assert body is not None, "a page is always built"
    return body
