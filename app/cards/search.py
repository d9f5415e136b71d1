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

A key bound to a location, or a staff member limited to some, sees the cards enrolled
there only (``locations``, as ``app.merchants.access.Principal`` holds them): its staff
serve those counters' customers, and a customer of another counter is still found
at the till by card or barcode (``POST /pos/lookup``). Who sees contacts whole is
``app.merchants.access.sees_customers_whole``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    ColumnExpressionArgument,
    Integer,
    Select,
    and_,
    any_,
    bindparam,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session, lazyload

from app.cards.models import Card, Customer, LegacyCardNumber
from app.cards.search_terms import LIKE_ESCAPE, SearchTerms, like_escaped, read
from app.merchants.models import Program

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_QUERY_LENGTH = 200
SelectOf = TypeVar("SelectOf", bound=Select[*tuple[Any, ...]])
# How many of the newest cards a name or email fragment is first checked against, and
# how many matching customers the indexes fetch before the search walks the newest cards
# instead (``_customer_card_ids``): past it a fragment is common enough (one customer in
# a few hundred) that the walk meets ``limit`` matches within some thousands of cards.
WALK = 4000
CANDIDATES = 3000


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
    locations: frozenset[int]  # limited to locations: their cards only (empty: all)
    before: int | None


def search_cards(session: Session, *, program: Program, query: str, limit: int,
                 before: int | None = None, locations: frozenset[int] = frozenset()
                 ) -> CardPage:
    """The program's cards that ``query`` finds (all of them for a blank one), newest
    first, at most ``limit`` from below ``before``; a principal limited to ``locations``
    sees the cards enrolled there only. ``query`` is checked by the caller (one line, at most
    ``MAX_QUERY_LENGTH`` characters)."""
    scope = Scope(program=program, locations=locations, before=before)
    terms = read(query, program.country)
    count = limit + 1
    if terms.blank:
        ids = set(session.scalars(_newest(select(Card.id).where(*_scope(scope)), count)))
    else:
        ids = set(_customer_card_ids(session, scope, terms, count))
        if terms.numbers:
            ids.update(session.scalars(_newest(
                select(Card.id).where(*_scope(scope), number_match(terms.numbers)), count)))
        if terms.old_number:
            ids.update(session.scalars(_newest(
                select(Card.id).join(LegacyCardNumber, LegacyCardNumber.card_id == Card.id)
                .where(*_scope(scope), _old_number_match(scope, terms.old_number)), count)))
    page = sorted(ids, reverse=True)[:count]
    # The program is the session's already: not joined again into each card's row.
    cards = list(session.scalars(select(Card).options(lazyload(Card.program))
                                 .where(Card.id.in_(page)).order_by(Card.id.desc()))
                 ) if page else []
    following = cards[limit - 1].id if len(cards) > limit else None
    return CardPage(cards=cards[:limit], next=following)


def _customer_card_ids(session: Session, scope: Scope, terms: SearchTerms, count: int
                       ) -> list[int]:
    """The newest ``count`` cards in scope whose holder matches, found in steps whose
    cost is bounded however common the text is (PostgreSQL's own choice between an
    index and walking the cards rests on an estimate of that, and a wrong one walked a
    million cards for a phone number):

    1. a name or email fragment may be common (PostgreSQL's estimate says whether it
       is, ``_looks_common``): the newest ``WALK`` cards are checked first, and when
       ``count`` of them match, that is the answer;
    2. the matching customers through the indexes, at most ``CANDIDATES``: when there
       are fewer, all of them are there, and their cards are looked up by id;
    3. else the text is common (one customer in a few hundred or more), and the newest
       cards are walked, each holder checked, until ``count`` match.
    """
    dialect = session.get_bind().dialect.name
    match = _customer_match(terms, dialect)
    if match is None:
        return []
    where = _scope(scope)
    merchant_customers = select(Customer.id).where(
        Customer.merchant_id == scope.program.merchant_id)
    if terms.words and (dialect != "postgresql" or _looks_common(
            session, merchant_customers, match, count)):
        recent = _newest(select(Card.id, Card.customer_id).where(*where), WALK).subquery()
        found = list(session.scalars(
            select(recent.c.id).where(_holder_matches(match, recent.c.customer_id))
            .order_by(recent.c.id.desc()).limit(count)))
        if len(found) == count:
            return found
    matched = merchant_customers.where(match).cte("matched")
    if dialect == "postgresql":
        # Planned for all of them (the indexes, not a scan that the LIMIT would make
        # look cheap), and read only as far as the LIMIT.
        matched = matched.prefix_with("MATERIALIZED")
    customer_ids = list(session.scalars(select(matched.c.id).limit(CANDIDATES)))
    if len(customer_ids) < CANDIDATES:
        if not customer_ids:
            return []
        # All their cards here (one each at most), sorted here: with ORDER BY and LIMIT,
        # PostgreSQL may walk the newest cards to meet them instead of looking them up.
        cards = session.scalars(select(Card.id).where(
            *where, _among(Card.customer_id, customer_ids, dialect)))
        return sorted(cards, reverse=True)[:count]
    return list(session.scalars(_newest(
        select(Card.id).where(*where, _holder_matches(match, Card.customer_id)), count)))


def _looks_common(session: Session, customers: Select[int],
                  match: ColumnElement[bool], count: int) -> bool:
    """Whether PostgreSQL expects ``count`` matches among the newest ``WALK`` cards, and
    a quarter more, from its statistics of the indexed texts (migration 0015)."""
    matching = _estimated_rows(session, customers.where(match))
    return 4 * matching * WALK >= 5 * count * _estimated_rows(session, customers)


def _estimated_rows(session: Session, statement: Select[int]) -> float:
    compiled = statement.compile(dialect=session.get_bind().dialect)
    plan = session.connection().exec_driver_sql(
        f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar_one()
    return float(plan[0]["Plan"]["Plan Rows"])


def _among(column: InstrumentedAttribute[int], ids: list[int], dialect: str
           ) -> ColumnElement[bool]:
    if dialect == "postgresql":
        # One array, not thousands of parameters (which cost more than the query did).
        return column == any_(bindparam("ids", ids, type_=ARRAY(Integer)))
    return column.in_(ids)


def _holder_matches(match: ColumnElement[bool], customer_id: ColumnExpressionArgument[int]
                    ) -> ColumnElement[bool]:
    # A scalar subquery is never turned into a join: the walk goes newest card first,
    # checking each holder by its primary key.
    return select(match).where(Customer.id == customer_id).scalar_subquery()


def number_match(numbers: tuple[str, ...]) -> ColumnElement[bool]:
    """The cards answering to any of ``numbers`` (``search_terms.card_numbers``)."""
    return Card.number.in_(numbers)


def _old_number_match(scope: Scope, old_number: str) -> ColumnElement[bool]:
    # The program's unique (program_id, number) index finds it at once.
    return and_(LegacyCardNumber.program_id == scope.program.id,
                LegacyCardNumber.number == old_number)


def _scope(scope: Scope) -> list[ColumnElement[bool]]:
    where = [Card.program_id == scope.program.id]
    if len(scope.locations) == 1:
        where.append(Card.location_id == next(iter(scope.locations)))
    elif scope.locations:
        where.append(Card.location_id.in_(sorted(scope.locations)))
    if scope.before is not None:
        where.append(Card.id < scope.before)
    return where


def _newest(statement: SelectOf, count: int) -> SelectOf:
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
