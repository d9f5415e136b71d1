"""Apple Push Notification service for Wallet pass updates: HTTP/2 over TLS, pass certificate.

One ``ApnsClient`` owns one long-lived HTTP/2 connection (to one origin, with one
certificate) and multiplexes every push of every batch onto it, never opening more streams
than the server's SETTINGS_MAX_CONCURRENT_STREAMS. A connection that got GOAWAY, was
dropped or stopped answering is retired: what it left unanswered comes back as ``retry``,
and the next batch opens a new connection (never one per push: Apple treats
connect/disconnect churn as abuse).

The modules, one responsibility each:

- ``answers``: ``PushResult``, the ``PushSender`` interface (with ``send_while``, asked
  before each push leaves, so a sender frozen mid-batch sends nothing it may have lost),
  and what Apple's answers mean
  (``classify``: 410 and BadDeviceToken remove the registration, 429 and 5xx retry);
- ``client``: ``ApnsClient``, its loop thread, and ``push()``/``close()``;
- ``connection``: the TLS connection (the pass certificate, the socket, reconnecting);
- ``http2``: HTTP/2 on that connection (streams, settings, flow control, reading answers);
- ``h2_connection``: h2's connection object, configured, with the one private override;
- ``batch``: the tokens of one ``push()`` and their results.

Import the public names from here: ``from app.integrations.apns import ApnsClient``.
"""

from app.integrations.apns.answers import (
    NOT_SENT_ANY_MORE,
    Outcome,
    PushResult,
    PushSender,
    SendWhile,
    classify,
    reason_label,
)
from app.integrations.apns.client import ApnsClient

__all__ = ["NOT_SENT_ANY_MORE", "ApnsClient", "Outcome", "PushResult", "PushSender",
           "SendWhile", "classify", "reason_label"]
