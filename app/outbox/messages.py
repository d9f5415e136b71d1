"""Writing to the outbox inside the caller's transaction, and waking the worker after it.

A ledger change writes a row here in its own transaction; nothing leaves the process
before commit. After the commit, the workers are woken: in the same process through the
app's ``Wakeups`` (``app.outbox.wakeups``: the inline worker), elsewhere through
PostgreSQL's ``NOTIFY``, which the database delivers only when the transaction commits.

Purchases, which come by the hundred a second at a busy chain, notify at most every
``NOTIFY_EVERY`` per app (``app.outbox.wakeups.Wakeups.notify_due``): a NOTIFY costs
PostgreSQL about as much as one of the rows it announces, and wakes every listening
worker. A worker that was woken looks again ``LINGER`` after it runs out of work
(``app.delivery.loop.Loop``), which finds the purchases committed in the meantime without
a NOTIFY of their own; the poll every ``worker_poll_interval`` is the backstop. Nothing
depends on a NOTIFY arriving: the rows are in the outbox either way.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from sqlalchemy import Table, insert, text
from sqlalchemy.orm import Session

from app.bulk import insert_rows
from app.clock import utcnow
from app.outbox.models import Mail, OutboxMessage
from app.outbox.wakeups import PENDING_WAKE

TOPIC_PASS_UPDATED = "pass_updated"  # noqa: S105 (a topic name)
TOPIC_PROGRAM_UPDATED = "program_updated"
# A program row naming an offer pushes the cards the offer reached; with this reason the
# offer ended (its passes drop it) and no message announces it.
REASON_OFFER_ENDED = "offer_ended"
NOTIFY_CHANNEL = "loyalpass_outbox"

_INSERT_MESSAGE = insert(cast(Table, OutboxMessage.__table__))
_NOTIFY = text(f"NOTIFY {NOTIFY_CHANNEL}")
# For hot paths that write several rows in one hand-written statement (``app.sql.Raw``):
# a pass_updated row as INSERT's target and SELECT (:payload from ``pass_update_payload``),
# and NOTIFY as an expression (``pg_notify``: the same, delivered at commit too).
OUTBOX_ROW = (
    "outbox (merchant_id, card_id, topic, payload, status, attempts, available_at,"
    " created_at) SELECT :merchant_id, :card_id, 'pass_updated', :payload, 'pending', 0,"
    " :created_at, :created_at")
NOTIFY_EXPRESSION = "pg_notify('loyalpass_outbox', '')"


class ChangedPass(Protocol):
    """What ``pass_changed`` needs of a card (``app.cards.models.Card``): the outbox sits
    below the use cases and their models, so it names the shape, not the class."""

    id: Any  # None until the session flushes a card enrolled in this transaction
    merchant_id: int
    pass_version: int

    def mark_pass_changed(self) -> None: ...


def wake_after_commit(session: Session, *, notified: bool = False) -> None:
    """Wake the workers once this session's transaction commits; ``notified`` when the
    caller's own statement ran ``NOTIFY_EXPRESSION`` already (one round trip fewer). The
    app's ``Wakeups`` watches its sessions' commits (``Wakeups.watch``)."""
    if not session.info.get(PENDING_WAKE):
        session.info[PENDING_WAKE] = True
        if not notified and session.get_bind().dialect.name == "postgresql":
            session.execute(_NOTIFY)


def pass_changed(session: Session, card: ChangedPass, *, reason: str) -> None:
    """Bump the card's pass and queue its push; the caller commits both or neither."""
    card.mark_pass_changed()
    if card.id is None:
        session.flush()  # a card enrolled in this transaction needs its id first
    queue_pass_update(session, merchant_id=card.merchant_id, card_id=card.id,
                      pass_version=card.pass_version, reason=reason)


def queue_pass_update(session: Session, *, merchant_id: int, card_id: int, pass_version: int,
                      reason: str, **detail: Any) -> None:
    """Queue the push of a card whose pass the caller has bumped (to ``pass_version``);
    ``detail`` (a tier change, say) tells the senders what changed."""
    session.execute(_INSERT_MESSAGE, {
        "merchant_id": merchant_id, "card_id": card_id, "topic": TOPIC_PASS_UPDATED,
        "payload": pass_update_payload(pass_version=pass_version, reason=reason, **detail)})
    wake_after_commit(session)


def queue_pass_updates(session: Session, *, merchant_id: int, card_ids: list[int],
                       pass_version: int, reason: str) -> None:
    """``queue_pass_update`` for many cards at one version (new ones: an import), in one
    bulk statement (``app.bulk``)."""
    if not card_ids:
        return
    payload = pass_update_payload(pass_version=pass_version, reason=reason)
    now = utcnow()
    insert_rows(session, cast(Table, OutboxMessage.__table__), [
        {"merchant_id": merchant_id, "card_id": card_id, "program_id": None,
         "topic": TOPIC_PASS_UPDATED, "payload": payload, "status": "pending", "attempts": 0,
         "available_at": now, "created_at": now} for card_id in card_ids])
    wake_after_commit(session)


def pass_update_payload(*, pass_version: int, reason: str, **detail: Any) -> dict[str, Any]:
    """What a ``pass_updated`` row tells the senders (also ``OUTBOX_ROW``'s :payload)."""
    return {"pass_version": pass_version, "reason": reason, **detail}


# In a program row's payload: the fan-out bumps the passes of the offer's cards (an offer
# published to 100,000 cards: 2.6 s of UPDATE taken out of the publish request).
BUMP = "bump_passes"


def program_changed(session: Session, *, merchant_id: int, program_id: int,
                    reason: str, offer_id: int | None = None, bump: bool = False) -> None:
    """Queue a push to every card of a program (whose passes the caller has bumped), or,
    with ``offer_id``, to the cards that offer was published to; with ``bump``, the
    fan-out bumps those cards' passes itself, in its transaction (``BUMP``)."""
    payload: dict[str, Any] = {"reason": reason}
    if offer_id is not None:
        payload["offer_id"] = offer_id
    if bump:
        payload[BUMP] = True
    session.add(OutboxMessage(
        merchant_id=merchant_id, program_id=program_id, topic=TOPIC_PROGRAM_UPDATED,
        payload=payload,
    ))
    wake_after_commit(session)


def queue_staff_mail(session: Session, *, merchant_id: int, kind: str, recipient: str,
                     locale: str, staff_link_id: int) -> None:
    """Queue a staff member's mail (an invitation, a password reset) in the caller's
    transaction; like ``queue_mail``, it is composed and sent after commit."""
    session.add(Mail(merchant_id=merchant_id, customer_id=None, kind=kind,
                     recipient=recipient, locale=locale, staff_link_id=staff_link_id))
    wake_after_commit(session)


def queue_mail(session: Session, *, merchant_id: int, customer_id: int, kind: str,
               recipient: str, locale: str, recovery_link_id: int | None = None) -> None:
    """Queue a mail in the caller's transaction; the mail worker composes and sends it
    after commit (``app.delivery.mail``), so no web request ever waits for a mail server."""
    session.add(Mail(merchant_id=merchant_id, customer_id=customer_id, kind=kind,
                     recipient=recipient, locale=locale, recovery_link_id=recovery_link_id))
    wake_after_commit(session)
