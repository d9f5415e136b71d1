"""One typed configuration, built from the ``LOYALPASS_*`` environment in one place.

Invariant: a missing or unusable setting fails at start with one sentence naming the
variable or file (``ConfigError``), never at the first request.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from email.utils import parseaddr
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from limits import parse_many

from app.files import private_folder, write_private
from app.logs import LOG_FORMATS, LOG_LEVELS
from app.secret_keys import MIN_LENGTH, KeysUnusable, SecretKeys, check_previous, split_keys

DEFAULT_INSTANCE = Path.cwd() / "instance"
DEFAULT_PORT = 5000  # ``loyalpass serve``'s
WORKER_MODES = ("inline", "external")


class ConfigError(RuntimeError):
    """A setting is missing or unusable; the message names the variable or file."""


SMTP_URL_FORMS = ("smtp://host[:port] (plain, port 25), "
                  "smtp://user:password@host:port?starttls=1 (STARTTLS, then login), "
                  "smtps://user:password@host[:port] (TLS from the start, port 465)")
SMTP_TIMEOUT = 10.0  # seconds for each step of a conversation with the mail server
# Google documents about 20 Wallet API requests a second per project: the workers together
# stay a little under it by default, so that clock skew and retries do not tip them over.
GOOGLE_REQUESTS_PER_SECOND = 18.0
MAX_REQUESTS_PER_SECOND = 1000.0  # a quota Google raised is configured, up to this


@dataclass(frozen=True)
class SmtpSettings:
    """The mail server ``LOYALPASS_SMTP_URL`` names (see ``smtp_settings``)."""

    host: str
    port: int
    security: Literal["none", "starttls", "tls"]  # starttls: upgrade after connecting
    username: str | None = None
    password: str | None = None
    timeout: float = SMTP_TIMEOUT

    def __repr__(self) -> str:  # never print the password into a log
        return (f"SmtpSettings(host={self.host!r}, port={self.port}, "
                f"security={self.security!r}, username={self.username!r})")


@dataclass(frozen=True)
class Config:
    database_url: str = field(repr=False)  # out of repr: it may hold a password
    base_url: str
    secret_key: str = field(repr=False)  # never printed into a log
    certs_dir: Path
    instance_dir: Path
    # Keys used before ``secret_key``: what they signed still verifies, nothing new is
    # signed with them (``app.secret_keys``). Out of repr too.
    previous_secret_keys: tuple[str, ...] = field(default=(), repr=False)
    development: bool = False
    pass_key_password: str | None = field(default=None, repr=False)  # never in a log
    apns_url: str = "https://api.push.apple.com"
    apns_ca_file: Path | None = None
    google_issuer_id: str | None = None
    google_api_url: str = "https://walletobjects.googleapis.com/walletobjects/v1"
    # Google's root keys for verifying save/delete callbacks (ECv2SigningOnly).
    google_keys_url: str = "https://pay.google.com/gp/m/issuer/keys"
    google_ca_file: Path | None = None  # extra CA bundle for Google's hosts (stand-ins)
    worker: str = "inline"
    redis_url: str | None = field(default=None, repr=False)  # it may hold a password
    # None: mails are written to the log (``smtp_settings``). Out of repr: it may hold
    # the mail server's password.
    smtp_url: str | None = field(default=None, repr=False)
    smtp_ca_file: Path | None = None  # extra CA bundle for the mail server (stand-ins)
    mail_from: str | None = None  # None: no-reply@ the base URL's host (``sender_address``)
    log_max_bytes: int = 64 * 1024
    log_keep_rows: int = 5000
    # Rate limits (app.web.limits), in the notation of the ``limits`` library: several
    # windows separated by ";", each a count per second, minute, hour or day.
    limit_join_per_address: str = "10/minute;100/hour"
    limit_join_per_program: str = "120/minute;3000/hour"
    limit_auth_failures: str = "20/minute;200/hour"
    limit_recovery: str = "5/minute;20/hour"
    limit_recovery_mails: str = "10/hour;50/day"
    # Dashboard logins (and password reset requests), per client address and per email.
    limit_login_per_address: str = "10/minute;100/hour"
    limit_login_per_account: str = "5/minute;30/hour"
    # A dashboard session ends this long after its login, or after this long unused.
    session_lifetime_minutes: float = 12 * 60
    session_idle_minutes: float = 30
    redis_prefix: str = "loyalpass"  # keys in LOYALPASS_REDIS_URL start with it
    trusted_proxies: int = 0  # proxies in front whose X-Forwarded-For names the client
    worker_poll_interval: float = 1.0  # retries and lapsed leases; new work wakes it at once
    push_lease_seconds: float = 60.0  # how long a claimed push is a worker's own
    # Google Wallet requests a second all workers together may send (Google raises a
    # project's quota on request).
    google_requests_per_second: float = GOOGLE_REQUESTS_PER_SECOND
    # Webhook URLs may be plain HTTP and reach loopback or private addresses (receivers on
    # the operator's own network, tests); otherwise https to public addresses only.
    webhooks_allow_private: bool = False
    # Passes re-signed a minute after a key change (``app.cards.rotation``); 0: only
    # ``loyalpass keys rotate`` re-signs them.
    key_rotation_per_minute: int = 600
    # The log: one JSON object a line (production's default) or plain text (``app.logs``).
    log_format: str = "json"
    log_level: str = "INFO"
    # PostgreSQL straight, not through a pooler in transaction mode (PgBouncer): for what
    # needs a session of its own, the workers' LISTEN connection and the migrations. None:
    # database_url is direct. Out of repr: it may hold a password.
    direct_database_url: str | None = field(default=None, repr=False)
    # Server-side prepared statements (psycopg prepares a statement after its fifth use
    # on a connection); off for a pooler in transaction mode that does not track them.
    prepared_statements: bool = True
    # ``loyalpass worker`` serves its Prometheus metrics on this port (None: it does not).
    worker_metrics_port: int | None = None
    worker_metrics_host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        try:  # a Config built by hand (tests, benchmarks) is held to the same rule
            check_previous(self.secret_key, self.previous_secret_keys)
        except KeysUnusable as unusable:
            raise ConfigError(str(unusable)[0].upper() + str(unusable)[1:]) from None

    @property
    def secret_keys(self) -> SecretKeys:
        return SecretKeys(self.secret_key, self.previous_secret_keys)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def session_database_url(self) -> str:
        """Where a connection keeps its server session (LISTEN, migrations)."""
        return self.direct_database_url or self.database_url

    @property
    def google_enabled(self) -> bool:
        return self.google_issuer_id is not None

    @property
    def web_service_url(self) -> str:
        return f"{self.base_url}/passkit"

    @property
    def smtp(self) -> SmtpSettings | None:
        """The mail server, or None when mails go to the log; ConfigError when unusable."""
        return smtp_settings(self.smtp_url) if self.smtp_url else None

    @property
    def sender_address(self) -> str:
        """The From of every mail: LOYALPASS_MAIL_FROM, else no-reply@ the base URL's host."""
        if self.mail_from:
            return self.mail_from
        host = urlsplit(self.base_url).hostname or "localhost"
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return f"no-reply@{host}"
        return f"no-reply@[{host}]"  # an address literal, as RFC 5321 writes one

    def with_changes(self, **changes: object) -> Config:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(
        cls, environ: dict[str, str] | None = None, *, development: bool | None = None,
        require_secret: bool = True, port: int = DEFAULT_PORT,
    ) -> Config:
        """The configuration the environment describes; ``require_secret=False`` is for
        commands that never sign anything (``db upgrade``, ``merchant create``); ``port``,
        the one served on, makes the base URL when LOYALPASS_BASE_URL is unset."""
        env = dict(os.environ if environ is None else environ)
        instance_dir = Path(env.get("LOYALPASS_INSTANCE_DIR", str(DEFAULT_INSTANCE))).resolve()
        database_url = env.get("LOYALPASS_DATABASE_URL") or _default_database_url(instance_dir)
        if development is None:
            development = _development_from_env(env)
        base_url = _base_url(env.get("LOYALPASS_BASE_URL", f"http://127.0.0.1:{port}"))
        config = cls(
            database_url=_database_url(database_url),
            base_url=base_url,
            secret_key=_secret_key(env, instance_dir, development) if require_secret else "",
            previous_secret_keys=(split_keys(env.get("LOYALPASS_SECRET_KEY_PREVIOUS", ""))
                                  if require_secret else ()),
            certs_dir=Path(env.get("LOYALPASS_CERTS_DIR", "certs")).resolve(),
            instance_dir=instance_dir,
            development=development,
            pass_key_password=env.get("LOYALPASS_PASS_KEY_PASSWORD") or None,
            apns_url=_origin("LOYALPASS_APNS_URL", env.get("LOYALPASS_APNS_URL", cls.apns_url)),
            apns_ca_file=_optional_file(env, "LOYALPASS_APNS_CA_FILE"),
            google_issuer_id=_issuer_id(env.get("LOYALPASS_GOOGLE_ISSUER_ID")),
            google_api_url=_url("LOYALPASS_GOOGLE_API_URL",
                                env.get("LOYALPASS_GOOGLE_API_URL", cls.google_api_url)),
            google_keys_url=_url("LOYALPASS_GOOGLE_KEYS_URL",
                                 env.get("LOYALPASS_GOOGLE_KEYS_URL", cls.google_keys_url)),
            google_ca_file=_optional_file(env, "LOYALPASS_GOOGLE_CA_FILE"),
            redis_url=env.get("LOYALPASS_REDIS_URL") or None,
            smtp_url=env.get("LOYALPASS_SMTP_URL") or None,
            smtp_ca_file=_optional_file(env, "LOYALPASS_SMTP_CA_FILE"),
            mail_from=_mail_from(env.get("LOYALPASS_MAIL_FROM")),
            worker="inline",
            push_lease_seconds=_positive(env, "LOYALPASS_PUSH_LEASE_SECONDS", 60.0),
            google_requests_per_second=_rate(env, "LOYALPASS_GOOGLE_REQUESTS_PER_SECOND",
                                             cls.google_requests_per_second),
            limit_join_per_address=_limit(env, "LOYALPASS_LIMIT_JOIN_PER_ADDRESS",
                                          cls.limit_join_per_address),
            limit_join_per_program=_limit(env, "LOYALPASS_LIMIT_JOIN_PER_PROGRAM",
                                          cls.limit_join_per_program),
            limit_auth_failures=_limit(env, "LOYALPASS_LIMIT_AUTH_FAILURES",
                                       cls.limit_auth_failures),
            limit_recovery=_limit(env, "LOYALPASS_LIMIT_RECOVERY", cls.limit_recovery),
            limit_recovery_mails=_limit(env, "LOYALPASS_LIMIT_RECOVERY_MAILS",
                                        cls.limit_recovery_mails),
            limit_login_per_address=_limit(env, "LOYALPASS_LIMIT_LOGIN_PER_ADDRESS",
                                           cls.limit_login_per_address),
            limit_login_per_account=_limit(env, "LOYALPASS_LIMIT_LOGIN_PER_ACCOUNT",
                                           cls.limit_login_per_account),
            session_lifetime_minutes=_positive(env, "LOYALPASS_SESSION_LIFETIME_MINUTES",
                                               cls.session_lifetime_minutes),
            session_idle_minutes=_positive(env, "LOYALPASS_SESSION_IDLE_MINUTES",
                                           cls.session_idle_minutes),
            redis_prefix=env.get("LOYALPASS_REDIS_PREFIX") or cls.redis_prefix,
            trusted_proxies=_count(env, "LOYALPASS_TRUSTED_PROXIES", 0),
            webhooks_allow_private=_switch(env, "LOYALPASS_WEBHOOKS_ALLOW_PRIVATE"),
            key_rotation_per_minute=_per_minute(env, "LOYALPASS_KEY_ROTATION_PER_MINUTE",
                                                cls.key_rotation_per_minute),
            log_format=log_format_from_env(env, development=development),
            log_level=_choice(env, "LOYALPASS_LOG_LEVEL", LOG_LEVELS, "INFO"),
            direct_database_url=_direct_database_url(env, database_url),
            prepared_statements=_switch(env, "LOYALPASS_PREPARED_STATEMENTS", default=True),
            worker_metrics_port=_port(env, "LOYALPASS_WORKER_METRICS_PORT"),
            worker_metrics_host=(env.get("LOYALPASS_WORKER_METRICS_HOST") or "").strip()
            or cls.worker_metrics_host,
        )
        if config.smtp_url:
            smtp_settings(config.smtp_url)  # parsed now, so that a bad URL stops the start
        worker = env.get("LOYALPASS_WORKER") or ("inline" if config.is_sqlite else "external")
        if worker not in WORKER_MODES:
            raise ConfigError(
                f"LOYALPASS_WORKER must be 'inline' or 'external', not {worker!r}."
            )
        config = replace(config, worker=worker)
        check_base_url(config)
        return config


def check_base_url(config: Config) -> None:
    """In production the base URL is https, unless it names this machine (a trial behind
    no proxy, tests): Wallet refuses a pass whose web service is plain http, and Google
    calls its callbacks over https only. ``ConfigError`` naming the variable otherwise."""
    parts = urlsplit(config.base_url)
    if config.development or parts.scheme == "https" or _loopback(parts.hostname or ""):
        return
    raise ConfigError(
        f"LOYALPASS_BASE_URL is {config.base_url!r}: in production it must be https "
        "(Apple Wallet refuses a plain-http web service and Google Wallet's callbacks "
        "need https); put the service behind a proxy that terminates TLS and set "
        "LOYALPASS_BASE_URL=https://your.host, or set LOYALPASS_ENV=development to try it "
        "out on plain http.")


def _loopback(host: str) -> bool:
    """Whether a host names this machine: localhost (RFC 6761) or a loopback address."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def log_format_from_env(env: Mapping[str, str], *, development: bool | None = None) -> str:
    """LOYALPASS_LOG_FORMAT: ``json`` or ``plain``; unset, plain in development and JSON
    in production (gunicorn's configuration reads it too, before the app exists)."""
    if development is None:
        development = _development_from_env(dict(env))
    return _choice(env, "LOYALPASS_LOG_FORMAT", LOG_FORMATS,
                   "plain" if development else "json")


def _choice(env: Mapping[str, str], variable: str, choices: tuple[str, ...],
            default: str) -> str:
    value = env.get(variable, "").strip()
    if not value:
        return default
    for choice in choices:
        if value.lower() == choice.lower():
            return choice
    raise ConfigError(f"{variable} must be one of {', '.join(choices)}, not {value!r}.")


def _development_from_env(env: dict[str, str]) -> bool:
    # Development is the embedded default: no database configured, or said outright.
    value = env.get("LOYALPASS_ENV", "").strip().lower()
    if value in ("development", "dev"):
        return True
    if value in ("production", "prod"):
        return False
    if value:
        raise ConfigError(f"LOYALPASS_ENV must be 'development' or 'production', not {value!r}.")
    return not env.get("LOYALPASS_DATABASE_URL")


def _default_database_url(instance_dir: Path) -> str:
    return f"sqlite:///{instance_dir / 'loyalpass.sqlite3'}"


def _database_url(url: str) -> str:
    scheme = url.split(":", 1)[0]
    if scheme == "sqlite" or scheme.startswith("postgresql"):
        if scheme in ("postgresql", "postgres"):
            # The driver we ship is psycopg 3; a bare postgresql:// would ask for psycopg2.
            return "postgresql+psycopg:" + url.split(":", 1)[1]
        return url
    raise ConfigError(
        "LOYALPASS_DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL, "
        f"not {url!r}."
    )


def _base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ConfigError(
            f"LOYALPASS_BASE_URL must be an http(s) origin like https://cards.example.com, "
            f"not {value!r}."
        )
    return value.rstrip("/")


def _origin(variable: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{variable} must be an https origin, not {value!r}.")
    return value.rstrip("/")


def _url(variable: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{variable} must be an https URL, not {value!r}.")
    return value.rstrip("/")


def _positive(env: dict[str, str], variable: str, default: float) -> float:
    """Seconds, above 0 and at most a day."""
    return _number(env, variable, default, most=86_400, what="a number of seconds")


def _rate(env: dict[str, str], variable: str, default: float) -> float:
    """Requests a second, above 0 and at most ``MAX_REQUESTS_PER_SECOND``."""
    return _number(env, variable, default, most=MAX_REQUESTS_PER_SECOND,
                   what="a number of requests a second above 0 and at most"
                        f" {MAX_REQUESTS_PER_SECOND:g}")


def _number(env: dict[str, str], variable: str, default: float, *, most: float,
            what: str) -> float:
    """``variable`` as a number above 0 and at most ``most``, or ``default`` when unset."""
    text = env.get(variable)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= most:
        raise ConfigError(f"{variable} must be {what}, not {text!r}.")
    return value


def smtp_settings(url: str) -> SmtpSettings:
    """Parse LOYALPASS_SMTP_URL (the forms in ``SMTP_URL_FORMS``; ``?timeout=seconds``
    too). User and password are percent-decoded, and need TLS: a password is never sent
    in the clear. The error never repeats the URL, which may hold the password."""
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    try:
        port = parts.port
    except ValueError:
        port = -1
    problem = _smtp_problem(parts.scheme, parts.hostname, port, query)
    if problem is None and (parts.username is None) != (parts.password is None):
        problem = "give both a user and a password, or neither"
    starttls = query.get("starttls", ["0"])[-1] in ("1", "true", "yes")
    security: Literal["none", "starttls", "tls"] = (
        "tls" if parts.scheme == "smtps" else "starttls" if starttls else "none")
    if problem is None and parts.username is not None and security == "none":
        problem = "a user and password need TLS: smtps://, or ?starttls=1"
    if problem is not None:
        raise ConfigError(f"LOYALPASS_SMTP_URL is unusable ({problem}); write it as "
                          f"{SMTP_URL_FORMS}.")
    return SmtpSettings(
        host=str(parts.hostname), port=port or (465 if security == "tls" else 25),
        security=security,
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
        timeout=float(query.get("timeout", [SMTP_TIMEOUT])[-1]))


def _smtp_problem(scheme: str, host: str | None, port: int | None,
                  query: dict[str, list[str]]) -> str | None:
    if scheme not in ("smtp", "smtps"):
        return "the scheme must be smtp or smtps"
    if not host:
        return "it names no host"
    if port == -1 or port == 0:
        return "the port must be a number from 1 to 65535"
    unknown = sorted(set(query) - {"starttls", "timeout"})
    if unknown:
        return f"unknown parameter {unknown[0]}"
    if query.get("starttls", ["0"])[-1] not in ("0", "1", "true", "false", "yes", "no"):
        return "starttls must be 1 or 0"
    if scheme == "smtps" and "starttls" in query:
        return "smtps is TLS from the start; starttls is for smtp"
    try:
        timeout = float(query.get("timeout", [SMTP_TIMEOUT])[-1])
    except ValueError:
        timeout = -1.0
    if not 0 < timeout <= 300:
        return "timeout must be a number of seconds up to 300"
    return None


def _mail_from(value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    _name, address = parseaddr(value.strip())
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c in value for c in "\r\n"):
        raise ConfigError(
            f"LOYALPASS_MAIL_FROM must be an address like 'Loyalpass <no-reply@example.com>' "
            f"or no-reply@example.com, not {value!r}.")
    return value.strip()


def _limit(env: dict[str, str], variable: str, default: str) -> str:
    text = env.get(variable) or default
    try:
        parse_many(text)
    except ValueError:
        raise ConfigError(
            f"{variable} must be rate limits like '10/minute;100/hour', not {text!r}."
        ) from None
    return text


def _direct_database_url(env: dict[str, str], database_url: str) -> str | None:
    value = env.get("LOYALPASS_DIRECT_DATABASE_URL", "").strip()
    if not value:
        return None
    if not database_url.startswith("postgres") or not value.startswith("postgres"):
        raise ConfigError(
            "LOYALPASS_DIRECT_DATABASE_URL must be a postgresql:// URL of the same database "
            "as LOYALPASS_DATABASE_URL (a PostgreSQL one), without the pooler in between.")
    return _database_url(value)


def _switch(env: dict[str, str], variable: str, *, default: bool = False) -> bool:
    """An on/off setting: 1, true, yes or on; 0, false, no or off; unset: ``default``."""
    value = env.get(variable, "").strip().lower()
    if not value:
        return default
    if value in ("0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{variable} must be 1 or 0, not {value!r}.")


def _count(env: dict[str, str], variable: str, default: int) -> int:
    text = env.get(variable)
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or int(text) > 16:
        raise ConfigError(f"{variable} must be a whole number from 0 to 16, not {text!r}.")
    return int(text)


MAX_PER_MINUTE = 1_000_000


def _per_minute(env: dict[str, str], variable: str, default: int) -> int:
    text = env.get(variable)
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or int(text) > MAX_PER_MINUTE:
        raise ConfigError(f"{variable} must be a whole number from 0 to {MAX_PER_MINUTE:,} "
                          f"(passes a minute), not {text!r}.")
    return int(text)


def _port(env: dict[str, str], variable: str) -> int | None:
    text = env.get(variable, "").strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(f"{variable} must be a port number from 1 to 65535, not {text!r}.")
    return int(text)


def _issuer_id(value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    if not value.strip().isdigit():
        raise ConfigError(
            f"LOYALPASS_GOOGLE_ISSUER_ID must be the issuer's number, not {value!r}.")
    return value.strip()


def _optional_file(env: dict[str, str], variable: str) -> Path | None:
    value = env.get(variable)
    if not value:
        return None
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"{variable} names {value}, which is not a readable file.")
    return path


def _secret_key(env: dict[str, str], instance_dir: Path, development: bool) -> str:
    key = env.get("LOYALPASS_SECRET_KEY")
    if key:
        if len(key) < MIN_LENGTH:
            raise ConfigError(
                f"LOYALPASS_SECRET_KEY must be at least {MIN_LENGTH} characters long.")
        return key
    if not development:
        raise ConfigError(
            "LOYALPASS_SECRET_KEY is required outside development "
            "(set LOYALPASS_ENV=development to generate one into the instance folder)."
        )
    path = instance_dir / "secret_key"
    if path.is_file():
        return path.read_text().strip()
    private_folder(instance_dir)
    key = secrets.token_urlsafe(48)
    write_private(path, key.encode())
    return key
