"""Request-rate limiters for Google Wallet: about 20 requests a second per Cloud project.

The limit belongs to the project, not to a process, so every worker must draw from one
budget. ``Limiter`` is the interface the Google client waits on before each request.
``LocalLimiter`` spaces requests within one process (development, tests, a single worker).
``SlotLimiter`` shares the budget across processes the same way: one shared "next free
slot", which each request moves on by ``1/rate`` seconds as it reserves the slot, then
sleeps until its slot comes (a generic cell rate algorithm without a burst). Requests are
thus spaced evenly across every process, so no sliding second, wherever it starts, holds
more than the rate (a count per second of the clock let one second's last burst and the
next one's first through together: 29 in a sliding second at 18 a clock second, measured).
The slot is kept by a ``SlotReserver``, the only storage-specific part: ``RedisSlotReserver``
below keeps it in Redis, ``app.delivery.google.limiter`` in the database (one
insert-or-update statement returning the slot).

Invariant: ``acquire()`` returns only when one more request fits the rate, and never raises
because shared storage is unreachable: the Redis limiter then falls back to limiting this
process alone (and says so in the log), since stopping all Google traffic would be worse.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

_SHARED_RETRY_SECONDS = 5.0  # after shared storage failed, how long to limit locally only


class Limiter(Protocol):
    def acquire(self) -> None:
        """Block until one more request may be sent; thread-safe."""
        ...


class LocalLimiter:
    """Spaces requests evenly, 1/rate seconds apart, across the threads of one process.

    Even spacing rather than a bucket that allows bursts: Google measures per second, and a
    burst at the end of one second plus one at the start of the next would exceed it.
    """

    def __init__(self, rate_per_second: float, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive.")
        self.rate_per_second = rate_per_second
        self._interval = 1.0 / rate_per_second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = 0.0

    def acquire(self) -> None:
        # Reserve the next free slot under the lock, then sleep outside it, so waiting
        # threads queue in order without holding each other up.
        with self._lock:
            now = self._clock()
            slot = max(self._next_slot, now)
            self._next_slot = slot + self._interval
        if slot > now:
            self._sleep(slot - now)


class SlotReserver(Protocol):
    def reserve(self, interval: float) -> float:
        """Take the next free slot of the shared schedule and move it on by ``interval``
        seconds; return the seconds until the slot taken (0 or less: now). May raise if
        the shared storage is unreachable."""
        ...


class SlotLimiter:
    """At most ``rate_per_second`` requests in any second across every process sharing
    ``reserver``: each waits for its own evenly spaced slot."""

    def __init__(self, reserver: SlotReserver, rate_per_second: float,
                 *, sleep: Callable[[float], None] = time.sleep,
                 fallback: Limiter | None = None) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive.")
        self.rate_per_second = rate_per_second
        self._interval = 1.0 / rate_per_second
        self._reserver = reserver
        self._sleep = sleep
        self._fallback = fallback or LocalLimiter(rate_per_second, sleep=sleep)
        self._warned_at = float("-inf")
        self._shared_down_until = float("-inf")

    def acquire(self) -> None:
        if time.monotonic() < self._shared_down_until:
            self._fallback.acquire()
            return
        try:
            wait = self._reserver.reserve(self._interval)
        except Exception as error:  # shared storage down: limit this process alone
            # ...for a while, so a storage that times out does not slow every request.
            self._shared_down_until = time.monotonic() + _SHARED_RETRY_SECONDS
            self._warned_at = _warn_once_a_minute(error, self._warned_at)
            self._fallback.acquire()
            return
        if wait > 0:
            self._sleep(wait)


def _warn_once_a_minute(error: Exception, warned_at: float) -> float:
    """Log that the shared storage failed, unless done less than a minute after
    ``warned_at``; returns when it last warned."""
    now = time.monotonic()
    if now - warned_at < 60.0:  # once a minute, not once per request
        return warned_at
    log.warning("shared rate limit unavailable (%s); limiting this process only", error)
    return now


# One round trip: the slot is kept in microseconds of the Redis server's clock (TIME), so
# processes on different hosts agree on it; the key expires once its slot is long past.
_RESERVE_SCRIPT = """
local now = redis.call('TIME')
local at = tonumber(now[1]) * 1000000 + tonumber(now[2])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < at then
  slot = at
end
redis.call('SET', KEYS[1], tostring(slot + tonumber(ARGV[1])), 'PX', 60000)
return tostring(slot - at)
"""


class RedisSlotReserver:
    """A ``SlotReserver`` in Redis: the next free slot under ``key``, in microseconds."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        self._key = key
        self._script = client.register_script(_RESERVE_SCRIPT)

    def reserve(self, interval: float) -> float:
        waited = self._script(keys=[self._key], args=[round(interval * 1_000_000)])
        return int(waited) / 1_000_000


class RedisLimiter(SlotLimiter):
    """The rate shared by every process that uses the same Redis ``url`` and ``key``."""

    def __init__(self, url: str, key: str, rate_per_second: float, *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        import redis  # only deployments that share a limit need the package

        # Short timeouts: a limiter that hangs on a dead Redis would stall every worker.
        self._client = redis.Redis.from_url(url, socket_timeout=2.0,
                                            socket_connect_timeout=2.0)
        super().__init__(RedisSlotReserver(self._client, key), rate_per_second, sleep=sleep)

    def close(self) -> None:
        self._client.close()
