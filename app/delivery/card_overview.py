"""A card as the dashboard's card page shows it: its figures and holder, a page of its
ledger, and what became of its updates (Apple devices, the Google object, the mails to
its holder): what ``GET /api/v1/cards/{id}``, ``/entries`` and ``/deliveries`` answer,
read at once.

Invariant: only a card the member may reach is read (``app.cards.service.card_in_reach``:
another merchant's is a 404, another location's is refused for a member limited to
locations); nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.cards.models import Card
from app.cards.service import card_in_reach
from app.delivery.deliveries import card_deliveries
from app.delivery.mail import card_mails
from app.google_wallet.service import object_state
from app.ledger import service as ledger
from app.ledger.models import LedgerEntry
from app.merchants.access import Principal
from app.points.postings import Actor

ENTRIES_PER_PAGE = 25


@dataclass(frozen=True)
class CardOverview:
    card: Card
    entries: list[LedgerEntry]  # newest first
    next: int | None  # the ``before`` of the ledger's next page; None on the last
    devices: list[dict[str, Any]]  # per Apple registration (``card_deliveries``)
    google: dict[str, Any] | None  # the Google object's state; None before it exists
    mails: list[dict[str, Any]]  # to its holder, newest first


def card_overview(session: Session, *, principal: Principal, card_id: int,
                  before: int | None) -> CardOverview:
    """The card ``principal`` may reach, with its ledger's page from below ``before``."""
    card = card_in_reach(session, principal=principal, card_id=card_id)
    reader = Actor(merchant_id=principal.merchant_id, staff_id=principal.staff_id,
                   role=principal.role, locations=principal.locations)
    entries, following = ledger.entries(session, actor=reader, card_id=card.id,
                                        limit=ENTRIES_PER_PAGE, before=before)
    return CardOverview(card=card, entries=entries, next=following,
                        devices=card_deliveries(session, card=card),
                        google=object_state(session, card_id=card.id),
                        mails=card_mails(session, customer_id=card.customer_id))
