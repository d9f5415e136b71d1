"""A TLS server on 127.0.0.1 that wants a client certificate and offers ALPN h2, running
its own asyncio loop in a background thread: what the APNs stand-ins share
(``tests/apns_standin.py``, ``tests/apns_fast_standin.py``). A subclass says which
protocol serves each connection (``connection``); the connections add themselves to
``live`` so that ``stop`` can end them."""

from __future__ import annotations

import asyncio
import ssl
import threading
from pathlib import Path
from typing import Protocol, Self


class Connection(Protocol):
    def abort(self) -> None: ...


class LoopbackTlsServer:
    thread_name = "loopback tls server"

    def __init__(self, *, certificate_file: Path, key_file: Path,
                 client_ca_file: Path) -> None:
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(certificate_file, key_file)
        self._tls.verify_mode = ssl.CERT_REQUIRED
        self._tls.load_verify_locations(cafile=client_ca_file)
        self._tls.set_alpn_protocols(["h2"])
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self.live: set[Connection] = set()
        self.port = 0

    def connection(self) -> asyncio.Protocol:
        raise NotImplementedError

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> Self:
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.set_exception_handler(lambda loop, context: None)  # refused handshakes
            self._server = self._loop.run_until_complete(self._loop.create_server(
                self.connection, "127.0.0.1", 0, ssl=self._tls))
            self.port = self._server.sockets[0].getsockname()[1]
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name=self.thread_name, daemon=True)
        self._thread.start()
        started.wait(10)
        return self

    def stop(self) -> None:
        if self._thread is None:
            return

        def shut() -> None:
            if self._server is not None:
                self._server.close()
            for connection in list(self.live):
                connection.abort()
            self._loop.call_later(0.05, self._loop.stop)

        self._loop.call_soon_threadsafe(shut)
        self._thread.join(10)
        self._loop.close()
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
