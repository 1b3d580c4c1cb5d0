"""The privacy rules for listings and their contacts, in one place."""

from collections.abc import Hashable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, and_, or_, true

from registry.auth.principal import Principal
from registry.models import Contact, Listing, Organization

STALE_AFTER = timedelta(days=365)


def listing_visible(principal: Principal) -> ColumnElement[bool]:
    """Verified organizations' live listings for everyone; your own (even archived) too; all for
    stewards. The query must join Organization."""
    if principal.is_steward:
        return true()
    public = and_(Organization.verification_status == "verified", Listing.archived_at.is_(None))
    if principal.organization_id is not None:
        return or_(public, Listing.organization_id == principal.organization_id)
    return public


def contact_view(principal: Principal) -> str:
    """Which contacts `contact_visible` shows this caller: callers with the same view see the
    same contacts (cached answers are shared by view)."""
    if principal.is_steward:
        return "steward"
    return "verified" if principal.organization_verified else "public"


def listing_view(principal: Principal) -> Hashable:
    """Which listings `listing_visible` and which contacts `contact_visible` show this caller:
    callers with the same view see the same pages. Change it with the rules above."""
    if principal.is_steward:
        return ("steward",)
    return (principal.organization_id, contact_view(principal))


class HasVisibility(Protocol):
    @property
    def visibility(self) -> str: ...


def contact_visible(contact: HasVisibility, principal: Principal) -> bool:
    """`on_introduction` contacts never leave through listings, not even to their owner: they are
    revealed only on an accepted introduction."""
    if contact.visibility == "public":
        return True
    if contact.visibility == "verified_orgs":
        return principal.is_steward or principal.organization_verified
    return False


def revealed_on_introduction(contact: Contact) -> bool:
    """What an accepted introduction shows its initiator: the listing's public and
    on-introduction contacts; `verified_orgs` ones stay for verified organizations."""
    return contact.visibility in ("public", "on_introduction")


def is_stale(last_verified_at: datetime, now: datetime) -> bool:
    return now - last_verified_at > STALE_AFTER
