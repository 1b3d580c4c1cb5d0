"""Stable HSDS identifiers.

HSDS wants a UUID for every object. Services and contacts are registry rows and keep their own
ids; everything HSDS has as a separate object and the registry does not (a service's location,
its service_at_location, an attribute, a metadata entry ...) gets a name-based UUID (uuid5), so
the same row always yields the same id and no mapping table is needed."""

import functools
import hashlib
import uuid
from collections.abc import Iterable

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


_PREFIX = hashlib.sha1(_NAMESPACE_BYTES + b"registry:")  # noqa: S324 - uuid5 is defined on SHA-1
# uuid5 sets the version (5) in the 13th hex digit and the RFC 4122 variant in the 17th's top bits.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def _digest(kind: str, *parts: str) -> "hashlib._Hash":
    digest = _PREFIX.copy()
    digest.update(":".join((kind, *parts)).encode())
    return digest


def _uuid_text(digest: "hashlib._Hash") -> str:
    """The uuid5 a SHA-1 digest stands for, as text."""
    x = digest.hexdigest()
    return f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{_VARIANT[x[16]]}{x[17:20]}-{x[20:32]}"


def derived(kind: str, *parts: str) -> str:
    """str(derived_id(kind, *parts)) for parts already text, without building UUID objects: a full
    service has dozens (the hash of the common prefix is taken once)."""
    return _uuid_text(_digest(kind, *parts))


def derived_each(kind: str, first: str, lasts: Iterable[str]) -> list[str]:
    """[derived(kind, first, last) for last in lasts], hashing their common start once."""
    common = _digest(kind, first, "")
    made = []
    for last in lasts:
        digest = common.copy()
        digest.update(last.encode())
        made.append(_uuid_text(digest))
    return made


def derived_head(kind: str, *parts: str) -> int:
    """The first 8 bytes of derived_id(kind, *parts) (its version included), as a number."""
    head = int.from_bytes(_digest(kind, *parts).digest()[:8], "big")
    return (head & ~0xF000) | 0x5000  # version 5, as uuid5 sets it


def head_of(value: uuid.UUID) -> int:
    return value.int >> 64


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
