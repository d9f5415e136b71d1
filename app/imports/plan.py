"""What an import would do with each row, given the rest of the file and the database:
duplicates within the file, customers the merchant knows already, old numbers in use.

Reads only, a few statements for the whole file (``app.bulk.rows_among``), in the caller's
transaction, so that the import that follows writes what its own reads saw.

A row's customer is the merchant's customer with its email, else with its phone (the
email's when they name two: people share phones more than mailboxes, as enrolment
matches). A known customer with a card of the program is ``MATCHED``: their card is left
as it is (no second card, no second opening balance), but for an old number it did not
have yet. A known customer without one gets a card (``NEW_CARD``); anyone else is a
``NEW_CUSTOMER``. A later row naming the same email, phone, old number or known customer
as an earlier one is a ``duplicate_in_file``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.bulk import rows_among
from app.cards.models import Card, Customer, LegacyCardNumber
from app.imports.checks import Candidate, RowFault, RowProblem
from app.imports.sheet import Column
from app.merchants.models import Program


class Outcome(enum.StrEnum):
    NEW_CUSTOMER = "new_customer"
    NEW_CARD = "new_card"  # a customer of another of the merchant's programs
    MATCHED = "matched"  # holds a card of the program already: left as it is


@dataclass(frozen=True)
class Planned:
    """A row the import writes (or, ``MATCHED`` without ``add_old_number``, skips)."""

    candidate: Candidate
    outcome: Outcome
    customer_id: int | None  # the known customer's
    card_id: int | None  # the card they hold already (``MATCHED``)
    gives_consent: bool  # a known customer without consent, who gave it in the file
    add_old_number: bool


@dataclass(frozen=True)
class _Known:
    """What the database says of the file's contacts and numbers."""

    by_email: dict[str, int]
    by_phone: dict[str, int]
    consenting: set[int]  # of those customers
    cards: dict[int, int]  # customer id -> their card of the program
    old_numbers: dict[str, int]  # old number -> card id (any of the merchant's programs)
    card_numbers: set[str]  # the merchant's cards' own numbers among the old numbers


def plan(session: Session, program: Program, candidates: list[Candidate]
         ) -> tuple[list[Planned], list[RowFault]]:
    """Each candidate's plan, or its faults against the file and the database."""
    known = _known(session, program, candidates)
    seen: dict[tuple[str, object], int] = {}  # (column, value) -> the row that had it first
    planned, faults = [], []
    for candidate in candidates:
        customer_id, matched_on = _customer_of(known, candidate)
        found = _repeats(seen, candidate, customer_id, matched_on)
        old_card = known.old_numbers.get(candidate.old_number or "")
        card_id = known.cards.get(customer_id) if customer_id is not None else None
        if candidate.old_number and (candidate.old_number in known.card_numbers or (
                old_card is not None and old_card != card_id)):
            found.append(RowFault(candidate.row, Column.OLD_NUMBER, RowProblem.OLD_NUMBER_TAKEN))
        if found:
            faults.extend(found)
            continue
        outcome = (Outcome.NEW_CUSTOMER if customer_id is None
                   else Outcome.NEW_CARD if card_id is None else Outcome.MATCHED)
        planned.append(Planned(
            candidate, outcome, customer_id, card_id,
            gives_consent=(outcome is Outcome.NEW_CARD and candidate.consent
                           and customer_id not in known.consenting),
            add_old_number=candidate.old_number is not None and old_card is None))
    return planned, faults


def _customer_of(known: _Known, candidate: Candidate) -> tuple[int | None, Column]:
    """The known customer the row names, and by which column."""
    if candidate.email and candidate.email in known.by_email:
        return known.by_email[candidate.email], Column.EMAIL
    if candidate.phone and candidate.phone in known.by_phone:
        return known.by_phone[candidate.phone], Column.PHONE
    return None, Column.EMAIL


def _repeats(seen: dict[tuple[str, object], int], candidate: Candidate,
             customer_id: int | None, matched_on: Column) -> list[RowFault]:
    """Faults for what an earlier row had already; what this row has is remembered. A
    known customer met again through their other contact is said of the matching one."""
    faults = []
    for field, value in ((Column.EMAIL, candidate.email), (Column.PHONE, candidate.phone),
                         (Column.OLD_NUMBER, candidate.old_number)):
        if value is not None:
            earlier = seen.setdefault((field, value), candidate.row)
            if earlier != candidate.row:
                faults.append(RowFault(candidate.row, field, RowProblem.DUPLICATE_IN_FILE,
                                       of_row=earlier))
    if customer_id is not None:
        earlier = seen.setdefault(("customer", customer_id), candidate.row)
        if earlier != candidate.row and not faults:
            faults.append(RowFault(candidate.row, matched_on, RowProblem.DUPLICATE_IN_FILE,
                                   of_row=earlier))
    return faults


def _known(session: Session, program: Program, candidates: list[Candidate]) -> _Known:
    merchant = program.merchant_id
    emails = sorted({c.email for c in candidates if c.email})
    phones = sorted({c.phone for c in candidates if c.phone})
    olds = sorted({c.old_number for c in candidates if c.old_number})
    by_email: dict[str, int] = {}
    by_phone: dict[str, int] = {}
    consenting: set[int] = set()
    for column, values, found in ((Customer.email, emails, by_email),
                                  (Customer.phone, phones, by_phone)):
        for row in rows_among(session, select(column.label("contact"), Customer.id,
                                         Customer.marketing_consent)
                         .where(Customer.merchant_id == merchant), column, values):
            found[row.contact] = row.id
            if row.marketing_consent:
                consenting.add(row.id)
    customer_ids = sorted(set(by_email.values()) | set(by_phone.values()))
    cards = {row.customer_id: row.id for row in rows_among(
        session, select(Card.customer_id, Card.id).where(Card.program_id == program.id),
        Card.customer_id, customer_ids)}
    old_numbers = {row.number: row.card_id for row in rows_among(
        session, select(LegacyCardNumber.number, LegacyCardNumber.card_id)
        .where(LegacyCardNumber.merchant_id == merchant), LegacyCardNumber.number, olds)}
    card_numbers = {row.number for row in rows_among(
        session, select(Card.number).where(Card.merchant_id == merchant), Card.number, olds)}
    return _Known(by_email, by_phone, consenting, cards, old_numbers, card_numbers)
