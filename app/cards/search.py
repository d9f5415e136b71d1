"""The customer search: a program's cards found by name, email, phone or card number,
newest first, a page at a time (the API's ``GET /programs/{id}/cards``; the dashboard's
customer page calls the same function).

Pages go by key, not by offset: a page is the cards with ids below ``before`` (the last
id of the page before), so paging visits every card once, in order, however many cards
are enrolled meanwhile (a new card has a higher id and belongs to no later page).

How the text is read is ``app.cards.search_terms``. On PostgreSQL each reading has its
index (migration 0015): trigrams of ``lower(name)`` and of ``lower(email)``, the
reversed phone, the unique card number, and ``(program_id, id)`` for the order. SQLite
finds the same cards by scanning, with a lower-casing that knows every script
(``unicode_lower``, registered by ``app.db``): its own ``lower`` knows ASCII only.

A key bound to a location sees the cards enrolled there only (``location_id``): its
staff serve that counter's customers, and a customer of another counter is still found
at the till by card or barcode (``POST /pos/lookup``). Who sees contacts whole is
``shows_contacts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from app.cards.models import Card, Customer
from app.cards.search_terms import LIKE_ESCAPE, SearchTerms, like_escaped, read
from app.merchants.models import Program

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_QUERY_LENGTH = 200
# The roles that see a customer's email and phone whole in the list; the others (the
# analyst, who reads figures) see them masked: enough to tell two namesakes apart.
CONTACT_ROLES = ("owner", "manager")


@dataclass(frozen=True)
class CardPage:
    """One page of cards, newest first; ``next`` is the ``before`` of the page after it,
    None on the last."""

    cards: list[Card]
    next: int | None


@dataclass(frozen=True)
class Scope:
    """Whose cards, and where the page starts."""

    program: Program
    location_id: int | None  # a key bound to a location: that location's cards only
    before: int | None


def shows_contacts(role: str) -> bool:
    """Whether a key of ``role`` sees customers' emails and phones whole in a list."""
    return role in CONTACT_ROLES


def search_cards(session: Session, *, program: Program, query: str, limit: int,
                 before: int | None = None, location_id: int | None = None) -> CardPage:
    """The program's cards that ``query`` finds (all of them for a blank one), newest
    first, at most ``limit`` from below ``before``; a key bound to ``location_id`` sees
    the cards enrolled there only. ``query`` is checked by the caller (one line, at most
    ``MAX_QUERY_LENGTH`` characters)."""
    scope = Scope(program=program, location_id=location_id, before=before)
    terms = read(query, program.country)
    dialect = session.get_bind().dialect.name
    ids: set[int] = set()
    for statement in id_statements(scope, terms, dialect, limit + 1):
        ids.update(session.scalars(statement))
    page = sorted(ids, reverse=True)[:limit + 1]
    cards = list(session.scalars(select(Card).where(Card.id.in_(page))
                                 .order_by(Card.id.desc()))) if page else []
    following = cards[limit - 1].id if len(cards) > limit else None
    return CardPage(cards=cards[:limit], next=following)


def id_statements(scope: Scope, terms: SearchTerms, dialect: str, count: int
                  ) -> list[Select[Any]]:
    """The statements whose ids, together, hold the first ``count`` matching cards: one
    per kind of match, each newest first, so that each may use its own index (an OR
    across the two tables could use none)."""
    where = _scope(scope)
    if terms.blank:
        return [_newest(select(Card.id).where(*where), count)]
    statements = []
    customer_match = _customer_match(terms, dialect)
    if customer_match is not None:
        statements.append(_newest(
            select(Card.id).join(Customer, Customer.id == Card.customer_id)
            .where(*where, Customer.merchant_id == scope.program.merchant_id,
                   customer_match), count))
    if terms.numbers:
        statements.append(_newest(select(Card.id).where(*where, number_match(terms.numbers)),
                                  count))
    return statements


def number_match(numbers: tuple[str, ...]) -> ColumnElement[bool]:
    """The cards answering to any of ``numbers`` (``search_terms.card_numbers``)."""
    return Card.number.in_(numbers)


def _scope(scope: Scope) -> list[ColumnElement[bool]]:
    where = [Card.program_id == scope.program.id]
    if scope.location_id is not None:
        where.append(Card.location_id == scope.location_id)
    if scope.before is not None:
        where.append(Card.id < scope.before)
    return where


def _newest(statement: Select[Any], count: int) -> Select[Any]:
    return statement.order_by(Card.id.desc()).limit(count)


def _customer_match(terms: SearchTerms, dialect: str) -> ColumnElement[bool] | None:
    lower = func.lower if dialect == "postgresql" else func.unicode_lower
    matches: list[ColumnElement[bool]] = []
    if terms.words:
        matches.append(and_(*(_contains(lower(Customer.name), word) for word in terms.words)))
    if terms.email:
        matches.append(_contains(lower(Customer.email), terms.email))
    if terms.phone_suffix:
        matches.append(_phone_ends_with(terms.phone_suffix, dialect))
    return or_(*matches) if matches else None


def _contains(column: ColumnElement[str], fragment: str) -> ColumnElement[bool]:
    # The pattern is one bound value, so PostgreSQL plans with it (trigrams, estimates).
    return column.like(f"%{like_escaped(fragment)}%", escape=LIKE_ESCAPE)


def _phone_ends_with(digits: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        # The reversed number's start, which its btree index finds (migration 0015).
        return func.reverse(Customer.phone).like(f"{digits[::-1]}%")
    return Customer.phone.like(f"%{digits}")
