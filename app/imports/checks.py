"""Each row of an import on its own: what it holds (``Candidate``) or what is wrong with
it (``RowFault`` per field, each with a stable ``RowProblem`` code).

The rules are the join's and the enrolment's (``app.cards.contacts``: the program's
country for phones without a country code, its contact rule, birthdays from 1900 to
today) and the ledger's (a balance is a whole number of points, not negative). What the
file and the database say about the rows together (duplicates, customers already known,
old numbers in use) is ``app.imports.plan``'s.
"""

from __future__ import annotations

import contextlib
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from app.cards.contacts import (
    API_MESSAGES,
    ContactInvalid,
    EmailReader,
    Fault,
    birthday_fault,
    read_contact,
)
from app.cards.numbers import LEGACY_NUMBER_RULE, legacy_number
from app.imports.sheet import Column, SheetRow
from app.merchants.models import Program
from app.validation import MAX_INT, text_fault

NAME_MAX_LENGTH = 200  # ``customers.name``
CELL_MAX_LENGTH = 320  # the longest column (``customers.email``)
_ISO_DATE = re.compile(r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})", re.ASCII)
_DOTTED_DATE = re.compile(r"(?P<day>\d{1,2})\.(?P<month>\d{1,2})\.(?P<year>\d{4})", re.ASCII)
YES = frozenset({"1", "yes", "y", "true", "+", "да", "так", "x", "✓"})
NO = frozenset({"", "0", "no", "n", "false", "-", "нет", "ні"})
_THOUSANDS = re.compile(r"(?<=\d)[ \u00a0\u202f'](?=\d{3}\b)")


class RowProblem(enum.StrEnum):
    """What is wrong with a row, by its stable code, with what the API says of it."""

    message: str

    def __new__(cls, code: str, message: str) -> RowProblem:
        member = str.__new__(cls, code)
        member._value_ = code
        member.message = message
        return member

    NAME_MISSING = "name_missing", "a name is required"
    TOO_LONG = "too_long", f"longer than {CELL_MAX_LENGTH} characters"
    CONTROL_CHARACTERS = "control_characters", "holds control characters"
    MISSING = Fault.MISSING.value, API_MESSAGES[Fault.MISSING]
    CONTACT_MISSING = Fault.CONTACT_MISSING.value, API_MESSAGES[Fault.CONTACT_MISSING]
    EMAIL_INVALID = Fault.EMAIL_INVALID.value, API_MESSAGES[Fault.EMAIL_INVALID]
    PHONE_INVALID = Fault.PHONE_INVALID.value, (
        "not a valid phone number for the program's country; write it with the country "
        "code, like +380 44 123 4567")
    BIRTHDAY_INVALID = Fault.BIRTHDAY_INVALID.value, "must be a date, YYYY-MM-DD or DD.MM.YYYY"
    BIRTHDAY_IN_FUTURE = Fault.BIRTHDAY_IN_FUTURE.value, API_MESSAGES[Fault.BIRTHDAY_IN_FUTURE]
    BIRTHDAY_TOO_EARLY = Fault.BIRTHDAY_TOO_EARLY.value, API_MESSAGES[Fault.BIRTHDAY_TOO_EARLY]
    CONSENT_INVALID = "consent_invalid", "must be yes or no (1/0, true/false, да/нет, так/ні)"
    BALANCE_INVALID = "balance_invalid", "must be a whole number of points"
    BALANCE_NEGATIVE = "balance_negative", "must not be negative"
    BALANCE_TOO_LARGE = "balance_too_large", f"must be at most {MAX_INT}"
    BALANCE_NOT_POINTS = "balance_not_points", "a stamps program has no points balance"
    OLD_NUMBER_INVALID = "old_number_invalid", f"must be {LEGACY_NUMBER_RULE}"
    DUPLICATE_IN_FILE = "duplicate_in_file", "the same as an earlier row of the file"
    OLD_NUMBER_TAKEN = "old_number_taken", (
        "another card of yours has this number (as its number or its old number)")


BY_FAULT: Mapping[Fault, RowProblem] = {
    fault: problem for problem in RowProblem for fault in Fault if fault.value == problem}


@dataclass(frozen=True)
class RowFault:
    """One problem of one row: the row as a spreadsheet numbers it, the column, the code,
    and (a duplicate) the earlier row it repeats."""

    row: int
    field: str
    code: RowProblem
    of_row: int | None = None

    def as_dict(self) -> dict[str, object]:
        said: dict[str, object] = {"row": self.row, "field": self.field, "code": self.code,
                                   "message": self.code.message}
        if self.of_row is not None:
            said["of_row"] = self.of_row
        return said


@dataclass(frozen=True)
class Candidate:
    """A row without problems of its own: the customer and card it asks for."""

    row: int
    name: str
    email: str | None
    phone: str | None
    birthday: date | None
    consent: bool
    old_number: str | None
    balance: int


@dataclass(frozen=True)
class RowTerms:
    """What the checks read of the program, copied from it, so that a file is checked
    holding no transaction (on SQLite, no write lock) while its rows are read."""

    country: str | None
    contact: str
    kind: str

    @classmethod
    def of(cls, program: Program) -> RowTerms:
        return cls(country=program.country, contact=program.contact, kind=program.kind)


@dataclass(frozen=True)
class Checked:
    candidate: Candidate | None  # None when the row has faults
    faults: list[RowFault]


def check_row(terms: RowTerms, sheet_row: SheetRow, *, today: date,
              email_reader: EmailReader) -> Checked:
    """The row as a candidate, or every fault of it (``email_reader``: one per file)."""
    cells, row = sheet_row.cells, sheet_row.row
    faults = [RowFault(row, column, problem) for column, value in cells.items()
              if (problem := _text_problem(value)) is not None]
    if faults:
        return Checked(None, faults)
    name = cells.get(Column.NAME, "")
    if not name:
        faults.append(RowFault(row, Column.NAME, RowProblem.NAME_MISSING))
    elif len(name) > NAME_MAX_LENGTH:
        faults.append(RowFault(row, Column.NAME, RowProblem.TOO_LONG))
    email, phone = _contact(terms, cells, row, faults, email_reader)
    birthday = _birthday(cells.get(Column.BIRTHDAY, ""), row, today, faults)
    consent = _consent(cells.get(Column.CONSENT, ""), row, faults)
    balance = _balance(terms, cells.get(Column.BALANCE, ""), row, faults)
    old_number = None
    if cells.get(Column.OLD_NUMBER):
        old_number = legacy_number(cells[Column.OLD_NUMBER])
        if old_number is None:
            faults.append(RowFault(row, Column.OLD_NUMBER, RowProblem.OLD_NUMBER_INVALID))
    if faults:
        return Checked(None, faults)
    return Checked(Candidate(row, name, email, phone, birthday, consent, old_number, balance),
                   [])


def _text_problem(value: str) -> RowProblem | None:
    if len(value) > CELL_MAX_LENGTH:
        return RowProblem.TOO_LONG
    if text_fault(value) is not None:
        return RowProblem.CONTROL_CHARACTERS
    return None


def _contact(terms: RowTerms, cells: Mapping[Column, str], row: int,
             faults: list[RowFault], email_reader: EmailReader
             ) -> tuple[str | None, str | None]:
    try:
        contact = read_contact(terms, email=cells.get(Column.EMAIL) or None,
                               phone=cells.get(Column.PHONE) or None,
                               email_reader=email_reader)
    except ContactInvalid as invalid:
        faults.extend(RowFault(row, field, BY_FAULT[fault])
                      for field, fault in invalid.faults.items())
        return None, None
    return contact.email, contact.phone


def _birthday(text: str, row: int, today: date, faults: list[RowFault]) -> date | None:
    if not text:
        return None
    written = _ISO_DATE.fullmatch(text) or _DOTTED_DATE.fullmatch(text)
    value = None
    if written is not None:
        with contextlib.suppress(ValueError):  # no such day
            value = date(int(written["year"]), int(written["month"]), int(written["day"]))
    fault = Fault.BIRTHDAY_INVALID if value is None else birthday_fault(value, today=today)
    if fault is not None:
        faults.append(RowFault(row, Column.BIRTHDAY, BY_FAULT[fault]))
    return value


def _consent(text: str, row: int, faults: list[RowFault]) -> bool:
    said = text.lower()
    if said in YES:
        return True
    if said not in NO:
        faults.append(RowFault(row, Column.CONSENT, RowProblem.CONSENT_INVALID))
    return False


def _balance(terms: RowTerms, text: str, row: int, faults: list[RowFault]) -> int:
    written = _THOUSANDS.sub("", text)  # "1 200" as a spreadsheet may format it
    if not written:
        return 0
    negative = written.startswith("-")
    digits = written[1:] if negative or written.startswith("+") else written
    if not (digits.isascii() and digits.isdigit()):
        faults.append(RowFault(row, Column.BALANCE, RowProblem.BALANCE_INVALID))
        return 0
    if len(digits) > len(str(MAX_INT)) or int(digits) > MAX_INT:
        faults.append(RowFault(row, Column.BALANCE, RowProblem.BALANCE_TOO_LARGE))
        return 0
    value = int(digits)
    if negative and value:
        faults.append(RowFault(row, Column.BALANCE, RowProblem.BALANCE_NEGATIVE))
        return 0
    if value and terms.kind != "points":
        faults.append(RowFault(row, Column.BALANCE, RowProblem.BALANCE_NOT_POINTS))
        return 0
    return value
