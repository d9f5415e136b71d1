"""How the service's certificates and keys stand: the pass certificate (with its key),
Apple's WWDR intermediate and, when Google Wallet is on, the service-account key, read
from ``LOYALPASS_CERTS_DIR`` as they are on disk now (an operator may have replaced them
since the start, or a renewal may be overdue).

``/readyz`` fails while one does not load or expires within ``READY_DAYS``; the log (at
start, then daily from the worker's housekeeping) and the owners' dashboard warn from
``WARN_DAYS`` on, weeks before that. A Google service-account key file names no expiry:
only whether it loads is known of it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.config import Config
from app.wallet.identity import CERTIFICATE_FILES
from passes.apple import CertificateError, load_certificate, load_signing_identity
from passes.google import signer_from_service_account_info

log = logging.getLogger("loyalpass.certs")

READY_DAYS = 30  # /readyz answers 503 once one expires within this many days
WARN_DAYS = 45  # the log and the dashboard warn from this many days before
GOOGLE_KEY_FILE = "google.json"
# What each entry is, by the name /readyz gives it, and the file it is read from.
ENTRIES = {"pass_certificate": CERTIFICATE_FILES["certificate"],
           "wwdr": CERTIFICATE_FILES["wwdr"], "google_key": GOOGLE_KEY_FILE}
_ENTRY_OF_PART = {"certificate": "pass_certificate", "key": "pass_certificate",
                  "wwdr": "wwdr"}
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Loaded:
    """What reading one entry's files found: when it expires (None for Google's key),
    or why it does not load (one sentence for an operator)."""

    name: str
    expires_at: datetime | None = None
    problem: str | None = None


@dataclass(frozen=True)
class CertificateHealth:
    """One entry as it stands at ``now``."""

    name: str  # a key of ``ENTRIES``
    file: Path
    expires_at: datetime | None
    problem: str | None
    now: datetime

    @property
    def days_left(self) -> int | None:
        """Whole days until it expires (negative once it has), None with no expiry."""
        if self.expires_at is None:
            return None
        return (self.expires_at - self.now) // _DAY

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= self.now

    def expires_within(self, days: int) -> bool:
        return self.expires_at is not None and self.expires_at - self.now < timedelta(days=days)

    @property
    def ready(self) -> bool:
        """Loads and has at least ``READY_DAYS`` left (what /readyz asks)."""
        return self.problem is None and not self.expires_within(READY_DAYS)

    @property
    def needs_attention(self) -> bool:
        """Does not load, or expires within ``WARN_DAYS`` (what the warnings are about)."""
        return self.problem is not None or self.expires_within(WARN_DAYS)

    @property
    def status(self) -> str:
        if self.expired:
            return "expired"
        if self.problem is not None:
            return "unloadable"
        return "expiring" if self.expires_within(READY_DAYS) else "ok"

    def as_json(self) -> dict[str, object]:
        answer: dict[str, object] = {
            "file": self.file.name, "status": self.status,
            "expires_at": _iso(self.expires_at) if self.expires_at else None,
            "days_left": self.days_left}
        if self.problem is not None:
            answer["problem"] = self.problem
        return answer

    def warning(self) -> str:
        """One sentence for the operator's log."""
        if self.expired or self.problem is not None:
            reason = self.problem or f"it expired on {_day(self.expires_at)}"
            return (f"{self.file} cannot be used ({reason}): "
                    f"{_CONSEQUENCE[self.name]} until it is replaced.")
        return (f"{self.file} expires on {_day(self.expires_at)}, in {self.days_left} days: "
                f"renew it and replace the file before then, or {_CONSEQUENCE[self.name]}.")


_CONSEQUENCE = {
    "pass_certificate": "passes can be neither signed nor updated and pushes stop",
    "wwdr": "passes can no longer be signed",
    "google_key": "Google Wallet cards can be neither issued nor updated",
}


def read_entries(config: Config) -> list[Loaded]:
    """Read every entry's files now (the pass key with its certificate, as signing does)."""
    entries = _read_apple(config)
    if config.google_enabled:
        entries.append(_read_google(config.certs_dir / GOOGLE_KEY_FILE))
    return entries


def health(config: Config, entries: list[Loaded], *, now: datetime | None = None
           ) -> list[CertificateHealth]:
    moment = now or datetime.now(UTC)
    return [CertificateHealth(name=entry.name, file=config.certs_dir / ENTRIES[entry.name],
                              expires_at=entry.expires_at, problem=entry.problem, now=moment)
            for entry in entries]


def certificate_health(config: Config, *, now: datetime | None = None
                       ) -> list[CertificateHealth]:
    """Every entry as the files on disk stand now."""
    return health(config, read_entries(config), now=now)


def log_certificate_warnings(config: Config, *, now: datetime | None = None
                             ) -> list[CertificateHealth]:
    """A warning in the log for each entry that needs attention; those entries."""
    attention = [one for one in certificate_health(config, now=now) if one.needs_attention]
    for one in attention:
        log.warning("%s", one.warning())
    return attention


class CertificateWatch:
    """``certificate_health`` for frequent callers (/readyz, the dashboard): the files are
    read again when one of them changes, and at least every ``every`` seconds (a
    certificate not valid yet becomes valid with time); in between only stat'ed. An
    encrypted key's derivation costs far more than a probe should."""

    def __init__(self, config: Config, *, every: float = 600.0) -> None:
        self.config = config
        self.every = every
        self._files = [config.certs_dir / name for name in
                       (*CERTIFICATE_FILES.values(), GOOGLE_KEY_FILE)]
        self._seen: tuple[object, ...] = ()
        self._read_at = 0.0
        self._entries: list[Loaded] = []

    def health(self, *, now: datetime | None = None) -> list[CertificateHealth]:
        seen = tuple(_signature(path) for path in self._files)
        if seen != self._seen or time.monotonic() - self._read_at >= self.every:
            self._entries = read_entries(self.config)
            self._seen, self._read_at = seen, time.monotonic()
        return health(self.config, self._entries, now=now)


def _signature(path: Path) -> object:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_ino, found.st_size, found.st_mtime_ns)


def _read_apple(config: Config) -> list[Loaded]:
    paths = {part: config.certs_dir / name for part, name in CERTIFICATE_FILES.items()}
    files: dict[str, bytes] = {}
    problems: dict[str, str] = {}
    for part, path in paths.items():
        try:
            files[part] = path.read_bytes()
        except FileNotFoundError:
            problems.setdefault(_ENTRY_OF_PART[part], f"{path.name} is missing")
        except OSError as error:
            problems.setdefault(_ENTRY_OF_PART[part],
                                f"{path.name} cannot be read: {error.strerror}")
    expiry: dict[str, datetime] = {}
    for part in ("certificate", "wwdr"):
        try:
            if part in files:
                expiry[part] = load_certificate(files[part], part).not_valid_after_utc
        except CertificateError as error:
            problems.setdefault(_ENTRY_OF_PART[part], error.message)
    if not problems:
        password = config.pass_key_password.encode() if config.pass_key_password else None
        try:
            load_signing_identity(certificate_pem=files["certificate"],
                                  private_key_pem=files["key"], wwdr_pem=files["wwdr"],
                                  password=password)
        except CertificateError as error:
            problems[_ENTRY_OF_PART[error.part]] = error.message
    return [Loaded(name=_ENTRY_OF_PART[part], expires_at=expiry.get(part),
                   problem=problems.get(_ENTRY_OF_PART[part]))
            for part in ("certificate", "wwdr")]


def _read_google(path: Path) -> Loaded:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Loaded(name="google_key", problem=f"{path.name} is missing")
    except OSError as error:
        return Loaded(name="google_key", problem=f"{path.name} cannot be read: {error.strerror}")
    except ValueError as error:  # json's errors say where, never what the file holds
        return Loaded(name="google_key", problem=f"{path.name} is not readable JSON ({error})")
    try:
        if not isinstance(info, dict):
            raise ValueError("the Google key file is not a service account key")
        signer_from_service_account_info(info)
    except ValueError as error:
        return Loaded(name="google_key", problem=str(error))
    return Loaded(name="google_key")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _day(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment is not None else "?"
