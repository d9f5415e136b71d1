"""Which cards a change can reach now, and why the others cannot.

A card (not deleted) is, in this order:
- reachable: an Apple registration whose pushes are not parked as failed, or a Google
  object saved and not removed whose sync has not failed;
- failing: installed (a registration, or a saved Google object) but every way to it fails;
- removed: it was in a wallet once (a wallet event, or a Google object removed) and is no
  longer;
- never installed: the rest.
One query: per card flags from registrations, Google objects and wallet events (a
``UNION ALL`` grouped by card), joined to the scope's cards, counted with ``CASE``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Integer, case, func, literal, select, union_all
from sqlalchemy.orm import Session

from app.analytics.flows import Scope
from app.analytics.models import WalletEvent
from app.cards.models import Card, CardStatus
from app.devices.models import Registration
from app.google_wallet.models import GoogleObject

FAILED = "failed"


@dataclass(frozen=True)
class Reach:
    cards: int
    reachable: int
    failing: int
    removed: int

    @property
    def never_installed(self) -> int:
        return self.cards - self.reachable - self.failing - self.removed

    @property
    def share(self) -> float | None:
        return self.reachable / self.cards if self.cards else None


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def reach(session: Session, *, scope: Scope) -> Reach:
    one, zero = literal(1, Integer), literal(0, Integer)
    saved = GoogleObject.saved_at.is_not(None) & GoogleObject.removed_at.is_(None)
    flags = union_all(
        select(Registration.card_id.label("card_id"),
               _flag(Registration.push_status != FAILED).label("live"),
               one.label("present"), one.label("ever"))
        .join(Card, Card.id == Registration.card_id)
        .where(Card.program_id == scope.program_id),
        select(GoogleObject.card_id, _flag(saved & (GoogleObject.status != FAILED)),
               _flag(saved),
               _flag(GoogleObject.saved_at.is_not(None) | GoogleObject.removed_at.is_not(None)))
        .where(GoogleObject.program_id == scope.program_id),
        select(WalletEvent.card_id, zero, zero, one)
        .where(WalletEvent.program_id == scope.program_id),
    ).subquery()
    per_card = select(flags.c.card_id, func.max(flags.c.live).label("live"),
                      func.max(flags.c.present).label("present"),
                      func.max(flags.c.ever).label("ever")).group_by(flags.c.card_id).subquery()
    statement = select(
        func.count().label("cards"),
        func.sum(case((per_card.c.live == 1, 1), else_=0)).label("reachable"),
        func.sum(case(((per_card.c.live == 0) & (per_card.c.present == 1), 1), else_=0))
        .label("failing"),
        func.sum(case(((per_card.c.present == 0) & (per_card.c.ever == 1), 1), else_=0))
        .label("removed"),
    ).select_from(Card).outerjoin(per_card, per_card.c.card_id == Card.id).where(
        Card.program_id == scope.program_id, Card.status != CardStatus.DELETED.value)
    if scope.locations:
        statement = statement.where(Card.location_id.in_(sorted(scope.locations)))
    row = session.execute(statement).one()
    return Reach(cards=int(row.cards), reachable=int(row.reachable or 0),
                 failing=int(row.failing or 0), removed=int(row.removed or 0))
