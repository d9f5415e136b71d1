"""What a scrape of ``/metrics`` costs when the tables are a chain's: the backlog's one
statement (``app.delivery.backlog``) and the whole ``/metrics`` answer, against a bare
``/healthz`` of the same app, at 1,000,000 cards, 2,000,000 Apple registrations of which
many are waiting, and an outbox of 1,000,000 changes sent.

Builds a throw-away PostgreSQL database ``bench_metrics_*`` (dropped at the end) at the
newest schema, loads the cards by COPY (bench/search.py's loader), then fills on the
server with ``INSERT … SELECT generate_series``: two devices and two registrations per
card (``--pending`` of them pending, due, one in a hundred parked as failed, the rest
idle), one sent outbox row per card and a thousand pending. The other channels' tables
stay small. Prints the fastest and median of ``--repeat`` runs of each in milliseconds,
side by side in one run, and the plan of the statement (EXPLAIN ANALYZE): each table
read through its ``(status, available_at)`` index, no sequential scan.

    python bench/metrics.py [--cards 1000000] [--pending 100000] [--repeat 20] [--keep]
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

from bench import databases  # noqa: E402
from bench.pos import DEFAULT_SERVER, SECRET  # noqa: E402
from bench.search import Loaded, load  # noqa: E402

DATABASE_PREFIX = "bench_metrics_"
FILL = """
SET session_replication_role = replica;
CREATE TEMP TABLE bench_cards AS
    SELECT row_number() OVER (ORDER BY id) AS n, id FROM cards WHERE program_id = {program};
INSERT INTO devices (device_library_identifier, created_at, updated_at)
    SELECT 'bench-device-' || n || '-' || side, now(), now()
    FROM bench_cards, (VALUES (1), (2)) AS sides (side);
INSERT INTO registrations (device_id, card_id, push_token, created_at, push_status,
        push_generation, push_attempts, push_available_at)
    SELECT d.id, c.id, md5(d.id::text), now(),
           CASE WHEN (c.n * 2 + side) <= {pending} THEN 'pending'
                WHEN c.n % 100 = 0 THEN 'failed' ELSE 'idle' END, 1, 0,
           now()::timestamp - ((c.n % 600) || ' seconds')::interval
    FROM bench_cards c CROSS JOIN (VALUES (1), (2)) AS sides (side)
    JOIN devices d ON d.device_library_identifier = 'bench-device-' || c.n || '-' || side;
INSERT INTO outbox (merchant_id, card_id, program_id, topic, payload, status, attempts,
        available_at, created_at, sent_at)
    SELECT {merchant}, id, {program}, 'pass', '{{}}', 'done', 0, now(), now(), now()
    FROM bench_cards;
INSERT INTO outbox (merchant_id, card_id, program_id, topic, payload, status, attempts,
        available_at, created_at)
    SELECT {merchant}, id, {program}, 'pass', '{{}}', 'pending', 0,
           now()::timestamp - interval '5 seconds', now()
    FROM bench_cards WHERE n <= 1000;
SET session_replication_role = origin;
"""


def create_database(server: str) -> str:
    return databases.create_database(server, DATABASE_PREFIX)

def drop_database(url: str) -> None:
    databases.drop_database(url, DATABASE_PREFIX)

def fill(url: str, loaded: Loaded, pending: int) -> None:
    import psycopg

    sql = FILL.format(merchant=loaded.merchant_id, program=loaded.program_id, pending=pending)
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"),
                         autocommit=True) as connection:
        for statement in [part.strip() for part in sql.split(";") if part.strip()]:
            started = time.perf_counter()
            connection.execute(statement)  # type: ignore[call-overload]
            words = statement.split()
            print(f"  {time.perf_counter() - started:6.1f} s  {' '.join(words[:3])}",
                  flush=True)
        for table in ("devices", "registrations", "outbox"):
            connection.execute(f"VACUUM ANALYZE {table}")  # type: ignore[call-overload]
        rows = connection.execute(
            "SELECT push_status, count(*) FROM registrations GROUP BY 1 ORDER BY 1").fetchall()
        print("registrations: " + ", ".join(f"{status} {count:,}" for status, count in rows))


def timed(run: Callable[[], Any], repeat: int) -> list[float]:
    run()  # warm: connections, caches
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return times


def measure(app: Any, repeat: int) -> None:
    from app.clock import utcnow
    from app.delivery.backlog import BACKLOG, channel_backlog

    runtime = app.extensions["loyalpass"]
    client = app.test_client()

    def statement() -> None:
        with runtime.sessions() as session:
            channel_backlog(session, now=utcnow())

    def scrape() -> None:
        assert client.get("/metrics").status_code == 200

    def bare() -> None:
        assert client.get("/healthz").status_code == 200

    results = {}
    for _ in range(3):  # alternating rounds: the shared machine's speed drifts
        for name, run in (("healthz", bare), ("backlog statement", statement),
                          ("/metrics", scrape)):
            results.setdefault(name, []).extend(timed(run, repeat))
    for name, times in results.items():
        print(f"{name:18s} fastest {min(times):7.2f} ms  median "
              f"{statistics.median(times):7.2f} ms  ({len(times)} runs)")
    ratio = statistics.median(results["/metrics"]) / statistics.median(results["healthz"])
    print(f"/metrics costs {ratio:.1f} times a bare /healthz (medians)")
    with runtime.sessions() as session:
        for channel in channel_backlog(session, now=utcnow()):
            print(f"  {channel.channel:15s} pending {channel.pending:9,} due {channel.due:9,} "
                  f"failed {channel.failed:7,}")
        compiled = BACKLOG.params(now=utcnow()).compile(
            dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
        connection = session.connection()
        plan = [row[0] for row in connection.exec_driver_sql(
            f"EXPLAIN (ANALYZE, BUFFERS) {compiled}")]
        session.rollback()
    print("plan (scans and timing):")
    for line in plan:
        if "Scan" in line or "Execution" in line or "Planning" in line:
            print("  " + line.strip())
    print("sequential scans: " + ("NONE" if not any("Seq Scan" in line for line in plan)
                                  else "YES"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
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
            loaded = load(app, url, options.cards)
            fill(url, loaded, options.pending)
            print(f"loaded in {time.perf_counter() - started:.0f} s", flush=True)
            measure(app, options.repeat)
            app.extensions["loyalpass"].engine.dispose()
    finally:
        if options.keep:
            print(f"kept {url}")
        else:
            drop_database(url)


if __name__ == "__main__":
    main()
