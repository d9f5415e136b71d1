"""A generated history for the stats tests: cards, purchases, refunds and ledger entries at
chosen times, written straight to the tables (the services stamp the present), with a
plain list of what was written so that a test can compute every figure in Python."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.analytics.models import WalletEvent
from app.cards.models import Card
from app.devices.models import Device, Registration
from app.google_wallet.models import GoogleObject
from app.ledger.models import LedgerEntry, Purchase, Refund
from tests.conftest import Api

FIRST_DAY = date(2026, 3, 1)
DAYS = 60


@dataclass
class Entry:
    card: int
    kind: str
    points: int
    at: datetime
    location: int | None


@dataclass
class Sale:
    id: int
    card: int
    amount: int
    at: datetime
    location: int | None


@dataclass
class History:
    merchant_id: int
    program_id: int
    locations: list[int]
    cards: dict[int, dict[str, Any]] = field(default_factory=dict)  # id: created, location, tier
    sales: list[Sale] = field(default_factory=list)
    refunds: list[tuple[int, int, datetime]] = field(default_factory=list)  # sale, amount, at
    entries: list[Entry] = field(default_factory=list)
    events: list[tuple[int, str, str, datetime]] = field(default_factory=list)

    def balance(self, card: int) -> int:
        return sum(entry.points for entry in self.entries if entry.card == card)


def _moment(rng: random.Random) -> datetime:
    day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
    return datetime.combine(day, time(rng.randrange(24), rng.randrange(60), rng.randrange(60)))


def generate(session: Session, api: Api, program: dict[str, Any], *, seed: int,
             cards: int = 14, purchases: int = 120) -> History:
    rng = random.Random(seed)
    locations = [api.post(f"/api/v1/programs/{program['id']}/locations",
                          {"name": name}).get_json()["id"] for name in ("Podil", "Obolon")]
    made = [api.post(f"/api/v1/programs/{program['id']}/cards",
                     {"name": f"Customer {n}", "email": f"c{n}@example.com"}).get_json()
            for n in range(cards)]
    merchant_id = session.get(Card, made[0]["id"]).merchant_id  # type: ignore[union-attr]
    history = History(merchant_id=merchant_id, program_id=program["id"], locations=locations)
    for item in made:
        created = _moment(rng)
        where = rng.choice([None, *locations])
        tier = rng.choice([None, "Silver", "Silver", "Gold"])
        history.cards[item["id"]] = {"created": created, "location": where, "tier": tier}
        session.execute(update(Card).where(Card.id == item["id"]).values(
            created_at=created, location_id=where, tier=tier))
        _entry(session, history, item["id"], "welcome", 50, created, None)
    moments = sorted(_moment(rng) for _ in range(purchases))
    for at in moments:
        _sale(session, history, rng, rng.choice(list(history.cards)), at,
              rng.choice([None, *locations]))
    _edges(session, history, rng)
    _corrections(session, history, rng)
    for card_id in history.cards:
        session.execute(update(Card).where(Card.id == card_id)
                        .values(balance=history.balance(card_id)))
    _wallets(session, history, rng)
    session.commit()
    return history


def _entry(session: Session, history: History, card: int, kind: str, points: int,
           at: datetime, location: int | None, **links: Any) -> None:
    session.add(LedgerEntry(merchant_id=history.merchant_id, card_id=card, kind=kind,
                            points=points, created_at=at, location_id=location, **links))
    history.entries.append(Entry(card, kind, points, at, location))


def _sale(session: Session, history: History, rng: random.Random, card: int, at: datetime,
          location: int | None, *, may_redeem: bool = True) -> None:
    amount = rng.randrange(100, 60_000)
    purchase = Purchase(merchant_id=history.merchant_id, program_id=history.program_id,
                        card_id=card, location_id=location, amount=amount, amount_paid=amount,
                        earn_percent=Decimal(2), created_at=at)
    session.add(purchase)
    session.flush()
    history.sales.append(Sale(purchase.id, card, amount, at, location))
    balance = sum(e.points for e in history.entries if e.card == card and e.at <= at)
    if may_redeem and balance > 40 and rng.random() < 0.4:
        _entry(session, history, card, "redeem", -rng.randrange(1, balance), at, location,
               purchase_id=purchase.id)
    _entry(session, history, card, "earn", amount // 50, at, location, purchase_id=purchase.id)
    if rng.random() < 0.2:
        _entry(session, history, card, "bonus", 25, at, location, purchase_id=purchase.id)


def _edges(session: Session, history: History, rng: random.Random) -> None:
    """Purchases on the first and last moments of days 9, 10, 40 and 41 of the history
    (the stats tests read days 10 to 40)."""
    card = next(iter(history.cards))
    for day in (9, 10, 40, 41):
        start = datetime.combine(FIRST_DAY + timedelta(days=day), time.min)
        for at in (start, start + timedelta(days=1) - timedelta(microseconds=1)):
            _sale(session, history, rng, card, at, history.locations[0], may_redeem=False)


def _corrections(session: Session, history: History, rng: random.Random) -> None:
    """Refunds (earned points taken back, spent points returned), expiries, adjustments:
    each after everything else on its card, so that no balance goes below zero."""
    last = datetime.combine(FIRST_DAY + timedelta(days=DAYS), time.min)
    for sale in rng.sample(history.sales, 24):
        at = sale.at + timedelta(hours=rng.randrange(1, 120))
        amount = rng.randrange(1, sale.amount + 1)
        refund = Refund(merchant_id=history.merchant_id, purchase_id=sale.id, amount=amount,
                        created_at=at)
        session.add(refund)
        session.flush()
        history.refunds.append((sale.id, amount, at))
        _entry(session, history, sale.card, "reverse", 7, at, sale.location,
               purchase_id=sale.id, refund_id=refund.id)
        _entry(session, history, sale.card, "reverse", -min(5, history.balance(sale.card)),
               at, sale.location, purchase_id=sale.id, refund_id=refund.id)
    for card in rng.sample(list(history.cards), 5):
        at = last + timedelta(hours=rng.randrange(1, 48))
        _entry(session, history, card, "expire", -history.balance(card) // 3, at, None)
        _entry(session, history, card, "adjust", -1 if history.balance(card) else 3, at, None)


def _wallets(session: Session, history: History, rng: random.Random) -> None:
    """Wallet events on some cards, and their state now: a live registration, a parked
    one, a saved Google object, a removed one, nothing."""
    for number, card in enumerate(history.cards):
        state = number % 5
        info = history.cards[card]
        if state == 4:
            continue
        wallet = "google" if state in (2, 3) else "apple"
        at = _moment(rng)
        _event(session, history, card, wallet, "installed", at)
        if state == 3:
            _event(session, history, card, wallet, "removed", at + timedelta(days=1))
            session.add(GoogleObject(card_id=card, program_id=history.program_id,
                                     object_id=f"o.{card}", saved_at=at,
                                     removed_at=at + timedelta(days=1)))
        elif state == 2:
            session.add(GoogleObject(card_id=card, program_id=history.program_id,
                                     object_id=f"o.{card}", saved_at=at))
        else:
            device = Device(device_library_identifier=f"device-{card}")
            session.add(device)
            session.flush()
            session.add(Registration(device_id=device.id, card_id=card, push_token="aa" * 32,
                                     push_status="failed" if state == 1 else "idle"))
        info["wallet_state"] = state


def _event(session: Session, history: History, card: int, wallet: str, kind: str,
           at: datetime) -> None:
    info = history.cards[card]
    session.add(WalletEvent(merchant_id=history.merchant_id, program_id=history.program_id,
                            location_id=info["location"], card_id=card, wallet=wallet,
                            kind=kind, created_at=at))
    history.events.append((card, wallet, kind, at))
