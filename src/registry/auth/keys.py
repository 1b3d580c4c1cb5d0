"""API key material: generation, hashing and the visible prefix."""

import hashlib
import re
import secrets

KEY_PREFIX = "rk_"
# 32 bytes of randomness (256 bits) comfortably clears the 128-bit floor.
_SECRET_BYTES = 32
VISIBLE_PREFIX_LEN = 11  # "rk_" plus 8 characters: enough to tell keys apart in a list


# A key as it appears in a JSON answer: what must never be kept (idempotency.withhold_keys).
KEY_IN_JSON = re.compile(rb'"rk_[A-Za-z0-9_-]{20,100}"')


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def visible_prefix(key: str) -> str:
    return key[:VISIBLE_PREFIX_LEN]


def looks_like_key(key: str) -> bool:
    return key.startswith(KEY_PREFIX) and 20 <= len(key) <= 100
