"""What the APNs client overrides of h2 still works as it was written against (h2 4.2 to
4.4; pinned in pyproject.toml), and is still needed.

``DrainingH2Connection`` (app/integrations/apns/h2_connection.py) keeps reading the answers a
server owes after its GOAWAY. These tests drive it with a real h2 server connection, bytes
in memory: when h2 renames the method, changes its signature, stops routing GOAWAY through
it, or starts keeping the connection readable by itself, one of them fails and says which.
It also answers h2's ``open_outbound_streams`` from the client's own count: the tests
fail when h2 stops asking it before a new stream (the override would be useless) or stops
forgetting closed streams there (the stream table would grow without end).
(The Flask-Limiter override is guarded in tests/test_rate_limits.py; google-auth's lookup
in tests/test_google_client.py.)
"""

from __future__ import annotations

import inspect

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import pytest
from hyperframe.frame import GoAwayFrame

from app.integrations.apns.h2_connection import H2_CONFIG, SWEEP_SLACK, apns_h2_connection


def _client_with_two_streams_open(
        client: h2.connection.H2Connection) -> tuple[h2.connection.H2Connection, bytes]:
    """The client has sent streams 1 and 3; returns the server and its answer to stream 1,
    not yet delivered to the client."""
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    client.initiate_connection()
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    for stream_id in (1, 3):
        client.send_headers(stream_id, [(b":method", b"POST"), (b":scheme", b"https"),
                                        (b":authority", b"apns.test"),
                                        (b":path", b"/3/device/00")], end_stream=True)
    server.receive_data(client.data_to_send())
    server.send_headers(1, [(b":status", b"200")], end_stream=True)
    return server, server.data_to_send()


def _goaway(last_stream_id: int) -> bytes:
    frame = GoAwayFrame(0, last_stream_id=last_stream_id, error_code=0,
                        additional_data=b'{"reason":"Shutdown"}')
    return bytes(frame.serialize())


def test_h2_still_routes_goaway_through_the_private_method_we_override_with_its_signature(
) -> None:
    method = h2.connection.H2Connection._receive_goaway_frame
    assert list(inspect.signature(method).parameters) == ["self", "frame"]
    connection = apns_h2_connection()
    assert type(connection)._receive_goaway_frame is not method  # ours, over h2's


def test_after_goaway_the_answer_owed_on_an_earlier_stream_is_still_read() -> None:
    client = apns_h2_connection()
    _, answer = _client_with_two_streams_open(client)

    events = client.receive_data(_goaway(last_stream_id=1))
    [ended] = [event for event in events if isinstance(event, h2.events.ConnectionTerminated)]
    assert ended.last_stream_id == 1 and ended.additional_data == b'{"reason":"Shutdown"}'

    events = client.receive_data(answer)
    [response] = [event for event in events if isinstance(event, h2.events.ResponseReceived)]
    assert response.stream_id == 1 and (b":status", b"200") in list(response.headers or [])
    assert any(isinstance(event, h2.events.StreamEnded) and event.stream_id == 1
               for event in events)


def test_plain_h2_still_rejects_that_answer_so_the_override_is_still_needed() -> None:
    """When this fails, h2 reads on after GOAWAY by itself: drop ``DrainingH2Connection``
    and its pin."""
    client = h2.connection.H2Connection(config=H2_CONFIG)
    _, answer = _client_with_two_streams_open(client)
    client.receive_data(_goaway(last_stream_id=1))

    with pytest.raises(h2.exceptions.ProtocolError):
        client.receive_data(answer)


def _answered_streams(client: h2.connection.H2Connection, count: int) -> None:
    """``count`` streams opened by the client, each answered and ended by a server."""
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    client.initiate_connection()
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    for _ in range(count):
        stream_id = client.get_next_available_stream_id()
        client.send_headers(stream_id, [(b":method", b"POST"), (b":scheme", b"https"),
                                        (b":authority", b"apns.test"),
                                        (b":path", b"/3/device/00")], end_stream=True)
        server.receive_data(client.data_to_send())
        server.send_headers(stream_id, [(b":status", b"200")], end_stream=True)
        client.receive_data(server.data_to_send())


def test_h2_asks_the_clients_count_of_streams_in_flight_before_opening_one() -> None:
    client = apns_h2_connection(in_flight=lambda: 2**31 - 1)
    with pytest.raises(h2.exceptions.TooManyStreamsError):
        _answered_streams(client, 1)


def test_the_stream_table_stays_bounded_as_thousands_of_streams_end() -> None:
    client = apns_h2_connection(in_flight=lambda: 0)  # every stream answered
    _answered_streams(client, 3000)
    assert len(client.streams) <= SWEEP_SLACK + 1
