"""What Apple's push service answers mean for the registration behind a token.

``PushResult`` is one token's answer and ``classify`` reads an HTTP status and APNs
``reason`` into an ``Outcome``: 200 delivered; 410 Unregistered and 400 BadDeviceToken
(or DeviceTokenNotForTopic) mean the registration is dead and is removed; 403 and the
certificate or topic reasons need an operator; 429 and 5xx are tried again later.
``PushSender`` is the interface the dispatcher pushes through (``ApnsClient``, or the fake).

Invariant: nothing here does I/O; these are plain values and pure functions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

# "unsent": never sent, because the sender's ``send_while`` stopped it (below).
Outcome = Literal["delivered", "unregistered", "bad_token", "retry", "certificate", "error",
                  "unsent"]


@dataclass(frozen=True)
class PushResult:
    token: str
    outcome: Outcome
    status: int | None  # HTTP status; None when the stream never got an answer
    reason: str | None  # APNs "reason" from the JSON body, or a connection error text
    retry_after: float | None = None


# Asked right before each push leaves, on whatever thread sends it (it must not block):
# once it answers False, that push and the rest of the batch are not sent.
SendWhile = Callable[[], bool]
NOT_SENT_ANY_MORE = "not sent: the sender could no longer be sure its leases were its own"


class PushSender(Protocol):
    def push(self, tokens: Sequence[str], *, topic: str,
             send_while: SendWhile | None = None) -> list[PushResult]:
        """Blocking and thread-safe; one result per token, in order. Raises only for
        programming errors (wrong argument types, a closed sender). With ``send_while``,
        a token is sent only if it still answers True right before its push leaves; the
        tokens it stopped come back ``unsent``, with the reason ``NOT_SENT_ANY_MORE``."""
        ...

    def close(self) -> None: ...


DEAD_TOKEN_REASONS = frozenset({"BadDeviceToken", "DeviceTokenNotForTopic"})
# A topic the certificate may not push to is the same operator problem as a bad certificate.
CREDENTIAL_REASONS = frozenset({"BadCertificate", "BadCertificateEnvironment", "Forbidden",
                                "BadTopic", "TopicDisallowed"})


# Every reason Apple documents for an answer ("Handling notification responses from
# APNs"): what ``reason_label`` lets into a metric's label.
DOCUMENTED_REASONS = frozenset({
    "BadCollapseId", "BadDeviceToken", "BadExpirationDate", "BadMessageId", "BadPriority",
    "BadTopic", "DeviceTokenNotForTopic", "DuplicateHeaders", "IdleTimeout",
    "InvalidPushType", "MissingDeviceToken", "MissingTopic", "PayloadEmpty",
    "TopicDisallowed", "BadCertificate", "BadCertificateEnvironment", "ExpiredProviderToken",
    "Forbidden", "InvalidProviderToken", "MissingProviderToken", "UnrelatedKeyIdInToken",
    "BadEnvironmentKeyInToken", "BadPath", "MethodNotAllowed", "ExpiredToken",
    "Unregistered", "PayloadTooLarge", "TooManyProviderTokenUpdates", "TooManyRequests",
    "InternalServerError", "ServiceUnavailable", "Shutdown",
})


def reason_label(result: PushResult) -> str:
    """Apple's reason as a metric label: ``none`` for an answer without one (200),
    ``no_answer`` when the stream got none (a connection error), ``other`` for a reason
    Apple does not document (never the free text itself)."""
    if result.status is None:
        return "no_answer"
    if result.reason is None:
        return "none"
    return result.reason if result.reason in DOCUMENTED_REASONS else "other"


def classify(status: int, reason: str | None) -> Outcome:
    """What an APNs answer means for the registration behind the token."""
    if status == 200:
        return "delivered"
    if status == 410:
        return "unregistered"
    if status == 400 and reason in DEAD_TOKEN_REASONS:
        return "bad_token"
    if status == 403 or (status == 400 and reason in CREDENTIAL_REASONS):
        return "certificate"
    if status == 429 or status >= 500:
        return "retry"
    return "error"


def reason_in(body: bytes) -> str | None:
    """The ``reason`` of an APNs error body (or of GOAWAY's debug data); a body that is not
    the expected JSON is returned as text, cut short."""
    if not body:
        return None
    try:
        reason = json.loads(body).get("reason")
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", "replace")
    return reason if isinstance(reason, str) else None

