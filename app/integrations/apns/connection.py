"""The TLS connection to APNs: the pass certificate, the socket, and reconnecting.

``Connector`` holds the SSL context (the pass certificate and key as the client
certificate, the system's trust plus ``LOYALPASS_APNS_CA_FILE``, ALPN h2) and hands the
client the current HTTP/2 connection (``usable``), opening one only when there is none or
the current one was retired (GOAWAY, dropped, silent). A connection that cannot be opened
is an ``Unreachable``: a retry, or a certificate problem when either side refused one.

Invariants: at most one connection takes new batches at a time (a retired one may still
drain its streams), and connections are opened one at a time, never one per push: Apple
treats connect/disconnect churn as abuse. A bad certificate, key or origin fails at
construction, not at the first push. Lives on the client's loop thread, apart from the
constructor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from app.integrations.apns.answers import Outcome
from app.integrations.apns.http2 import Http2Protocol

log = logging.getLogger(__package__)


@dataclass(frozen=True)
class Unreachable:
    """Why no connection could be opened, as the outcome its pushes get."""

    outcome: Outcome
    reason: str


class Connector:
    """The TLS connection to one APNs origin with one certificate, reopened when retired."""

    def __init__(self, *, origin: str, certificate_file: Path, key_file: Path,
                 key_password: bytes | None, ca_file: Path | None, timeout: float) -> None:
        self.origin = origin
        self._host, self._port, self.authority = _parse_origin(origin)
        self._tls = _tls_context(certificate_file, key_file, key_password, ca_file)
        self._timeout = timeout
        self._connection: Http2Protocol | None = None  # the one new batches go to
        self._live: set[Http2Protocol] = set()  # it, and any still draining after GOAWAY
        self._connect_lock = asyncio.Lock()
        self._connections_opened = 0

    async def usable(self) -> Http2Protocol | Unreachable:
        """The connection that takes new batches, opened now if there is none."""
        async with self._connect_lock:
            current = self._connection
            if current is not None and current.accepting:
                return current
            try:
                connection = await asyncio.wait_for(self._connect(), self._timeout)
            except OSError as error:  # includes ssl.SSLError, ConnectionError, TimeoutError
                unreachable = _unreachable(error, self._timeout)
                log.warning("Cannot connect to APNs at %s: %s", self.origin, unreachable.reason)
                return unreachable
            self._connection = connection
            self._live = {live for live in self._live if not live.lost.done()} | {connection}
            self._connections_opened += 1
            log.info("%s APNs at %s (connection %d; the server allows %d concurrent streams)",
                     "Reconnected to" if self._connections_opened > 1 else "Connected to",
                     self.origin, self._connections_opened, connection.stream_limit)
            return connection

    async def shut_down(self, reason: str) -> None:
        """Close every connection, settling what they still hold as ``retry``; waits a
        moment for them to go."""
        for connection in self._live:
            connection.shut_down(reason)
        if self._live:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(c.lost for c in self._live)), 1.0)

    async def _connect(self) -> Http2Protocol:
        loop = asyncio.get_running_loop()
        transport, connection = await loop.create_connection(
            lambda: Http2Protocol(authority=self.authority, timeout=self._timeout,
                                  on_retired=self._retired),
            self._host, self._port, ssl=self._tls, server_hostname=self._host)
        try:
            tls = transport.get_extra_info("ssl_object")
            if tls is None or tls.selected_alpn_protocol() != "h2":
                raise ConnectionError("the server did not agree to HTTP/2 (ALPN h2)")
            await connection.ready  # the server's SETTINGS: its stream limit, before any stream
        except BaseException:
            transport.abort()
            raise
        return connection

    def _retired(self, connection: Http2Protocol) -> None:
        if self._connection is connection:
            self._connection = None


def _parse_origin(origin: str) -> tuple[str, int, bytes]:
    parts = urlsplit(origin)
    if parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.fragment or parts.username:
        raise ValueError(f"The APNs origin must look like https://host[:port], not {origin!r}.")
    return parts.hostname, parts.port or 443, parts.netloc.encode("idna")


def _tls_context(certificate_file: Path, key_file: Path, key_password: bytes | None,
                 ca_file: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certificate_file, key_file, password=key_password)
    except (OSError, ssl.SSLError) as error:
        raise ValueError(f"Cannot use {certificate_file} with {key_file} as the APNs client "
                         f"certificate: {error}") from error
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=ca_file)  # in addition to the system's trust
        except (OSError, ssl.SSLError) as error:
            raise ValueError(f"Cannot load the APNs CA file {ca_file}: {error}") from error
    context.set_alpn_protocols(["h2"])
    return context


def _unreachable(error: OSError, timeout: float) -> Unreachable:
    if isinstance(error, TimeoutError):
        return Unreachable("retry", f"no connection within {timeout:g} s")
    text = str(error) or type(error).__name__
    # Either side refusing a certificate (ours, or the server's against our trust) needs
    # an operator, exactly like a 403: report it as such, loudly.
    if isinstance(error, ssl.SSLError) and "CERTIFICATE" in text.upper():
        return Unreachable("certificate", text)
    return Unreachable("retry", text)
