"""Card numbers (12 digits, Luhn check digit) and the barcode message that carries them.

The barcode message is the card number followed by an 8-digit keyed MAC, all digits, so
that it stays compact in every symbology (Code 128 set C, QR numeric mode) and cannot be
forged from a number read off someone's card. A cashier may still type the bare number:
the check digit catches typos.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

NUMBER_LENGTH = 12
MAC_DIGITS = 8


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


def number_from_scan(scanned: str, secret: bytes) -> str | None:
    """The card number a scanned barcode or a typed number stands for, or None."""
    text = "".join(scanned.split()).replace("-", "")
    if len(text) == NUMBER_LENGTH:
        return text if is_valid_number(text) else None
    if len(text) == NUMBER_LENGTH + MAC_DIGITS and text.isascii() and text.isdigit():
        number = text[:NUMBER_LENGTH]
        if is_valid_number(number) and hmac.compare_digest(_mac(number, secret),
                                                           text[NUMBER_LENGTH:]):
            return number
    return None
