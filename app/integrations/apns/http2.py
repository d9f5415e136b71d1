"""HTTP/2 with APNs on one TLS connection, on the sans-IO ``h2`` library.

``Http2Protocol`` is the asyncio protocol of one connection: it sends the server our
SETTINGS, waits for the server's (``ready``: its SETTINGS_MAX_CONCURRENT_STREAMS, never
assumed), opens one stream per token of the batches handed to it (``submit``), holds a
body back while the flow-control window is shut, reads each answer's ``:status``,
``retry-after`` and JSON ``reason`` into a ``PushResult``, and times out streams that get
no answer.

A connection that got GOAWAY, was dropped or stopped answering is retired (``accepting``
turns False and ``on_retired`` is called): streams the server will still answer are read
to their end, everything else is settled as ``retry``, and it closes. It never opens a
stream after that.

Invariants: lives on one event loop thread; never more open streams than the server
allows; every stream and every waiting token is settled exactly once, whatever happens to
the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import cast

import h2.events
import h2.exceptions
from h2.settings import SettingCodes
from hpack import NeverIndexedHeaderTuple

from app.integrations.apns.answers import (
    CREDENTIAL_REASONS,
    Outcome,
    PushResult,
    classify,
    reason_in,
)
from app.integrations.apns.batch import Batch
from app.integrations.apns.h2_connection import apns_h2_connection

log = logging.getLogger(__package__)

# Apple's Wallet guide ("Updating a pass") asks for exactly two things: the pass type
# identifier as the topic, which the pass certificate authorises, and an empty JSON
# dictionary as the payload (Wallet ignores any keys). No apns-push-type: its values describe
# app notifications ("background" wants the app's bundle ID as topic, content-available in
# the payload and priority 5), none of which fits a pass. Priority and expiration keep APNs
# defaults.
_PAYLOAD = b"{}"
_PAYLOAD_LENGTH = str(len(_PAYLOAD)).encode()
_DEFAULT_STREAM_LIMIT = 100  # until the server's SETTINGS say otherwise


class _Stream:
    __slots__ = ("batch", "body", "index", "retry_after", "sent_at", "status")

    def __init__(self, batch: Batch, index: int, sent_at: float) -> None:
        self.batch = batch
        self.index = index
        self.sent_at = sent_at
        self.status: int | None = None
        self.retry_after: float | None = None
        self.body = b""


class Http2Protocol(asyncio.Protocol):
    """One HTTP/2 connection to APNs; lives on the client's loop thread only."""

    def __init__(self, *, authority: bytes, timeout: float,
                 on_retired: Callable[[Http2Protocol], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._authority = authority
        self._timeout = timeout
        self._on_retired = on_retired
        self._transport: asyncio.Transport | None = None
        self._streams: dict[int, _Stream] = {}  # in the order they were opened
        self._h2 = apns_h2_connection(in_flight=self._streams.__len__)
        self._waiting: deque[Batch] = deque()
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

    def submit(self, batch: Batch) -> None:
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
        reason = reason_in(stream.body)
        if stream.status is None:
            result = PushResult(token, "retry", None, "stream ended without an answer")
        else:
            result = PushResult(token, classify(stream.status, reason), stream.status, reason,
                                stream.retry_after)
        stream.batch.settle(stream.index, result)
        if not self.accepting and not self._streams:
            self._close()

    def _go_away(self, event: h2.events.ConnectionTerminated) -> None:
        reason = reason_in(event.additional_data or b"") or str(event.error_code)
        outcome: Outcome = "certificate" if reason in CREDENTIAL_REASONS else "retry"
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
            index = batch.next_unsent() if batch.may_send() else None
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

