"""Services as HSDS reads them: each public listing with its organization's public face, its
contacts that may leave through listings and its evaluation history, built by PostgreSQL as one
JSON value a row and decoded into structs (`listings.records`), not ORM objects: a whole
directory streams through here."""

import uuid

import msgspec

from registry.listings.records import ListingRecord
from registry.listings.visibility import contact_listed_sql


class OrganizationRecord(msgspec.Struct, kw_only=True, gc=False):
    """What a service shows of its organization."""

    id: uuid.UUID
    name: str
    description: str | None
    website: str | None


class ServiceRecord(ListingRecord, kw_only=True):
    organization: OrganizationRecord


# row_to_json over the struct's columns named one by one (json, not jsonb; no search_vector): a
# third of the time to_jsonb(listing) took, with no limit on the number of columns.
_LISTING = ", ".join(
    f"listing.{name}" for name in ListingRecord.__struct_fields__ if name not in ("contacts", "evaluations")
)
_ORGANIZATION = ", ".join(f"'{name}', organization.{name}" for name in OrganizationRecord.__struct_fields__)
_CONTACTS = (
    "coalesce((SELECT json_agg(c ORDER BY c.position) FROM contact c "  # noqa: S608
    f"WHERE c.listing_id = listing.id AND {contact_listed_sql('c')}), '[]')"
)
_EVALUATIONS = (
    "coalesce((SELECT json_agg(e ORDER BY e.recorded_at, e.id) FROM evaluation_record e "
    "WHERE e.listing_id = listing.id), '[]')"
)


def record_sql(*, details: bool) -> str:
    """The JSON of one service, for a statement over `listing JOIN organization`; `details`: with
    its contacts and evaluations (a full service), else empty lists (a summary)."""
    contacts, evaluations = (_CONTACTS, _EVALUATIONS) if details else ("'[]'", "'[]'")
    return (
        f"(SELECT row_to_json(service) FROM (SELECT {_LISTING}, "  # noqa: S608
        f"json_build_object({_ORGANIZATION}) AS organization, "
        f"{contacts}::json AS contacts, {evaluations}::json AS evaluations) AS service)::text"
    )


_decoder = msgspec.json.Decoder(ServiceRecord)


def decode(found: str) -> ServiceRecord:
    return _decoder.decode(found)
