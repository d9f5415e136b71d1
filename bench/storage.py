"""What a card and a purchase cost in PostgreSQL: rows, bytes and CPU, measured.

Builds a throw-away database ``bench_storage_…`` (dropped at the end), then, through the
app in this process (the API and Apple's web service, as the counter and the phones use
them; no row is written by hand):

1. enrols N cards (default 3,000) with an email each, registers one Apple device per
   card and publishes one offer to all of them (the worker's fan-out run in process);
2. records M purchases (default 15,000) at random cards, a quarter redeeming points.

After each phase it runs VACUUM (ANALYZE) and reads every table's rows and
``pg_total_relation_size`` (heap, indexes, TOAST), and prints the difference per table,
per card and per purchase, scaled to a million, with the CPU seconds this process and the
database's backends spent on the phase (read from /proc).

    python bench/storage.py [--cards 3000] [--purchases 15000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.pos import SECRET, _process_seconds  # noqa: E402

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def sizes(dsn: str) -> dict[str, tuple[int, int]]:
    """Each table's (rows, bytes with its indexes and TOAST), after VACUUM (ANALYZE)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")
        tables = [row[0] for row in connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        found = {}
        for table in tables:
            rows = connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()
            size = connection.execute("SELECT pg_total_relation_size(%s)", (table,)).fetchone()
            assert rows is not None and size is not None
            found[table] = (int(rows[0]), int(size[0]))
    return found


def backend_seconds(dsn: str, database: str) -> float:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as connection:
        pids = [row[0] for row in connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,))]
    return sum(_process_seconds(pid) or 0.0 for pid in pids)


def show(label: str, before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]],
         count: int, cpu: tuple[float, float, float]) -> None:
    grown = {table: (after[table][0] - before.get(table, (0, 0))[0],
                     after[table][1] - before.get(table, (0, 0))[1]) for table in after}
    total = sum(size for _, size in grown.values())
    print(f"{label}: {count:,}, {total / 2**20:.1f} MiB in all, "
          f"{total / count:,.0f} bytes each, {total / count * 1e6 / 2**30:.2f} GiB a million")
    for table, (rows, size) in sorted(grown.items(), key=lambda item: -item[1][1]):
        if size > 0 or rows:
            print(f"  {table:<24} {rows / count:6.2f} rows each {size / count:8.0f} bytes each"
                  f" {size * 1e6 / count / 2**20:8.0f} MiB a million")
    elapsed, app_cpu, database_cpu = cpu
    print(f"  {elapsed:.1f} s; CPU: this process {app_cpu * 1000 / count:.2f} ms each, "
          f"PostgreSQL {database_cpu * 1000 / count:.2f} ms each "
          f"({(app_cpu + database_cpu) * 1e6 / count / 3600:.1f} core-hours a million)")


class Phase:
    def __init__(self, dsn: str, database: str) -> None:
        self.dsn, self.database = dsn, database

    def __enter__(self) -> Phase:
        self.started = time.perf_counter()
        self.cpu = time.process_time()
        self.backends = backend_seconds(self.dsn, self.database)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.result = (time.perf_counter() - self.started, time.process_time() - self.cpu,
                       backend_seconds(self.dsn, self.database) - self.backends)


def main() -> None:
    from sqlalchemy import create_engine, text

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=3_000)
    parser.add_argument("--purchases", type=int, default=15_000)
    args = parser.parse_args()
    name = f"bench_storage_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        run(f"{SERVER}/{name}", name, args.cards, args.purchases)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(url: str, database: str, cards: int, purchases: int) -> None:
    from app import create_app
    from app.config import Config
    from app.db import make_engine
    from app.delivery.fanout import drain_outbox
    from app.merchants.service import create_merchant
    from app.migrations import upgrade
    from app.wallet.identity import write_development_chain
    from tests.push_helpers import install, register

    dsn = url.replace("postgresql+psycopg", "postgresql")
    folder = Path(tempfile.mkdtemp(prefix="loyalpass-storage-"))
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    write_development_chain(folder / "certs")
    app = create_app(Config(database_url=url, base_url="https://cards.example.com",
                            secret_key=SECRET, certs_dir=folder / "certs",
                            instance_dir=folder / "instance", worker="external"))
    runtime = app.extensions["loyalpass"]
    with runtime.sessions() as session:
        key = create_merchant(session, name="Storage", email="owner@storage.example").api_key
    client = app.test_client()
    auth = {"Authorization": f"Bearer {key}"}
    program = client.post("/api/v1/programs", headers=auth, json={
        "name": "Storage Club", "currency": "UAH", "earn_percent": 5, "welcome_points": 50,
        "tiers": [{"name": "Silver", "min_spend": 0, "earn_percent": 5},
                  {"name": "Gold", "min_spend": 1_000_000, "earn_percent": 7}]}).get_json()
    start = sizes(dsn)
    with Phase(dsn, database) as enrolling:
        barcodes = []
        for n in range(cards):
            card = client.post(f"/api/v1/programs/{program['id']}/cards", headers=auth, json={
                "name": f"Guest Number {n}", "email": f"guest{n}@storage.example",
                "marketing_consent": True}).get_json()
            barcodes.append(card["barcode"]["message"])
            assert register(client, install(client, card), f"device-{n:08d}",
                            f"{n:064x}") == 201
        offer = client.post(f"/api/v1/programs/{program['id']}/offers", headers=auth,
                            json={"title": "Autumn", "audience": {}}).get_json()
        assert client.post(f"/api/v1/offers/{offer['id']}/publish",
                           headers=auth).status_code == 202
        with runtime.sessions() as session:
            while drain_outbox(session, limit=5000):
                pass
    enrolled = sizes(dsn)
    show("cards (enrolled, a device registered, one offer)", start, enrolled, cards,
         enrolling.result)
    rng = random.Random(7)
    with Phase(dsn, database) as buying:
        for _ in range(purchases):
            body: dict[str, Any] = {"barcode": rng.choice(barcodes),
                                    "amount": rng.randrange(1_000, 50_000)}
            if rng.random() < 0.25:
                body["redeem_points"] = 1
            response = client.post("/api/v1/pos/purchases", json=body, headers={
                **auth, "Idempotency-Key": uuid.uuid4().hex})
            assert response.status_code in (201, 409), response.get_json()
        with runtime.sessions() as session:
            while drain_outbox(session, limit=5000):
                pass
    show("purchases (with their entries, outbox rows, idempotency records)", enrolled,
         sizes(dsn), purchases, buying.result)
    runtime.engine.dispose()


if __name__ == "__main__":
    main()
