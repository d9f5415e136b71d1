"""Fakes of the integrations for service tests: they record what they were asked and answer
from a table, with no network. Thread-safe, like the real clients."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.integrations.apns import NOT_SENT_ANY_MORE, Outcome, PushResult, SendWhile
from app.integrations.google import GoogleResult, for_review
from app.integrations.google import Outcome as GoogleOutcome

# What APNs would have said for each outcome, so callers that log status and reason see
# realistic values.
_ANSWERS: dict[Outcome, tuple[int | None, str | None]] = {
    "delivered": (200, None),
    "unregistered": (410, "Unregistered"),
    "bad_token": (400, "BadDeviceToken"),
    "retry": (503, "ServiceUnavailable"),
    "certificate": (403, "BadCertificate"),
    "error": (413, "PayloadTooLarge"),
    "unsent": (None, None),
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

    def push(self, tokens: Sequence[str], *, topic: str,
             send_while: SendWhile | None = None) -> list[PushResult]:
        if isinstance(tokens, str | bytes):
            raise TypeError("push() takes a sequence of push tokens, not one string.")
        results = []
        stopped = False
        with self._lock:
            if self.closed:
                raise RuntimeError("This FakePushSender is closed.")
            for token in tokens:
                stopped = stopped or (send_while is not None and not send_while())
                if stopped:  # as the real client: the rest stay unsent
                    results.append(PushResult(token, "unsent", None, NOT_SENT_ANY_MORE))
                    continue
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


# What Google would have said for each scripted outcome.
_GOOGLE_ANSWERS: dict[GoogleOutcome, tuple[int, str | None]] = {
    "ok": (200, None),
    "retry": (503, "The service is currently unavailable."),
    "quota": (403, "Quota exceeded."),
    "permission": (403, "The caller does not have permission"),
    "not_found": (404, "Resource not found."),
    "invalid": (400, "Request contains an invalid argument."),
}


@dataclass(frozen=True)
class GoogleCall:
    method: str  # the GoogleWallet method name: "insert_class", "add_message", ...
    resource_id: str | None
    body: dict[str, Any] | None


class FakeGoogleWallet:
    """A GoogleWallet that keeps classes and objects in memory, records every call, and
    behaves like Google where services depend on it: insert of an existing id is 409 (the
    upsert/insert_object paths then patch), a missing id is 404, PATCH merges top-level
    fields (``None`` deletes one). ``answer_next`` scripts the outcomes of the next calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.classes: dict[str, dict[str, Any]] = {}
        self.objects: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self._calls: list[GoogleCall] = []
        self._scripted: list[GoogleOutcome] = []
        self.closed = False

    def answer_next(self, *outcomes: GoogleOutcome) -> None:
        """The next calls answer these outcomes, in order, and change nothing."""
        with self._lock:
            self._scripted.extend(outcomes)

    @property
    def calls(self) -> list[GoogleCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[GoogleCall]:
        return [call for call in self.calls if call.method == method]

    def insert_class(self, body: Mapping[str, Any]) -> GoogleResult:
        return self._call("insert_class", None, body, lambda: self._insert(self.classes, body))

    def get_class(self, class_id: str) -> GoogleResult:
        return self._call("get_class", class_id, None, lambda: self._get(self.classes, class_id))

    def patch_class(self, class_id: str, body: Mapping[str, Any]) -> GoogleResult:
        return self._call("patch_class", class_id, body,
                          lambda: self._patch(self.classes, class_id, body))

    def upsert_class(self, body: Mapping[str, Any]) -> GoogleResult:
        result = self.insert_class(body)
        if result.status != 409:
            return result
        return self.patch_class(str(body["id"]), for_review(body))

    def insert_object(self, body: Mapping[str, Any]) -> GoogleResult:
        def insert() -> GoogleResult:
            if str(body.get("classId")) not in self.classes:
                return _google_answer("not_found", reason=f"Class {body.get('classId')} not found.")
            return self._insert(self.objects, body)

        result = self._call("insert_object", None, body, insert)
        if result.status != 409:
            return result
        return self.patch_object(str(body["id"]), body)

    def get_object(self, object_id: str) -> GoogleResult:
        return self._call("get_object", object_id, None, lambda: self._get(self.objects, object_id))

    def patch_object(self, object_id: str, body: Mapping[str, Any]) -> GoogleResult:
        return self._call("patch_object", object_id, body,
                          lambda: self._patch(self.objects, object_id, body))

    def add_message(self, object_id: str, message: Mapping[str, Any]) -> GoogleResult:
        request = message if set(message) == {"message"} else {"message": dict(message)}

        def add() -> GoogleResult:
            if object_id not in self.objects:
                return _google_answer("not_found")
            self.messages.setdefault(object_id, []).append(dict(request["message"]))
            return _google_answer("ok", body={"resource": copy.deepcopy(self.objects[object_id])})

        return self._call("add_message", object_id, request, add)

    def close(self) -> None:
        with self._lock:
            self.closed = True

    def _call(self, method: str, resource_id: str | None, body: Mapping[str, Any] | None,
              act: Callable[[], GoogleResult]) -> GoogleResult:
        with self._lock:
            if self.closed:
                raise RuntimeError("This FakeGoogleWallet is closed.")
            self._calls.append(GoogleCall(method, resource_id,
                                          copy.deepcopy(dict(body)) if body is not None else None))
            if self._scripted:
                return _google_answer(self._scripted.pop(0))
            return act()

    @staticmethod
    def _insert(store: dict[str, dict[str, Any]], body: Mapping[str, Any]) -> GoogleResult:
        resource_id = str(body.get("id", ""))
        if not resource_id:
            return _google_answer("invalid", reason="Resource id is missing.")
        if resource_id in store:
            return GoogleResult("invalid", 409, f"Resource {resource_id} already exists.")
        store[resource_id] = copy.deepcopy(dict(body))
        return _google_answer("ok", body=copy.deepcopy(store[resource_id]))

    @staticmethod
    def _get(store: dict[str, dict[str, Any]], resource_id: str) -> GoogleResult:
        if resource_id not in store:
            return _google_answer("not_found")
        return _google_answer("ok", body=copy.deepcopy(store[resource_id]))

    @staticmethod
    def _patch(store: dict[str, dict[str, Any]], resource_id: str,
               body: Mapping[str, Any]) -> GoogleResult:
        if resource_id not in store:
            return _google_answer("not_found")
        resource = store[resource_id]
        for key, value in body.items():
            if value is None:
                resource.pop(key, None)
            else:
                resource[key] = copy.deepcopy(value)
        return _google_answer("ok", body=copy.deepcopy(resource))


def _google_answer(outcome: GoogleOutcome, *, reason: str | None = None,
                   body: dict[str, Any] | None = None) -> GoogleResult:
    status, default_reason = _GOOGLE_ANSWERS[outcome]
    return GoogleResult(outcome, status, reason or default_reason, body)
