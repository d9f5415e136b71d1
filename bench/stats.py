"""How fast a program's stats are at 1,000,000 cards and 10,000,000 ledger entries
(goal: the API's answer within 1 s on PostgreSQL).

Builds a throw-away PostgreSQL database (dropped at the end) at the newest schema, loads
one merchant's program with N cards over five counters (bench/search.py's loader, by
COPY), then fills a year of history on the server with ``INSERT … SELECT`` over
``generate_series``: purchases (6.5 per 10 cards... scaled so that the ledger holds about
10 entries per card: an earn entry per purchase, a redemption on one in five, a bonus on
one in ten, a welcome entry per card, expiries), refunds, wallet events, Apple
registrations and Google objects; balances are set from the entries. Foreign-key triggers
are off while loading (``session_replication_role = replica``), then the tables are
analyzed and vacuumed. It times ``program_stats`` and ``daily_figures`` through the
service functions and the API in process (Flask's test client), for the last 30 days,
the last 365 days, and one location's 30 days, printing the fastest and median of the
repeats in milliseconds.

    python bench/stats.py [--cards 1000000] [--entries-per-card 10] [--repeat 5] [--keep]
    python bench/stats.py --reuse URL   # time again on a database kept by --keep

Before timing it rolls the history up into the stats' summaries as the worker does
(``app.analytics.rollup``: the whole history, then one day, then a round that only counts
the cards), timing each; ``--live`` first times the stats without summaries, once.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.pos import DEFAULT_SERVER, SECRET, create_database, drop_database  # noqa: E402
from bench.search import Loaded, load, reloaded  # noqa: E402

GOAL_MS = 1000.0
DAYS = 365
HISTORY = """
SET session_replication_role = replica;
CREATE TEMP TABLE bench_cards AS
    SELECT row_number() OVER (ORDER BY id) AS n, id, location_id FROM cards
    WHERE program_id = {program};
CREATE UNIQUE INDEX ON bench_cards (n);
INSERT INTO purchases (merchant_id, program_id, card_id, location_id, amount, redeemed_points,
        redeemed_value, amount_paid, earn_percent, earned_points, bonus_points, stamps_added,
        rewards_redeemed, refunded_amount, refunded_paid, created_at)
    SELECT {merchant}, {program}, c.id, ({locations})[(1 + g % 5)::int], 500 + (g * 7919) % 50000,
           0, 0, 500 + (g * 7919) % 50000, 2, 10 + (g * 7919) % 1000, 0, 0, 0, 0, 0,
           now()::timestamp - (((g * 104729) % ({days} * 86400)) || ' seconds')::interval
    FROM generate_series(1::bigint, {purchases}) AS g
    JOIN bench_cards c ON c.n = 1 + (g * 15485863) % {cards};
INSERT INTO ledger_entries (merchant_id, card_id, kind, points, stamps, rewards, purchase_id,
        location_id, reason, created_at)
    SELECT merchant_id, card_id, 'earn', earned_points, 0, 0, id, location_id, '', created_at
    FROM purchases WHERE program_id = {program};
INSERT INTO ledger_entries (merchant_id, card_id, kind, points, stamps, rewards, purchase_id,
        location_id, reason, created_at)
    SELECT merchant_id, card_id, 'redeem', -(1 + id % 5), 0, 0, id, location_id, '', created_at
    FROM purchases WHERE program_id = {program} AND id % 5 = 0;
INSERT INTO ledger_entries (merchant_id, card_id, kind, points, stamps, rewards, purchase_id,
        location_id, reason, created_at)
    SELECT merchant_id, card_id, 'bonus', 25, 0, 0, id, location_id, 'bonus', created_at
    FROM purchases WHERE program_id = {program} AND id % 10 = 1;
INSERT INTO ledger_entries (merchant_id, card_id, kind, points, stamps, rewards, location_id,
        reason, created_at)
    SELECT merchant_id, id, 'welcome', 50, 0, 0, location_id, 'welcome', created_at
    FROM cards WHERE program_id = {program};
INSERT INTO ledger_entries (merchant_id, card_id, kind, points, stamps, rewards, reason,
        created_at)
    SELECT {merchant}, c.id, 'expire', -1, 0, 0, '',
           now()::timestamp - (((g * 7907) % ({days} * 86400)) || ' seconds')::interval
    FROM generate_series(1::bigint, {expiries}) AS g
    JOIN bench_cards c ON c.n = 1 + (g * 32452843) % {cards};
INSERT INTO refunds (merchant_id, purchase_id, amount, points_reversed, points_returned,
        points_forgone, created_at)
    SELECT merchant_id, id, amount / 2, 0, 0, 0, created_at + interval '1 day'
    FROM purchases WHERE program_id = {program} AND id % 97 = 0;
INSERT INTO devices (device_library_identifier, created_at, updated_at)
    SELECT 'bench-device-' || n, now(), now() FROM bench_cards WHERE n % 5 < 3;
INSERT INTO registrations (device_id, card_id, push_token, created_at, push_status,
        push_generation, push_attempts)
    SELECT d.id, c.id, md5(c.id::text), now(), CASE WHEN c.n % 50 = 0 THEN 'failed'
                                                    ELSE 'idle' END, 0, 0
    FROM bench_cards c JOIN devices d ON d.device_library_identifier = 'bench-device-' || c.n;
INSERT INTO google_objects (card_id, program_id, object_id, inserted, status, generation,
        synced_generation, attempts, available_at, saved_at, removed_at)
    SELECT id, {program}, 'bench.' || id, true, 'synced', 1, 1, 0, now(), now(),
           CASE WHEN n % 4 = 0 THEN now() END
    FROM bench_cards WHERE n % 5 = 3;
INSERT INTO wallet_events (merchant_id, program_id, location_id, card_id, wallet, kind,
        created_at)
    SELECT {merchant}, {program}, location_id, id, CASE WHEN n % 5 = 3 THEN 'google'
                                                        ELSE 'apple' END, 'installed',
           now()::timestamp - (((n * 7919) % ({days} * 86400)) || ' seconds')::interval
    FROM bench_cards WHERE n % 5 < 4;
UPDATE cards SET balance = GREATEST(0, totals.points)
    FROM (SELECT card_id, sum(points) AS points FROM ledger_entries GROUP BY card_id) totals
    WHERE cards.id = totals.card_id;
SET session_replication_role = origin;
"""


def fill(url: str, loaded: Loaded, cards: int, entries_per_card: float) -> None:
    """A year of history; the ledger ends with about ``entries_per_card`` × cards rows."""
    import psycopg

    # Per purchase: an earn entry, a fifth redeem, a tenth bonus (1.3); plus a welcome per
    # card and expiries of a twentieth of the purchases.
    purchases = int((entries_per_card - 1) * cards / 1.35)
    sql = HISTORY.format(
        merchant=loaded.merchant_id, program=loaded.program_id, cards=cards, days=DAYS,
        purchases=purchases, expiries=purchases // 20,
        locations="ARRAY[" + ",".join(str(n) for n in loaded.location_ids) + "]")
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"),
                         autocommit=True) as connection:
        for statement in [part.strip() for part in sql.split(";") if part.strip()]:
            started = time.perf_counter()
            connection.execute(statement)  # type: ignore[call-overload]
            print(f"  {time.perf_counter() - started:6.1f} s  {statement.split()[0]} "
                  f"{statement.split()[2] if len(statement.split()) > 2 else ''}", flush=True)
        for table in ("purchases", "ledger_entries", "refunds", "cards", "registrations",
                      "google_objects", "wallet_events"):
            connection.execute(f"VACUUM ANALYZE {table}")  # type: ignore[call-overload]
        counts = connection.execute(
            "SELECT (SELECT count(*) FROM ledger_entries), (SELECT count(*) FROM purchases)"
        ).fetchone()
        assert counts is not None
        print(f"history: {counts[0]:,} ledger entries, {counts[1]:,} purchases", flush=True)


def timed(run: Callable[[], Any], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return times


def roll_up_now(app: Any, loaded: Loaded, url: str) -> None:
    """The worker's roll-up of the whole history (the first round after the upgrade), then
    a day's round and a round with nothing to roll (the cards counted), timed; then the
    summaries vacuumed and analyzed, as autovacuum does after inserts (until then their
    rows are read from the heap, not from the covering indexes alone)."""
    import psycopg

    from app.analytics.days import number_of
    from app.analytics.rollup import rebuild, roll_up
    from app.clock import utcnow

    today = date.today()
    with app.extensions["loyalpass"].sessions() as session:
        rebuild(session, program_id=loaded.program_id)
        for label, through in (("the whole history", today - timedelta(days=2)),
                               ("one more day", today - timedelta(days=1)),
                               ("nothing new: the cards counted", today - timedelta(days=1))):
            started = time.perf_counter()
            done = roll_up(session, program_id=loaded.program_id, through=number_of(through),
                           now=utcnow(), count_every=None)
            print(f"roll-up of {label:32} {done.days:4} days "
                  f"{time.perf_counter() - started:7.1f} s", flush=True)
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"),
                         autocommit=True) as connection:
        for table in ("stats_days", "visit_days", "location_visit_days", "visit_counts"):
            connection.execute(f"VACUUM ANALYZE {table}")  # type: ignore[call-overload]


def measure(app: Any, loaded: Loaded, repeat: int) -> bool:
    from app.analytics.stats import daily_figures, program_stats
    from app.merchants.models import Program

    today = date.today()
    cases = [("last 30 days", today - timedelta(days=29), None),
             ("last 365 days", today - timedelta(days=364), None),
             ("one location, 30 days", today - timedelta(days=29), loaded.location_ids[0])]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {loaded.api_key}"}
    within = True
    with app.extensions["loyalpass"].sessions() as session:
        program = session.get(Program, loaded.program_id)
        for label, start, location in cases:
            def service(start: date = start, location: int | None = location) -> Any:
                return program_stats(session, program=program, start=start, end=today,
                                     location_id=location)

            def daily(start: date = start, location: int | None = location) -> Any:
                return daily_figures(session, program=program, start=start, end=today,
                                     location_id=location)

            query = {"from": str(start), "to": str(today)} | (
                {"location": str(location)} if location else {})

            def api(query: dict[str, str] = query) -> Any:
                response = client.get(f"/api/v1/programs/{loaded.program_id}/stats",
                                      query_string=query, headers=headers)
                assert response.status_code == 200, response.get_json()
                return response

            for name, run in (("program_stats", service), ("daily_figures", daily),
                              ("GET …/stats", api)):
                times = timed(run, repeat)
                within = within and (name == "daily_figures" or min(times) <= GOAL_MS)
                print(f"{label:24} {name:14} fastest {min(times):7.0f} ms  "
                      f"median {statistics.median(times):7.0f} ms", flush=True)
            session.rollback()
        figures = program_stats(session, program=program, start=today - timedelta(days=29),
                                end=today, location_id=None)
        print(f"(last 30 days: {figures.purchases:,} purchases, "
              f"{figures.visits.customers:,} customers, reach {figures.reach.share:.3f})")
    return within


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--entries-per-card", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--rolled", action="store_true",
                        help="with --reuse: keep the summaries the database has")
    parser.add_argument("--live", action="store_true",
                        help="time the stats once without summaries first")
    parser.add_argument("--reuse", metavar="URL", help="time again on a kept database")
    options = parser.parse_args()

    from app import create_app
    from app.config import Config
    from app.db import make_engine
    from app.migrations import upgrade
    from app.wallet.identity import write_development_chain

    url = options.reuse or create_database(options.server)
    options.keep = options.keep or bool(options.reuse)
    try:
        with tempfile.TemporaryDirectory() as folder_name:
            folder = Path(folder_name)
            if not options.reuse:
                engine = make_engine(url)
                upgrade(engine)
                engine.dispose()
            write_development_chain(folder / "certs")
            app = create_app(Config(
                database_url=url, base_url="https://bench.example", secret_key=SECRET,
                certs_dir=folder / "certs", instance_dir=folder / "instance",
                worker="external"))
            if options.reuse:
                loaded = reloaded(app)
            else:
                started = time.perf_counter()
                loaded = load(app, url, options.cards)
                fill(url, loaded, options.cards, options.entries_per_card)
                print(f"loaded in {time.perf_counter() - started:.0f} s", flush=True)
            if options.live:
                print("live (no summaries):", flush=True)
                measure(app, loaded, 1)
            if not options.rolled:
                roll_up_now(app, loaded, url)
            within = measure(app, loaded, options.repeat)
            print(f"the stats answer within {GOAL_MS:.0f} ms (fastest): "
                  f"{'yes' if within else 'NO'}")
            app.extensions["loyalpass"].engine.dispose()
    finally:
        if options.keep:
            print(f"kept {url}")
        else:
            drop_database(url)


if __name__ == "__main__":
    main()
