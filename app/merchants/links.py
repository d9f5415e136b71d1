"""The one-time links mailed to staff members: an invitation, a password reset.

A link's token is its row's id and an HMAC of it under a key derived from the service's
secret: nothing usable is stored (the row says whom, what for and until when), a token
cannot be guessed from an id, and changing ``LOYALPASS_SECRET_KEY`` voids every link
unless the old key is listed in ``LOYALPASS_SECRET_KEY_PREVIOUS`` (``app.secret_keys``):
a link is made with the current key and opens with it or any previous one.
A token is opened once, within its row's lifetime (``app.merchants.accounts``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

LINK_PATH = "/dashboard/link/"  # what the mailed URL starts with after the base URL
_PURPOSE = b"loyalpass staff link"
_MAX_ID_DIGITS = 18  # ids as the database writes them: within 64 bits


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()


def _mac(secret: str, link_id: int) -> str:
    digest = hmac.new(_key(secret), str(link_id).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def link_token(secret: str, link_id: int) -> str:
    return f"{link_id}.{_mac(secret, link_id)}"


def link_url(base_url: str, secret: str, link_id: int) -> str:
    return f"{base_url}{LINK_PATH}{link_token(secret, link_id)}"


def link_id_of(secrets: Sequence[str], token: str) -> int | None:
    """The link a token names, or None when it is not one we made with any of
    ``secrets`` (the current key first)."""
    number, _, mac = token.partition(".")
    if not (number.isascii() and number.isdigit()) or number[0] == "0" or (
            len(number) > _MAX_ID_DIGITS):
        return None
    if not any(hmac.compare_digest(_mac(secret, int(number)).encode(), mac.encode())
               for secret in secrets):
        return None
    return int(number)
