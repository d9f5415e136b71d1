"""A stand-in for Google's root signing key URL: an HTTPS server on 127.0.0.1 serving a
root key document made from the test's own P-256 keys.

Tests rotate the keys (``serve``), take the server down (``fail``) and count fetches, to
check how the service caches and re-fetches Google's keys.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from passes.google.callbacks import root_keys_document
from tests.google_standin import write_server_certificate

KEYS_PATH = "/gp/m/issuer/keys"


class RootKeysStandIn:
    def __init__(self, directory: Path) -> None:
        self.ca_file = directory / "keys-standin-ca.pem"
        self._directory = directory
        self._lock = threading.Lock()
        self._document: dict[str, Any] = {"keys": []}
        self._failing = False
        self.fetches = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"https://127.0.0.1:{self._server.server_address[1]}{KEYS_PATH}"

    def serve(self, keys: Iterable[ec.EllipticCurvePrivateKey], expires_ms: int) -> None:
        """From now on publish these root keys (their public halves)."""
        with self._lock:
            self._document = root_keys_document([key.public_key() for key in keys], expires_ms)
            self._failing = False

    def fail(self) -> None:
        """Answer 503 from now on, as an outage would."""
        with self._lock:
            self._failing = True

    def answer(self) -> tuple[int, bytes]:
        with self._lock:
            self.fetches += 1
            if self._failing:
                return 503, b'{"error": "unavailable"}'
            return 200, json.dumps(self._document).encode()

    def start(self) -> RootKeysStandIn:
        certificate, key = write_server_certificate(self._directory, self.ca_file)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(certificate, key)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         name="google keys stand-in", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _handler_for(standin: RootKeysStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            status, payload = (standin.answer() if self.path == KEYS_PATH
                               else (404, b"{}"))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
