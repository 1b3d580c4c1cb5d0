"""Partners as their readers see them."""

from registry.auth.principal import Principal
from registry.listings.presenters import listing_read
from registry.models import Listing
from registry.partners.schemas import PartnerRead


def partner_read(listing: Listing, principal: Principal, *, band: str | None = None) -> PartnerRead:
    return listing_read(listing, PartnerRead, principal, distance_band=band)
