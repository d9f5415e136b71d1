"""Recording Google Wallet's verified save and delete callbacks.

Google may deliver one event more than once, so each is recorded once per nonce: the
unique index on ``google_events.nonce`` decides, through ``INSERT … ON CONFLICT DO
NOTHING`` (the same statement on PostgreSQL and SQLite), so two deliveries racing each
other still record one event. An event for an object we do not know (deleted data, another
deployment sharing the issuer) is still recorded, with no card, because it did happen.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, distinct, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.analytics.models import GOOGLE, INSTALLED, REMOVED
from app.cards.models import Card
from app.cards.wallet_events import record_wallet_events
from app.clock import utcnow
from app.errors import BadRequest
from app.google_wallet.models import (
    GoogleEvent,
    GoogleMessage,
    GoogleObject,
    held_in_a_wallet,
)
from app.outbox.webhooks import wallet_event
from app.problem_codes import ProblemCode
from passes.google.callbacks import Callback

_EVENTS = cast(Table, GoogleEvent.__table__)
_EVENT_VALUES: dict[str, Any] = {name: bindparam(name) for name in (
    "nonce", "card_id", "merchant_id", "event_type", "class_id", "object_id", "received_at")}
# Built once per dialect; constructing them costs more than running them.
_RECORD = {
    "postgresql": pg_insert(_EVENTS).values(_EVENT_VALUES)
    .on_conflict_do_nothing(index_elements=["nonce"]).returning(_EVENTS.c.id),
    "sqlite": sqlite_insert(_EVENTS).values(_EVENT_VALUES)
    .on_conflict_do_nothing(index_elements=["nonce"]).returning(_EVENTS.c.id),
}
_LIMITS = {"nonce": 200, "class_id": 160, "object_id": 160}


def record_callback(session: Session, *, callback: Callback) -> bool:
    """Record a verified callback and update its object's state; False for a repeat.

    'save' marks the object saved (and no longer removed), 'del' marks it removed. Google
    hears of a card's changes only while its object is held (``held_in_a_wallet``), so a
    save that makes it held also queues it once more (its generation bumped: a worker's
    answer for an older one leaves it pending): one patch built from the newest state
    brings whatever changed while nobody held it (balance, tier, stamps, offers, a
    block). A removal drops what was still waiting for it (``_drop_waiting_work``).
    Otherwise updates touch only ``saved_at`` and ``removed_at``, so a worker syncing the
    same object at the same moment keeps its own changes. Commits once.
    """
    _check_fits(callback)
    now = utcnow()
    target = session.execute(
        select(GoogleObject.card_id, Card.merchant_id, Card.program_id)
        .join(Card, Card.id == GoogleObject.card_id)
        .where(GoogleObject.object_id == callback.object_id)
    ).first()
    card_id, merchant_id = (target.card_id, target.merchant_id) if target else (None, None)
    event_id = session.scalar(_RECORD[session.get_bind().dialect.name], {
        "nonce": callback.nonce, "card_id": card_id, "merchant_id": merchant_id,
        "event_type": callback.event_type, "class_id": callback.class_id,
        "object_id": callback.object_id, "received_at": now,
    })
    if event_id is None:
        session.rollback()
        return False
    if card_id is not None and _apply_to_object(
            session, card_id=card_id, event_type=callback.event_type, now=now):
        # The object's state changed: the merchant's webhooks hear it once.
        assert target is not None and merchant_id is not None
        wallet_event(session, merchant_id=merchant_id, program_id=target.program_id,
                     card_id=card_id, wallet="google", installed=callback.event_type == "save")
    session.commit()
    return True


def _apply_to_object(session: Session, *, card_id: int, event_type: str, now: datetime
                     ) -> bool:
    """Mark the object saved or removed; a change of state is a wallet event (and True).

    The state changes under a guarded UPDATE (``held_in_a_wallet``), so that of two
    callbacks racing for one object only the first is the change. A save of an object
    already saved only moves ``saved_at``.
    """
    saved = held_in_a_wallet()
    this_object = GoogleObject.card_id == card_id
    if event_type == "save":
        changed = session.execute(update(GoogleObject).where(this_object, ~saved).values(
            saved_at=now, removed_at=None, status="pending",
            generation=GoogleObject.generation + 1, attempts=0, available_at=now,
            last_error=None))
    else:
        changed = session.execute(update(GoogleObject).where(
            this_object, GoogleObject.removed_at.is_(None)).values(removed_at=now))
    if getattr(changed, "rowcount", 0):
        if event_type != "save":
            _drop_waiting_work(session, card_id=card_id, now=now)
        record_wallet_events(session, card_ids=[card_id], wallet=GOOGLE, at=now,
                             kind=INSTALLED if event_type == "save" else REMOVED)
        return True
    if event_type == "save":
        session.execute(update(GoogleObject).where(this_object).values(saved_at=now))
    return False


def _drop_waiting_work(session: Session, *, card_id: int, now: datetime) -> None:
    """Nothing more reaches an object just removed: its patch still waiting is settled
    (the next save queues one with the newest state) and its messages not yet sent are
    deleted, as they would not have been queued now. A message a worker is sending at
    this moment (leased) goes out."""
    session.execute(update(GoogleObject).where(
        GoogleObject.card_id == card_id, GoogleObject.inserted.is_(True),
        GoogleObject.status != "synced").values(status="synced", attempts=0, last_error=None))
    session.execute(delete(GoogleMessage).where(
        GoogleMessage.card_id == card_id, GoogleMessage.status == "pending",
        GoogleMessage.leased_until.is_(None) | (GoogleMessage.leased_until < now)))


def install_counts(
    session: Session, *, merchant_id: int, program_id: int | None = None,
    since: datetime | None = None, until: datetime | None = None,
) -> dict[str, int]:
    """``{"installs": n, "removals": n}``: distinct cards with a Google save, and with a
    Google delete, received in ``[since, until)``; events without a card are not counted.

    Distinct cards, because a customer who saves, deletes and saves the pass again is
    still one install.
    """
    statement = (
        select(GoogleEvent.event_type, func.count(distinct(GoogleEvent.card_id)))
        .where(GoogleEvent.merchant_id == merchant_id, GoogleEvent.card_id.is_not(None))
        .group_by(GoogleEvent.event_type)
    )
    if program_id is not None:
        statement = statement.join(Card, Card.id == GoogleEvent.card_id).where(
            Card.program_id == program_id)
    if since is not None:
        statement = statement.where(GoogleEvent.received_at >= since)
    if until is not None:
        statement = statement.where(GoogleEvent.received_at < until)
    counts = {str(kind): int(count) for kind, count in session.execute(statement).all()}
    return {"installs": counts.get("save", 0), "removals": counts.get("del", 0)}


def _check_fits(callback: Callback) -> None:
    """Refuse values longer than their columns: PostgreSQL would fail the insert with a 500,
    SQLite would store them; both should be a 400 for the sender."""
    for name, limit in _LIMITS.items():
        if len(getattr(callback, name)) > limit:
            raise BadRequest(f"The callback's {name} is longer than {limit} characters.",
                             code=ProblemCode.INVALID_CALLBACK)
