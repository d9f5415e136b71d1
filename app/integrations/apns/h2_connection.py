"""h2's connection object as the APNs client uses it: configured for speed, counting its
open streams without walking them all, and still reading the answers a server owes after
it sent GOAWAY.

Invariant: the only place the project reaches into h2's private methods or overrides its
behaviour; the overrides are pinned to the h2 versions they were checked against
(pyproject.toml) and guarded by tests/test_library_overrides.py.
"""

from __future__ import annotations

from collections.abc import Callable

import h2.config
import h2.connection
import h2.events
from hyperframe.frame import Frame, GoAwayFrame

# Header checks cost a third of h2's time per push and guard nothing here: requests are built
# by http2.py from checked tokens and topics, and of each answer only :status and retry-after
# count.
H2_CONFIG = h2.config.H2Configuration(client_side=True, header_encoding=None,
                                      validate_outbound_headers=False,
                                      normalize_outbound_headers=False,
                                      validate_inbound_headers=False)


SWEEP_SLACK = 64  # closed streams h2 may hold beyond the open ones before they are swept


class DrainingH2Connection(h2.connection.H2Connection):
    """h2's connection, still reading the answers the server owes after its GOAWAY.

    RFC 9113 6.8: after GOAWAY the server still answers streams up to last_stream_id, but
    h2 moves its state machine to CLOSED and would reject those answers as protocol errors
    (the pushes would then be sent twice). This puts the state back after h2 has handled
    the frame; no new stream is ever opened on a connection that got GOAWAY (``accepting``).

    Written against h2 4.4.1 (the same in 4.2.0 and 4.3.0; pinned ``h2>=4.2,<4.5`` in
    pyproject.toml). No public API does it: ``H2Configuration`` has no option to keep
    reading after GOAWAY, and h2 dispatches each GOAWAY frame to the private
    ``_receive_goaway_frame`` (through its frame table, bound at construction), which is
    the only place the state changes. tests/test_library_overrides.py fails if h2 renames
    it, changes its signature, stops routing GOAWAY through it, or starts keeping the
    connection readable by itself (then this class should go).
    """

    def __init__(self, config: h2.config.H2Configuration,
                 in_flight: Callable[[], int] | None = None) -> None:
        super().__init__(config=config)
        self._in_flight = in_flight

    @property
    def open_outbound_streams(self) -> int:
        """The streams in flight, as the client counts them (``in_flight``).

        h2 asks this before opening every stream, and counts by walking its whole stream
        table (forgetting the closed streams as it goes): with a thousand pushes in flight
        that walk cost as much as the rest of a push. The client keeps its own count of
        the streams it opened and has not seen end, and never opens more than the server
        allows; h2's walk runs only when closed streams have piled up to as many again
        (plus ``SWEEP_SLACK``), so the table stays bounded at a cost of about two steps per
        stream.
        """
        if self._in_flight is None:
            return super().open_outbound_streams
        in_flight = self._in_flight()
        if len(self.streams) > 2 * in_flight + SWEEP_SLACK:
            return super().open_outbound_streams
        return in_flight

    def _receive_goaway_frame(
        self, frame: GoAwayFrame
    ) -> tuple[list[Frame], list[h2.events.Event]]:
        state = self.state_machine.state
        frames, events = super()._receive_goaway_frame(frame)
        self.state_machine.state = state
        return frames, events


def apns_h2_connection(in_flight: Callable[[], int] | None = None) -> DrainingH2Connection:
    """A client-side h2 connection for one APNs connection; ``in_flight`` counts the
    streams the client opened and has not seen end (see ``open_outbound_streams``)."""
    return DrainingH2Connection(H2_CONFIG, in_flight)
