"""Fakes of the integrations for service tests: they record what they were asked and answer
from a table, with no network. Thread-safe, like the real clients."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from app.integrations.apns import Outcome, PushResult

# What APNs would have said for each outcome, so callers that log status and reason see
# realistic values.
_ANSWERS: dict[Outcome, tuple[int | None, str | None]] = {
    "delivered": (200, None),
    "unregistered": (410, "Unregistered"),
    "bad_token": (400, "BadDeviceToken"),
    "retry": (503, "ServiceUnavailable"),
    "certificate": (403, "BadCertificate"),
    "error": (413, "PayloadTooLarge"),
}


class FakePushSender:
    """A PushSender that records every (token, topic) and answers ``outcomes[token]``
    (``delivered`` when the token is not in the table)."""

    def __init__(self, outcomes: Mapping[str, Outcome] | None = None) -> None:
        self._lock = threading.Lock()
        self._outcomes: dict[str, Outcome] = dict(outcomes or {})
        self._sent: list[tuple[str, str]] = []
        self.closed = False

    def answer(self, token: str, outcome: Outcome) -> None:
        """Change the answer for one token from now on."""
        with self._lock:
            self._outcomes[token] = outcome

    def push(self, tokens: Sequence[str], *, topic: str) -> list[PushResult]:
        if isinstance(tokens, str | bytes):
            raise TypeError("push() takes a sequence of push tokens, not one string.")
        results = []
        with self._lock:
            if self.closed:
                raise RuntimeError("This FakePushSender is closed.")
            for token in tokens:
                self._sent.append((token, topic))
                outcome = self._outcomes.get(token, "delivered")
                status, reason = _ANSWERS[outcome]
                results.append(PushResult(token, outcome, status, reason))
        return results

    @property
    def sent(self) -> list[tuple[str, str]]:
        """Every (token, topic) asked for, in order, repeats included."""
        with self._lock:
            return list(self._sent)

    def close(self) -> None:
        with self._lock:
            self.closed = True
