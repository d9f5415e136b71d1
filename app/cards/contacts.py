"""How a customer can be reached, as the program's join settings ask it: the email and
phone normalized, the program's contact rule applied, a birthday checked.

One set of rules for both doors (the join page and the merchant's API): each check names
what is wrong as a ``Fault`` per field, which the page says in the customer's language
and the API in English (``ContactInvalid``, 422 with ``errors`` naming each field).

Invariants: a stored email is lower-cased as ``email_validator`` normalizes it; a stored
phone is E.164, read with the program's country when it has no country code
(``"067 123 45 67"`` in UA is ``+380671234567``); a birthday lies between
``EARLIEST_BIRTHDAY`` and today.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from app.errors import Invalid
from app.merchants.models import ContactRule

EARLIEST_BIRTHDAY = date(1900, 1, 1)


class Fault(enum.Enum):
    """What is wrong with one field of a join."""

    MISSING = "missing"  # the program requires this field and it is empty
    CONTACT_MISSING = "contact_missing"  # 'either': neither an email nor a phone
    EMAIL_INVALID = "email_invalid"
    PHONE_INVALID = "phone_invalid"
    BIRTHDAY_INVALID = "birthday_invalid"  # not a date (only a form can send one)
    BIRTHDAY_IN_FUTURE = "birthday_in_future"
    BIRTHDAY_TOO_EARLY = "birthday_too_early"


# What the API says (its clients are developers, in English); pages say their own.
API_MESSAGES = {
    Fault.MISSING: "is required by this program",
    Fault.CONTACT_MISSING: "give an email address or a phone number",
    Fault.EMAIL_INVALID: "not a valid email address",
    Fault.PHONE_INVALID: "not a valid phone number; write it with the country code, "
                         "like +380 44 123 4567",
    Fault.BIRTHDAY_INVALID: "must be a date, YYYY-MM-DD",
    Fault.BIRTHDAY_IN_FUTURE: "must not be in the future",
    Fault.BIRTHDAY_TOO_EARLY: "must be in 1900 or later",
}


class ContactInvalid(Invalid):
    """422: the fields named in ``faults`` are wrong (each with its ``Fault``)."""

    def __init__(self, faults: dict[str, Fault]) -> None:
        errors = [{"field": field, "message": API_MESSAGES[fault]}
                  for field, fault in faults.items()]
        first = errors[0]
        super().__init__(f"{first['field']}: {first['message']}", errors=errors)
        self.faults = faults


@dataclass(frozen=True)
class Contact:
    """A customer's email and phone, normalized; at least one of them is set."""

    email: str | None
    phone: str | None


def normalize_email(value: str | None) -> str | None:
    """The email as stored, None for none; ``ContactInvalid`` if it is not one."""
    if not value:
        return None
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise ContactInvalid({"email": Fault.EMAIL_INVALID}) from None
    return result.normalized.lower()


# RFC 5322's dot-atom of ASCII atext, up to 64 characters: a local part every validator
# takes as it is (tests/test_imports_input.py holds the reader to ``normalize_email``).
_PLAIN_LOCAL_PART = re.compile(
    r"(?=.{1,64}$)[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


class EmailReader:
    """``normalize_email`` for many addresses (an import's), each distinct domain checked
    once: an address at a domain that passed is checked with a stand-in domain for its
    local part, and given the domain as it was normalized then. The answers are
    ``normalize_email``'s (a long address is checked in full, for the length limits)."""

    STAND_IN = "a.io"
    CHECKED_IN_FULL_FROM = 200  # characters: near email_validator's length limits

    def __init__(self) -> None:
        self._domains: dict[str, str] = {}  # as written -> as normalized

    def __call__(self, value: str | None) -> str | None:
        if not value:
            return None
        local, _, domain = value.rpartition("@")
        known = self._domains.get(domain)
        if known is None or not local or len(value) >= self.CHECKED_IN_FULL_FROM:
            normalized = normalize_email(value)
            assert normalized is not None
            self._domains.setdefault(domain, normalized.rpartition("@")[2])
            return normalized
        if _PLAIN_LOCAL_PART.fullmatch(local):
            return f"{local.lower()}@{known}"  # what email_validator makes of it
        checked = normalize_email(f"{local}@{self.STAND_IN}")
        assert checked is not None
        return f"{checked.rpartition('@')[0]}@{known}"


def normalize_phone(value: str | None, country: str | None) -> str | None:
    """The phone in E.164, read with ``country`` when it has no country code; None for
    none; ``ContactInvalid`` if it is no valid number."""
    if not value:
        return None
    try:
        parsed = phonenumbers.parse(value, country)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise ContactInvalid({"phone": Fault.PHONE_INVALID})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class ContactSettings(Protocol):
    """What the contact rules read of a program (``Program``, or a copy of its values)."""

    @property
    def country(self) -> str | None: ...

    @property
    def contact(self) -> str: ...


def read_contact(program: ContactSettings, *, email: str | None, phone: str | None,
                 email_reader: Callable[[str | None], str | None] = normalize_email
                 ) -> Contact:
    """The contact the program's rule asks for, normalized; ``ContactInvalid`` naming
    every wrong field at once. ``email_reader`` normalizes the email (``EmailReader``
    does it faster for many)."""
    faults: dict[str, Fault] = {}
    normalized: dict[str, str | None] = {"email": None, "phone": None}
    for field, value, normalize in (
            ("email", email, email_reader),
            ("phone", phone, lambda text: normalize_phone(text, program.country))):
        try:
            normalized[field] = normalize(value)
        except ContactInvalid as invalid:
            faults.update(invalid.faults)
    rule = ContactRule(program.contact)
    for field in rule.required_fields:
        if not normalized[field] and field not in faults:
            faults[field] = Fault.MISSING
    if rule is ContactRule.EITHER and not faults and not any(normalized.values()):
        faults = {"email": Fault.CONTACT_MISSING, "phone": Fault.CONTACT_MISSING}
    if faults:
        raise ContactInvalid(faults)
    return Contact(email=normalized["email"], phone=normalized["phone"])


def birthday_fault(value: date, *, today: date) -> Fault | None:
    """Why ``value`` cannot be a birthday, or None when it can."""
    if value > today:
        return Fault.BIRTHDAY_IN_FUTURE
    if value < EARLIEST_BIRTHDAY:
        return Fault.BIRTHDAY_TOO_EARLY
    return None


def phone_example(country: str | None) -> str:
    """A mobile number as a customer of ``country`` would write it (``050 123 4567`` in
    UA), or with a country code when the program has no country."""
    example = phonenumbers.example_number_for_type(
        country or "UA", phonenumbers.PhoneNumberType.MOBILE)
    if example is None:  # a region without mobile examples
        example = phonenumbers.example_number(country or "UA")
    if example is None:
        return "+380 50 123 4567"
    kind = (phonenumbers.PhoneNumberFormat.NATIONAL if country
            else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(example, kind)


MASK = "***"


def masked_email(email: str | None) -> str | None:
    """The email as a list shows it to a role that may not read it whole: its first
    character and its domain (``o***@example.com``), never its length."""
    if not email:
        return email
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}{MASK}@{domain}"


def masked_phone(phone: str | None) -> str | None:
    """The phone as a list shows it to a role that may not read it whole: its country
    code and its last two digits (``+380***67``), never its length."""
    if not phone:
        return phone
    try:
        prefix = f"+{phonenumbers.parse(phone, None).country_code}"
    except phonenumbers.NumberParseException:
        prefix = ""
    return f"{prefix}{MASK}{phone[-2:]}"
