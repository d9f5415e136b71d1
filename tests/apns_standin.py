"""A stand-in for Apple's push service: a real HTTP/2 server over TLS on 127.0.0.1.

Built on h2's server side and run on its own asyncio loop in a background thread. It
requires a client certificate (CERT_REQUIRED against the CA file it is given) and ALPN h2,
records every request, and answers by a policy the test changes while it runs: 200 with an
apns-id by default, fixed answers per token, failures for the next N requests or T seconds,
silence, GOAWAY or a dropped TCP connection after N more requests, a list of accepted
topics, a delay before answering, and its SETTINGS_MAX_CONCURRENT_STREAMS. It counts the
connections opened and the most streams ever open at once on one connection.

``write_test_certificates`` makes what both sides need: the development pass chain (the
client) and a server certificate for 127.0.0.1/localhost from a test CA.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Literal, cast

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hyperframe.frame import GoAwayFrame

from passes.apple import make_development_chain
from tests.tls_loopback import LoopbackTlsServer


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str | None = None
    retry_after: int | None = None  # seconds, sent as a retry-after header


OK = Answer(200)
UNREGISTERED = Answer(410, "Unregistered")
BAD_DEVICE_TOKEN = Answer(400, "BadDeviceToken")
TOO_MANY_REQUESTS = Answer(429, "TooManyRequests")
SERVICE_UNAVAILABLE = Answer(503, "ServiceUnavailable")
BAD_CERTIFICATE = Answer(403, "BadCertificate")


@dataclass(frozen=True)
class RecordedRequest:
    connection: int  # 1 for the first connection the stand-in accepted
    stream_id: int
    method: str
    authority: str
    path: str
    token: str
    headers: dict[str, str]  # regular headers (apns-topic, content-length, ...)
    body: bytes
    client_subject: str  # RFC 4514 subject of the client certificate


@dataclass(frozen=True)
class Certificates:
    server_certificate: Path
    server_key: Path
    server_ca: Path  # for the client's ca_file
    client_certificate: Path  # the development Pass Type ID certificate
    client_key: Path
    client_ca: Path  # development root and WWDR: what the stand-in trusts
    topic: str  # the pass type identifier in the client certificate


Control = Literal["answer", "silent", "drop", "goaway"]


class ApnsStandIn(LoopbackTlsServer):
    thread_name = "apns stand-in"

    def __init__(self, *, certificate_file: Path, key_file: Path, client_ca_file: Path,
                 max_concurrent_streams: int = 1000, stream_window: int | None = None) -> None:
        super().__init__(certificate_file=certificate_file, key_file=key_file,
                         client_ca_file=client_ca_file)
        self.max_concurrent_streams = max_concurrent_streams  # for connections opened later
        # SETTINGS_INITIAL_WINDOW_SIZE; 0 makes every request body wait for the WINDOW_UPDATE
        # the stand-in sends when the request's headers arrive.
        self.stream_window = stream_window
        self.answer_delay = 0.0  # seconds before each answer
        self._lock = threading.Lock()
        self._answers: dict[str, Answer | None] = {}
        self._failures_left = 0
        self._failing_until = 0.0
        self._failure = SERVICE_UNAVAILABLE
        self._goaway_in: int | None = None
        self._goaway_reason: str | None = None
        self._drop_in: int | None = None
        self._topics: frozenset[str] | None = None
        self._requests: list[RecordedRequest] = []
        self.connections_opened = 0
        self.max_streams_seen = 0
        self.protocol_errors: list[str] = []

    # -- running

    def connection(self) -> _ServerConnection:
        return _ServerConnection(self)

    # -- policy

    def answer(self, token: str, answer: Answer) -> None:
        with self._lock:
            self._answers[token] = answer

    def stay_silent(self, token: str) -> None:
        """Never answer this token's stream."""
        with self._lock:
            self._answers[token] = None

    def fail_next(self, count: int, answer: Answer = SERVICE_UNAVAILABLE) -> None:
        with self._lock:
            self._failures_left, self._failure = count, answer

    def fail_for(self, seconds: float, answer: Answer = SERVICE_UNAVAILABLE) -> None:
        with self._lock:
            self._failing_until, self._failure = time.monotonic() + seconds, answer

    def go_away_after(self, requests: int, reason: str | None = None) -> None:
        """The request that makes ``requests`` more is the last: send GOAWAY naming it,
        answer it and everything before it, ignore later streams, then close."""
        with self._lock:
            self._goaway_in, self._goaway_reason = requests, reason

    def drop_after(self, requests: int) -> None:
        """Abort the TCP connection when the ``requests``-th request from now arrives."""
        with self._lock:
            self._drop_in = requests

    def accept_topics(self, *topics: str) -> None:
        """Answer 400 BadTopic to any other topic (no arguments: accept every topic)."""
        with self._lock:
            self._topics = frozenset(topics) or None

    # -- observations

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    # -- used by the connections (on the stand-in's loop)

    def _opened(self) -> int:
        with self._lock:
            self.connections_opened += 1
            return self.connections_opened

    def _saw_streams(self, count: int) -> None:
        self.max_streams_seen = max(self.max_streams_seen, count)

    def _decide(self, request: RecordedRequest) -> tuple[Control, Answer]:
        with self._lock:
            self._requests.append(request)
            if self._drop_in is not None:
                self._drop_in -= 1
                if self._drop_in <= 0:
                    self._drop_in = None
                    return "drop", OK
            control: Control = "answer"
            if self._goaway_in is not None:
                self._goaway_in -= 1
                if self._goaway_in <= 0:
                    self._goaway_in, control = None, "goaway"
            answer = self._answer_for(request)
            if answer is None:
                return "silent", OK
            return control, answer

    def _answer_for(self, request: RecordedRequest) -> Answer | None:
        topic = request.headers.get("apns-topic")
        if request.method != "POST":
            return Answer(405, "MethodNotAllowed")
        if not request.path.startswith("/3/device/") or not request.token:
            return Answer(404, "BadPath")
        if not topic:
            return Answer(400, "MissingTopic")
        if self._topics is not None and topic not in self._topics:
            return Answer(400, "BadTopic")
        if not request.body:
            return Answer(400, "PayloadEmpty")
        if request.token in self._answers:
            return self._answers[request.token]
        if self._failures_left > 0:
            self._failures_left -= 1
            return self._failure
        if time.monotonic() < self._failing_until:
            return self._failure
        return OK


class _ServerConnection(asyncio.Protocol):
    def __init__(self, standin: ApnsStandIn) -> None:
        self._standin = standin
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._number = 0
        self._subject = ""
        self._h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None))
        settings = {h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: standin.max_concurrent_streams}
        if standin.stream_window is not None:
            settings[h2.settings.SettingCodes.INITIAL_WINDOW_SIZE] = standin.stream_window
        self._h2.local_settings = h2.settings.Settings(client=False, initial_values=settings)
        self._open: dict[int, tuple[list[tuple[bytes, bytes]], bytearray]] = {}
        self._scheduled: dict[int, Answer] = {}  # answers waiting out answer_delay
        self._last_stream: int | None = None  # set once GOAWAY went out

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        tls = self._transport.get_extra_info("ssl_object")
        if tls is None or tls.selected_alpn_protocol() != "h2":
            self._transport.abort()
            return
        certificate = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
        self._subject = certificate.subject.rfc4514_string()
        self._number = self._standin._opened()
        self._standin.live.add(self)
        self._h2.initiate_connection()
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self._standin.live.discard(self)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        try:
            events = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError as error:
            self._standin.protocol_errors.append(str(error))
            self.abort()
            return
        complete: list[int] = []
        for event in events:
            if isinstance(event, h2.events.RequestReceived) and event.stream_id:
                self._open[event.stream_id] = (list(event.headers or []), bytearray())
                self._standin._saw_streams(len(self._open))
                if self._standin.stream_window == 0:
                    self._h2.increment_flow_control_window(64, stream_id=event.stream_id)
            elif isinstance(event, h2.events.DataReceived) and event.stream_id:
                self._open[event.stream_id][1].extend(event.data or b"")
                self._h2.acknowledge_received_data(event.flow_controlled_length or 0,
                                                   event.stream_id)
            elif isinstance(event, h2.events.StreamEnded) and event.stream_id:
                complete.append(event.stream_id)
            elif isinstance(event, h2.events.StreamReset) and event.stream_id:
                self._open.pop(event.stream_id, None)
        # Answer after reading the whole burst, so every stream the client had open at once
        # counts towards max_streams_seen.
        for stream_id in complete:
            self._request_complete(stream_id)
        self._flush()

    def _request_complete(self, stream_id: int) -> None:
        if self._last_stream is not None or self._transport is None \
                or self._transport.is_closing():
            return  # after GOAWAY or a drop: ignored, as a real server would
        headers, body = self._open[stream_id]
        fields = {name.decode(): value.decode() for name, value in headers}
        path = fields.get(":path", "")
        request = RecordedRequest(
            connection=self._number, stream_id=stream_id, method=fields.get(":method", ""),
            authority=fields.get(":authority", ""), path=path,
            token=path.removeprefix("/3/device/"), body=bytes(body),
            headers={name: value for name, value in fields.items() if not name.startswith(":")},
            client_subject=self._subject)
        control, answer = self._standin._decide(request)
        if control == "drop":
            self.abort()
        elif control == "goaway":
            self._go_away(stream_id, answer)
        elif control == "answer":
            delay = self._standin.answer_delay
            if delay > 0:
                self._scheduled[stream_id] = answer
                self._loop.call_later(delay, self._answer_later, stream_id)
            else:
                self._respond(stream_id, answer)

    def _go_away(self, last_stream: int, answer: Answer) -> None:
        # Written by hand: h2 closes its own state on GOAWAY and would refuse the answers
        # that a server still owes for streams up to last_stream_id.
        self._flush()
        reason = self._standin._goaway_reason
        frame = GoAwayFrame(0, last_stream_id=last_stream, error_code=0,
                            additional_data=json.dumps({"reason": reason}).encode()
                            if reason else b"")
        assert self._transport is not None
        self._transport.write(frame.serialize())
        self._last_stream = last_stream
        self._scheduled[last_stream] = answer
        for stream_id in sorted(self._scheduled):
            if stream_id <= last_stream:
                self._respond(stream_id, self._scheduled[stream_id])
        self._scheduled.clear()
        self._flush()
        self._transport.close()

    def _answer_later(self, stream_id: int) -> None:
        answer = self._scheduled.pop(stream_id, None)
        if answer is not None:
            self._respond(stream_id, answer)
            self._flush()

    def _respond(self, stream_id: int, answer: Answer) -> None:
        if self._open.pop(stream_id, None) is None:
            return
        headers = [(":status", str(answer.status)), ("apns-id", str(uuid.uuid4()).upper())]
        if answer.retry_after is not None:
            headers.append(("retry-after", str(answer.retry_after)))
        if answer.reason is None:
            self._h2.send_headers(stream_id, headers, end_stream=True)
            return
        document: dict[str, object] = {"reason": answer.reason}
        if answer.status == 410:
            document["timestamp"] = int(time.time() * 1000)
        body = json.dumps(document).encode()
        self._h2.send_headers(stream_id, [*headers, ("content-type", "application/json"),
                                          ("content-length", str(len(body)))])
        self._h2.send_data(stream_id, body, end_stream=True)  # far below any window

    def _flush(self) -> None:
        data = self._h2.data_to_send()
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)


def write_test_certificates(directory: Path) -> Certificates:
    """The development pass chain for the client and a loopback server certificate."""
    chain = make_development_chain()
    files = {
        "client.pem": chain.certificate_pem,
        "client.key": chain.private_key_pem,
        "client-ca.pem": chain.root_pem + chain.wwdr_pem,
    }
    now = datetime.now(UTC) - timedelta(hours=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Stand-in APNs test CA")])
    ca = (_builder(ca_name, ca_name, ca_key.public_key(), now)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(_usage(signs_certificates=True), critical=True)
          .sign(ca_key, hashes.SHA256()))
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    names = [x509.IPAddress(IPv4Address("127.0.0.1")), x509.DNSName("localhost")]
    server = (_builder(server_name, ca_name, server_key.public_key(), now)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(_usage(signs_certificates=False), critical=True)
              .add_extension(x509.SubjectAlternativeName(names), critical=False)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                             critical=False)
              .sign(ca_key, hashes.SHA256()))
    files["server.pem"] = server.public_bytes(serialization.Encoding.PEM)
    files["server.key"] = server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    files["server-ca.pem"] = ca.public_bytes(serialization.Encoding.PEM)
    for name, content in files.items():
        (directory / name).write_bytes(content)
    subject = x509.load_pem_x509_certificate(chain.certificate_pem).subject
    topic = str(subject.get_attributes_for_oid(NameOID.USER_ID)[0].value)
    return Certificates(
        server_certificate=directory / "server.pem", server_key=directory / "server.key",
        server_ca=directory / "server-ca.pem", client_certificate=directory / "client.pem",
        client_key=directory / "client.key", client_ca=directory / "client-ca.pem",
        topic=topic)


def _builder(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePublicKey,
             start: datetime) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(key).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + timedelta(days=2)))


def _usage(*, signs_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=signs_certificates,
        crl_sign=signs_certificates, encipher_only=False, decipher_only=False)
