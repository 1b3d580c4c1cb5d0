"""Stable HSDS identifiers.

HSDS wants a UUID for every object. Services and contacts are registry rows and keep their own
ids; everything HSDS has as a separate object and the registry does not (a service's location,
its service_at_location, an attribute, a metadata entry ...) gets a name-based UUID (uuid5), so
the same row always yields the same id and no mapping table is needed."""

import functools
import hashlib
import uuid

NAMESPACE = uuid.NAMESPACE_URL
_NAMESPACE_BYTES = NAMESPACE.bytes


@functools.lru_cache(maxsize=256)
def taxonomy_id(name: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"registry:taxonomy:{name}")


@functools.lru_cache(maxsize=8192)  # the vocabularies' terms: a few hundred
def term_id(taxonomy: str, code: str) -> uuid.UUID:
    # The same id the audit log gives a term (taxonomies.service._term_uuid).
    return uuid.uuid5(NAMESPACE, f"registry:taxonomy:{taxonomy}:{code}")


def derived_id(kind: str, *parts: object) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, ":".join(("registry", kind, *(str(p) for p in parts))))


def derived(kind: str, *parts: object) -> str:
    """str(derived_id(kind, *parts)), without building UUID objects: a full service has dozens."""
    digest = bytearray(
        hashlib.sha1(  # noqa: S324 - uuid5 is defined on SHA-1; this is an identifier, not a secret
            _NAMESPACE_BYTES + ":".join(("registry", kind, *(str(p) for p in parts))).encode()
        ).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = digest.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def service_at_location_id(listing_id: uuid.UUID) -> uuid.UUID:
    return derived_id("service_at_location", listing_id)


def location_id(listing_id: uuid.UUID) -> uuid.UUID:
    return derived_id("location", listing_id)


def imported_id(kind: str, hsds_id: str) -> uuid.UUID:
    """The registry id for an imported HSDS object: its own id when that is a UUID, else a uuid5 of
    it, so importing the same record again finds the same row."""
    try:
        return uuid.UUID(hsds_id)
    except ValueError:
        return uuid.uuid5(NAMESPACE, f"hsds:{kind}:{hsds_id}")


def parse_id(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None
