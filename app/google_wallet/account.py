"""The issuer account Loyalpass acts as: the issuer id and the service account key.

Loaded once at start from ``LOYALPASS_GOOGLE_ISSUER_ID`` and ``certs/google.json``;
a missing or unusable key file fails there with one sentence naming it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from google.auth import crypt

from app.config import Config, ConfigError
from passes.google import save_link, signer_from_service_account_info


@dataclass(frozen=True)
class GoogleAccount:
    issuer_id: str
    service_account: Mapping[str, Any] = field(repr=False)
    signer: crypt.RSASigner = field(repr=False)
    origin: str

    @property
    def email(self) -> str:
        return str(self.service_account["client_email"])

    def class_id(self, program_id: int) -> str:
        return f"{self.issuer_id}.loyalpass-program-{program_id}"

    def object_id(self, serial_number: str) -> str:
        return f"{self.issuer_id}.{serial_number}"

    def save_url(self, *, program_id: int, serial_number: str) -> str:
        """The short "Add to Google Wallet" link naming the card's existing object."""
        return save_link(signer=self.signer, issuer_email=self.email,
                         object_id=self.object_id(serial_number),
                         class_id=self.class_id(program_id), origins=[self.origin],
                         issued_at=int(time.time()))


def load_google_account(config: Config) -> GoogleAccount | None:
    """The account, or None when Google Wallet is off (no issuer id)."""
    if config.google_issuer_id is None:
        return None
    path = config.certs_dir / "google.json"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"LOYALPASS_GOOGLE_ISSUER_ID is set but {path} is missing: put the Google "
            "service account key there (see certs.example/)."
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path} is not a readable JSON key file ({error}).") from None
    if not isinstance(info, dict):
        raise ConfigError(f"{path} is not a Google service account key file.")
    try:
        signer = signer_from_service_account_info(info)
    except ValueError as error:
        raise ConfigError(f"{path}: {error}.") from None
    return GoogleAccount(issuer_id=config.google_issuer_id, service_account=info,
                         signer=signer, origin=config.base_url)
