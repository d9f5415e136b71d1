"""Driving the push path in tests: registering devices as Wallet does, a recording sender."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient

from app.integrations.apns import NOT_SENT_ANY_MORE, PushResult, SendWhile
from tests.wallet_helpers import pass_json


class RecordingSender:
    """A PushSender that records what it was asked and answers from a script."""

    def __init__(self, outcomes: dict[str, str] | None = None, delay: float = 0.0) -> None:
        self.outcomes = outcomes or {}
        self.delay = delay
        self.pushes: list[tuple[str, str]] = []
        self.in_flight: set[str] = set()
        self.overlaps: list[str] = []
        self.calls_at_once = 0
        self.most_calls_at_once = 0  # push() calls in progress together, at most
        self._lock = threading.Lock()

    def push(self, tokens: Sequence[str], *, topic: str,
             send_while: SendWhile | None = None) -> list[PushResult]:
        going: list[str] = []
        for token in tokens:  # as the real client: each asked right before it leaves
            if send_while is not None and not send_while():
                break
            going.append(token)
        unsent = [PushResult(token, "unsent", None, NOT_SENT_ANY_MORE)
                  for token in tokens[len(going):]]
        tokens = going
        with self._lock:
            self.overlaps += [token for token in tokens if token in self.in_flight]
            self.in_flight.update(tokens)
            self.calls_at_once += 1
            self.most_calls_at_once = max(self.most_calls_at_once, self.calls_at_once)
        time.sleep(self.delay)
        with self._lock:
            self.pushes += [(token, topic) for token in tokens]
            self.in_flight.difference_update(tokens)
            self.calls_at_once -= 1
        results = []
        for token in tokens:
            outcome: Any = self.outcomes.get(token, "delivered")
            status = {"delivered": 200, "unregistered": 410, "bad_token": 400}.get(outcome, 503)
            results.append(PushResult(token=token, outcome=outcome, status=status, reason=None))
        return results + unsent

    def close(self) -> None:
        pass

    def tokens(self) -> list[str]:
        with self._lock:
            return [token for token, _ in self.pushes]


def install(client: FlaskClient, card: dict[str, Any]) -> dict[str, Any]:
    """What a device learns by adding the pass: identifiers and its token."""
    response = client.get(urlsplit(card["apple_pass_url"]).path)
    body = pass_json(response.data)
    return {"type": body["passTypeIdentifier"], "serial": body["serialNumber"],
            "token": body["authenticationToken"]}


def register(client: FlaskClient, installed: dict[str, Any], device: str, push_token: str) -> int:
    response = client.post(
        f"/passkit/v1/devices/{device}/registrations/{installed['type']}/{installed['serial']}",
        json={"pushToken": push_token},
        headers={"Authorization": f"ApplePass {installed['token']}"})
    status: int = response.status_code
    return status


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)
    return time.monotonic() - started
