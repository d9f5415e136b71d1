"""Recording a purchase: the counter's hot path, in two hand-written statements.

A purchase is the write every cashier makes all day, so on PostgreSQL it runs on the
thread's own connection, apart from the pool and from the SQLAlchemy session and its
bookkeeping (``app.sql.Raw``), and holds no transaction open across round trips. One
statement reads the API key (which the web layer then checks: ``admit``), the card by
its number with its program's version, the rolling 12-month spend and velocity counts,
and the purchase's new id. The rules decide in Python. One statement then updates the
card's figures and pass version, if the card row is still the one read, and with that
update writes the purchase, its entries, the outbox row, the audit record and the
idempotency record with the answer, and notifies the workers (at most every
``NOTIFY_EVERY``: see ``app.outbox.messages``). Each is a transaction of its own: no BEGIN
or COMMIT round trips. The statements are in ``app.ledger.purchase_rows``; the values they
write and the answer, in ``app.ledger.purchase_values``.

If the card changed in between (a purchase, a refund, ...), nothing was written and the
purchase runs again holding the card's row lock from the start, as it always does on
SQLite (whose write lock is taken at BEGIN). A key used before is met at its unique index
as the write stores it (waiting for a request still writing with it), or looked for when
the purchase cannot be made as asked: its answer is replayed, or another body refused.

Invariants, as everywhere in the ledger: under the card's row lock the cached figures
move by exactly what the new entries and purchase say (visits +1, lifetime spend + the
amount paid, balance + the entries' points), so they stay equal to the tables; the key,
the work and the outbox row commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.cards.numbers import number_from_scan
from app.cards.service import card_by_legacy_number, number_by_legacy_number
from app.clock import utcnow
from app.db import LazySession
from app.errors import Conflict, Invalid, NotFound, Problem, TooMany
from app.ledger import fraud
from app.ledger.events import Before, purchase_events
from app.ledger.idempotency import Answer, replay
from app.ledger.models import Alert
from app.ledger.purchase_offers import needs_offers, with_offers
from app.ledger.purchase_rows import (
    LOCK_CARD,
    AtCounter,
    Entry,
    ProgramTerms,
    PurchaseCardRow,
    Read,
    SignedIn,
    Terms,
    Unwritten,
    at_counter_values,
    entries_of,
    find_record,
    read_purchase,
    write_purchase,
)
from app.ledger.purchase_values import Request, purchase_values
from app.ledger.schemas import PurchaseInput
from app.merchants.access import location_of
from app.merchants.models import Location
from app.merchants.service import PresentedKey
from app.metrics import LEDGER_ENTRIES, LEDGER_WRITES
from app.outbox.messages import wake_after_commit
from app.outbox.wakeups import Wakeups
from app.points.postings import Actor
from app.points.rules import (
    CardState,
    PurchaseOutcome,
    RuleViolation,
    evaluate_purchase,
)
from app.problem_codes import ProblemCode
from app.sql import HeldConnections, Raw

# The API key's row as the purchase read it (``KEY_COLUMNS``; None: no key has the prefix,
# or none was presented) to the actor, or a problem raised (401, 403): the web layer's
# check of the key (the dashboard's: the signed-in member it checked already).
Admit = Callable[[Raw, tuple[Any, ...] | None], Actor]


@dataclass(frozen=True)
class Lane:
    """What a purchase uses of the running app (``app.runtime.Runtime``): its held
    connections, its programs' terms, and its workers' wake-ups."""

    held: HeldConnections
    terms: ProgramTerms
    wakeups: Wakeups


@dataclass(frozen=True)
class Asked:
    """A purchase as the counter asked for it, with the API key it presented (or the
    signed-in member's merchant)."""

    presented: AtCounter
    admit: Admit
    data: PurchaseInput
    number: str
    key: str
    fingerprint: str


class _Refused(Exception):
    """A velocity limit refused the purchase of this card."""

    def __init__(self, exceeded: fraud.LimitExceeded, card: PurchaseCardRow,
                 request: Request) -> None:
        super().__init__(exceeded.detail)
        self.exceeded, self.card, self.request = exceeded, card, request


def record_purchase(session: Callable[[], Session], *, lane: Lane,
                    presented: AtCounter, admit: Admit, data: PurchaseInput, key: str,
                    fingerprint: str, keys: Sequence[bytes]) -> Answer:
    """The purchase, recorded; ``admit`` checks the key with what the first statement read
    (one round trip less than reading it first: see ``app.web.auth``). ``session`` makes
    (or gets) the request's session, for the few purchases that need one. The dashboard's
    cashier screen presents ``SignedIn`` (its member, checked) and the same rules apply."""
    lazy_session = LazySession(session)
    number = number_from_scan(data.barcode, keys)
    if number is not None:
        try:
            return _record(lazy_session, lane, Asked(presented, admit, data, number, key,
                                                     fingerprint))
        except NotFound as missed:
            if missed.code != ProblemCode.UNKNOWN_BARCODE:
                raise
    # Only when no card has the number: a card imported with its old number
    # (``app.cards.service.card_by_scan`` does the same for the lookup).
    old = _legacy_number(lazy_session(), presented, data.barcode)
    if old is None or old == number:
        raise NotFound("No card of yours has this barcode or number.",
                       code=ProblemCode.UNKNOWN_BARCODE)
    return _record(lazy_session, lane, Asked(presented, admit, data, old, key, fingerprint))


def _legacy_number(session: Session, presented: AtCounter, scanned: str) -> str | None:
    if isinstance(presented, SignedIn):
        card = card_by_legacy_number(session, merchant_id=presented.merchant_id,
                                     scanned=scanned)
        return card.number if card is not None else None
    return number_by_legacy_number(session, api_key_prefix=presented.prefix, scanned=scanned)


def _record(lazy_session: LazySession, lane: Lane, asked: Asked) -> Answer:
    """The purchase of the card numbered ``asked.number`` (see ``record_purchase``)."""
    with Raw.thread_connection(lane.held, lazy_session) as raw:
        # Without the card's lock first on PostgreSQL, then with it; at most one more run
        # to replay an answer that another request with the key stored meanwhile.
        for locked in (not raw.postgres, True, True):
            try:
                answer = _attempt(lazy_session, raw, asked, lane, locked=locked)
            except _Refused as refused:
                raw.rollback()
                _record_alert(lazy_session(), refused)
                raise TooMany(refused.exceeded.detail, code=ProblemCode.VELOCITY_LIMIT,
                              limit=refused.exceeded.limit) from None
            except BaseException:
                raw.rollback()
                raise
            if answer is not None:
                return answer
            raw.rollback()
    raise RuntimeError("a purchase under the card's row lock found the card changed")


def location_for(session: Callable[[], Session], actor: Actor, asked: int | None
                 ) -> int | None:
    """Where the purchase happened: the key's own location, or one of the merchant's."""
    principal = actor.principal
    where = location_of(principal, asked,
                        doing="This cashier key records purchases at its own location only.")
    if where is None or principal.limited:
        return where
    location = session().get(Location, where)
    if location is None or location.merchant_id != actor.merchant_id:
        raise Invalid("location_id: no such location.", code=ProblemCode.UNKNOWN_LOCATION,
                      errors=[{"field": "location_id", "message": "no such location"}])
    return location.id


def _record_alert(session: Session, refused: _Refused) -> None:
    """The velocity limit's refusal, kept for the merchant (``GET /api/v1/alerts``)."""
    actor = refused.request.actor
    session.add(Alert(merchant_id=actor.merchant_id, program_id=refused.card.program_id,
                      card_id=refused.card.id, api_key_id=actor.api_key_id,
                      location_id=refused.request.location_id, kind="velocity_limit",
                      detail=refused.exceeded.detail))
    session.commit()


def _attempt(session: LazySession, raw: Raw, asked: Asked, lane: Lane, *, locked: bool
             ) -> Answer | None:
    """The purchase, committed, or its replay; None when it must run again (see above)."""
    if locked and raw.postgres:  # in a transaction that holds the lock
        raw.begin()
        keyed = isinstance(asked.presented, PresentedKey)
        raw.one(LOCK_CARD[keyed], {"number": asked.number,
                                   **at_counter_values(asked.presented)})
    now = utcnow()
    read = read_purchase(raw, at=asked.presented, number=asked.number, now=now)
    actor = asked.admit(raw, read.key)
    request = Request(actor, asked.data, asked.number,
                      location_for(session, actor, asked.data.location_id), asked.key,
                      asked.fingerprint)
    try:
        card = _active(read.card)
        terms = lane.terms.get(session, card.program_id, card.program_updated_at)
        outcome = _decide(session, raw, request, card, terms, read, now)
    except (Problem, _Refused):
        # A key used before is answered as it was, whatever the card says now.
        replayed = _replay(raw, request)
        if replayed is None:
            raise
        return replayed
    entries = entries_of(outcome, request.data.redeem_rewards)
    answer, values = purchase_values(raw, request, card, terms.rules, outcome, entries, read,
                                     now)
    if not raw.in_session:
        _end_session_reads(session)
    notify = raw.postgres and lane.wakeups.notify_due()
    events = purchase_events(answer.body, program_id=card.program_id, now=now,
                             before=Before(balance=card.balance, tier=card.tier))
    unwritten = write_purchase(raw, {**values, "card_version": read.card_version}, entries,
                               events, notify=notify)
    if unwritten is Unwritten.CARD_CHANGED:
        return None
    if unwritten is Unwritten.KEY_USED:
        return _replay(raw, request)  # stored by another request: None if it is gone
    _commit(session, raw, lane.wakeups)
    count_purchase(entries)
    if notify:
        lane.wakeups.notify_sent()
    return answer


def _commit(session: LazySession, raw: Raw, wakeups: Wakeups) -> None:
    """Commit, and wake this process's workers (the statement notified the others')."""
    if raw.in_session:
        wake_after_commit(session(), notified=raw.postgres)
        raw.commit()
        return
    raw.commit()
    wakeups.wake_now()
    _end_session_reads(session)


def _end_session_reads(session: LazySession) -> None:
    """End the transaction of the session's reads (a program's terms, a location, a
    cashier's points) before the write on the thread's connection: held open across it,
    the request would hold two server connections at once, which through a pooler in
    transaction mode deadlocks as soon as every pooled connection is held by a request
    waiting for another. A commit: psycopg drops a connection's prepared statements on
    rollback."""
    if session.made is not None and session.made.in_transaction():
        session.made.commit()


def count_purchase(entries: list[Entry]) -> None:
    """The committed purchase and its entries, for ``/metrics`` (a replay counts none)."""
    LEDGER_WRITES.labels("purchase").inc()
    for entry in entries:
        LEDGER_ENTRIES.labels(entry.kind).inc()


def _replay(raw: Raw, request: Request) -> Answer | None:
    """The answer stored under the request's key (if another request's: a 409), or None.
    Either way this run's transaction ends."""
    raw.rollback()
    record = find_record(raw, merchant_id=request.actor.merchant_id, key=request.key)
    raw.rollback()
    if record is None:
        return None
    return replay(record.request_hash, record.status_code, record.response, request.fingerprint)


def _active(card: PurchaseCardRow | None) -> PurchaseCardRow:
    if card is None:
        raise NotFound("No card of yours has this barcode or number.",
                       code=ProblemCode.UNKNOWN_BARCODE)
    if card.status != "active":
        raise Conflict("This card is blocked.", code=ProblemCode.CARD_BLOCKED)
    return card


def _decide(session: LazySession, raw: Raw, request: Request, card: PurchaseCardRow,
            terms: Terms, read: Read, now: datetime) -> PurchaseOutcome:
    """What the rules and the card's offers make of the purchase; raises when they
    refuse it."""
    data = request.data
    state = CardState(balance=card.balance, stamps=card.stamps, visits=card.visits,
                      spend_12_months=read.spend_12_months)
    try:
        fraud.check_card_velocity(terms.limits, card_number=card.number,
                                  purchases=read.purchase_counts)
        outcome = evaluate_purchase(terms.rules, state, amount=data.amount,
                                    redeem_points=data.redeem_points)
        if needs_offers(terms.offers, data.coupon, now):  # else no round trip for them
            outcome = with_offers(raw, outcome, card_id=card.id, coupon=data.coupon, now=now)
        if data.redeem_rewards > card.rewards:
            raise Conflict(f"The card holds {card.rewards} rewards, not {data.redeem_rewards}.",
                           code=ProblemCode.INSUFFICIENT_REWARDS)
        if fraud.limit(terms.limits, "points_per_cashier_per_day") is not None:
            fraud.check_cashier_points(session(), terms.limits, request.actor, now,
                                       outcome.earned + outcome.bonus_points)
    except RuleViolation as violation:
        raise Conflict(violation.message, code=violation.code) from None
    except fraud.LimitExceeded as exceeded:
        raise _Refused(exceeded, card, request) from None
    return outcome
