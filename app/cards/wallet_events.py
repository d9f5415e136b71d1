"""Writing ``wallet_events`` rows in the transaction of the change that caused them.

Callers (Apple's registrations in ``app.devices``, the push worker's dead tokens in
``app.delivery.pushes``, Google's callbacks in ``app.google_wallet.callbacks``) decide
whether the card's state in the wallet changed; this writes one row per card that did, with
the card's merchant, program and enrolment location copied by one ``INSERT … SELECT`` (no
card is loaded). It never commits.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import cast

from sqlalchemy import ColumnElement, Table, insert, literal, select
from sqlalchemy.orm import Session

from app.analytics.models import WalletEvent
from app.cards.models import Card

_EVENTS = cast(Table, WalletEvent.__table__)


def record_wallet_events(
    session: Session, *, card_ids: Collection[int], wallet: str, kind: str, at: datetime,
    where: ColumnElement[bool] | None = None,
) -> None:
    """One ``wallet`` ``kind`` event at ``at`` for each card of ``card_ids`` (that also
    meets ``where``, a condition on ``Card``, when given)."""
    if not card_ids:
        return
    rows = select(
        Card.merchant_id, Card.program_id, Card.location_id, Card.id,
        literal(wallet), literal(kind), literal(at),
    ).where(Card.id.in_(sorted(set(card_ids))))
    if where is not None:
        rows = rows.where(where)
    session.execute(insert(_EVENTS).from_select(
        ["merchant_id", "program_id", "location_id", "card_id", "wallet", "kind",
         "created_at"], rows))
