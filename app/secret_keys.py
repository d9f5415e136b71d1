"""The service's secret keys: the current one (``LOYALPASS_SECRET_KEY``), which signs
everything made from now on, and the previous ones (``LOYALPASS_SECRET_KEY_PREVIOUS``),
which still verify what they signed while the passes handed out are re-signed
(``app.cards.rotation``).

Invariants: what is signed is always signed with the current key; what is verified is
tried with the current key first, then each previous one, so that a scan of a current
barcode costs what it cost before rotation existed. No key is ever written anywhere: a
key is known in the database and the logs by its ``key_id`` only, a digest that tells
nothing of it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

MIN_LENGTH = 16
KEY_ID_LENGTH = 16  # hex digits of a key's public id: 64 bits
_KEY_ID_PURPOSE = b"loyalpass.key-id"


class KeysUnusable(ValueError):
    """The previous keys cannot be used as given; the message names no key."""


def key_id(key: str) -> str:
    """The public id of ``key``: the same in every process, useless to anyone without it."""
    digest = hmac.new(key.encode(), _KEY_ID_PURPOSE, hashlib.sha256).hexdigest()
    return digest[:KEY_ID_LENGTH]


def split_keys(text: str) -> tuple[str, ...]:
    """The keys a ``LOYALPASS_SECRET_KEY_PREVIOUS`` value lists, separated by commas or
    whitespace (so a key holding either cannot be listed)."""
    return tuple(part for part in text.replace(",", " ").split() if part)


def check_previous(current: str, previous: tuple[str, ...]) -> None:
    """``KeysUnusable`` when a previous key is too short, is the current key, or is listed
    twice; each sentence says which one by its place in the list, never by its text."""
    seen: set[str] = set()
    for place, key in enumerate(previous, start=1):
        if len(key) < MIN_LENGTH:
            raise KeysUnusable(
                f"key {place} of LOYALPASS_SECRET_KEY_PREVIOUS is {len(key)} characters "
                f"long; every key is at least {MIN_LENGTH} (keys are separated by commas "
                "or whitespace).")
        if key == current:
            raise KeysUnusable(
                f"key {place} of LOYALPASS_SECRET_KEY_PREVIOUS is LOYALPASS_SECRET_KEY "
                "itself; list only the keys used before it.")
        if key in seen:
            raise KeysUnusable(f"key {place} of LOYALPASS_SECRET_KEY_PREVIOUS is listed twice.")
        seen.add(key)


@dataclass(frozen=True)
class SecretKeys:
    """The current key and the previous ones still accepted, newest first."""

    current: str
    previous: tuple[str, ...] = ()

    @property
    def verifying(self) -> tuple[str, ...]:
        """Every key a signature may have been made with, the current one first."""
        return (self.current, *self.previous)

    @property
    def verifying_bytes(self) -> tuple[bytes, ...]:
        return tuple(key.encode() for key in self.verifying)

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    @property
    def previous_ids(self) -> tuple[str, ...]:
        return tuple(key_id(key) for key in self.previous)
