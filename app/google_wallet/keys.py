"""Google's root signing keys for save/delete callbacks, fetched and cached per process.

Google publishes the keys that vouch for its callback signatures at one URL and rotates
them from time to time. Fetching on every callback would tie each callback to that URL;
never refetching would refuse every callback after a rotation. So the document is cached
for ``ttl`` seconds, and a callback that fails verification may force one early re-fetch,
at most once per ``refresh_interval`` so that forged callbacks cannot make us hammer
Google. The keys carry their own expiries, which ``RootKeys`` enforces at use, so a cached
document never trusts a key past its expiry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests

from passes.google.callbacks import CallbackError, RootKeys

log = logging.getLogger("loyalpass.google")


class RootKeysUnavailable(RuntimeError):
    """The root keys could not be fetched or parsed: callbacks cannot be checked now, so the
    caller should answer 503 and let Google retry later."""


class GoogleRootKeys:
    """A thread-safe cache of Google's root key document (one per app, shared by requests).

    Fetches run under the lock: concurrent callbacks on a cold or stale cache wait for one
    fetch instead of each starting their own.
    """

    def __init__(
        self,
        url: str,
        *,
        ca_file: str | Path | None = None,
        ttl: float = 3600.0,
        session: requests.Session | None = None,
        timeout: float = 5.0,
        refresh_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._verify: bool | str = str(ca_file) if ca_file else True
        self._ttl = ttl
        self._session = session or requests.Session()
        self._timeout = timeout
        self._refresh_interval = refresh_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: RootKeys | None = None
        self._next_fetch_at = 0.0
        self._last_forced_at: float | None = None

    def current(self, now_ms: int) -> RootKeys:
        """The cached keys, fetched first when the cache is empty or older than ``ttl``.

        When a scheduled re-fetch fails but keys are cached, the cached ones stay in use
        (their own expiries still apply) and the next attempt waits ``refresh_interval``,
        so an outage at Google does not add a timeout to every callback.
        Raises ``RootKeysUnavailable`` when there is nothing to use.
        """
        with self._lock:
            if self._keys is not None and self._clock() < self._next_fetch_at:
                return self._keys
            try:
                return self._fetch(now_ms)
            except RootKeysUnavailable as error:
                if self._keys is None:
                    raise
                log.warning("keeping cached Google root keys: %s", error)
                self._next_fetch_at = self._clock() + self._refresh_interval
                return self._keys

    def refresh_after_failure(self, now_ms: int, *, tried: RootKeys) -> RootKeys | None:
        """Keys worth one more verification attempt after ``tried`` refused a callback, or
        None when another try would use the same keys.

        If another request already replaced ``tried``, its newer keys are returned without
        a fetch: two callbacks signed by a freshly rotated key both succeed though only one
        re-fetch happened. Otherwise a re-fetch happens at most once per
        ``refresh_interval``. Raises ``RootKeysUnavailable`` if that re-fetch fails.
        """
        with self._lock:
            if self._keys is not None and self._keys is not tried:
                return self._keys
            now = self._clock()
            if self._last_forced_at is not None and (
                    now - self._last_forced_at < self._refresh_interval):
                return None
            self._last_forced_at = now
            return self._fetch(now_ms)

    def close(self) -> None:
        self._session.close()

    def _fetch(self, now_ms: int) -> RootKeys:
        """Fetch and parse the document, then cache it; the caller holds the lock."""
        try:
            response = self._session.get(self.url, timeout=self._timeout, verify=self._verify)
            response.raise_for_status()
            keys = RootKeys.from_json(response.content, now_ms=now_ms)
        except (requests.RequestException, CallbackError) as error:
            raise RootKeysUnavailable(
                f"Google's root signing keys could not be loaded from {self.url} ({error})."
            ) from error
        self._keys = keys
        self._next_fetch_at = self._clock() + self._ttl
        return keys
