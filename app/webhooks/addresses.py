"""Which webhook URLs and addresses the service may call.

A merchant must not make the service call into the operator's own network: a URL must be
https and every address its host resolves to public (``ipaddress``'s ``is_global``, an
IPv4-mapped IPv6 address judged as the IPv4 address it maps, multicast refused), unless
the operator set ``LOYALPASS_WEBHOOKS_ALLOW_PRIVATE``. The URL is checked when the
endpoint is registered, and its addresses again at every delivery after resolving the
host (``app.delivery.webhooks`` connects to the address it checked, so a name that
resolves elsewhere a moment later, DNS rebinding, gains nothing).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

MAX_URL_LENGTH = 2048


class AddressRefused(Exception):
    """A webhook URL or address the service will not call; the message says why."""


@dataclass(frozen=True)
class Target:
    """Where a URL says to connect: scheme, host (as the URL writes it), port, and the
    path with its query."""

    scheme: str
    host: str
    port: int
    path: str


def target_of(url: str, *, allow_private: bool) -> Target:
    """The URL's target; ``AddressRefused`` when it is not one we call."""
    if len(url) > MAX_URL_LENGTH or any(ord(char) <= 32 or ord(char) == 127 for char in url):
        raise AddressRefused("the URL is too long or holds spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise AddressRefused(f"the URL cannot be read: {error}") from None
    allowed = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed:
        raise AddressRefused("the URL must start with https://")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise AddressRefused("the URL must name a host, and no user or password")
    if parts.fragment:
        raise AddressRefused("the URL must not have a #fragment")
    _refuse_literal(parts, allow_private=allow_private)
    return Target(scheme=parts.scheme, host=parts.hostname,
                  port=port or (443 if parts.scheme == "https" else 80),
                  path=(parts.path or "/") + (f"?{parts.query}" if parts.query else ""))


def _refuse_literal(parts: SplitResult, *, allow_private: bool) -> None:
    host = parts.hostname or ""
    if allow_private:
        return
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise AddressRefused(f"{host} is not a public host")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return  # a name: its addresses are checked at each delivery
    check_address(str(address), allow_private=False)


def check_address(address: str, *, allow_private: bool) -> None:
    """``AddressRefused`` unless ``address`` (an IP address) may be called."""
    if allow_private:
        return
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if not ip.is_global or ip.is_multicast:
        raise AddressRefused(f"{address} is not a public address")
