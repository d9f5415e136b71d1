"""Card numbers (12 digits, Luhn check digit) and the barcode message that carries them.

The barcode message is the card number followed by an 8-digit keyed MAC, all digits, so
that it stays compact in every symbology (Code 128 set C, QR numeric mode) and cannot be
forged from a number read off someone's card. A cashier may still type the bare number:
the check digit catches typos.

A card imported from the merchant's previous program may also keep the number it had
there (``legacy_number``: what the till looks for when no card has the number read).

A barcode signed with a previous secret key still reads while that key is listed
(``app.secret_keys``): ``number_from_scan`` tries the current key first, then each previous
one; ``barcode_message`` signs with the key it is given, the current one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

NUMBER_LENGTH = 12
MAC_DIGITS = 8
LEGACY_NUMBER_MAX_LENGTH = 32
LEGACY_NUMBER_RULE = (f"1 to {LEGACY_NUMBER_MAX_LENGTH} letters and digits (spaces and "
                      "dashes are left out)")


def luhn_check_digit(payload: str) -> str:
    total = 0
    for index, char in enumerate(reversed(payload)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def is_valid_number(number: str) -> bool:
    return (
        len(number) == NUMBER_LENGTH
        and number.isascii()
        and number.isdigit()
        and luhn_check_digit(number[:-1]) == number[-1]
    )


def new_card_number() -> str:
    payload = str(secrets.randbelow(9 * 10 ** (NUMBER_LENGTH - 2)) + 10 ** (NUMBER_LENGTH - 2))
    return payload + luhn_check_digit(payload)


def _mac(number: str, secret: bytes) -> str:
    digest = hmac.new(secret, b"barcode:" + number.encode(), hashlib.sha256).digest()
    return str(int.from_bytes(digest[:8], "big") % 10**MAC_DIGITS).zfill(MAC_DIGITS)


def barcode_message(number: str, secret: bytes) -> str:
    return number + _mac(number, secret)


def number_from_scan(scanned: str, keys: Sequence[bytes]) -> str | None:
    """The card number a scanned barcode or a typed number stands for, or None; a
    barcode's MAC is checked against each of ``keys`` (the current secret key first)."""
    text = _compact(scanned)
    if len(text) == NUMBER_LENGTH:
        return text if is_valid_number(text) else None
    if len(text) == NUMBER_LENGTH + MAC_DIGITS and text.isascii() and text.isdigit():
        number, mac = text[:NUMBER_LENGTH], text[NUMBER_LENGTH:]
        if is_valid_number(number) and any(hmac.compare_digest(_mac(number, key), mac)
                                           for key in keys):
            return number
    return None


def _compact(text: str) -> str:
    """What a cashier typed or a scanner read, without spaces and dashes."""
    return "".join(text.split()).replace("-", "")


def legacy_number(text: str) -> str | None:
    """An old card number as stored and looked for: spaces and dashes left out, letters
    upper-cased; None when what is left is not 1 to ``LEGACY_NUMBER_MAX_LENGTH`` ASCII
    letters and digits."""
    compact = _compact(text).upper()
    if not (0 < len(compact) <= LEGACY_NUMBER_MAX_LENGTH and compact.isascii()
            and compact.isalnum()):
        return None
    return compact
