"""Pages of search results, kept encoded and shared by callers who see the same listings.

Searches are coarse too (a city or ZIP, vocabulary codes, a page number), so people looking in one
area send the same ones. A page is kept per what the caller may see, which the visibility rules
decide from three things only: whether the caller is a steward (everything), its organization
(its own listings, even unpublished ones) and whether that organization is verified (contacts for
verified organizations). Anyone else, and every anonymous caller, shares the public pages.
"""

from collections.abc import Hashable
from typing import Any, Protocol

from litestar.serialization import encode_json
from sqlalchemy.ext.asyncio import AsyncSession

from registry.answers import AnswerCache
from registry.auth.principal import Principal
from registry.changes import Changes
from registry.listings import queries
from registry.listings.queries import ListingFilters
from registry.models import Listing
from registry.pagination import Page, offset

_pages = AnswerCache(size=4096, max_bytes=24 * 1024 * 1024, seconds=300.0)


class Present(Protocol):
    def __call__(self, listing: Listing, principal: Principal, *, band: str | None = None) -> Any: ...


def forget_cached_pages() -> None:
    _pages.clear()


def audience(principal: Principal) -> Hashable:
    if principal.is_steward:
        return ("steward",)
    return (principal.organization_id, principal.organization_verified)


async def search_page(
    session: AsyncSession,
    principal: Principal,
    changes: Changes,
    filters: ListingFilters,
    *,
    page: int,
    per_page: int,
    what: str,
    present: Present,
) -> bytes:
    """One page of the search, JSON-encoded: a Page of what `present` makes of each listing
    (`what` names that presentation in the cache)."""
    # The filters' repr is deterministic (a frozen dataclass of plain values, built in one order).
    key = (what, audience(principal), repr(filters), page, per_page)
    version = await changes.version(session)
    body = _pages.get(key, version)
    if body is None:
        rows, total = await queries.search(
            session, principal, filters, limit=per_page, offset=offset(page, per_page)
        )
        items = [present(listing, principal, band=band) for listing, band in rows]
        body = encode_json(Page(items=items, total=total, page=page, per_page=per_page))
        _pages.put(key, version, body)
    return body
