"""Who the client is: the connecting address, or, when that is a trusted proxy (a load balancer),
the address it says it forwarded for. Headers from anyone else are ignored: a client could name
any address in them and so escape its rate limits."""

import functools
import ipaddress
from collections.abc import Sequence

from litestar.types import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def parse_networks(text: str) -> tuple[Network, ...]:
    """'10.0.0.0/8, 127.0.0.1, ::1' -> networks (REGISTRY_TRUSTED_PROXIES)."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = text.strip().strip('"')
    if value.startswith("["):  # [2001:db8::1]:4711
        value = value[1 : value.find("]")] if "]" in value else value[1:]
    elif value.count(":") == 1:  # 192.0.2.1:4711
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    parsed = _address(address)
    return parsed is not None and any(parsed in network for network in networks)


def _header(scope: Scope, name: bytes) -> str | None:
    values = [v.decode("latin-1") for k, v in scope.get("headers", ()) if k.lower() == name]
    return ",".join(values) if values else None


def _forwarded_for(header: str) -> list[str]:
    """The `for=` addresses of an RFC 7239 Forwarded header, first hop first."""
    found = []
    for element in header.split(","):
        for pair in element.split(";"):
            name, _, value = pair.partition("=")
            if name.strip().lower() == "for":
                found.append(value.strip())
    return found


def client_address(scope: Scope, trusted: Sequence[Network]) -> str:
    """The client's address. Behind trusted proxies: the rightmost forwarded address that is not
    itself a trusted proxy (those to its left were written by the client, and may be made up)."""
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    if not trusted or not _trusted(peer, trusted):
        return peer
    forwarded = _header(scope, b"forwarded")
    chain = _forwarded_for(forwarded) if forwarded else (_header(scope, b"x-forwarded-for") or "").split(",")
    for hop in reversed([h.strip() for h in chain if h.strip()]):
        parsed = _address(hop)
        if parsed is None:
            return peer  # an unreadable hop: nothing to its left can be believed
        if not any(parsed in network for network in trusted):
            return str(parsed)
    return peer
