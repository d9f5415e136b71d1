"""Rate limits on the public doors, counted by Flask-Limiter.

What is limited (the numbers are ``Config`` fields, from ``LOYALPASS_LIMIT_*``):

- ``JOIN_PER_ADDRESS``, ``JOIN_PER_PROGRAM``: every POST of a join form, per client
  address and per program (the ``slug`` in the URL), checked before anything is read from
  the form, so a refused request creates nothing;
- ``AUTH_FAILURES``: API requests refused with 401, per client address. Only failures
  count, and only once the key has been checked: a valid key is never slowed by anyone's
  failures, and an address past the limit gets 429 for every bad key it sends;
- ``RECOVERY_MAILS``: recovery mails the join form sends on behalf of one client address
  (to any customers): past it the form answers as always but sends nothing
  (``allows``), so one address cannot flood many inboxes;
- ``LOGIN_PER_ADDRESS``, ``LOGIN_PER_ACCOUNT``: every POST of the dashboard's login form,
  per client address and per email typed (and reset requests per address), checked
  before the password is;
- ``RECOVERY``: per client address, for public views that start a card recovery; put it
  (or any other name) on a view with ``@limited(LimitName.RECOVERY)``, or call
  ``rate_limits().check(...)`` where the view knows more.

Past a limit the request is refused with ``RateLimited`` (429, ``Retry-After``): the API
renders it as problem+json (``rate_limited``), the customer's pages as a page in their
language (``app.web.public.refused_page``, which the ``public`` blueprint has; another
blueprint of pages registers it as its handler of ``RateLimited``).

Storage: Redis at ``LOYALPASS_REDIS_URL`` when set, so that every process and gunicorn
worker shares one count (keys start with ``LOYALPASS_REDIS_PREFIX``); otherwise each
process counts in its own memory. A Redis that does not answer at start stops the start;
one that goes away later makes Flask-Limiter count in process memory (the same limits,
per process) and try Redis again after 1, 2, 4 … 32 seconds, so requests never fail for
it (a Redis that hangs costs a request at most ``REDIS_TIMEOUT`` seconds). The Limiter
belongs to one app (its ``RateLimits``, made as the web layer is registered, kept in the
app's extensions as ``LIMITS_EXTENSION``); nothing here is global.
"""

from __future__ import annotations

import enum
import logging
import math
import time
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import Flask, current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from limits.errors import ConfigurationError
from limits.storage import storage_from_string

from app.config import Config, ConfigError
from app.errors import RateLimited

LIMITS_EXTENSION = "loyalpass_limits"  # the app's RateLimits, in app.extensions
log = logging.getLogger("loyalpass.limits")

P = ParamSpec("P")
R = TypeVar("R")

# Seconds a Redis command may take before the limiter counts in memory instead.
REDIS_TIMEOUT = 1


class LimitName(enum.StrEnum):
    JOIN_PER_ADDRESS = "join-address"
    JOIN_PER_PROGRAM = "join-program"
    AUTH_FAILURES = "auth-failures"
    RECOVERY = "recovery"
    RECOVERY_MAILS = "recovery-mails"
    LOGIN_PER_ADDRESS = "login-address"
    LOGIN_PER_ACCOUNT = "login-account"


def client_address() -> str:
    """The client's address (behind ``LOYALPASS_TRUSTED_PROXIES``, the forwarded one)."""
    return request.remote_addr or "unknown"


def _account_in_form() -> str:
    return f"account:{request.form.get('email', '').strip().lower()[:320]}"


def _program_in_url() -> str:
    return f"program:{(request.view_args or {}).get('slug', '')}"


KEYS: dict[LimitName, Callable[[], str]] = {
    LimitName.JOIN_PER_ADDRESS: client_address,
    LimitName.JOIN_PER_PROGRAM: _program_in_url,
    LimitName.AUTH_FAILURES: client_address,
    LimitName.RECOVERY: client_address,
    LimitName.RECOVERY_MAILS: client_address,
    LimitName.LOGIN_PER_ADDRESS: client_address,
    LimitName.LOGIN_PER_ACCOUNT: _account_in_form,
}


def _values(config: Config) -> dict[LimitName, str]:
    return {
        LimitName.JOIN_PER_ADDRESS: config.limit_join_per_address,
        LimitName.JOIN_PER_PROGRAM: config.limit_join_per_program,
        LimitName.AUTH_FAILURES: config.limit_auth_failures,
        LimitName.RECOVERY: config.limit_recovery,
        LimitName.RECOVERY_MAILS: config.limit_recovery_mails,
        LimitName.LOGIN_PER_ADDRESS: config.limit_login_per_address,
        LimitName.LOGIN_PER_ACCOUNT: config.limit_login_per_account,
    }


class _ViewLimiter(Limiter):
    """Flask-Limiter counting only where a view asks (``check``). Its pass before every
    request looks for application and default limits, of which there are none, and cost
    about 60 µs a request, the POS purchases' included: it is skipped."""

    # Written against Flask-Limiter 4.1.1 (the same in 4.1.0; pinned ">=4.1,<4.2" in
    # pyproject.toml). No public API does it: init_app registers the private
    # _check_request_limit as a before_request hook unconditionally (4.1 has no option to
    # leave it out), and its public ways to skip a request (request_filter, or a
    # request_identifier answering "") would skip the guards' checks as well, which call
    # the same method with in_middleware=False. tests/test_rate_limits.py fails if the hook
    # is no longer this method or its signature changes.
    def _check_request_limit(self, callable_name: str | None = None,
                             in_middleware: bool = True) -> None:
        if not in_middleware:
            super()._check_request_limit(callable_name, in_middleware)


class RateLimits:
    """One app's limiter and a guard per named limit."""

    def __init__(self, config: Config) -> None:
        self.values = _values(config)
        storage_uri = config.redis_url or "memory://"
        options: dict[str, str | int] = {}
        if config.redis_url:
            options = {"socket_timeout": REDIS_TIMEOUT,
                       "socket_connect_timeout": REDIS_TIMEOUT}
            _check_redis(config.redis_url, options)
        self.limiter = _ViewLimiter(
            client_address, storage_uri=storage_uri, storage_options=options,
            strategy="moving-window", key_prefix=config.redis_prefix,
            swallow_errors=True, in_memory_fallback_enabled=True, headers_enabled=False)
        self._guards: dict[LimitName, Callable[[], None]] = {}

    def init_app(self, app: Flask) -> None:
        self.limiter.init_app(app)
        for name, value in self.values.items():
            self._guards[name] = self._guard(name, value)

    def _guard(self, name: LimitName, value: str) -> Callable[[], None]:
        # Flask-Limiter keeps a decorated callable's limits under its qualified name, once,
        # at start; a guard per name keeps concurrent requests from sharing one entry.
        def guard() -> None:
            return None

        guard.__qualname__ = guard.__name__ = f"guard_{name.name.lower()}"
        limit = self.limiter.shared_limit(value, scope=name.value, key_func=KEYS[name])
        return limit(guard)

    def check(self, *names: LimitName) -> None:
        """Count this request against each named limit; ``RateLimited`` past any of them."""
        for name in names:
            try:
                self._guards[name]()
            except RateLimitExceeded as refused:
                raise RateLimited(self._retry_after(refused)) from None

    def allows(self, name: LimitName) -> bool:
        """Count this request against ``name``; False past it (for a caller that goes on
        without the limited thing instead of refusing the request)."""
        try:
            self._guards[name]()
        except RateLimitExceeded:
            return False
        return True

    def _retry_after(self, refused: RateLimitExceeded) -> int:
        try:
            current = self.limiter.current_limit
            if current is not None:  # (when the window frees a request, how many remain)
                return math.ceil(current.window[0] - time.time())
        except Exception:  # the storage went away between the hit and this read
            log.warning("rate limit storage: cannot read the window", exc_info=True)
        return int(refused.limit.limit.get_expiry())


def install_rate_limits(app: Flask, config: Config) -> None:
    """The app's limits, made as it starts (a Redis that does not answer stops it)."""
    limits = RateLimits(config)
    limits.init_app(app)
    app.extensions[LIMITS_EXTENSION] = limits


def rate_limits() -> RateLimits:
    """The current app's limits."""
    limits: RateLimits = current_app.extensions[LIMITS_EXTENSION]
    return limits


def limited(*names: LimitName) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Put the named limits on a view: every request to it counts, and one past a limit
    is refused (``RateLimited``, 429) before the view runs. For a public page of the
    ``public`` blueprint the refusal is a page in the customer's language."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            rate_limits().check(*names)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def _check_redis(url: str, options: dict[str, str | int]) -> None:
    try:
        reachable = storage_from_string(url, **options).check()
        parts = urlsplit(url)
        shown = f"{parts.scheme}://{parts.hostname or ''}:{parts.port or 6379}"
    except (ConfigurationError, ValueError) as error:
        raise ConfigError(f"LOYALPASS_REDIS_URL is not a usable Redis URL ({error}).") from None
    if not reachable:  # the address only: the URL may hold a password
        raise ConfigError(
            f"LOYALPASS_REDIS_URL: Redis at {shown} does not answer; start it, or unset the "
            "variable to keep rate limits in each process's memory.")
