"""Who the client is, behind our own reverse proxies.

Behind a proxy every connection comes from the proxy's address; the client's is in
X-Forwarded-For, which anyone can also send. Only proxies named in LIVEBLOG_TRUSTED_PROXIES
(addresses or networks) are believed: reading the header from the right, each trusted hop is
skipped and the first address that is not ours is the client. Without trusted proxies the header
is ignored. Used by the per-client socket cap (live/clients.py) and the login lockout (axes).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies if proxy.strip())


def in_networks(address: str | None, networks: list[str] | tuple[str, ...]) -> bool:
    """Whether `address` is one of `networks` (addresses or CIDR networks); never for garbage."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(networks)))


def _trusted(address: str) -> bool:
    return in_networks(address, tuple(getattr(settings, "LIVEBLOG_TRUSTED_PROXIES", ())))


def client_ip(peer: str | None, forwarded_for: str | None) -> str | None:
    """The client's address, given the connection's peer and its X-Forwarded-For header."""
    if peer is None or not forwarded_for or not _trusted(peer):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage where an address should be: count the proxy, not the garbage
    return hops[0] if hops else peer  # every hop is ours: the first is as far back as we know


def request_client_ip(request: HttpRequest) -> str | None:
    """For django-axes (AXES_CLIENT_IP_CALLABLE): lockouts count the client, not the proxy."""
    return client_ip(request.META.get("REMOTE_ADDR"), request.headers.get("x-forwarded-for"))
