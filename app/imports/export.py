"""The program's customers and cards as a CSV file, streamed a chunk at a time.

The columns are the import's (``app.imports.sheet.Column``: the balance under
``balance``, so an export imports into another program as it stands) and then the
card's number, tier, creation time and source. UTF-8 with a byte order mark and ``,``
between cells, which Excel opens in any locale; phones in E.164, dates ISO 8601.

Invariants: a cell that starts with ``= + - @``, a tab or a carriage return is written
after an apostrophe, so that no spreadsheet runs it as a formula (the import reads it
back without the apostrophe); phones are the exception, being E.164 as stored (``+`` and
digits only: nothing a spreadsheet could run). Cards deleted with their holder's data
are left out. Each export leaves an audit record (who took the customers' data, when).
It holds what its taker may see in a list (``GET /programs/{id}/cards``): a taker limited
to locations (a key bound to one, a staff member limited to some) exports the cards
enrolled there only, and a role that may not read customers whole
(``app.merchants.access.sees_customers_whole``) gets emails and phones masked and no
birthdays.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cards.contacts import masked_email, masked_phone
from app.cards.models import Card, CardStatus, Customer, LegacyCardNumber
from app.imports.sheet import FORMULA_STARTS, PROTECTED, Column
from app.merchants.access import sees_customers_whole
from app.merchants.models import Program
from app.points.postings import Actor, audit

CHUNK = 1000  # cards per statement
BOM = "\ufeff"
HEADER = (*(str(column) for column in Column), "card number", "tier", "created", "source")
_RISKY_STARTS = (*FORMULA_STARTS, "\t", "\r")


@dataclass(frozen=True, slots=True)
class Extent:
    """What of the program's cards an export holds."""

    program_id: int
    locations: frozenset[int]  # a taker limited to locations: the cards enrolled there
    masked: bool  # emails and phones masked, no birthdays


def export_cards(session: Session, *, program: Program, actor: Actor,
                 sessions: Callable[[], Session]) -> Iterator[str]:
    """The file's text, in pieces read on a session of their own from ``sessions``
    (closed when the last piece is read or the reader goes away: the pieces outlive the
    request's session); the export's audit record is committed before the first."""
    audit(session, actor, "export", program_id=program.id)
    session.commit()
    return _pieces(sessions, Extent(program_id=program.id,
                                    locations=actor.principal.locations,
                                    masked=not sees_customers_whole(actor.role)))


def neutralized(cell: str) -> str:
    """A cell as a spreadsheet may open it without running it."""
    return PROTECTED + cell if cell.startswith(_RISKY_STARTS) else cell


def _pieces(sessions: Callable[[], Session], extent: Extent) -> Iterator[str]:
    old_number = (select(LegacyCardNumber.number).where(LegacyCardNumber.card_id == Card.id)
                  .order_by(LegacyCardNumber.id).limit(1).scalar_subquery())
    query = (select(Card.id, Card.number, Card.balance, Card.tier, Card.created_at,
                    Card.source, Customer.name, Customer.phone, Customer.email,
                    Customer.birthday, Customer.marketing_consent,
                    old_number.label("old_number"))
             .join(Customer, Customer.id == Card.customer_id)
             .where(Card.program_id == extent.program_id,
                    Card.status != CardStatus.DELETED.value)
             .order_by(Card.id).limit(CHUNK))
    if extent.locations:
        query = query.where(Card.location_id.in_(sorted(extent.locations)))
    yield BOM + _line(HEADER)
    after = 0
    with sessions() as session:
        while True:
            rows = session.execute(query.where(Card.id > after)).all()
            session.rollback()  # no transaction held while the client reads
            if not rows:
                return
            yield "".join(_line(_cells(row, masked=extent.masked)) for row in rows)
            after = rows[-1].id


def _cells(row: Any, *, masked: bool) -> tuple[str, ...]:
    """A row of ``_pieces``' query (a SQLAlchemy ``Row``), by its columns' names."""
    said = row._mapping
    if masked:
        phone, email = masked_phone(said["phone"]) or "", masked_email(said["email"]) or ""
        return (neutralized(said["name"]), neutralized(phone), neutralized(email), "",
                *_card_cells(said))
    return (neutralized(said["name"]), said["phone"] or "",
            neutralized(said["email"] or ""), _text(said["birthday"]), *_card_cells(said))


def _card_cells(said: Any) -> tuple[str, ...]:
    """The cells after the contacts: consent, the card and where it came from."""
    return ("yes" if said["marketing_consent"] else "no",
            neutralized(said["old_number"] or ""), str(said["balance"]), said["number"],
            neutralized(said["tier"] or ""), _text(said["created_at"]),
            neutralized(said["source"] or ""))


def _text(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.replace(microsecond=0).isoformat() + "Z"
    return value.isoformat()


def _line(cells: tuple[str, ...]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue()
