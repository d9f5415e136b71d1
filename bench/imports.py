"""How fast a merchant's customer file imports: a generated CSV of N rows (default
100,000: name, phone, email, birthday, consent, old card number, balance, as Excel writes
it in a Ukrainian locale) sent to ``POST /api/v1/programs/{id}/imports`` through the
app in process, on a throw-away PostgreSQL database (dropped at the end) and on a
SQLite file.

For each database it prints the seconds and rows/s of the preview (``dry_run=true``), of
the import itself (one transaction), and of the same file again (every row matched:
nothing written), and checks that the cards and their balances are all there. Goal: the
100,000-row import in under a minute on PostgreSQL.

    python bench/imports.py [--rows 100000] [--postgres URL] [--skip-sqlite]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from pos import DEFAULT_SERVER, SECRET, create_database, drop_database  # noqa: E402

FIRST_NAMES = ("Олена", "Петро", "Іван", "Марія", "Оксана", "Тарас", "Юлія", "Андрій")


def customer_file(rows: int, seed: int = 2026) -> bytes:
    """UTF-8 with a byte order mark, ``;`` between cells, Ukrainian headers."""
    rng = random.Random(seed)
    lines = ["Імʼя;Телефон;Email;Дата народження;Згода;Номер картки;Баланс"]
    for number in range(rows):
        birthday = f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(1950, 2005)}"
        lines.append(";".join((
            f"{rng.choice(FIRST_NAMES)} {number}", f"067{number:07d}",
            f"guest{number}@bench.example", birthday, rng.choice(("так", "ні")),
            f"OLD-{number:08d}", str(rng.randint(0, 5000)))))
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()


def run(url: str, folder: Path, data: bytes, rows: int) -> dict[str, float]:
    from sqlalchemy import func, select

    from app import create_app
    from app.cards.models import Card
    from app.config import Config
    from app.db import make_engine
    from app.ledger.models import LedgerEntry
    from app.merchants.service import create_merchant
    from app.migrations import upgrade
    from app.wallet.identity import write_development_chain

    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    write_development_chain(folder / "certs")
    app = create_app(Config(database_url=url, base_url="http://127.0.0.1:5000",
                            secret_key=SECRET, certs_dir=folder / "certs",
                            instance_dir=folder / "instance", worker="external"))
    runtime = app.extensions["loyalpass"]
    with runtime.sessions() as session:
        key = create_merchant(session, name="Bench Kava", email="owner@bench.example").api_key
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    program = client.post("/api/v1/programs", headers=headers, json={
        "name": "Bench Club", "currency": "UAH", "country": "UA"}).get_json()
    path = f"/api/v1/programs/{program['id']}/imports"
    seconds: dict[str, float] = {}
    for phase, query, status in (("preview", "?dry_run=true", 200), ("import", "", 201),
                                 ("again", "", 201)):
        started = time.perf_counter()
        response = client.post(path + query, data=data, content_type="text/csv",
                               headers=headers)
        seconds[phase] = time.perf_counter() - started
        body: Any = response.get_json()
        assert response.status_code == status, (phase, response.status_code, str(body)[:500])
        if phase == "import":
            assert body["created_cards"] == rows, body
        if phase == "again":
            assert body["matched"] == rows and body["created_cards"] == 0, body
    with runtime.sessions() as session:
        cards = session.scalar(select(func.count()).select_from(Card))
        balances = session.scalar(select(func.coalesce(func.sum(Card.balance), 0)))
        entries = session.scalar(select(func.coalesce(func.sum(LedgerEntry.points), 0)))
        assert cards == rows and balances == entries, (cards, balances, entries)
    runtime.engine.dispose()
    return seconds


def report(kind: str, rows: int, size: int, seconds: dict[str, float]) -> None:
    print(f"{kind}: {rows:,} rows, {size / 1024 / 1024:.1f} MiB")
    for phase, said in (("preview", "preview (dry run)"), ("import", "import"),
                        ("again", "same file again (all matched)")):
        print(f"  {said:32} {seconds[phase]:7.1f} s  {rows / seconds[phase]:9,.0f} rows/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", default=DEFAULT_SERVER)
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    data = customer_file(args.rows)
    url = create_database(args.postgres)
    try:
        with tempfile.TemporaryDirectory() as folder:
            report("PostgreSQL", args.rows, len(data), run(url, Path(folder), data, args.rows))
    finally:
        drop_database(url)
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            sqlite = f"sqlite:///{folder}/bench.sqlite3"
            report("SQLite", args.rows, len(data), run(sqlite, Path(folder), data, args.rows))


if __name__ == "__main__":
    main()
