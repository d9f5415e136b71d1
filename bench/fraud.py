"""What a round of the fraud detector costs on a large history (PostgreSQL).

Builds a throw-away PostgreSQL database (dropped at the end unless ``--keep``) at the
current schema, loads one merchant's program (a ``min_amount`` bonus at 500.00, so the
threshold test has work) with N cards (bench/dataset.py, no history) and P purchases with
an ``earn`` entry each (INSERT … SELECT generate_series: amounts 10.00 to 1 000.00, spread
over ``--days`` days, five counters, four cashier keys), every 20th purchase also
redeeming (a ``redeem`` entry), and a tenth of the cards joined from a few hundred
origins. Then it times, through the real service (``detect_fraud``):

- the steady state: the cursors put ``BATCH`` ids before the end of each table (what
  accumulates between two rounds on a very busy merchant), one round, repeated;
- catching up: rounds from the start of history, as after the upgrade, in rows a second.

It prints each in milliseconds (fastest, p50, max) and the alerts the rounds raised.

    python bench/fraud.py [--cards 1000000] [--purchases 10000000] [--repeat 5] [--keep]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import dataset  # noqa: E402
from bench.pos import DEFAULT_SERVER, SECRET, create_database, drop_database  # noqa: E402

LOCATIONS = 5
CASHIERS = 4
ORIGINS = 300
STARTED = datetime(2026, 1, 1)


def make_app(url: str, folder: Path) -> Any:
    from app import create_app
    from app.config import Config
    from app.db import make_engine
    from app.migrations import upgrade
    from app.wallet.identity import write_development_chain

    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    write_development_chain(folder / "certs")
    return create_app(Config(database_url=url, base_url="http://127.0.0.1:5000",
                             secret_key=SECRET, certs_dir=folder / "certs",
                             instance_dir=folder / "instance", worker="external"))


def load(app: Any, url: str, cards: int, purchases: int, days: int) -> None:
    from sqlalchemy import text

    from app.merchants.schemas import LocationCreate, ProgramCreate
    from app.merchants.service import create_location, create_program, issue_api_key

    runtime = app.extensions["loyalpass"]
    built = dataset.build(url, cards=cards, history=False,
                          say=lambda line: print(line, flush=True))
    merchant_id = built.merchant_id
    with runtime.sessions() as session:
        terms = ProgramCreate.model_validate(
            {"name": "Bench", "currency": "UAH", "earn_percent": 5,
             "triggers": [{"kind": "min_amount", "amount": 50_000, "points": 50}]})
        program = create_program(session, merchant_id=merchant_id, data=terms)
        program_id = program.id
        locations = [create_location(session, program=program,
                                     data=LocationCreate(name=f"Counter {n}")).id
                     for n in range(LOCATIONS)]
        keys = [issue_api_key(session, merchant_id=merchant_id, role="cashier",
                              name=f"Till {n}").key.id for n in range(CASHIERS)]
    with runtime.engine.begin() as connection:  # the dataset's cards, in this program
        connection.execute(text("UPDATE cards SET program_id = :program, location_id = NULL"
                                " WHERE merchant_id = :merchant"),
                           {"program": program_id, "merchant": merchant_id})
    seconds = days * 86_400
    values = {"merchant": merchant_id, "program": program_id, "cards": cards,
              "first": built.first_card_id,
              "purchases": purchases, "seconds": seconds, "started": STARTED,
              "locations": locations, "keys": keys, "origins": ORIGINS}
    with runtime.engine.begin() as connection:
        connection.execute(text(
            "UPDATE cards SET enrolled_from = md5('origin' || (id % :origins)) "
            "WHERE id % 10 = 0"), values)
        connection.execute(text(
            "INSERT INTO purchases (merchant_id, program_id, card_id, location_id, "
            "api_key_id, amount, redeemed_points, redeemed_value, amount_paid, earn_percent, "
            "earned_points, bonus_points, stamps_added, rewards_redeemed, refunded_amount, "
            "refunded_paid, created_at) "
            "SELECT :merchant, :program, :first + (n * 7919) % :cards, "
            "(:locations)[1 + n % 5], (:keys)[1 + (n / 7) % 4], "
            "1000 + (n * 104729) % 99000, CASE WHEN n % 20 = 0 THEN 10 ELSE 0 END, "
            "CASE WHEN n % 20 = 0 THEN 1000 ELSE 0 END, "
            "1000 + (n * 104729) % 99000 - CASE WHEN n % 20 = 0 THEN 1000 ELSE 0 END, 5, "
            "(1000 + (n * 104729) % 99000) / 2000, 0, 0, 0, 0, 0, "
            "CAST(:started AS timestamp)"
            " + make_interval(secs => CAST(n * :seconds AS float) / :purchases) "
            "FROM generate_series(CAST(1 AS bigint), CAST(:purchases AS bigint)) AS n"), values)
        connection.execute(text(
            "INSERT INTO ledger_entries (merchant_id, card_id, kind, points, stamps, "
            "rewards, purchase_id, location_id, api_key_id, reason, created_at) "
            "SELECT merchant_id, card_id, kind, points, 0, 0, id, location_id, api_key_id, "
            "'', created_at FROM ("
            "SELECT *, 'redeem' AS kind, -redeemed_points AS points FROM purchases "
            "WHERE redeemed_points > 0 UNION ALL "
            "SELECT *, 'earn', earned_points FROM purchases WHERE earned_points > 0"
            ") AS posted ORDER BY id, kind"))
    with runtime.engine.connect() as connection:
        connection.execute(text("ANALYZE"))


def steady(app: Any, repeat: int) -> tuple[list[float], int]:
    from sqlalchemy import delete, func, select

    from app.cards.models import Card
    from app.ledger.fraud_detector import BATCH, SETTLE, detect_fraud
    from app.ledger.models import Alert, FraudCursor, LedgerEntry, Purchase

    runtime = app.extensions["loyalpass"]
    times, raised = [], 0
    with runtime.sessions() as session:
        ends = {name: session.scalar(select(func.max(model.id))) or 0 for name, model in
                (("purchases", Purchase), ("ledger_entries", LedgerEntry), ("cards", Card))}
        newest = session.scalar(select(func.max(Purchase.created_at)))
        for _ in range(repeat):
            session.execute(delete(Alert))
            session.execute(delete(FraudCursor))
            session.add_all([FraudCursor(name=name, last_id=max(0, end - BATCH),
                                         updated_at=newest) for name, end in ends.items()])
            session.commit()
            began = time.perf_counter()
            detected = detect_fraud(session, now=newest + SETTLE + timedelta(seconds=1))
            times.append((time.perf_counter() - began) * 1000)
            raised = detected.raised
    return times, raised


def catching_up(app: Any, rounds: int) -> tuple[float, int]:
    from sqlalchemy import delete, func, select

    from app.ledger.fraud_detector import SETTLE, detect_fraud
    from app.ledger.models import Alert, FraudCursor, Purchase

    runtime = app.extensions["loyalpass"]
    with runtime.sessions() as session:
        session.execute(delete(Alert))
        session.execute(delete(FraudCursor))
        session.commit()
        now = (session.scalar(select(func.max(Purchase.created_at))) or STARTED) + SETTLE * 2
        began, raised = time.perf_counter(), 0
        for _ in range(rounds):
            raised += detect_fraud(session, now=now).raised
        seconds = time.perf_counter() - began
        read = sum(cursor.last_id for cursor in session.scalars(select(FraudCursor)))
    return read / seconds, raised


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--purchases", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--catch-up-rounds", type=int, default=10)
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    url = create_database(args.server)
    try:
        with tempfile.TemporaryDirectory() as folder:
            app = make_app(url, Path(folder))
            began = time.perf_counter()
            load(app, url, args.cards, args.purchases, args.days)
            print(f"loaded {args.cards:,} cards and {args.purchases:,} purchases with their "
                  f"entries in {time.perf_counter() - began:.0f} s")
            times, raised = steady(app, args.repeat)
            times.sort()
            print(f"steady round (a batch of each table): fastest {times[0]:.0f} ms, "
                  f"p50 {times[len(times) // 2]:.0f} ms, max {times[-1]:.0f} ms; "
                  f"{raised} alerts a round")
            rate, raised = catching_up(app, args.catch_up_rounds)
            print(f"catching up from the start: {rate:,.0f} rows a second "
                  f"({args.catch_up_rounds} rounds, {raised} alerts)")
            app.extensions["loyalpass"].engine.dispose()
    finally:
        if args.keep:
            print(f"kept {url}")
        else:
            drop_database(url)


if __name__ == "__main__":
    main()
