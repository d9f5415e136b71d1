"""Apple Push Notification service for Wallet pass updates: HTTP/2 over TLS, pass certificate.

One ``ApnsClient`` owns one long-lived HTTP/2 connection (to one origin, with one
certificate) and multiplexes every push of every batch onto it, never opening more streams
than the server's SETTINGS_MAX_CONCURRENT_STREAMS. A private asyncio loop in a daemon thread
drives the connection with the sans-IO ``h2`` library; ``push()`` hands it a batch and
blocks until every token has a result. A connection that got GOAWAY, was dropped or stopped
answering is retired: what it left unanswered comes back as ``retry``, and the next batch
opens a new connection (never one per push: Apple treats connect/disconnect churn as abuse).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import re
import ssl
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, cast
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.events
import h2.exceptions
from h2.settings import SettingCodes
from hpack import NeverIndexedHeaderTuple
from hyperframe.frame import Frame, GoAwayFrame

log = logging.getLogger(__name__)

Outcome = Literal["delivered", "unregistered", "bad_token", "retry", "certificate", "error"]


@dataclass(frozen=True)
class PushResult:
    token: str
    outcome: Outcome
    status: int | None  # HTTP status; None when the stream never got an answer
    reason: str | None  # APNs "reason" from the JSON body, or a connection error text
    retry_after: float | None = None


class PushSender(Protocol):
    def push(self, tokens: Sequence[str], *, topic: str) -> list[PushResult]:
        """Blocking and thread-safe; one result per token, in order. Raises only for
        programming errors (wrong argument types, a closed sender)."""
        ...

    def close(self) -> None: ...


_DEAD_TOKEN_REASONS = frozenset({"BadDeviceToken", "DeviceTokenNotForTopic"})
# A topic the certificate may not push to is the same operator problem as a bad certificate.
_CREDENTIAL_REASONS = frozenset({"BadCertificate", "BadCertificateEnvironment", "Forbidden",
                                 "BadTopic", "TopicDisallowed"})


def classify(status: int, reason: str | None) -> Outcome:
    """What an APNs answer means for the registration behind the token."""
    if status == 200:
        return "delivered"
    if status == 410:
        return "unregistered"
    if status == 400 and reason in _DEAD_TOKEN_REASONS:
        return "bad_token"
    if status == 403 or (status == 400 and reason in _CREDENTIAL_REASONS):
        return "certificate"
    if status == 429 or status >= 500:
        return "retry"
    return "error"


# Apple's Wallet guide ("Updating a pass") asks for exactly two things: the pass type
# identifier as the topic, which the pass certificate authorises, and an empty JSON
# dictionary as the payload (Wallet ignores any keys). No apns-push-type: its values describe
# app notifications ("background" wants the app's bundle ID as topic, content-available in
# the payload and priority 5), none of which fits a pass. Priority and expiration keep APNs
# defaults.
_PAYLOAD = b"{}"
_PAYLOAD_LENGTH = str(len(_PAYLOAD)).encode()
_TOKEN = re.compile(r"[0-9A-Fa-f]{1,200}")  # Apple: hex, length not fixed; keeps the path safe
_TOPIC = re.compile(r"[!-~]{1,255}")
_DEFAULT_STREAM_LIMIT = 100  # until the server's SETTINGS say otherwise
# Header checks cost a third of h2's time per push and guard nothing here: requests are built
# below from checked tokens and topics, and of each answer only :status and retry-after count.
_H2_CONFIG = h2.config.H2Configuration(client_side=True, header_encoding=None,
                                       validate_outbound_headers=False,
                                       normalize_outbound_headers=False,
                                       validate_inbound_headers=False)


class _H2Connection(h2.connection.H2Connection):
    def _receive_goaway_frame(
        self, frame: GoAwayFrame
    ) -> tuple[list[Frame], list[h2.events.Event]]:
        # RFC 9113 6.8: after GOAWAY the server still answers streams up to last_stream_id,
        # but h2 closes its state machine and would reject those answers as protocol errors.
        # Stay open for reading; no new stream is ever opened on a connection that got GOAWAY.
        state = self.state_machine.state
        frames, events = super()._receive_goaway_frame(frame)
        self.state_machine.state = state
        return frames, events


class _Batch:
    """The tokens of one ``push()`` call and their results, filled in as answers arrive."""

    __slots__ = ("cursor", "done", "remaining", "results", "tokens", "topic")

    def __init__(self, tokens: list[str], topic: bytes, done: asyncio.Future[None]) -> None:
        self.tokens = tokens
        self.topic = topic
        self.done = done
        self.results: list[PushResult | None] = [None] * len(tokens)
        self.remaining = len(tokens)
        self.cursor = 0  # tokens before it were sent or settled

    def settle(self, index: int, result: PushResult) -> None:
        if self.results[index] is None:
            self.results[index] = result
            self.remaining -= 1
            if self.remaining == 0 and not self.done.done():
                self.done.set_result(None)

    def reject_malformed(self) -> None:
        for index, token in enumerate(self.tokens):
            if not _TOKEN.fullmatch(token):
                self.settle(index, PushResult(token, "bad_token", None,
                                              "BadDeviceToken (not hexadecimal; not sent)"))

    def next_unsent(self) -> int | None:
        while self.cursor < len(self.tokens):
            self.cursor += 1
            if self.results[self.cursor - 1] is None:
                return self.cursor - 1
        return None

    def settle_unsent(self, outcome: Outcome, reason: str) -> int:
        count = 0
        for index in range(self.cursor, len(self.tokens)):
            if self.results[index] is None:
                self.settle(index, PushResult(self.tokens[index], outcome, None, reason))
                count += 1
        self.cursor = len(self.tokens)
        return count


class _Stream:
    __slots__ = ("batch", "body", "index", "retry_after", "sent_at", "status")

    def __init__(self, batch: _Batch, index: int, sent_at: float) -> None:
        self.batch = batch
        self.index = index
        self.sent_at = sent_at
        self.status: int | None = None
        self.retry_after: float | None = None
        self.body = b""


class _Connection(asyncio.Protocol):
    """One HTTP/2 connection to APNs; lives on the client's loop thread only."""

    def __init__(self, *, authority: bytes, timeout: float,
                 on_retired: Callable[[_Connection], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._authority = authority
        self._timeout = timeout
        self._on_retired = on_retired
        self._h2 = _H2Connection(config=_H2_CONFIG)
        self._transport: asyncio.Transport | None = None
        self._streams: dict[int, _Stream] = {}  # in the order they were opened
        self._waiting: deque[_Batch] = deque()
        self._blocked: list[int] = []  # streams whose body waits for flow-control window
        self.stream_limit = _DEFAULT_STREAM_LIMIT
        self.accepting = True
        self._closed = False
        self._last_progress = self._loop.time()
        self._timer: asyncio.TimerHandle | None = None
        self.ready: asyncio.Future[None] = self._loop.create_future()  # the server's SETTINGS
        # Marks a failure as seen even when connecting was abandoned before awaiting it.
        self.ready.add_done_callback(lambda future: future.cancelled() or future.exception())
        self.lost: asyncio.Future[None] = self._loop.create_future()

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._h2.initiate_connection()
        self._flush()
        self._timer = self._loop.call_later(self._tick_interval(), self._tick)

    def data_received(self, data: bytes) -> None:
        try:
            events = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError as error:
            self._fail(f"HTTP/2 protocol error: {error}")
            return
        for event in events:
            self._handle(event)
        self._fill()
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            reason = f"connection to APNs lost: {exc}"
        elif not self.ready.done():  # TLS 1.3 servers refuse a client certificate this way
            reason = "APNs closed the connection before HTTP/2 started (certificate refused?)"
        else:
            reason = "APNs closed the connection"
        self._fail(reason, exc or ConnectionError(reason))
        if not self.lost.done():
            self.lost.set_result(None)

    # -- used by the client

    def submit(self, batch: _Batch) -> None:
        if not self.accepting:
            batch.settle_unsent("retry", "connection to APNs is closing")
            return
        self._waiting.append(batch)
        self._last_progress = self._loop.time()
        self._fill()
        self._flush()

    def shut_down(self, reason: str) -> None:
        self._retire()
        self._abandon("retry", reason)
        self._close()

    # -- events

    def _handle(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.ResponseReceived):
            self._response(event)
        elif isinstance(event, h2.events.StreamEnded):
            self._finish(event.stream_id)
        elif isinstance(event, h2.events.DataReceived):
            if event.stream_id in self._streams and event.data:
                self._streams[event.stream_id].body += event.data
            if event.flow_controlled_length and event.stream_id:
                self._h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamReset) and event.stream_id is not None:
            self._settle_stream(event.stream_id, "retry",
                                f"stream reset by APNs ({event.error_code!s})")
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            change = event.changed_settings.get(SettingCodes.MAX_CONCURRENT_STREAMS)
            if change is not None:
                self.stream_limit = change.new_value
            if not self.ready.done():
                self.ready.set_result(None)
        elif isinstance(event, h2.events.WindowUpdated):
            self._send_blocked()
        elif isinstance(event, h2.events.ConnectionTerminated):
            self._go_away(event)

    def _response(self, event: h2.events.ResponseReceived) -> None:
        stream = self._streams.get(event.stream_id or 0)
        if stream is None or event.headers is None:
            return
        for name, value in event.headers:
            if name == b":status":
                stream.status = int(value)
            elif name == b"retry-after":
                # An HTTP date stays None: the caller's backoff sets the pace then.
                with contextlib.suppress(ValueError):
                    stream.retry_after = float(value)

    def _finish(self, stream_id: int | None) -> None:
        stream = self._streams.pop(stream_id or 0, None)
        if stream is None:
            return
        token = stream.batch.tokens[stream.index]
        reason = _reason(stream.body)
        if stream.status is None:
            result = PushResult(token, "retry", None, "stream ended without an answer")
        else:
            result = PushResult(token, classify(stream.status, reason), stream.status, reason,
                                stream.retry_after)
        stream.batch.settle(stream.index, result)
        if not self.accepting and not self._streams:
            self._close()

    def _go_away(self, event: h2.events.ConnectionTerminated) -> None:
        reason = _reason(event.additional_data or b"") or str(event.error_code)
        outcome: Outcome = "certificate" if reason in _CREDENTIAL_REASONS else "retry"
        last = event.last_stream_id or 0
        self._retire()
        cut = [stream_id for stream_id in self._streams if stream_id > last]
        for stream_id in cut:
            self._settle_stream(stream_id, outcome, f"GOAWAY from APNs: {reason}")
        unsent = self._abandon_waiting(outcome, f"GOAWAY from APNs: {reason}")
        log.info("APNs sent GOAWAY (%s, last stream %d): %d pushes to retry, %d still to be "
                 "answered; the next batch opens a new connection", reason, last,
                 len(cut) + unsent, len(self._streams))
        if not self._streams:
            self._close()

    # -- sending

    def _fill(self) -> None:
        free = self.stream_limit - len(self._streams)
        if not self.accepting or free <= 0 or not self._waiting:
            return
        now = self._last_progress = self._loop.time()
        connection, authority = self._h2, self._authority
        while free > 0 and self._waiting:
            batch = self._waiting[0]
            index = batch.next_unsent()
            if index is None:
                self._waiting.popleft()
                continue
            try:
                stream_id = connection.get_next_available_stream_id()
            except h2.exceptions.NoAvailableStreamIDError:
                batch.cursor = index
                self._retire()
                self._abandon_waiting("retry", "connection used up its stream identifiers")
                return
            connection.send_headers(stream_id, [
                (b":method", b"POST"), (b":scheme", b"https"), (b":authority", authority),
                # A device token is unique per request and identifies a phone: keeping it out
                # of the HPACK tables saves their churn and keeps it out of shared state.
                NeverIndexedHeaderTuple(b":path", b"/3/device/" + batch.tokens[index].encode()),
                (b"apns-topic", batch.topic), (b"content-length", _PAYLOAD_LENGTH),
            ])
            if connection.local_flow_control_window(stream_id) >= len(_PAYLOAD):
                connection.send_data(stream_id, _PAYLOAD, end_stream=True)
            else:
                self._blocked.append(stream_id)
            self._streams[stream_id] = _Stream(batch, index, now)
            free -= 1

    def _send_blocked(self) -> None:
        still: list[int] = []
        for stream_id in self._blocked:
            if stream_id not in self._streams:
                continue
            if self._h2.local_flow_control_window(stream_id) >= len(_PAYLOAD):
                self._h2.send_data(stream_id, _PAYLOAD, end_stream=True)
            else:
                still.append(stream_id)
        self._blocked = still

    def _flush(self) -> None:
        data = self._h2.data_to_send()
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    # -- endings

    def _tick_interval(self) -> float:
        return min(1.0, self._timeout / 4)

    def _tick(self) -> None:
        self._timer = None
        if self._closed:
            return
        now = self._loop.time()
        oldest = next(iter(self._streams.values()), None)
        if oldest is not None and now - oldest.sent_at > self._timeout:
            self._fail(f"no answer from APNs within {self._timeout:g} s")
            return
        if oldest is None and self._waiting and now - self._last_progress > self._timeout:
            self._fail(f"APNs allowed no stream for {self._timeout:g} s")
            return
        self._timer = self._loop.call_later(self._tick_interval(), self._tick)

    def _settle_stream(self, stream_id: int, outcome: Outcome, reason: str) -> None:
        stream = self._streams.pop(stream_id, None)
        if stream is not None:
            token = stream.batch.tokens[stream.index]
            stream.batch.settle(stream.index, PushResult(token, outcome, stream.status, reason))

    def _retire(self) -> None:
        if self.accepting:
            self.accepting = False
            self._on_retired(self)

    def _abandon(self, outcome: Outcome, reason: str) -> None:
        for stream_id in list(self._streams):
            self._settle_stream(stream_id, outcome, reason)
        self._abandon_waiting(outcome, reason)

    def _abandon_waiting(self, outcome: Outcome, reason: str) -> int:
        count = sum(batch.settle_unsent(outcome, reason) for batch in self._waiting)
        self._waiting.clear()
        return count

    def _fail(self, reason: str, error: BaseException | None = None) -> None:
        self._retire()
        self._abandon("retry", reason)
        if not self.ready.done():
            self.ready.set_exception(error or ConnectionError(reason))
        if not self._closed:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
            if self._transport is not None:
                self._transport.abort()

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        self._h2.close_connection()
        self._flush()
        if self._transport is not None:
            self._transport.close()


def _reason(body: bytes) -> str | None:
    if not body:
        return None
    try:
        reason = json.loads(body).get("reason")
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", "replace")
    return reason if isinstance(reason, str) else None


@dataclass(frozen=True)
class _Unreachable:
    outcome: Outcome
    reason: str


class ApnsClient:
    """PushSender over one long-lived HTTP/2 connection per client (one certificate)."""

    def __init__(self, *, origin: str, certificate_file: Path, key_file: Path,
                 key_password: bytes | None = None, ca_file: Path | None = None,
                 timeout: float = 10.0) -> None:
        if timeout <= 0:
            raise ValueError("The APNs timeout must be a positive number of seconds.")
        self._origin = origin
        self._host, self._port, self._authority = _parse_origin(origin)
        self._tls = _tls_context(certificate_file, key_file, key_password, ca_file)
        self._timeout = timeout
        self._connection: _Connection | None = None  # the one new batches go to
        self._live: set[_Connection] = set()  # it, and any still draining after GOAWAY
        self._connect_lock = asyncio.Lock()
        self._connections_opened = 0
        self._closed = False
        self._state_lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"apns {self._authority.decode()}")
        self._thread.start()

    def __enter__(self) -> ApnsClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def push(self, tokens: Sequence[str], *, topic: str) -> list[PushResult]:
        token_list = _checked_tokens(tokens)
        if not isinstance(topic, str) or not _TOPIC.fullmatch(topic):
            raise ValueError(f"Not an APNs topic (a pass type identifier): {topic!r}")
        if threading.current_thread() is self._thread:
            raise RuntimeError("ApnsClient.push() blocks; it cannot run on the client's loop.")
        if not token_list:
            return []
        with self._state_lock:
            if self._closed:
                raise RuntimeError("This ApnsClient is closed.")
            future = asyncio.run_coroutine_threadsafe(
                self._push(token_list, topic.encode("ascii")), self._loop)
        try:
            return future.result()
        except concurrent.futures.CancelledError:  # close() while this batch was in flight
            return [PushResult(token, "retry", None, "APNs client closed") for token in token_list]

    def close(self) -> None:
        if threading.current_thread() is self._thread:
            raise RuntimeError("ApnsClient.close() blocks; it cannot run on the client's loop.")
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
        shutdown = asyncio.run_coroutine_threadsafe(self._shut_down(), self._loop)
        try:
            shutdown.result(timeout=self._timeout)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            log.warning("APNs client did not shut down cleanly within %g s", self._timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=self._timeout)
        if not self._thread.is_alive():
            self._loop.close()

    # -- on the loop thread

    async def _push(self, tokens: list[str], topic: bytes) -> list[PushResult]:
        batch = _Batch(tokens, topic, asyncio.get_running_loop().create_future())
        batch.reject_malformed()
        if batch.remaining:
            connection = await self._usable_connection()
            if isinstance(connection, _Connection):
                connection.submit(batch)
            else:
                batch.settle_unsent(connection.outcome, connection.reason)
            await batch.done
        results = [result for result in batch.results if result is not None]
        assert len(results) == len(tokens)
        _report_credential_problems(topic.decode(), results)
        return results

    async def _usable_connection(self) -> _Connection | _Unreachable:
        async with self._connect_lock:
            current = self._connection
            if current is not None and current.accepting:
                return current
            try:
                connection = await asyncio.wait_for(self._connect(), self._timeout)
            except OSError as error:  # includes ssl.SSLError, ConnectionError, TimeoutError
                unreachable = _unreachable(error, self._timeout)
                log.warning("Cannot connect to APNs at %s: %s", self._origin, unreachable.reason)
                return unreachable
            self._connection = connection
            self._live = {live for live in self._live if not live.lost.done()} | {connection}
            self._connections_opened += 1
            log.info("%s APNs at %s (connection %d; the server allows %d concurrent streams)",
                     "Reconnected to" if self._connections_opened > 1 else "Connected to",
                     self._origin, self._connections_opened, connection.stream_limit)
            return connection

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        transport, connection = await loop.create_connection(
            lambda: _Connection(authority=self._authority, timeout=self._timeout,
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

    def _retired(self, connection: _Connection) -> None:
        if self._connection is connection:
            self._connection = None

    async def _shut_down(self) -> None:
        for connection in self._live:
            connection.shut_down("APNs client closed")
        if self._live:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(c.lost for c in self._live)), 1.0)
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)


def _checked_tokens(tokens: Sequence[str]) -> list[str]:
    if isinstance(tokens, str | bytes):
        raise TypeError("push() takes a sequence of push tokens, not one string.")
    token_list = list(tokens)
    if not all(isinstance(token, str) for token in token_list):
        raise TypeError("Push tokens must be strings.")
    return token_list


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


def _unreachable(error: OSError, timeout: float) -> _Unreachable:
    if isinstance(error, TimeoutError):
        return _Unreachable("retry", f"no connection within {timeout:g} s")
    text = str(error) or type(error).__name__
    # Either side refusing a certificate (ours, or the server's against our trust) needs
    # an operator, exactly like a 403: report it as such, loudly.
    if isinstance(error, ssl.SSLError) and "CERTIFICATE" in text.upper():
        return _Unreachable("certificate", text)
    return _Unreachable("retry", text)


def _report_credential_problems(topic: str, results: list[PushResult]) -> None:
    refused = [result for result in results if result.outcome == "certificate"]
    if refused:
        reasons = ", ".join(sorted({result.reason or "?" for result in refused}))
        log.error("APNs PUSHES BLOCKED by a certificate or topic problem (topic %s: %s) for "
                  "%d of %d pushes: check pass.pem/pass.key, the pass type identifier and "
                  "LOYALPASS_APNS_CA_FILE; the pushes will be retried", topic, reasons,
                  len(refused), len(results))
