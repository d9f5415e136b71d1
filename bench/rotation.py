"""What a secret key rotation costs: at the till, and for the workers re-signing passes.

1. Scans (pure, no database): ``number_from_scan`` of a barcode signed with the current
   key when no previous key is listed (before any rotation), the same with one previous
   key listed, and an old barcode (signed with the previous key), in microseconds a scan
   and as ratios to the first.
2. Re-signing (PostgreSQL): a throw-away database (``bench_rotation_*``, dropped at the
   end) at the current schema with one program of N cards (COPY, as bench/search.py),
   every pass last changed before the switch; then, through the real service
   (``resign_round``), rounds of ``BATCH`` passes at the start, the middle and the end
   of the sweep (ms a round, passes a second a worker could reach), and the count of
   passes left that ``keys status`` and the metric read (ms).

    python bench/rotation.py [--cards 200000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import timeit
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import databases, dataset  # noqa: E402

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
DATABASE_PREFIX = "bench_rotation_"
KEY_A = "bench-rotation-old-" + "a" * 24
KEY_B = "bench-rotation-new-" + "b" * 24


def scans(repeat: int) -> None:
    from app.cards.numbers import barcode_message, new_card_number, number_from_scan

    number = new_card_number()
    old, new = barcode_message(number, KEY_A.encode()), barcode_message(number, KEY_B.encode())
    cases = {
        "current barcode, no previous key": (new, (KEY_B.encode(),)),
        "current barcode, one previous key": (new, (KEY_B.encode(), KEY_A.encode())),
        "old barcode, one previous key": (old, (KEY_B.encode(), KEY_A.encode())),
    }
    loops = 50_000
    base = None
    print("scans (number_from_scan), microseconds a scan, best of", repeat)
    for name, (scanned, keys) in cases.items():
        assert number_from_scan(scanned, keys) == number
        best = min(timeit.repeat(lambda s=scanned, k=keys: number_from_scan(s, k),
                                 number=loops, repeat=repeat)) / loops * 1e6
        base = base or best
        print(f"  {name:36} {best:6.2f} us   ratio {best / base:4.2f}")


def make_database() -> str:
    return databases.create_database(SERVER, DATABASE_PREFIX)

def drop_database(url: str) -> None:
    databases.drop_database(url, DATABASE_PREFIX)

def load(url: str, folder: Path, cards: int) -> tuple[Any, int]:
    """``cards`` cards enrolled by bench/dataset.py (no history), and the app, keyed with
    ``KEY_B`` after ``KEY_A``; the app and the first card's id."""
    from app import create_app
    from app.config import Config
    from app.wallet.identity import write_development_chain

    built = dataset.build(url, cards=cards, history=False,
                          say=lambda line: print(line, flush=True))
    write_development_chain(folder / "certs")
    app = create_app(Config(database_url=url, base_url="https://bench.example",
                            secret_key=KEY_B, previous_secret_keys=(KEY_A,),
                            certs_dir=folder / "certs", instance_dir=folder / "instance",
                            worker="external"))
    return app, built.first_card_id


def resigning(app: Any, first_card_id: int, cards: int, repeat: int) -> None:
    from sqlalchemy import update

    from app.cards.models import SigningKey
    from app.cards.rotation import BATCH, ROLLOUT_GRACE, progress, resign_round
    from app.clock import utcnow

    runtime = app.extensions["loyalpass"]
    keys = runtime.config.secret_keys
    switch = utcnow() - ROLLOUT_GRACE - timedelta(minutes=1)
    with runtime.sessions() as session:
        resign_round(session, keys=keys, per_minute=1, now=switch)  # notes the key
    print(f"re-signing on PostgreSQL, {cards:,} cards, rounds of {BATCH}, best and p50 of "
          f"{repeat}")
    before = first_card_id - 1  # the card ids are before + 1 .. before + cards
    positions = (("start", before), ("middle", before + cards // 2),
                 ("end", before + cards - BATCH * (repeat + 1)))
    for label, after in positions:
        times = []
        for n in range(repeat):
            with runtime.sessions() as session:  # the position, and a clock that allows a batch
                session.execute(update(SigningKey).values(
                    resign_after_card_id=after + n * BATCH,
                    resign_next_at=utcnow() - timedelta(seconds=5)))
                session.commit()
            with runtime.sessions() as session:
                started = time.perf_counter()
                done = resign_round(session, keys=keys, per_minute=60 * 1000 * BATCH,
                                    now=utcnow())
                times.append(time.perf_counter() - started)
            assert done.resigned == BATCH, done
        best, middle = min(times), statistics.median(times)
        print(f"  a round at the {label:6} {best * 1000:7.1f} ms (p50 {middle * 1000:7.1f})"
              f"   {BATCH / middle:8,.0f} passes a second a worker")
    counts = []
    for _ in range(repeat):
        with runtime.sessions() as session:
            started = time.perf_counter()
            left = progress(session, keys=keys, now=utcnow()).remaining
            counts.append(time.perf_counter() - started)
    print(f"  passes left ({left:,}): {min(counts) * 1000:.1f} ms "
          f"(p50 {statistics.median(counts) * 1000:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    arguments = parser.parse_args()
    scans(arguments.repeat)
    url = make_database()
    try:
        with tempfile.TemporaryDirectory() as folder:
            app, first_card_id = load(url, Path(folder), arguments.cards)
            try:
                resigning(app, first_card_id, arguments.cards, arguments.repeat)
            finally:
                app.extensions["loyalpass"].engine.dispose()
    finally:
        drop_database(url)


if __name__ == "__main__":
    main()
