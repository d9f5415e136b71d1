"""Google Wallet REST client: loyalty classes and objects, messages that notify the phone.

``GoogleWalletClient`` authenticates as the issuer's service account (``certs/google.json``,
its ``token_uri`` honoured) through google-auth and an ``AuthorizedSession``, waits on a
shared ``Limiter`` before every request (about 20 a second per project), and turns every
answer into a ``GoogleResult``: it never raises for an HTTP answer or a network failure.
A short retry loop covers 429 and 5xx; the outbox worker retries later for anything longer.

Nothing but the token endpoint and the API base is ever contacted. google-auth makes every
request of its own (token refreshes, and the "regional access boundary" lookup on
iamcredentials.googleapis.com that recent versions may start after a refresh) through the
transport handed to ``AuthorizedSession`` as ``auth_request``; ours (``_TokenRequest``)
refuses any origin other than ``token_uri``'s, so such a lookup fails locally (google-auth
swallows the failure and waits before trying again) instead of leaving the machine. This
uses google-auth's public interfaces only; tests/test_google_client.py checks it with the
lookup switched on.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import quote, urlsplit

import google.auth.exceptions
import google.auth.transport
import requests
from google.auth.transport.requests import AuthorizedSession
from google.auth.transport.requests import Request as AuthRequest
from google.oauth2 import service_account
from requests.adapters import HTTPAdapter

from app.integrations.ratelimit import Limiter
from app.logs import redact
from app.metrics import GOOGLE_RATE_LIMIT_WAIT, GOOGLE_REQUESTS

log = logging.getLogger(__name__)

Outcome = Literal["ok", "retry", "quota", "permission", "not_found", "invalid"]
DEFAULT_API_URL = "https://walletobjects.googleapis.com/walletobjects/v1"
WALLET_SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"
# Reasons Google gives for a quota or rate limit, in error.errors[].reason, error.status
# or error.details[].reason; any other 403 is a permission problem.
_QUOTA_REASONS = ("quotaexceeded", "ratelimitexceeded", "resource_exhausted",
                  "dailylimitexceeded", "rate_limit_exceeded")


@dataclass(frozen=True)
class GoogleResult:
    outcome: Outcome
    status: int | None  # HTTP status; None when no answer came (network, token refused)
    reason: str | None  # Google's error message, or what went wrong on the way
    body: dict[str, Any] | None = None  # the JSON answer: the resource on success
    retry_after: float | None = None  # seconds, when the server sent Retry-After

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


class GoogleWallet(Protocol):
    """Loyalty classes and objects in Google Wallet. Blocking and thread-safe; every call
    answers with a ``GoogleResult`` and raises only for programming errors."""

    def insert_class(self, body: Mapping[str, Any]) -> GoogleResult: ...
    def get_class(self, class_id: str) -> GoogleResult: ...
    def patch_class(self, class_id: str, body: Mapping[str, Any]) -> GoogleResult: ...
    def upsert_class(self, body: Mapping[str, Any]) -> GoogleResult: ...
    def insert_object(self, body: Mapping[str, Any]) -> GoogleResult: ...
    def get_object(self, object_id: str) -> GoogleResult: ...
    def patch_object(self, object_id: str, body: Mapping[str, Any]) -> GoogleResult: ...
    def add_message(self, object_id: str, message: Mapping[str, Any]) -> GoogleResult: ...
    def close(self) -> None: ...


def classify(status: int, document: Mapping[str, Any] | None) -> Outcome:
    """What a Wallet API answer means for the caller: done, later, or never as sent."""
    if 200 <= status < 300:
        return "ok"
    if status == 429 or status >= 500:
        return "retry"
    if status == 403:
        return "quota" if _is_quota(document) else "permission"
    if status == 401:
        return "permission"  # still refused after AuthorizedSession refreshed the token
    if status == 404:
        return "not_found"
    return "invalid"


def for_review(body: Mapping[str, Any]) -> dict[str, Any]:
    """The class body as an update of an approved class must be sent: asking for review
    again (UNDER_REVIEW) unless the body names a status itself."""
    return {**body, "reviewStatus": body.get("reviewStatus") or "UNDER_REVIEW"}


def _is_quota(document: Mapping[str, Any] | None) -> bool:
    error = document.get("error") if document else None
    if not isinstance(error, Mapping):
        return False
    words = [error.get("status")]
    for key in ("errors", "details"):
        items = error.get(key)
        if isinstance(items, list):
            words += [item.get("reason") for item in items if isinstance(item, Mapping)]
    return any(isinstance(word, str) and word.lower() in _QUOTA_REASONS for word in words)


class _TokenRequest(google.auth.transport.Request):
    """The transport google-auth uses for its own requests: our CA bundle and timeout, and
    only the token endpoint's origin.

    It implements google-auth's public transport interface around the requests-based one
    rather than subclassing that, so none of that class's private state (its mTLS set-up) is
    shadowed. google-auth 2.63 sends its regional-access-boundary lookup (opt-in there, by
    ``GOOGLE_SDK_EXPERIMENTAL_PYTHON_REGIONAL_ACCESS_BOUNDARY_LOOKUP_ENABLED``) through this
    transport too, where it is refused: no private override of the credentials is needed to
    keep it on the machine.
    """

    def __init__(self, session: requests.Session, *, token_uri: str,
                 verify: bool | str, timeout: float) -> None:
        self._transport = AuthRequest(session)
        self._origin = _origin(token_uri)
        self._verify = verify
        self._timeout = timeout

    def __call__(self, url: str, method: str = "GET", body: Any = None,
                 headers: Mapping[str, str] | None = None, timeout: float | None = None,
                 **kwargs: Any) -> Any:
        if _origin(url) != self._origin:
            raise google.auth.exceptions.TransportError(  # type: ignore[no-untyped-call]
                f"refused to contact {_origin(url)}: only the token endpoint is allowed")
        kwargs.setdefault("verify", self._verify)
        return self._transport(
            url, method=method, body=body, headers=headers, timeout=timeout or self._timeout,
            **kwargs)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class GoogleWalletClient:
    """The real ``GoogleWallet``: REST over one pooled, authorised HTTPS session."""

    def __init__(self, service_account_info: Mapping[str, Any], *, limiter: Limiter,
                 api_url: str = DEFAULT_API_URL, ca_file: str | Path | None = None,
                 timeout: float = 10.0, pool_size: int = 10, max_attempts: int = 3,
                 base_delay: float = 0.5, max_retry_wait: float = 5.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._credentials = _load_credentials(service_account_info)
        self._api_url = api_url.rstrip("/")
        self._limiter = limiter
        self._verify: bool | str = str(ca_file) if ca_file else True
        self._timeout = timeout
        self._max_attempts = max(1, max_attempts)
        self._base_delay = base_delay
        self._max_retry_wait = max_retry_wait
        self._sleep = sleep
        self._token_session = requests.Session()
        token_request = _TokenRequest(
            self._token_session, token_uri=service_account_info["token_uri"],
            verify=self._verify, timeout=timeout)
        self._session = AuthorizedSession(  # type: ignore[no-untyped-call]
            self._credentials, auth_request=token_request, refresh_timeout=timeout)
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    @classmethod
    def from_file(cls, path: Path, **options: Any) -> GoogleWalletClient:
        """A client for the service-account key file (``certs/google.json``)."""
        return cls(json.loads(path.read_text()), **options)

    # -- classes

    def insert_class(self, body: Mapping[str, Any]) -> GoogleResult:
        return self._send("POST", "/loyaltyClass", body)

    def get_class(self, class_id: str) -> GoogleResult:
        return self._send("GET", f"/loyaltyClass/{_quoted(class_id)}")

    def patch_class(self, class_id: str, body: Mapping[str, Any]) -> GoogleResult:
        return self._send("PATCH", f"/loyaltyClass/{_quoted(class_id)}", body)

    def upsert_class(self, body: Mapping[str, Any]) -> GoogleResult:
        """Insert the class, or patch it when it exists. Google only accepts changes to an
        approved class that ask for review again, so the patch carries UNDER_REVIEW unless
        the body names a status itself."""
        result = self.insert_class(body)
        if result.status != 409:
            return result
        return self.patch_class(str(body["id"]), for_review(body))

    # -- objects

    def insert_object(self, body: Mapping[str, Any]) -> GoogleResult:
        """Insert the object; one that exists already (an earlier attempt that got through)
        is patched to the body instead, so repeating an insert is harmless."""
        result = self._send("POST", "/loyaltyObject", body)
        if result.status != 409:
            return result
        return self.patch_object(str(body["id"]), body)

    def get_object(self, object_id: str) -> GoogleResult:
        return self._send("GET", f"/loyaltyObject/{_quoted(object_id)}")

    def patch_object(self, object_id: str, body: Mapping[str, Any]) -> GoogleResult:
        return self._send("PATCH", f"/loyaltyObject/{_quoted(object_id)}", body)

    def add_message(self, object_id: str, message: Mapping[str, Any]) -> GoogleResult:
        """Add a message to the pass (``messageType: TEXT_AND_NOTIFY`` notifies the phone,
        at most three times a day). Takes the Message or a whole ``{"message": ...}``
        request. Repeated here only after a 429: a duplicate would spend a notification."""
        request = message if set(message) == {"message"} else {"message": dict(message)}
        return self._send("POST", f"/loyaltyObject/{_quoted(object_id)}/addMessage",
                          request, retry_statuses=frozenset({429}))

    def close(self) -> None:
        self._session.close()  # type: ignore[no-untyped-call]
        self._token_session.close()

    # -- sending

    def _send(self, method: str, path: str, body: Mapping[str, Any] | None = None, *,
              retry_statuses: frozenset[int] | None = None) -> GoogleResult:
        attempt = 1
        while True:
            result = self._attempt(method, self._api_url + path, body)
            if result.outcome != "retry" or attempt >= self._max_attempts:
                return result
            if retry_statuses is not None and result.status not in retry_statuses:
                return result
            wait = self._backoff(attempt, result.retry_after)
            if wait is None:
                return result  # the server asked for longer than a worker should block
            log.info("google %s %s: %s %s; again in %.2fs", method, redact(path),
                     result.status, redact(result.reason or ""), wait)
            self._sleep(wait)
            attempt += 1

    def _backoff(self, attempt: int, retry_after: float | None) -> float | None:
        if retry_after is not None:
            return retry_after if retry_after <= self._max_retry_wait else None
        delay = min(self._base_delay * 2.0 ** (attempt - 1), self._max_retry_wait)
        return delay * random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not a secret)

    def _attempt(self, method: str, url: str, body: Mapping[str, Any] | None) -> GoogleResult:
        waited = time.perf_counter()
        self._limiter.acquire()
        GOOGLE_RATE_LIMIT_WAIT.inc(time.perf_counter() - waited)
        result = self._request(method, url, body)
        GOOGLE_REQUESTS.labels(result.outcome).inc()
        return result

    def _request(self, method: str, url: str, body: Mapping[str, Any] | None) -> GoogleResult:
        try:
            response = self._session.request(  # type: ignore[no-untyped-call]
                method, url, json=body, timeout=self._timeout, verify=self._verify)
        except google.auth.exceptions.RefreshError as error:
            if getattr(error, "retryable", False):
                return GoogleResult("retry", None, f"token endpoint: {error}")
            return GoogleResult("permission", None, f"token refused: {error}")
        except (google.auth.exceptions.TransportError, requests.RequestException) as error:
            return GoogleResult("retry", None, f"{type(error).__name__}: {error}")
        return _result(response)


def _result(response: requests.Response) -> GoogleResult:
    document = _json(response)
    outcome = classify(response.status_code, document)
    reason = None if outcome == "ok" else _message(document) or response.reason
    return GoogleResult(outcome, response.status_code, reason, document,
                        _retry_after(response.headers.get("Retry-After")))


def _json(response: requests.Response) -> dict[str, Any] | None:
    try:
        document = response.json()
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _message(document: Mapping[str, Any] | None) -> str | None:
    error = document.get("error") if document else None
    if isinstance(error, Mapping) and isinstance(error.get("message"), str):
        return str(error["message"])
    return None


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds, from either of its forms (seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _quoted(resource_id: str) -> str:
    return quote(resource_id, safe="")


def _load_credentials(info: Mapping[str, Any]) -> service_account.Credentials:
    if info.get("type") != "service_account":
        raise ValueError("The Google key must be a service-account key (type service_account).")
    try:
        credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            dict(info), scopes=[WALLET_SCOPE])
    except (KeyError, ValueError) as error:
        raise ValueError(f"The Google service-account key is unusable: {error}") from error
    assert isinstance(credentials, service_account.Credentials)
    return credentials
