"""The privacy rules for listings and their contacts, in one place."""

from collections.abc import Hashable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, and_, or_, select, true

from registry.auth.principal import Principal
from registry.models import PUBLIC_STATUS, Contact, Listing, Organization

STALE_AFTER = timedelta(days=365)


# The public-listing rule: a live listing (not archived) of a verified organization (not
# unverified, not suspended). Every query that decides what the public sees uses one of its forms
# below; the reports' triggers in migrations 0008 to 0011 spell it in SQL of their own.
PUBLIC_ORGANIZATION = PUBLIC_STATUS


def organization_public(organization: str = "o") -> str:
    """The rule's organization half as SQL, for an `organization` row alias."""
    return f"{organization}.verification_status = '{PUBLIC_ORGANIZATION}'"


def public_listing_sql(listing: str = "l", organization: str = "o") -> str:
    """The rule as SQL, for a query that joins listing `listing` to its organization `organization`
    for the organization's own columns (else `public_listing_alone_sql`)."""
    return f"{listing}.archived_at IS NULL AND {organization_public(organization)}"


def hidden_owner_sql(listing: str = "l") -> str:
    """SQL true when `listing`'s organization is not public. Asked this way round (few organizations
    are not public), PostgreSQL looks each listing's organization up among the hidden ones only
    (`ix_organization_hidden`, migration 0027: an index of their ids alone) rather than read the
    organization's row, or reads a covering index of listings once instead of probing it per
    public organization."""
    return (
        f"EXISTS (SELECT 1 FROM organization ho WHERE ho.id = {listing}.organization_id "  # noqa: S608
        f"AND NOT {organization_public('ho')})"
    )


def public_listing_alone_sql(listing: str = "l") -> str:
    """The rule as SQL, for a query over listings that reads nothing else of their organizations:
    no join. Reading thousands of listings around a place, looking each one's organization up in
    its row took a third of PostgreSQL's time (docs/performance.md)."""
    return f"{listing}.archived_at IS NULL AND NOT {hidden_owner_sql(listing)}"


def public_listing() -> ColumnElement[bool]:
    """The rule as an ORM clause; the query must join Organization (else `public_listing_alone`)."""
    return and_(Organization.verification_status == PUBLIC_ORGANIZATION, Listing.archived_at.is_(None))


def public_listing_alone() -> ColumnElement[bool]:
    """`public_listing_alone_sql` as an ORM clause: for a query over Listing, no join."""
    return and_(Listing.archived_at.is_(None), ~hidden_owner())


def hidden_owner() -> ColumnElement[bool]:
    """`hidden_owner_sql` as an ORM clause (for a query over Listing, no join needed)."""
    return (
        select(Organization.id)
        .where(
            Organization.id == Listing.organization_id,
            Organization.verification_status != PUBLIC_ORGANIZATION,
        )
        .exists()
    )


def listing_visible_sql(principal: Principal, organization_param: str) -> tuple[str, list[object]]:
    """`listing_visible` as SQL for a query over `listing l` (no join), and the value of
    `organization_param` when it takes one."""
    if principal.is_steward:
        return "true", []
    if principal.organization_id is not None:
        return f"({public_listing_alone_sql()} OR l.organization_id = {organization_param})", [
            principal.organization_id
        ]
    return public_listing_alone_sql(), []


def listing_visible(principal: Principal) -> ColumnElement[bool]:
    """Public listings for everyone; your own (even archived) too; all for stewards. For a query
    over Listing (no join)."""
    if principal.is_steward:
        return true()
    if principal.organization_id is not None:
        return or_(public_listing_alone(), Listing.organization_id == principal.organization_id)
    return public_listing_alone()


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


def contact_listed_sql(contact: str = "c") -> str:
    """As SQL over a `contact` row alias: the contacts that may leave through listings to someone
    (`contact_visible` then says to whom); `on_introduction` ones never do."""
    return f"{contact}.visibility <> 'on_introduction'"


def revealed_on_introduction(contact: Contact) -> bool:
    """What an accepted introduction shows its initiator: the listing's public and
    on-introduction contacts; `verified_orgs` ones stay for verified organizations."""
    return contact.visibility in ("public", "on_introduction")


def is_stale(last_verified_at: datetime, now: datetime) -> bool:
    return now - last_verified_at > STALE_AFTER
