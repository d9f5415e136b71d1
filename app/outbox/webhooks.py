"""Writing webhook events inside the caller's transaction (``app.delivery.webhooks``
sends them after commit).

An event is written as one delivery row per endpoint of the merchant that takes its type,
selected in the same statement from ``webhook_subscriptions``: a merchant without such an
endpoint gets no row. The body (``{"id", "type", "created_at", "data"}``) is fixed now, so
the receiver sees the state as of this change, whenever it arrives. The purchase path
writes its events inside its own statement (``WEBHOOK_ROWS``, ``WEBHOOK_ROW``: see
``app.ledger.purchase_rows``) and so makes no round trip of its own for them.

Invariants: nothing here sends or reads anything outside the database; the rows commit
or roll back with the caller's change; the workers are woken after that commit.
"""
# ruff: noqa: S608 (the statements are put together from the constants here only)

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, bindparam, text
from sqlalchemy.orm import Session

from app.clock import iso, utcnow
from app.outbox.messages import wake_after_commit

CARD_CREATED = "card.created"
CARD_INSTALLED = "card.installed"
CARD_REMOVED = "card.removed"
PURCHASE_CREATED = "purchase.created"
PURCHASE_REFUNDED = "purchase.refunded"
POINTS_CHANGED = "points.changed"
TIER_CHANGED = "tier.changed"
OFFER_PUBLISHED = "offer.published"
EVENT_TYPES = (CARD_CREATED, CARD_INSTALLED, CARD_REMOVED, PURCHASE_CREATED,
               PURCHASE_REFUNDED, POINTS_CHANGED, TIER_CHANGED, OFFER_PUBLISHED)

_COLUMNS = ("webhook_deliveries (endpoint_id, merchant_id, event_id, event_type, card_id,"
            " payload, status, attempts, available_at, created_at)")
# One event (:event_id, :event_type, :event_payload) of the card :card_id (NULL: of no
# card). The CASTs type what PostgreSQL cannot infer in a SELECT list.
WEBHOOK_ROW = (
    _COLUMNS + " SELECT webhook_subscriptions.endpoint_id, :merchant_id,"
    " CAST(:event_id AS varchar(40)), CAST(:event_type AS varchar(32)),"
    " CAST(:card_id AS integer), :event_payload, 'pending', 0, :created_at, :created_at"
    " FROM webhook_subscriptions WHERE webhook_subscriptions.merchant_id = :merchant_id"
    " AND webhook_subscriptions.event_type = :event_type")
# PostgreSQL: every event of a change at once, from :webhook_events, a JSON array of
# {"id", "event_type", "payload"} (after ``FROM card``, in a statement that updated the card).
WEBHOOK_ROWS = (
    _COLUMNS + " SELECT webhook_subscriptions.endpoint_id, :merchant_id, event.id,"
    " event.event_type, :card_id, event.payload, 'pending', 0, :created_at, :created_at"
    " FROM card, ROWS FROM (json_to_recordset(:webhook_events) AS (id varchar,"
    " event_type varchar, payload json)) WITH ORDINALITY"
    " AS event (id, event_type, payload, ordinal)"
    " JOIN webhook_subscriptions"
    " ON webhook_subscriptions.merchant_id = :merchant_id"
    " AND webhook_subscriptions.event_type = event.event_type"
    " ORDER BY event.ordinal, webhook_subscriptions.endpoint_id")  # ids in event order
_INSERT_ROW = text("INSERT INTO " + WEBHOOK_ROW).bindparams(
    bindparam("event_payload", type_=JSON))
_TAKEN = text("SELECT 1 FROM webhook_subscriptions WHERE merchant_id = :merchant_id"
              " AND event_type = :event_type LIMIT 1")


def new_event_id() -> str:
    """An event's id: the same in every attempt and every endpoint's delivery of it."""
    return "evt_" + secrets.token_hex(12)


def event_body(*, event_id: str, event_type: str, created_at: datetime,
               data: Mapping[str, Any]) -> dict[str, Any]:
    """What a delivery POSTs (the contract's shape)."""
    return {"id": event_id, "type": event_type, "created_at": iso(created_at),
            "data": dict(data)}


def webhook_event(session: Session, *, merchant_id: int, event_type: str,
                  card_id: int | None, data: Mapping[str, Any]) -> None:
    """Queue ``event_type`` for every endpoint of the merchant that takes it, in the
    caller's transaction (the caller commits)."""
    now = utcnow()
    event_id = new_event_id()
    body = event_body(event_id=event_id, event_type=event_type, created_at=now, data=data)
    result = session.execute(_INSERT_ROW, {
        "merchant_id": merchant_id, "event_id": event_id, "event_type": event_type,
        "card_id": card_id, "event_payload": body, "created_at": now})
    if getattr(result, "rowcount", 0):
        wake_after_commit(session)


def webhook_events(session: Session, *, merchant_id: int, event_type: str,
                   events: Sequence[tuple[int | None, Mapping[str, Any]]]) -> None:
    """Many events of one type (an import's new cards): nothing at all when no endpoint of
    the merchant takes the type (one indexed read), else one row per event and endpoint,
    in one round trip; the caller commits."""
    if not events or session.execute(_TAKEN, {"merchant_id": merchant_id,
                                              "event_type": event_type}).first() is None:
        return
    now = utcnow()
    rows = []
    for card_id, data in events:
        event_id = new_event_id()
        rows.append({"merchant_id": merchant_id, "event_id": event_id,
                     "event_type": event_type, "card_id": card_id, "created_at": now,
                     "event_payload": event_body(event_id=event_id, event_type=event_type,
                                                 created_at=now, data=data)})
    session.execute(_INSERT_ROW, rows)
    wake_after_commit(session)


def wallet_event(session: Session, *, merchant_id: int, program_id: int, card_id: int,
                 wallet: str, installed: bool) -> None:
    """``card.installed`` or ``card.removed``: a device registered the pass or dropped it
    (Apple), or Google said the object was saved or deleted (``wallet``: apple, google)."""
    webhook_event(session, merchant_id=merchant_id,
                  event_type=CARD_INSTALLED if installed else CARD_REMOVED, card_id=card_id,
                  data={"card_id": card_id, "program_id": program_id, "wallet": wallet})
