"""Partners as their readers see them."""

from registry.auth.principal import Principal
from registry.listings.presenters import AnyListing, listing_read
from registry.partners.schemas import PartnerRead


def partner_read(listing: AnyListing, principal: Principal, *, band: str | None = None) -> PartnerRead:
    return listing_read(listing, PartnerRead, principal, distance_band=band)
