"""The import's writes, in bulk statements: a 100,000-row file is a few dozen statements,
not hundreds of thousands of round trips.

Ids are taken before the rows are written (PostgreSQL: from each table's sequence;
SQLite: after the largest, under the write lock its transaction took at BEGIN), so that
rows are copied in without reading anything back (``app.bulk``: COPY on PostgreSQL).
Nothing here commits.

Each new card is what enrolment makes (``app.cards.service.create_card``): a fresh
number, serial and pass token, the program's starting tier, its first outbox row (the
worker makes its Google object; Apple has no device to push yet), and ``source`` =
``IMPORT_SOURCE``. Its opening balance is one ``adjust`` entry with the reason
``IMPORT_REASON``, the welcome points one ``welcome`` entry when the merchant asks for
them (``app.points.postings.post_openings``: the card row is written with the balance
they make, once).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, select, text, update
from sqlalchemy.orm import Session

from app.bulk import chunks, insert_rows, is_postgres, rows_among
from app.cards.audit import AuditAction, Who
from app.cards.models import AuditEvent, Card, Customer, LegacyCardNumber
from app.cards.numbers import new_card_number
from app.cards.service import cards_created, new_authentication_token, starting_tier
from app.clock import utcnow
from app.imports.checks import Candidate
from app.imports.plan import Outcome, Planned
from app.merchants.models import Program
from app.outbox.messages import queue_pass_updates
from app.points.postings import Actor, Posting, opening_balances, post_openings

IMPORT_SOURCE = "import"  # ``cards.source`` of an imported card (``app.cards.attribution``)
IMPORT_REASON = "import"  # the reason of its opening balance's entry
ADJUST, WELCOME = "adjust", "welcome"  # the kinds of entries a new card opens with
CUSTOMERS, CARDS, OLD_NUMBERS, EVENTS = (cast(Table, model.__table__) for model in (
    Customer, Card, LegacyCardNumber, AuditEvent))


@dataclass(frozen=True)
class Written:
    customers: int
    cards: int
    old_numbers: int
    points: int  # opening balances, in all
    consents: int  # known customers who gave consent in the file


def write(session: Session, *, program: Program, planned: Sequence[Planned], actor: Actor,
          who: Who, welcome: bool) -> Written:
    """Every planned row's customer, card, old number and opening balance."""
    now = utcnow()
    fresh = [each for each in planned if each.outcome is Outcome.NEW_CUSTOMER]
    customer_ids = _new_ids(session, CUSTOMERS, len(fresh))
    insert_rows(session, CUSTOMERS, [
        _customer_row(program, each.candidate, customer_id, now)
        for each, customer_id in zip(fresh, customer_ids, strict=True)])
    holders = dict(zip((each.candidate.row for each in fresh), customer_ids, strict=True))
    carded = [each for each in planned if each.outcome is not Outcome.MATCHED]
    card_ids = _new_ids(session, CARDS, len(carded))
    cards = dict(zip((each.candidate.row for each in carded), card_ids, strict=True))
    openings = _openings(program, carded, cards, welcome)
    balances = opening_balances(posting for postings in openings.values()
                                for posting in postings)
    numbers = _unused_numbers(session, len(carded))
    tier = starting_tier(program)
    card_rows = [
        _card_row(program, holders.get(each.candidate.row, each.customer_id), card_id,
                  number, tier, balances.get(card_id, 0), now)
        for each, card_id, number in zip(carded, card_ids, numbers, strict=True)]
    insert_rows(session, CARDS, card_rows)
    cards_created(session, merchant_id=program.merchant_id, rows=card_rows)
    for kind, postings in openings.items():
        post_openings(session, actor, postings, kind=kind,
                      reason=IMPORT_REASON if kind == ADJUST else WELCOME)
    cards.update({each.candidate.row: each.card_id for each in planned
                  if each.card_id is not None})
    olds = [each for each in planned if each.add_old_number]
    insert_rows(session, OLD_NUMBERS, [
        {"merchant_id": program.merchant_id, "program_id": program.id,
         "card_id": cards[each.candidate.row], "number": each.candidate.old_number,
         "created_at": now} for each in olds])
    consents = _consents(session, program, planned, holders, cards, who, now)
    queue_pass_updates(session, merchant_id=program.merchant_id, card_ids=card_ids,
                       pass_version=1, reason="imported")
    return Written(customers=len(fresh), cards=len(carded), old_numbers=len(olds),
                   points=sum(posting.points for posting in openings[ADJUST]),
                   consents=consents)


def _customer_row(program: Program, candidate: Candidate, customer_id: int, now: Any
                  ) -> dict[str, Any]:
    return {"id": customer_id, "merchant_id": program.merchant_id, "name": candidate.name,
            "email": candidate.email, "phone": candidate.phone, "locale": program.locales[0],
            "marketing_consent": candidate.consent,
            "consent_at": now if candidate.consent else None, "birthday": candidate.birthday,
            "consent_withdrawn_at": None, "erased_at": None, "created_at": now}


def _card_row(program: Program, customer_id: int | None, card_id: int, number: str,
              tier: str | None, balance: int, now: Any) -> dict[str, Any]:
    return {"id": card_id, "merchant_id": program.merchant_id, "program_id": program.id,
            "customer_id": customer_id, "location_id": None, "source": IMPORT_SOURCE,
            "number": number, "serial_number": uuid.uuid4().hex,
            "authentication_token": new_authentication_token(), "link_version": 0,
            "status": "active", "balance": balance, "tier": tier, "stamps": 0, "rewards": 0,
            "lifetime_spend": 0, "visits": 0, "last_visit_at": None, "pass_version": 1,
            "pass_updated_at": now, "pass_last_modified": now.replace(microsecond=0),
            "created_at": now}


def _consents(session: Session, program: Program, planned: Sequence[Planned],
              holders: dict[int, int], cards: dict[int, int], who: Who, now: Any) -> int:
    """Consent as the file gives it: a new customer's with their row; a known customer
    without consent gives it now (as enrolment records it). Each is audited as given."""
    known = [each.customer_id for each in planned if each.gives_consent]
    for chunk in chunks(known):
        session.execute(update(CUSTOMERS).where(CUSTOMERS.c.id.in_(chunk)).values(
            marketing_consent=True, consent_at=now, consent_withdrawn_at=None))
    given = [(holders.get(each.candidate.row, each.customer_id), cards[each.candidate.row])
             for each in planned if each.gives_consent or (
                 each.outcome is Outcome.NEW_CUSTOMER and each.candidate.consent)]
    insert_rows(session, EVENTS, [
        {"merchant_id": program.merchant_id, "actor": who.actor.value,
         "api_key_id": who.api_key_id, "action": AuditAction.CONSENT_GIVEN.value,
         "customer_id": customer_id, "card_id": card_id,
         "detail": {"fields": ["marketing_consent"], "via": IMPORT_SOURCE}, "created_at": now}
        for customer_id, card_id in given])
    return len(known)


def _openings(program: Program, carded: Sequence[Planned], cards: dict[int, int],
              welcome: bool) -> dict[str, list[Posting]]:
    """What each new card opens with, by entry kind: its balance from the file, and the
    program's welcome points when the merchant asks for them."""
    openings = {ADJUST: [Posting(cards[each.candidate.row], each.candidate.balance)
                         for each in carded]}
    if welcome and program.kind == "points" and program.welcome_points:
        openings[WELCOME] = [Posting(cards[each.candidate.row], program.welcome_points)
                             for each in carded]
    return openings


def _new_ids(session: Session, table: Table, count: int) -> list[int]:
    """``count`` ids for new rows of ``table``, none of which another writer will take."""
    if not count:
        return []
    if is_postgres(session):
        return list(session.scalars(text(
            "SELECT nextval(pg_get_serial_sequence(:table, 'id'))"
            " FROM generate_series(1, :count)"), {"table": table.name, "count": count}))
    largest = session.scalar(select(table.c.id).order_by(table.c.id.desc()).limit(1)) or 0
    return list(range(largest + 1, largest + 1 + count))


def _unused_numbers(session: Session, count: int) -> list[str]:
    """``count`` new card numbers, distinct and not any card's yet."""
    numbers: dict[str, None] = {}  # in the order made
    while len(numbers) < count:
        wanted = [number for number in {new_card_number() for _ in range(count - len(numbers))}
                  if number not in numbers]
        taken = {row.number for row in rows_among(session, select(CARDS.c.number),
                                                  CARDS.c.number, wanted)}
        numbers.update(dict.fromkeys(number for number in wanted if number not in taken))
    return list(numbers)
