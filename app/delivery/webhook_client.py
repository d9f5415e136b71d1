"""The HTTP client of the webhook channel: one POST to a merchant's URL, connecting to an
address it checked.

Each POST resolves the URL's host, refuses it unless every address the name resolves to
may be called (``app.webhooks.addresses``), and connects to the first of those checked
addresses itself: the TLS handshake and the ``Host`` header still name the host, so
certificates are verified as usual, but no second resolution can send it elsewhere (DNS
rebinding). Redirects are not followed: a 3xx answer is a failed attempt like any other
non-2xx. The answer's body is read up to ``MAX_ANSWER`` and dropped.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from app.webhooks.addresses import AddressRefused, Target, check_address, target_of

TIMEOUT = 10.0  # seconds, to connect and for each read
MAX_ANSWER = 64 * 1024

Resolver = Callable[..., list[Any]]  # ``socket.getaddrinfo``'s shape


@dataclass(frozen=True)
class Reply:
    """What became of a POST: the receiver's HTTP status (None when none came) and,
    unless it was 2xx, why the attempt failed."""

    status: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookSender(Protocol):
    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Reply: ...

    def close(self) -> None: ...


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: Target, address: str, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: Target, address: str, timeout: float,
                 context: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


class PinnedSender:
    """POSTs to webhook URLs over connections to checked addresses (see above)."""

    def __init__(self, *, allow_private: bool, timeout: float = TIMEOUT,
                 resolve: Resolver = socket.getaddrinfo,
                 context: ssl.SSLContext | None = None) -> None:
        self.allow_private = allow_private
        self.timeout = timeout
        self.resolve = resolve
        self.context = context or ssl.create_default_context()

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        try:
            target = target_of(url, allow_private=self.allow_private)
            address = self.checked_address(target)
        except AddressRefused as refused:
            return Reply(None, f"not sent: {refused}")
        connection = (_PinnedHTTPS(target, address, self.timeout, self.context)
                      if target.scheme == "https" else _PinnedHTTP(target, address, self.timeout))
        try:
            connection.request("POST", target.path, body=body, headers=dict(headers))
            response = connection.getresponse()
            response.read(MAX_ANSWER)
        except (OSError, http.client.HTTPException) as error:
            return Reply(None, f"{type(error).__name__}: {error}"[:500])
        finally:
            connection.close()
        if 200 <= response.status < 300:
            return Reply(response.status, None)
        moved = " (redirects are not followed)" if 300 <= response.status < 400 else ""
        return Reply(response.status, f"HTTP {response.status}{moved}")

    def checked_address(self, target: Target) -> str:
        """The address to connect to: the first the host resolves to, once every one of
        them passed ``check_address``."""
        try:
            found = self.resolve(target.host, target.port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as error:
            raise AddressRefused(f"{target.host} does not resolve: {error}") from None
        addresses = [info[4][0] for info in found]
        if not addresses:
            raise AddressRefused(f"{target.host} does not resolve")
        for address in addresses:
            check_address(address, allow_private=self.allow_private)
        return str(addresses[0])

    def close(self) -> None:
        pass
