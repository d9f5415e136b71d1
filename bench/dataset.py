"""A chain's program at scale in PostgreSQL: the data the benchmarks and the query-plan
tests run against (tests/test_query_plans.py).

One merchant (Kava Club, UAH) with a points program of three tiers (12-month spend), points
that expire after a year, a welcome bonus, redemption up to half a bill; six counters, each
with its cashier's API key; N cards (default 1,000,000) enrolled over two years, more of
them lately; and their history:

- purchases skewed as a till sees them: a card's yearly rate is log-normal (most cards
  come a few times, one in ten thousand 600 times a year or more), some customers stop
  coming after a while; amounts log-normal around 150 UAH; most at the card's own counter;
- the ledger entries those purchases post (welcome, earn, redeem, a double-points day's
  bonus), refunds a few hours later (full or half, reversing the points and returning
  those redeemed, as ``app.ledger.service`` does), and the expiry of points a year old
  not spent (as ``loyalpass ledger expire`` would have done day by day): about
  ``--entries-per-card`` entries a card in all;
- Apple devices and registrations (about ``--registrations-per-card`` a card: a phone, a
  watch, an iPad, an old phone never unregistered) with realistic push tokens and push
  states (a few pending, a few failed), a few Google objects, wallet events (installs and
  removals), the outbox rows every pass change wrote (sent), and the idempotency records
  of the last 30 days' purchases.

Rows are written in the order they happened (ids grow with time, so a card's purchases
lie on as many pages as in a real table), by binary COPY: the history is simulated card
state by card state in one pass over the events sorted by time, and each row streams to
its table's COPY as it is made. Every card's cached balance, tier, visits, spend and last
visit equal what its entries and purchases say (``app.ledger``'s invariants; ``check``
verifies them). Audit records, webhooks and offers are not generated.

The schema is the app's own (``app.migrations.upgrade``), the merchant, program,
locations and keys are made by its services; while loading, the loaded tables' indexes
and unique constraints are dropped (and rebuilt afterwards from their own definitions)
and foreign keys are not checked (``session_replication_role = replica``: the server's
superuser). Then VACUUM ANALYZE, as autovacuum would have left a live database.

    python bench/dataset.py [URL] [--cards 1000000] [--entries-per-card 10]
                            [--registrations-per-card 2] [--other-cards 0] [--check]

Without URL (or ``LOYALPASS_DATASET_URL``) it makes a database ``bench_dataset_*`` on
the local server and prints its URL; drop it with ``--drop URL``.
"""

from __future__ import annotations

import argparse
import base64
import heapq
import os
import random
import sys
import time
import uuid
from array import array
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.people import contacts, person  # noqa: E402

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PREFIX = "bench_dataset_"
SECRET = "bench-secret-" + "k" * 24  # the barcodes' key (bench/pos.py's)
US = 1_000_000
DAY = 86_400 * US
YEAR = 365 * DAY  # the tiers' window and the points' lifetime
EPOCH = datetime(1970, 1, 1)
OUTBOX_DAYS = 60  # the outbox rows (sent) of the last days only: older ones would add
# millions of rows to the load and nothing to the plans (pending rows are found by index)
GOOGLE_ISSUER = "3388000000022212345"
GOOGLE_SHARE = 0.08  # of the cards, in Google Wallet
LOCATIONS = ("Khreshchatyk", "Podil", "Obolon", "Pechersk", "Lviv Rynok", "Odesa Derybasivska")
PROGRAM = {
    "name": "Kava Club", "currency": "UAH", "country": "UA", "earn_percent": 2,
    "point_value": 100, "welcome_points": 50, "max_redeem_percent": 50,
    "points_expire_days": 365,
    "tiers": [{"name": "Silver", "min_spend": 0, "earn_percent": 2},
              {"name": "Gold", "min_spend": 500_000, "earn_percent": 3},
              {"name": "Platinum", "min_spend": 2_000_000, "earn_percent": 5}],
}
# Devices per card with Apple Wallet: a phone; a phone and a watch; with an iPad or an
# old phone that never unregistered.
DEVICES = (1, 2, 3, 4)
DEVICE_SHARES = (0.25, 0.35, 0.25, 0.15)
# The tables COPY fills, whose indexes and unique constraints are rebuilt after it.
LOADED = ("customers", "cards", "purchases", "refunds", "ledger_entries", "devices",
          "registrations", "google_objects", "wallet_events", "outbox", "idempotency_records")


@dataclass(frozen=True)
class Dataset:
    """What ``build`` made: the merchant, its program, counters and keys, the card ids."""

    url: str
    merchant_id: int
    program_id: int
    location_ids: tuple[int, ...]
    api_key: str  # the owner's
    cashier_keys: tuple[str, ...]  # one per location, bound to it
    first_card_id: int
    cards: int
    now: datetime


@dataclass
class Timings:
    steps: list[tuple[str, float]] = field(default_factory=list)
    say: Callable[[str], None] = print

    def step(self, label: str, started: float) -> float:
        now = time.perf_counter()
        self.steps.append((label, now - started))
        self.say(f"  {now - started:7.1f} s  {label}")
        return now


# Databases.

def create_database(server: str = DEFAULT_SERVER) -> str:
    import psycopg

    name = f"{PREFIX}{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_plain(f"{server}/postgres"), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    return f"{server}/{name}"


def drop_database(url: str) -> None:
    import psycopg

    server, name = url.rsplit("/", 1)
    assert name.startswith(PREFIX), f"not a dataset's database: {name}"
    with psycopg.connect(_plain(f"{server}/postgres"), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


# The merchant, its program, counters and keys: made by the app's own services.

@dataclass(frozen=True)
class Setup:
    merchant_id: int
    program_id: int
    location_ids: tuple[int, ...]
    api_key: str
    cashier_keys: tuple[str, ...]
    cashier_key_ids: tuple[int, ...]
    tiers: tuple[tuple[str, int, int], ...]  # key, min spend, earn percent (whole)


def _set_up(url: str, *, name: str, email: str, program: dict[str, Any],
            locations: Sequence[str]) -> Setup:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from app.db import make_engine
    from app.merchants.models import ApiKey
    from app.merchants.schemas import LocationCreate, ProgramCreate
    from app.merchants.service import (
        create_location,
        create_merchant,
        create_program,
        issue_api_key,
    )
    from app.points.postings import program_rules

    engine = make_engine(url)
    with Session(engine) as session:
        made = create_merchant(session, name=name, email=email)
        merchant_id = made.merchant.id
        created = create_program(session, merchant_id=merchant_id,
                                 data=ProgramCreate.model_validate(program))
        location_ids = []
        for place in locations:
            location = create_location(session, program=created, data=LocationCreate(
                name=place, address=f"{place}, 1"))
            location_ids.append(location.id)
        session.commit()
        cashier = [issue_api_key(session, merchant_id=merchant_id, role="cashier",
                                 name=f"till {place}", location_id=location_id)
                   for place, location_id in zip(locations, location_ids, strict=True)]
        key_ids = tuple(session.scalars(select(ApiKey.id).where(ApiKey.id.in_(
            [issued.key.id for issued in cashier])).order_by(ApiKey.id)))
        rules = program_rules(created)
        tiers = tuple((tier.name, tier.min_spend, int(tier.earn_percent))
                      for tier in sorted(rules.tiers, key=lambda tier: tier.min_spend))
        setup = Setup(merchant_id, created.id, tuple(location_ids), made.api_key,
                      tuple(issued.secret for issued in cashier), key_ids, tiers)
    engine.dispose()
    return setup


# Dropping and rebuilding the loaded tables' indexes and unique constraints.

@dataclass(frozen=True)
class Rebuild:
    constraints: list[tuple[str, str, str]]  # table, name, definition
    indexes: list[str]  # CREATE INDEX statements
    statistics: list[str]  # ALTER INDEX … SET STATISTICS (the search's trigram indexes)


def _drop_indexes(connection: Any, tables: Sequence[str]) -> Rebuild:
    """Every index of ``tables`` but the primary keys (which foreign keys need, and which
    COPY extends cheaply at their right end, the ids growing)."""
    constraints = [(table, name, definition) for table, name, definition in connection.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " AS c WHERE contype = 'u' AND conrelid = ANY(%s::regclass[]) AND NOT EXISTS"
        " (SELECT 1 FROM pg_constraint AS f WHERE f.contype = 'f' AND f.conindid = c.conindid)",
        (list(tables),))]
    kept = {name for name, in connection.execute(
        "SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u')"
        " AND conrelid = ANY(%s::regclass[])", (list(tables),))}
    indexes = [(name, definition) for name, definition in connection.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index"
        " WHERE indrelid = ANY(%s::regclass[])", (list(tables),)) if name not in kept]
    statistics = [f"ALTER INDEX {name} ALTER COLUMN {number} SET STATISTICS {target}"
                  for name, number, target in connection.execute(
                      "SELECT attrelid::regclass::text, attnum, attstattarget FROM pg_attribute"
                      " WHERE attrelid = ANY(%s::regclass[]) AND attstattarget > 0",
                      ([name for name, _ in indexes],))]
    for table, name, _ in constraints:
        connection.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for name, _ in indexes:
        connection.execute(f"DROP INDEX IF EXISTS {name}")
    return Rebuild(constraints, [definition for _, definition in indexes], statistics)


def _rebuild(connection: Any, rebuild: Rebuild, timings: Timings) -> None:
    started = time.perf_counter()
    for table, name, definition in rebuild.constraints:
        connection.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    started = timings.step(f"{len(rebuild.constraints)} unique constraints",
                           started)
    for statement in [*rebuild.indexes, *rebuild.statistics]:
        connection.execute(statement)
    timings.step(f"{len(rebuild.indexes)} indexes", started)


# The history: one pass over the events in time order.

COLUMNS = {
    "purchases": ("id merchant_id program_id card_id location_id api_key_id amount"
                  " redeemed_points redeemed_value amount_paid earn_percent earned_points"
                  " bonus_points stamps_added rewards_redeemed refunded_amount refunded_paid"
                  " created_at",
                  "int4 int4 int4 int4 int4 int4 int8 int8 int8 int8 numeric int8 int8 int4"
                  " int4 int8 int8 timestamp"),
    "ledger_entries": ("id merchant_id card_id kind points stamps rewards purchase_id refund_id"
                       " location_id api_key_id reason created_at",
                       "int4 int4 int4 text int8 int4 int4 int4 int4 int4 int4 text timestamp"),
    "refunds": ("id merchant_id purchase_id api_key_id amount points_reversed points_returned"
                " points_forgone created_at",
                "int4 int4 int4 int4 int8 int8 int8 int8 timestamp"),
    "outbox": ("merchant_id card_id topic payload status attempts available_at created_at"
               " sent_at", "int4 int4 text json text int4 timestamp timestamp timestamp"),
    "idempotency_records": ("merchant_id key request_hash status_code response created_at",
                            "int4 text text int4 json timestamp"),
    "customers": ("id merchant_id name email phone locale marketing_consent consent_at"
                  " birthday created_at",
                  "int4 int4 text text text text bool timestamp date timestamp"),
    "cards": ("id merchant_id program_id customer_id location_id number serial_number"
              " authentication_token link_version status balance tier stamps rewards"
              " lifetime_spend visits last_visit_at pass_version pass_updated_at"
              " pass_last_modified created_at",
              "int4 int4 int4 int4 int4 text text text int4 text int8 text int4 int4 int8"
              " int4 timestamp int4 timestamp timestamp timestamp"),
    "devices": ("id device_library_identifier created_at updated_at",
                "int4 text timestamp timestamp"),
    "registrations": ("id device_id card_id push_token created_at push_status push_generation"
                      " push_attempts push_available_at last_push_at last_push_result"
                      " last_push_status",
                      "int4 int4 int4 text timestamp text int4 int4 timestamp timestamp text"
                      " int4"),
    "google_objects": ("card_id program_id object_id inserted status generation"
                       " synced_generation attempts available_at synced_at saved_at removed_at",
                       "int4 int4 text bool text int4 int4 int4 timestamp timestamp timestamp"
                       " timestamp"),
    "wallet_events": ("merchant_id program_id location_id card_id wallet kind created_at",
                      "int4 int4 int4 int4 text text timestamp"),
}


class Copies:
    """One binary COPY per table, each on a connection of its own (so that all stream at
    once), foreign keys unchecked."""

    def __init__(self, url: str, stack: ExitStack, tables: Sequence[str]) -> None:
        import psycopg

        self._writers: dict[str, Any] = {}
        for table in tables:
            connection = stack.enter_context(psycopg.connect(_plain(url)))
            connection.execute("SET session_replication_role = replica")
            connection.execute("SET synchronous_commit = off")
            names, types = COLUMNS[table]
            copy = stack.enter_context(connection.cursor().copy(
                f"COPY {table} ({', '.join(names.split())}) FROM STDIN (FORMAT BINARY)"))
            copy.set_types(types.split())
            self._writers[table] = copy.write_row

    def writer(self, table: str) -> Callable[[Sequence[Any]], None]:
        return self._writers[table]  # type: ignore[no-any-return]


def when(microseconds: int) -> datetime:
    return EPOCH + timedelta(microseconds=microseconds)


@dataclass
class Cards:
    """Each card's state as the history goes (index: the card's place, 0-based)."""

    count: int
    balance: list[int] = field(init=False)
    old_credits: list[int] = field(init=False)  # credits older than a year
    debits: list[int] = field(init=False)  # every point ever taken
    spend_year: list[int] = field(init=False)  # net spend of the last 12 months
    visits: list[int] = field(init=False)
    lifetime: list[int] = field(init=False)
    last_visit: list[int | None] = field(init=False)
    version: list[int] = field(init=False)
    changed: list[int] = field(init=False)

    def __post_init__(self) -> None:
        for name in ("balance", "old_credits", "debits", "spend_year", "visits", "lifetime",
                     "version", "changed"):
            setattr(self, name, [0] * self.count)
        self.version = [1] * self.count
        self.last_visit = [None] * self.count


@dataclass(frozen=True)
class Plan:
    """The vectorised part: when each card enrolled, its counter, and every purchase."""

    enrolled: Any  # numpy int64 µs, ascending
    home: Any  # numpy int32 index into the locations, -1: none (enrolled online)
    events: Any  # numpy int64 µs, every enrolment and purchase, ascending
    event_card: Any
    event_amount: Any  # 0: an enrolment
    event_location: Any


def plan(cards: int, *, now: int, years: float, purchases_per_card: float, locations: int,
         seed: int) -> Plan:
    import numpy as np

    rng = np.random.default_rng(seed)
    span = int(years * YEAR)
    start = now - span
    # More cards enrolled lately (the chain grows): density rising with time.
    enrolled = np.sort(start + (span * rng.random(cards) ** (1 / 1.5)).astype(np.int64))
    home = np.where(rng.random(cards) < 0.85, rng.integers(0, locations, cards), -1)
    # A third of the customers stop coming after a few months; the rest still come.
    leaves = rng.random(cards) < 0.35
    until = np.where(leaves, np.minimum(now, enrolled + rng.exponential(
        120 * DAY, cards).astype(np.int64)), now)
    active_years = (until - enrolled) / YEAR
    rate = np.exp(rng.normal(0.0, 1.5, cards))  # purchases a year, log-normal
    rate *= purchases_per_card * cards / max(float((rate * active_years).sum()), 1e-9)
    counts = rng.poisson(np.minimum(rate, 730.0) * active_years)
    owner = np.repeat(np.arange(cards, dtype=np.int64), counts)
    moments = enrolled[owner] + (rng.random(owner.size) * (until - enrolled)[owner]).astype(
        np.int64) + 60 * US  # not before the enrolment
    amounts = np.clip(np.round(rng.lognormal(np.log(15_000), 0.6, owner.size), -2), 500,
                      2_000_000).astype(np.int64)
    at_home = (rng.random(owner.size) < 0.8) & (home[owner] >= 0)
    where = np.where(at_home, home[owner], rng.integers(0, locations, owner.size))
    keep = moments < now
    times = np.concatenate([enrolled, moments[keep]])
    order = np.argsort(times, kind="stable")
    return Plan(
        enrolled=enrolled, home=home, events=times[order],
        event_card=np.concatenate([np.arange(cards), owner[keep]])[order],
        event_amount=np.concatenate([np.zeros(cards, np.int64), amounts[keep]])[order],
        event_location=np.concatenate([np.maximum(home, 0), where[keep]])[order])


class History:
    """Simulates a program's purchases, refunds and expiries and streams their rows."""

    def __init__(self, setup: Setup, copies: Copies, *, first_card_id: int, now: int,
                 seed: int, welcome: int) -> None:
        self.setup, self.now, self.first = setup, now, first_card_id
        self.rng = random.Random(seed)
        self.write_purchase = copies.writer("purchases")
        self.write_entry = copies.writer("ledger_entries")
        self.write_refund = copies.writer("refunds")
        self.write_outbox = copies.writer("outbox")
        self.write_record = copies.writer("idempotency_records")
        self.entry_id = self.purchase_id = self.refund_id = 0
        self.outbox_since = now - OUTBOX_DAYS * DAY
        self.welcome = welcome
        self.percents = {percent: Decimal(percent) for _, _, percent in setup.tiers}
        # Credits (and purchases' spend) a year after they were made, in time order.
        self.aging_time, self.aging_card = array("q"), array("q")
        self.aging_points, self.aging_spend = array("q"), array("q")
        self.aged = 0
        self.refunds: list[tuple[int, int, tuple[Any, ...]]] = []  # a heap, by time

    def run(self, events: Plan, cards: Cards) -> None:
        self.cards = cards
        chunk = 1_000_000
        for begin in range(0, len(events.events), chunk):
            part = slice(begin, begin + chunk)
            for moment, card, amount, location in zip(
                    events.events[part].tolist(), events.event_card[part].tolist(),
                    events.event_amount[part].tolist(),
                    events.event_location[part].tolist(), strict=True):
                self.catch_up(moment)
                if amount:
                    self.purchase(moment, card, amount, location)
                else:
                    self.enrol(moment, card, location)
        self.catch_up(self.now)

    def catch_up(self, moment: int) -> None:
        """Refunds due, and credits turning a year old (the daily expiry), before now."""
        times = self.aging_time
        while True:
            refund_at = self.refunds[0][0] if self.refunds else moment + 1
            aging_at = times[self.aged] if self.aged < len(times) else moment + 1
            if refund_at <= moment and refund_at <= aging_at:
                self.refund(*heapq.heappop(self.refunds)[2])
            elif aging_at <= moment:
                self.age(self.aged)
                self.aged += 1
            else:
                return

    def entry(self, moment: int, card: int, kind: str, points: int, *, purchase: int | None = None,
              refund: int | None = None, location: int | None = None, key: int | None = None,
              reason: str = "") -> None:
        self.entry_id += 1
        self.write_entry((self.entry_id, self.setup.merchant_id, self.first + card, kind, points,
                          0, 0, purchase, refund, location, key, reason, when(moment)))

    def ages(self, moment: int, card: int, points: int, spend: int) -> None:
        """Credits (and a purchase's spend) made now turn a year old at ``moment + YEAR``."""
        if self.aged > 2_000_000:  # what was consumed goes
            for column in (self.aging_time, self.aging_card, self.aging_points,
                           self.aging_spend):
                del column[:self.aged]
            self.aged = 0
        self.aging_time.append(moment + YEAR)
        self.aging_card.append(card)
        self.aging_points.append(points)
        self.aging_spend.append(spend)

    def changed(self, moment: int, card: int, reason: str) -> None:
        cards = self.cards
        cards.version[card] += 1
        cards.changed[card] = moment
        if moment < self.outbox_since:
            return
        at = when(moment)
        self.write_outbox((self.setup.merchant_id, self.first + card, "pass_updated",
                           f'{{"pass_version": {cards.version[card]}, "reason": "{reason}"}}',
                           "done", 0, at, at, at + timedelta(seconds=1)))

    def enrol(self, moment: int, card: int, _location: int) -> None:
        welcome = self.welcome
        self.cards.changed[card] = moment
        if welcome:
            self.cards.balance[card] += welcome
            self.entry(moment, card, "welcome", welcome, reason="welcome")
            self.ages(moment, card, welcome, 0)
        if moment < self.outbox_since:
            return
        at = when(moment)
        self.write_outbox((self.setup.merchant_id, self.first + card, "pass_updated",
                           '{"pass_version": 1, "reason": "enrolled"}', "done", 0, at, at,
                           at + timedelta(seconds=1)))

    def purchase(self, moment: int, card: int, amount: int, location: int) -> None:
        cards, rng, setup = self.cards, self.rng, self.setup
        percent = [p for _, spend, p in setup.tiers if spend <= cards.spend_year[card]][-1]
        balance = cards.balance[card]
        redeemed = 0
        if balance >= 20 and rng.random() < 0.3:  # half the bill at most, 1 point = 1 UAH
            redeemed = min(balance, amount * 50 // 100 // 100)
        paid = amount - redeemed * 100
        earned = paid * percent // 10_000
        bonus = earned if rng.random() < 0.02 else 0  # a double-points day
        refunded = refunded_paid = 0
        refund_at = moment + rng.randrange(10 * 60 * US, 2 * DAY)
        if rng.random() < 0.02 and refund_at < self.now:
            refunded = amount if rng.random() < 0.6 else amount // 2
            refunded_paid = paid * refunded // amount
        self.purchase_id += 1
        purchase, location_id = self.purchase_id, setup.location_ids[location]
        key = setup.cashier_key_ids[location]
        self.write_purchase((purchase, setup.merchant_id, setup.program_id, self.first + card,
                             location_id, key, amount, redeemed, redeemed * 100, paid,
                             self.percents[percent], earned, bonus, 0, 0, refunded,
                             refunded_paid, when(moment)))
        if redeemed:
            self.entry(moment, card, "redeem", -redeemed, purchase=purchase,
                       location=location_id, key=key)
        for kind, points, reason in (("earn", earned, ""), ("bonus", bonus, "double points")):
            if points:
                self.entry(moment, card, kind, points, purchase=purchase,
                           location=location_id, key=key, reason=reason)
        cards.balance[card] += earned + bonus - redeemed
        cards.debits[card] += redeemed
        cards.spend_year[card] += paid
        cards.visits[card] += 1
        cards.lifetime[card] += paid - refunded_paid
        cards.last_visit[card] = moment
        self.ages(moment, card, earned + bonus, paid - refunded_paid)
        self.changed(moment, card, "purchase")
        if moment > self.now - 30 * DAY:
            self.write_record((setup.merchant_id, uuid.UUID(int=rng.getrandbits(128)).hex,
                               f"{rng.getrandbits(256):064x}", 201,
                               f'{{"id": {purchase}, "card_id": {self.first + card}}}',
                               when(moment)))
        if refunded:
            heapq.heappush(self.refunds, (refund_at, purchase, (
                refund_at, card, purchase, key, amount, refunded, refunded_paid,
                (earned + bonus) * refunded // amount, redeemed * refunded // amount,
                location_id)))

    def refund(self, moment: int, card: int, purchase: int, key: int, amount: int,
               refunded: int, refunded_paid: int, taken: int, returned: int,
               location_id: int) -> None:
        """As ``app.ledger.service`` refunds: redeemed points come back, earned ones go
        (those already spent are forgone)."""
        cards = self.cards
        forgone = max(0, taken - returned - cards.balance[card])
        self.refund_id += 1
        self.write_refund((self.refund_id, self.setup.merchant_id, purchase, key, refunded,
                           taken - forgone, returned, forgone, when(moment)))
        if returned:
            self.entry(moment, card, "reverse", returned, purchase=purchase,
                       refund=self.refund_id, location=location_id, key=key,
                       reason="redeemed points returned")
        if taken - forgone:
            self.entry(moment, card, "reverse", -(taken - forgone), purchase=purchase,
                       refund=self.refund_id, location=location_id, key=key, reason="refund")
        if returned:
            self.ages(moment, card, returned, 0)
        cards.balance[card] += returned - (taken - forgone)
        cards.debits[card] += taken - forgone
        cards.spend_year[card] -= refunded_paid
        self.changed(moment, card, "refund")

    def age(self, index: int) -> None:
        """A credit a year old: what is left of the card's old credits expires (as
        ``app.ledger.maintenance.expire_points``: old credits less every debit)."""
        cards, card = self.cards, self.aging_card[index]
        cards.spend_year[card] -= self.aging_spend[index]
        points = self.aging_points[index]
        if not points:
            return
        cards.old_credits[card] += points
        expiring = min(cards.old_credits[card] - cards.debits[card], cards.balance[card])
        if expiring > 0:
            moment = self.aging_time[index]
            self.entry(moment, card, "expire", -expiring, reason=(
                f"points earned before {when(moment - YEAR):%Y-%m-%d} expired"))
            cards.balance[card] -= expiring
            cards.debits[card] += expiring
            self.changed(moment, card, "expiry")


# Customers and cards (their final state), devices, registrations, Google objects.

def _token(rng: random.Random, bits: int) -> str:
    return base64.urlsafe_b64encode(rng.getrandbits(bits).to_bytes(bits // 8, "big")
                                    ).rstrip(b"=").decode()


def card_number(identity: int) -> str:
    """A 12-digit number with its Luhn digit, unique per id (a bijection of it)."""
    from app.cards.numbers import luhn_check_digit

    payload = f"{10**10 + (identity * 7_919_033) % (9 * 10**10):011d}"
    return payload + luhn_check_digit(payload)


def write_cards(copies: Copies, setup: Setup, cards: Cards, events: Plan, *,
                first_card_id: int, seed: int) -> list[str]:
    """The customers and the cards as the history left them; the cards' serial numbers."""
    rng = random.Random(seed)
    customer, card_row = copies.writer("customers"), copies.writer("cards")
    tiers = setup.tiers
    serials = []
    for index, enrolled in enumerate(events.enrolled.tolist()):
        identity = first_card_id + index
        name, letters, locale = person(rng)
        email, phone = contacts(rng, identity, letters)
        created = when(enrolled)
        consent = rng.random() < 0.6
        birthday = (datetime(1960, 1, 1) + timedelta(days=rng.randrange(16_000))).date() \
            if rng.random() < 0.3 else None
        customer((identity, setup.merchant_id, name, email, phone, locale, consent,
                  created if consent else None, birthday, created))
        spend = cards.spend_year[index]
        tier = [key for key, threshold, _ in tiers if threshold <= spend][-1] if tiers else None
        home = int(events.home[index])
        changed = when(cards.changed[index])
        last_visit = cards.last_visit[index]
        serial = f"{rng.getrandbits(128):032x}"
        serials.append(serial)
        card_row((identity, setup.merchant_id, setup.program_id, identity,
                  setup.location_ids[home] if home >= 0 else None, card_number(identity),
                  serial, _token(rng, 256), 0, "active", cards.balance[index], tier, 0, 0,
                  cards.lifetime[index], cards.visits[index],
                  when(last_visit) if last_visit is not None else None, cards.version[index],
                  changed, changed.replace(microsecond=0), created))
    return serials


def write_wallets(copies: Copies, setup: Setup, cards: Cards, events: Plan, serials: list[str],
                  *, first_card_id: int, now: int, per_card: float, google_share: float,
                  seed: int) -> None:
    """Apple devices and registrations (``per_card`` a card), Google objects (on a
    ``google_share`` of the cards, none of them on Apple devices), and the wallet events
    of both."""
    import numpy as np

    rng = np.random.default_rng(seed)
    count = len(serials)
    mean = sum(n * share for n, share in zip(DEVICES, DEVICE_SHARES, strict=True))
    apple = rng.random(count) < min(1.0, per_card / mean)
    devices = np.where(apple, rng.choice(DEVICES, count, p=DEVICE_SHARES), 0)
    owner = np.repeat(np.arange(count), devices)
    first = np.concatenate([[True], owner[1:] != owner[:-1]]) if owner.size else owner
    enrolled = events.enrolled[owner]
    created = np.where(first, enrolled + rng.integers(60 * US, 1_800 * US, owner.size),
                       enrolled + (rng.random(owner.size) * (now - enrolled)).astype(np.int64))
    order = np.argsort(created, kind="stable")
    roll = rng.random(owner.size)
    device_row, registration = copies.writer("devices"), copies.writer("registrations")
    events_row = copies.writer("wallet_events")
    text = random.Random(seed)
    for number, (place, moment, chance) in enumerate(zip(
            owner[order].tolist(), created[order].tolist(), roll[order].tolist(),
            strict=True), start=1):
        at, changed = when(moment), when(max(moment, cards.changed[place]))
        device_row((number, f"{text.getrandbits(128):032x}", at, at))
        status, due = ("pending", when(now - 30 * US)) if chance < 0.002 else (
            ("failed", None) if chance < 0.007 else ("idle", None))
        registration((number, number, first_card_id + place, f"{text.getrandbits(256):064x}",
                      at, status, cards.version[place], 0 if status == "idle" else 3, due,
                      changed, "delivered" if status != "failed" else "failed",
                      200 if status != "failed" else 500))
        home = int(events.home[place])
        events_row((setup.merchant_id, setup.program_id,
                    setup.location_ids[home] if home >= 0 else None, first_card_id + place,
                    "apple", "installed", at))
    google = (~apple) & (rng.random(count) < google_share / max(1 - apple.mean(), google_share))
    google_row = copies.writer("google_objects")
    for place in np.flatnonzero(google).tolist():
        saved = when(int(events.enrolled[place]) + 120 * US)
        removed = saved + timedelta(days=30) if text.random() < 0.1 else None
        changed = when(cards.changed[place])
        google_row((
            first_card_id + place, setup.program_id, f"{GOOGLE_ISSUER}.{serials[place]}",
            True, "synced", cards.version[place], cards.version[place], 0, changed, changed,
            saved, removed))
        home = int(events.home[place])
        location = setup.location_ids[home] if home >= 0 else None
        for kind, moment in (("installed", saved), ("removed", removed)):
            if moment is not None and moment < when(now):
                events_row((setup.merchant_id, setup.program_id, location,
                            first_card_id + place, "google", kind, moment))


def write_other_merchant(other: Setup, copies: Copies, count: int, seed: int) -> None:
    """Another merchant's program with ``count`` cards (no history), loaded before ours:
    the lower ids and pages are theirs, as on a shared server."""
    rng = random.Random(seed)
    customer, card_row = copies.writer("customers"), copies.writer("cards")
    started = datetime(2024, 1, 1)
    for identity in range(1, count + 1):
        name, letters, locale = person(rng)
        email, phone = contacts(rng, identity, letters)
        created = started + timedelta(seconds=identity)
        customer((identity, other.merchant_id, name, email, phone, locale, False, None, None,
                  created))
        card_row((identity, other.merchant_id, other.program_id, identity, None,
                  card_number(identity), f"{rng.getrandbits(128):032x}", _token(rng, 256), 0,
                  "active", 0, None, 0, 0, 0, 0, None, 1, created, created.replace(
                      microsecond=0), created))


# The whole build.

def build(url: str, *, cards: int, entries_per_card: float = 10.0,
          registrations_per_card: float = 2.0, other_cards: int = 0, years: float = 2.0,
          history: bool = True, seed: int = 15, say: Callable[[str], None] = print
          ) -> Dataset:
    """Migrates ``url``'s database to the newest schema and fills it (see the module's
    docstring); prints each step's time through ``say``. Without ``history`` the cards
    are enrolled and that is all: no entries, purchases or wallets."""
    import psycopg

    from app.clock import utcnow
    from app.db import make_engine
    from app.migrations import upgrade

    timings = Timings(say=say)
    started = begun = time.perf_counter()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    setup = _set_up(url, name="Kava Club", email="owner@kava.example", program=PROGRAM,
                    locations=LOCATIONS)
    started = timings.step("schema (app.migrations.upgrade), merchant, program, counters",
                           started)
    now_at = utcnow()
    now = (now_at - EPOCH) // timedelta(microseconds=1)
    # Entries a card: a welcome, then per purchase an earn, a redeem on about one in six,
    # a bonus, refunds and expiries on a few: about 1.2 a purchase.
    per_card = max(0.0, (entries_per_card - 1) / 1.2) if history else 0.0
    events = plan(cards, now=now, years=years, purchases_per_card=per_card,
                  locations=len(setup.location_ids), seed=seed)
    started = timings.step(f"planned {len(events.events) - cards:,} purchases (numpy)", started)
    other = _set_up(url, name="Other Kava", email="owner@other.example",
                    program={"name": "Other", "country": "UA", "welcome_points": 0},
                    locations=()) if other_cards else None
    with psycopg.connect(_plain(url), autocommit=True) as admin:
        rebuild = _drop_indexes(admin, LOADED)
        first_card_id = other_cards + 1
        state = Cards(cards)
        with ExitStack() as stack:
            copies = Copies(url, stack, LOADED)
            if other is not None:
                write_other_merchant(other, copies, other_cards, seed + 1)
            simulated = History(setup, copies, first_card_id=first_card_id, now=now, seed=seed,
                                welcome=int(PROGRAM["welcome_points"]) if history else 0)  # type: ignore[call-overload]
            simulated.run(events, state)
            started = timings.step(
                f"history: {simulated.purchase_id:,} purchases, {simulated.entry_id:,} ledger "
                f"entries, {simulated.refund_id:,} refunds (simulated and copied)", started)
            serials = write_cards(copies, setup, state, events, first_card_id=first_card_id,
                                  seed=seed + 2)
            write_wallets(copies, setup, state, events, serials, first_card_id=first_card_id,
                          now=now, per_card=registrations_per_card if history else 0.0,
                          google_share=GOOGLE_SHARE if history else 0.0, seed=seed + 3)
            started = timings.step(f"{cards:,} customers and cards, devices, registrations, "
                                   "Google objects, wallet events", started)
        started = timings.step("COPY finished", started)
        admin.execute("SET maintenance_work_mem = '512MB'")
        admin.execute("SET max_parallel_maintenance_workers = 2")
        _rebuild(admin, rebuild, timings)
        started = time.perf_counter()
        # What the set-up queued (the programs' Google classes) went out long ago.
        admin.execute("UPDATE outbox SET status = 'done', sent_at = created_at"
                      " WHERE status = 'pending'")
        # And so did the class of each program whose cards have Google objects: Google
        # hears of an object only once its class is there.
        admin.execute("INSERT INTO google_classes (program_id, class_id, status, generation,"
                      " synced_generation, attempts, available_at, synced_at)"
                      " SELECT DISTINCT program_id, %s || '.loyalpass-program-' || program_id,"
                      " 'synced', 1, 1, 0, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'"
                      " FROM google_objects ON CONFLICT (program_id) DO NOTHING",
                      (GOOGLE_ISSUER,))
        for table in LOADED:
            if table != "google_objects":  # keyed by its card
                admin.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # type: ignore[arg-type]
                              f" coalesce((SELECT max(id) FROM {table}), 0) + 1, false)")
        for table in LOADED:
            admin.execute(f"VACUUM (ANALYZE) {table}")  # type: ignore[arg-type]
        timings.step("VACUUM ANALYZE", started)
        sizes = dict(admin.execute(
            "SELECT relname, reltuples::bigint FROM pg_class WHERE relname = ANY(%s)",
            (list(LOADED),)).fetchall())
    say(f"  {time.perf_counter() - begun:7.1f} s  in all; rows: " + ", ".join(
        f"{table} {sizes.get(table, 0):,}" for table in LOADED))
    return Dataset(url=url, merchant_id=setup.merchant_id, program_id=setup.program_id,
                   location_ids=setup.location_ids, api_key=setup.api_key,
                   cashier_keys=setup.cashier_keys, first_card_id=first_card_id,
                   cards=cards, now=now_at)


def loaded(url: str) -> Dataset:
    """What ``build`` made, read back from its database (with new keys: only their hashes
    are stored)."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from app.cards.models import Card
    from app.clock import utcnow
    from app.db import make_engine
    from app.merchants.models import Location, Program
    from app.merchants.service import create_api_key

    engine = make_engine(url)
    with Session(engine) as session:
        program = session.scalars(select(Program).where(Program.name == PROGRAM["name"])).one()
        locations = tuple(session.scalars(select(Location.id).where(
            Location.program_id == program.id).order_by(Location.id)))
        first, count = session.execute(select(func.min(Card.id), func.count(Card.id)).where(
            Card.program_id == program.id)).one()
        owner = create_api_key(session, merchant_id=program.merchant_id, role="owner")
        tills = tuple(create_api_key(session, merchant_id=program.merchant_id, role="cashier",
                                     location_id=location) for location in locations)
        dataset = Dataset(url, program.merchant_id, program.id, locations, owner, tills,
                          int(first), int(count), utcnow())
    engine.dispose()
    return dataset


# The invariants.

CHECKS = {
    "balance is the sum of the card's entries": """
        SELECT count(*) FROM cards LEFT JOIN (SELECT card_id, sum(points) AS points,
            sum(stamps) AS stamps, sum(rewards) AS rewards FROM ledger_entries
            GROUP BY card_id) AS entries ON entries.card_id = cards.id
        WHERE cards.balance <> coalesce(entries.points, 0)
           OR cards.stamps <> coalesce(entries.stamps, 0)
           OR cards.rewards <> coalesce(entries.rewards, 0)""",
    "visits, spend and last visit are the card's purchases'": """
        SELECT count(*) FROM cards LEFT JOIN (SELECT card_id, count(*) AS visits,
            sum(amount_paid - refunded_paid) AS spend, max(created_at) AS last_visit
            FROM purchases GROUP BY card_id) AS bought ON bought.card_id = cards.id
        WHERE cards.visits <> coalesce(bought.visits, 0)
           OR cards.lifetime_spend <> coalesce(bought.spend, 0)
           OR cards.last_visit_at IS DISTINCT FROM bought.last_visit""",
    "no balance below zero, no refund beyond its purchase": """
        SELECT (SELECT count(*) FROM cards WHERE balance < 0)
             + (SELECT count(*) FROM purchases WHERE refunded_amount > amount)""",
    "every refund's points are its entries'": """
        SELECT count(*) FROM refunds JOIN (SELECT refund_id, sum(points) AS points
            FROM ledger_entries WHERE refund_id IS NOT NULL GROUP BY refund_id) AS entries
            ON entries.refund_id = refunds.id
        WHERE entries.points <> refunds.points_returned - refunds.points_reversed""",
}


def check(url: str) -> dict[str, int]:
    """How many rows break each of ``app.ledger``'s invariants (all zero when sound), and
    how many cards are not in the tier their last 12 months of spend earn."""
    import psycopg
    from sqlalchemy import case, func, select
    from sqlalchemy.orm import Session

    from app.cards.models import Card
    from app.clock import utcnow
    from app.db import make_engine
    from app.ledger.models import Purchase
    from app.merchants.models import Program
    from app.points.postings import TIER_WINDOW, program_rules
    from app.points.rules import tier_for

    with psycopg.connect(_plain(url)) as connection:
        broken = {label: int(connection.execute(sql).fetchone()[0])  # type: ignore[arg-type,index]
                  for label, sql in CHECKS.items()}
    engine = make_engine(url)
    now = utcnow()
    wrong = 0
    with Session(engine) as session:
        for program in session.scalars(select(Program)):
            rules = program_rules(program)
            net = Purchase.amount_paid - Purchase.refunded_paid
            recent = func.coalesce(func.sum(case((Purchase.created_at > now - TIER_WINDOW,
                                                  net), else_=0)), 0)
            for tier, spend in session.execute(
                    select(Card.tier, recent).outerjoin(Purchase, Purchase.card_id == Card.id)
                    .where(Card.program_id == program.id).group_by(Card.id, Card.tier)):
                due = tier_for(rules.tiers, int(spend))
                wrong += (due.name if due else None) != tier
    engine.dispose()
    broken["tier is the one the last 12 months of spend earn"] = wrong
    return broken


def active_cards(url: str, count: int, *, days: int = 30, min_balance: int = 0,
                 seed: int = 1) -> list[str]:
    """``count`` card numbers drawn as a till meets them: each purchase of the last
    ``days`` days equally likely, so a card comes up as often as it buys (of the cards
    holding ``min_balance`` points or more)."""
    import psycopg

    with psycopg.connect(_plain(url)) as connection:
        connection.execute("SELECT setseed(%s)", (1 / (seed + 1),))
        return [number for number, in connection.execute(
            "SELECT cards.number FROM purchases JOIN cards ON cards.id = purchases.card_id"
            " WHERE purchases.created_at > now() AT TIME ZONE 'UTC' - make_interval(days => %s)"
            " AND cards.balance >= %s ORDER BY random() LIMIT %s", (days, min_balance, count))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default=os.environ.get("LOYALPASS_DATASET_URL"),
                        help="database to fill (default: a new bench_dataset_* database)")
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--entries-per-card", type=float, default=10.0)
    parser.add_argument("--registrations-per-card", type=float, default=2.0)
    parser.add_argument("--other-cards", type=int, default=0,
                        help="another merchant's cards, loaded first")
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--check", action="store_true", help="verify the ledger's invariants")
    parser.add_argument("--drop", metavar="URL", help="drop a database this script made")
    options = parser.parse_args()
    if options.drop:
        drop_database(options.drop)
        print(f"dropped {options.drop}")
        return
    url = options.url or create_database(options.server)
    print(f"filling {url} with {options.cards:,} cards", flush=True)
    build(url, cards=options.cards, entries_per_card=options.entries_per_card,
          registrations_per_card=options.registrations_per_card,
          other_cards=options.other_cards,
          say=lambda line: print(line, flush=True))
    if options.check:
        started = time.perf_counter()
        broken = check(url)
        print(f"  {time.perf_counter() - started:7.1f} s  checked: " + "; ".join(
            f"{label}: {count} broken" for label, count in broken.items()))
    print(f"database: {url}")


if __name__ == "__main__":
    main()
