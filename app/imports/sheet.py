"""Reading an uploaded CSV file into rows of named cells, as spreadsheets write it.

Excel in a Russian or Ukrainian locale writes ``;`` between cells (``,`` elsewhere), UTF-8
with a byte order mark ("CSV UTF-8") or the Windows-1251 code page (plain "CSV"): each is
read. The first row names the columns, in English, Russian or Ukrainian (``HEADERS``);
columns of other names are ignored and listed. A cell that starts with an apostrophe
before ``= + - @`` is read without it: that is how an export protects spreadsheets from
formulas (``app.imports.export``), so an export reads back as it was.

Invariants: a file this refuses (``CsvUnreadable``, 422 ``csv_unreadable``) was not a
text table: binary (a NUL byte), no header, two columns of one meaning, a cell over the
csv module's field limit, more than ``MAX_ROWS`` rows. Rows are numbered as a spreadsheet
shows them: the header is row 1. Rows with every cell blank are left out.
"""

from __future__ import annotations

import csv
import enum
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from app.errors import Invalid
from app.problem_codes import ProblemCode

MAX_BYTES = 16 * 1024 * 1024  # a 100,000-row file is about 10 MiB
MAX_ROWS = 100_000
DELIMITERS = (";", ",", "\t")
FORMULA_STARTS = ("=", "+", "-", "@")  # what a spreadsheet may run as a formula
PROTECTED = "'"  # put before such a cell on export (``app.imports.export``)


class Column(enum.StrEnum):
    """A column the import reads, by its English header."""

    NAME = "name"
    PHONE = "phone"
    EMAIL = "email"
    BIRTHDAY = "birthday"
    CONSENT = "consent"
    OLD_NUMBER = "old card number"
    BALANCE = "balance"


_SYNONYMS = {
    Column.NAME: ("name", "full name", "customer", "customer name", "имя", "фио", "ф и о",
                  "клиент", "имя клиента", "імя", "піб", "п і б", "клієнт", "імя клієнта"),
    Column.PHONE: ("phone", "phone number", "mobile", "telephone", "tel", "телефон",
                   "номер телефона", "мобильный", "тел", "номер телефону", "мобільний"),
    Column.EMAIL: ("email", "e mail", "mail", "email address", "электронная почта",
                   "эл почта", "почта", "емейл", "електронна пошта", "ел пошта", "пошта"),
    Column.BIRTHDAY: ("birthday", "birth date", "date of birth", "день рождения",
                      "дата рождения", "день народження", "дата народження"),
    Column.CONSENT: ("consent", "marketing consent", "согласие", "согласие на рассылку",
                     "згода", "згода на розсилку"),
    Column.OLD_NUMBER: ("old card number", "old number", "legacy number",
                        "previous card number", "старый номер карты", "старый номер",
                        "номер старой карты", "номер карты", "старий номер картки",
                        "старий номер", "номер старої картки", "номер картки"),
    Column.BALANCE: ("balance", "opening balance", "starting balance", "points",
                     "начальный баланс", "баланс", "бонусы", "баллы", "остаток",
                     "початковий баланс", "бонуси", "бали", "залишок"),
}
HEADERS: Mapping[str, Column] = {text: column for column, texts in _SYNONYMS.items()
                                 for text in texts}
_HEADER_NOISE = re.compile(r"[\s_.\-:*]+")
_APOSTROPHES = re.compile("['\u2019\u02bc`]")


class CsvUnreadable(Invalid):
    """422: the upload is not a CSV table this can read; nothing was read from it."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, code=ProblemCode.CSV_UNREADABLE,
                         errors=[{"field": "(body)", "message": detail}])


@dataclass(frozen=True)
class SheetRow:
    """One row: its number as a spreadsheet shows it, and its cells by column."""

    row: int
    cells: Mapping[Column, str]


@dataclass(frozen=True)
class Sheet:
    rows: list[SheetRow]
    columns: list[Column]  # in the file's order
    ignored: list[str]  # headers of columns left unread
    delimiter: str
    encoding: str


def header_key(text: str) -> str:
    """A header as ``HEADERS`` knows it: lower case, apostrophes out, punctuation and
    runs of spaces as one space."""
    return _HEADER_NOISE.sub(" ", _APOSTROPHES.sub("", text.lower())).strip()


def read_sheet(data: bytes) -> Sheet:
    """The file's rows, or ``CsvUnreadable`` naming what is wrong with it."""
    if b"\x00" in data:
        raise CsvUnreadable("This is not a text file (it holds NUL bytes); save the sheet "
                            "as CSV.")
    text, encoding = _decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = max(DELIMITERS, key=first_line.count)
    try:
        records = list(_records(csv.reader(io.StringIO(text, newline=""),
                                           delimiter=delimiter)))
    except csv.Error as error:
        raise CsvUnreadable(f"The file is not a CSV table this can read: {error}.") from None
    if not records or not any(cell.strip() for cell in records[0][1]):
        raise CsvUnreadable("The file has no header row naming its columns.")
    columns, ignored = _header(records[0][1])
    rows = [SheetRow(row, {column: _cell(cells, index) for index, column in columns.items()})
            for row, cells in records[1:] if any(cell.strip() for cell in cells)]
    return Sheet(rows, list(columns.values()), ignored, delimiter, encoding)


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    else:
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            encoding = "cp1251"  # Excel's plain "CSV" in a Russian or Ukrainian locale
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError:
        raise CsvUnreadable("The file is neither UTF-8 nor Windows-1251 text; save the "
                            "sheet as CSV UTF-8.") from None


def _records(reader: Iterator[list[str]]) -> list[tuple[int, list[str]]]:
    """(row number, cells) of each record, the header included; at most ``MAX_ROWS``
    after the header."""
    records = []
    for index, cells in enumerate(reader, start=1):
        if index > MAX_ROWS + 1:
            raise CsvUnreadable(f"The file has more than {MAX_ROWS:,} rows; split it.")
        records.append((index, cells))
    return records


def _header(cells: list[str]) -> tuple[dict[int, Column], list[str]]:
    columns: dict[int, Column] = {}
    ignored = []
    for index, cell in enumerate(cells):
        column = HEADERS.get(header_key(cell))
        if column is None:
            if cell.strip():
                ignored.append(cell.strip()[:100])
            continue
        if column in columns.values():
            raise CsvUnreadable(f"Two columns mean '{column}'; keep one.")
        columns[index] = column
    if Column.NAME not in columns.values():
        raise CsvUnreadable("The file has no 'name' column.")
    return columns, ignored


def _cell(cells: list[str], index: int) -> str:
    value = cells[index].strip() if index < len(cells) else ""
    if value.startswith(PROTECTED) and value[1:2] in FORMULA_STARTS and value[1:2]:
        return value[1:]
    return value
