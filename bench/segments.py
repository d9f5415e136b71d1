"""How long computing a program's RFM segments takes on a million cards (PostgreSQL).

Builds a throw-away PostgreSQL database (dropped at the end) at the current schema, makes
one merchant and program, and fills N customers and cards (default 1,000,000) with
INSERT … SELECT generate_series: three cards in ten never bought; the others bought 1 to
about 40 times (most a few times), last between today and two years ago, and spent in
proportion with noise, in whole currency units so that values tie as real ones do. Then it
times, through the real service functions:

- ``refresh_segments`` (the worker's daily job and ``POST …/segments/refresh``): the first
  computation and a rerun, which deletes and writes the program's rows again;
- ``segment_counts`` for the program and for one location (the stats' and pages' read);
- ``audience_size`` of an offer to two segments (what publishing it would select);

each repeated, printing the fastest and the median in milliseconds and the counts.

    python bench/segments.py [--cards 1000000] [--repeat 3] [--keep]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.pos import DEFAULT_SERVER, SECRET, create_database, drop_database  # noqa: E402

LOCATIONS = 5
FILL = """
INSERT INTO customers (id, merchant_id, name, email, locale, marketing_consent, created_at)
SELECT g, :merchant, 'Customer ' || g, 'c' || g || '@bench.example', 'uk', g % 3 <> 0,
       now() - interval '3 years'
FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS g;
SELECT setseed(0.14);
INSERT INTO cards (id, merchant_id, program_id, customer_id, location_id, number,
                   serial_number, authentication_token, link_version, status, balance,
                   stamps, rewards, lifetime_spend, visits, last_visit_at, pass_version,
                   pass_updated_at, pass_last_modified, created_at)
SELECT g, :merchant, :program, g, (ARRAY[{locations}])[1 + g % {count}],
       lpad(g::text, 16, '0'), md5(g::text), md5('t' || g::text), 0, 'active', 0, 0, 0,
       CASE WHEN bought.visits = 0 THEN 0
            ELSE bought.visits * (500 + floor(random() * 40) * 100)::bigint END,
       bought.visits,
       CASE WHEN bought.visits = 0 THEN NULL
            ELSE now() - floor(random() * random() * 730) * interval '1 day'
                 - floor(random() * 86400) * interval '1 second' END,
       1, now(), date_trunc('second', now()), now() - interval '3 years'
FROM (SELECT g, CASE WHEN random() < 0.3 THEN 0
                     ELSE 1 + floor(-ln(1 - random()) * 4)::int END AS visits
      FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS g) AS bought;
SELECT setval('customers_id_seq', (SELECT max(id) FROM customers));
SELECT setval('cards_id_seq', (SELECT max(id) FROM cards));
ANALYZE customers;
ANALYZE cards;
"""


def fill(app: Any, cards: int) -> tuple[int, int, list[int]]:
    """A merchant, its program with five locations, and ``cards`` cards; their ids."""
    from sqlalchemy import text

    from app.merchants.models import Program
    from app.merchants.schemas import LocationCreate, ProgramCreate
    from app.merchants.service import create_location, create_merchant, create_program

    runtime = app.extensions["loyalpass"]
    with runtime.sessions() as session:
        merchant = create_merchant(session, name="Bench Kava", email="owner@bench.example")
        program = create_program(session, merchant_id=merchant.merchant.id,
                                 data=ProgramCreate(name="Bench"))
        found = session.get(Program, program.id)
        assert found is not None
        locations = [create_location(session, program=found,
                                     data=LocationCreate(name=f"Counter {n}")).id
                     for n in range(LOCATIONS)]
        session.commit()
        ids = {"merchant": merchant.merchant.id, "program": program.id}
    statements = FILL.format(locations=", ".join(map(str, locations)), count=LOCATIONS)
    with runtime.engine.begin() as connection:
        for statement in filter(str.strip, statements.split(";")):
            connection.execute(text(statement), {**ids, "first": 1, "last": cards})
    return ids["merchant"], ids["program"], locations


def timed(run: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - started) * 1000)
    return times, result


def report(label: str, times: list[float], result: Any) -> None:
    print(f"{label:<46} fastest {min(times):9.1f} ms  median {statistics.median(times):9.1f} ms"
          f"  → {result}", flush=True)


def run(app: Any, program_id: int, locations: list[int], repeat: int) -> None:
    from app.analytics.segments import refresh_segments, segment_counts
    from app.offers.models import Offer
    from app.offers.service import audience_size

    sessions = app.extensions["loyalpass"].sessions
    with sessions() as session:
        first, done = timed(lambda: refresh_segments(session, program_id=program_id), 1)
        report("refresh_segments (first computation)", first, f"{done.cards:,} cards scored")
        again, done = timed(lambda: refresh_segments(session, program_id=program_id), repeat)
        report("refresh_segments (rerun: rows rewritten)", again, f"{done.cards:,} cards")
        counts_time, counts = timed(lambda: segment_counts(session, program_id=program_id),
                                    repeat)
        report("segment_counts (program)", counts_time, counts)
        at_time, at = timed(lambda: segment_counts(session, program_id=program_id,
                                                   location_id=locations[0]), repeat)
        report("segment_counts (one location)", at_time, sum(at.values()))
        # A draft never saved: what publishing it would select (its id only seeds the
        # control group's hash).
        offer = Offer(id=0, merchant_id=0, program_id=program_id, title="Bench",
                      audience={"segments": ["at_risk", "cant_lose"]}, promotional=False)
        size_time, size = timed(lambda: audience_size(session, offer=offer), repeat)
        report("audience_size (at_risk + cant_lose)", size_time, f"{size:,} cards")
        session.rollback()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    options = parser.parse_args()

    from app import create_app
    from app.config import Config
    from app.db import make_engine
    from app.migrations import upgrade
    from app.wallet.identity import write_development_chain

    url = create_database(options.server)
    try:
        with tempfile.TemporaryDirectory() as folder_name:
            folder = Path(folder_name)
            engine = make_engine(url)
            upgrade(engine)
            engine.dispose()
            write_development_chain(folder / "certs")
            app = create_app(Config(
                database_url=url, base_url="https://bench.example", secret_key=SECRET,
                certs_dir=folder / "certs", instance_dir=folder / "instance",
                worker="external"))
            started = time.perf_counter()
            _, program_id, locations = fill(app, options.cards)
            print(f"loaded {options.cards:,} cards in {time.perf_counter() - started:.1f} s",
                  flush=True)
            run(app, program_id, locations, options.repeat)
            app.extensions["loyalpass"].engine.dispose()
    finally:
        if options.keep:
            print(f"kept {url}")
        else:
            drop_database(url)


if __name__ == "__main__":
    main()
