"""A fast stand-in for Apple's push service, for benchmarks: HTTP/2 over TLS on 127.0.0.1
answering every request 200 at once, at a cost far below any client's.

``tests/apns_standin.py`` decodes, records and judges every request through h2's server
side; at about 2,000 requests a second it is slower than the clients it serves, so a
benchmark against it measures the stand-in. This one works on HTTP/2 frames directly
(RFC 9113): it reads frame headers only, never decodes a header block, and answers each
stream that ends with one HEADERS frame holding ``:status: 200`` (HPACK static index 8,
one byte). It still speaks the protocol a real client expects: the preface, SETTINGS
(with its SETTINGS_MAX_CONCURRENT_STREAMS) and their acknowledgement, PING, WINDOW_UPDATE
for every byte of request bodies, GOAWAY, and TLS with a required client certificate and
ALPN h2, and it counts the requests it answered and when it answered the last.

It runs its own asyncio loop in a background thread; ``FastStandInProcess`` runs it in a
process of its own, so that its work does not share the benchmarked interpreter.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import struct
import time
from pathlib import Path
from typing import Any, cast

from tests.tls_loopback import LoopbackTlsServer

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = (
    0x0, 0x1, 0x3, 0x4, 0x6, 0x7, 0x8, 0x9)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
SETTINGS_MAX_CONCURRENT_STREAMS = 0x3
STATUS_200 = b"\x88"  # HPACK: indexed field, static table entry 8 (":status: 200")
_HEADER = struct.Struct(">I B I")  # 24-bit length in the top of the first word, type, flags


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    return (struct.pack(">I", len(payload))[1:] + bytes((kind, flags))
            + struct.pack(">I", stream_id & 0x7FFFFFFF) + payload)


class FastApnsStandIn(LoopbackTlsServer):
    """Answers 200 to every HTTP/2 request on TLS connections that show a client
    certificate the given CA issued."""

    thread_name = "fast apns stand-in"

    def __init__(self, *, certificate_file: Path, key_file: Path, client_ca_file: Path,
                 max_concurrent_streams: int = 1000) -> None:
        super().__init__(certificate_file=certificate_file, key_file=key_file,
                         client_ca_file=client_ca_file)
        self.max_concurrent_streams = max_concurrent_streams
        self.answered = 0
        self.last_answer_at = 0.0  # time.monotonic() of the latest answer
        self.connections_opened = 0
        self.protocol_errors: list[str] = []

    def connection(self) -> _FastConnection:
        return _FastConnection(self)


class _FastConnection(asyncio.Protocol):
    def __init__(self, standin: FastApnsStandIn) -> None:
        self._standin = standin
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._preface_seen = False
        self._ending: set[int] = set()  # END_STREAM seen on HEADERS still awaiting END_HEADERS

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        tls = self._transport.get_extra_info("ssl_object")
        if tls is None or tls.selected_alpn_protocol() != "h2":
            self._transport.abort()
            return
        self._standin.connections_opened += 1
        self._standin.live.add(self)
        limit = struct.pack(">HI", SETTINGS_MAX_CONCURRENT_STREAMS,
                            self._standin.max_concurrent_streams)
        self._transport.write(frame(SETTINGS, 0, 0, limit))

    def connection_lost(self, exc: Exception | None) -> None:
        self._standin.live.discard(self)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if not self._preface_seen:
            if len(buffer) < len(PREFACE):
                return
            if bytes(buffer[:len(PREFACE)]) != PREFACE:
                self._refuse("no HTTP/2 connection preface")
                return
            del buffer[:len(PREFACE)]
            self._preface_seen = True
        out: list[bytes] = []
        answered = body_bytes = offset = 0
        size = len(buffer)
        unpack = _HEADER.unpack_from
        while size - offset >= 9:
            word, flags, stream_id = unpack(buffer, offset)
            length, kind = word >> 8, word & 0xFF
            if size - offset - 9 < length:
                break
            payload_at = offset + 9
            offset = payload_at + length
            stream_id &= 0x7FFFFFFF
            if kind == DATA:
                body_bytes += length
                if flags & END_STREAM:
                    out.append(_answer(stream_id))
                    answered += 1
            elif kind in (HEADERS, CONTINUATION):
                if kind == HEADERS and flags & END_STREAM:
                    self._ending.add(stream_id)
                if flags & END_HEADERS and stream_id in self._ending:
                    self._ending.discard(stream_id)
                    out.append(_answer(stream_id))
                    answered += 1
            elif kind == SETTINGS and not flags & ACK:
                out.append(frame(SETTINGS, ACK, 0))
            elif kind == PING and not flags & ACK:
                out.append(frame(PING, ACK, 0, bytes(buffer[payload_at:offset])))
            elif kind == GOAWAY:
                self._transport_close()
                return
        del buffer[:offset]
        if body_bytes:  # give the whole connection window back; streams send one body each
            out.append(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", body_bytes)))
        if answered:
            self._standin.answered += answered
            self._standin.last_answer_at = time.monotonic()
        if out and self._transport is not None and not self._transport.is_closing():
            self._transport.write(b"".join(out))

    def _refuse(self, reason: str) -> None:
        self._standin.protocol_errors.append(reason)
        self.abort()

    def _transport_close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _answer(stream_id: int) -> bytes:
    return frame(HEADERS, END_STREAM | END_HEADERS, stream_id, STATUS_200)


def _serve(folder: str, client_ca_file: str, pipe: Any) -> None:
    from tests.apns_standin import write_test_certificates

    server = write_test_certificates(Path(folder))
    standin = FastApnsStandIn(certificate_file=server.server_certificate,
                              key_file=server.server_key,
                              client_ca_file=Path(client_ca_file)).start()
    pipe.send((standin.port, str(server.server_ca)))
    while pipe.recv() == "answered":  # anything else: stop
        pipe.send((standin.answered, standin.last_answer_at))
    standin.stop()


class FastStandInProcess:
    """A ``FastApnsStandIn`` in a process of its own, trusting the client certificates
    ``client_ca_file`` issued, with its server certificate written to ``folder``."""

    def __init__(self, folder: Path, client_ca_file: Path) -> None:
        self._pipe, child = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(str(folder), str(client_ca_file), child), daemon=True)
        self._process.start()
        port, server_ca = self._pipe.recv()
        self.port: int = port
        self.server_ca = Path(server_ca)  # what a client trusts for the server

    def answered(self) -> tuple[int, float]:
        """Requests answered so far, and the ``time.monotonic()`` of the last answer (one
        clock for every process on Linux)."""
        self._pipe.send("answered")
        count, at = self._pipe.recv()
        return int(count), float(at)

    def stop(self) -> None:
        self._pipe.send("stop")
        self._process.join(10)
