"""How fast the customer search is on a million cards (goal: every query within 50 ms).

Builds a throw-away PostgreSQL database (dropped at the end) at the schema before the
search's migration (0015), loads one merchant's program with N cards (default
1,000,000) by COPY: realistic Ukrainian, Russian and English names, their emails and
Ukrainian mobile numbers (one in ten customers has only one of them), cards spread over
five counters, plus a second merchant with a few thousand namesakes. Then it applies the
migration as an operator would (its indexes built CONCURRENTLY on the full tables, timed),
runs ANALYZE, and times typical searches through the real service function
(``app.cards.search.search_cards``) and through the API in process (Flask's test client:
the view, the key's check, the JSON of 25 cards; no network), each repeated, printing
the fastest, p50 and p95 in milliseconds (on a shared machine the fastest shows what the
search costs when it has a core to itself), how many cards the page held, and the
plan's index lines from EXPLAIN (ANALYZE) of each statement the search ran.

    python bench/search.py [--cards 1000000] [--repeat 30] [--keep]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.pos import DEFAULT_SERVER, SECRET, create_database, drop_database  # noqa: E402

GOAL_MS = 50.0
LOCATIONS = 5
OTHER_MERCHANT_CARDS = 5_000
UA_FIRST = (
    "Олена", "Ірина", "Наталія", "Оксана", "Тетяна", "Юлія", "Марія", "Анна", "Катерина",
    "Світлана", "Людмила", "Вікторія", "Ганна", "Софія", "Дарина", "Андрій", "Олександр",
    "Сергій", "Дмитро", "Микола", "Іван", "Василь", "Володимир", "Петро", "Юрій", "Богдан",
    "Тарас", "Максим", "Олег", "Віталій",
)
UA_LAST = (
    "Коваль", "Шевченко", "Бондаренко", "Ткаченко", "Кравченко", "Олійник", "Шевчук",
    "Коваленко", "Поліщук", "Бойко", "Мельник", "Ковальчук", "Савченко", "Руденко", "Марченко",
    "Лисенко", "Петренко", "Мороз", "Павленко", "Левченко", "Гончаренко", "Кузьменко",
    "Харченко", "Клименко", "Дмитренко", "Сидоренко", "Романенко", "Панченко", "Карпенко",
    "Литвиненко", "Мазур", "Кушнір", "Ярошенко", "Власенко",
)
RU_FIRST = (
    "Елена", "Ирина", "Наталья", "Ольга", "Татьяна", "Юлия", "Мария", "Анна", "Екатерина",
    "Светлана", "Людмила", "Алексей", "Александр", "Сергей", "Дмитрий", "Николай", "Иван",
    "Михаил", "Владимир", "Павел", "Юрий", "Андрей", "Максим", "Олег", "Виктор",
)
RU_LAST = (
    "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов",
    "Новиков", "Федоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семенов", "Егоров",
    "Павлов", "Козлов", "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин",
    "Захаров",
)
RU_FEMALE = {"Елена", "Ирина", "Наталья", "Ольга", "Татьяна", "Юлия", "Мария", "Анна",
             "Екатерина", "Светлана", "Людмила"}
EN_FIRST = (
    "Emily", "Olivia", "Sophie", "Jessica", "Emma", "Charlotte", "Hannah", "Grace", "Lucy",
    "Amelia", "James", "John", "Robert", "Michael", "William", "David", "Thomas", "Daniel",
    "Oliver", "George", "Harry",
)
EN_LAST = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor",
    "Clark", "Walker", "Wright", "Robinson", "Thompson", "White", "Hughes", "Edwards", "Green",
    "Hall", "Wood",
)
DOMAINS = ("gmail.com", "ukr.net", "i.ua", "yahoo.com", "outlook.com", "meta.ua",
           "mail.example")
OPERATORS = ("50", "63", "66", "67", "68", "73", "93", "95", "96", "97", "98", "99")
LATIN = dict(zip("абвгґдеєжзиіїйклмнопрстуфхцчшщьюяыэёъ'", (
    "a", "b", "v", "h", "g", "d", "e", "ye", "zh", "z", "y", "i", "yi", "y", "k", "l", "m",
    "n", "o", "p", "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "yu", "ya",
    "y", "e", "e", "", ""), strict=True))


def latin(name: str) -> str:
    return "".join(LATIN.get(char, char) for char in name.lower())


def person(rng: random.Random) -> tuple[str, str]:
    """A name and its Latin letters (for the email)."""
    roll = rng.random()
    if roll < 0.45:
        first, last = rng.choice(UA_FIRST), rng.choice(UA_LAST)
    elif roll < 0.8:
        first, last = rng.choice(RU_FIRST), rng.choice(RU_LAST)
        last += "а" if first in RU_FEMALE else ""
    else:
        first, last = rng.choice(EN_FIRST), rng.choice(EN_LAST)
    return f"{first} {last}", f"{latin(first)}.{latin(last)}"


@dataclass(frozen=True)
class Loaded:
    merchant_id: int
    program_id: int
    location_ids: list[int]
    api_key: str


def customer_rows(merchant_id: int, first_id: int, count: int, seed: int,
                  started: datetime) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(seed)
    for n in range(count):
        identity = first_id + n
        name, letters = person(rng)
        email = f"{letters}{identity}@{rng.choice(DOMAINS)}"
        # Unique per merchant: 7 digits from a bijection of the id, after the operator.
        phone = (f"+380{OPERATORS[identity % len(OPERATORS)]}"
                 f"{(identity * 7_919) % 10_000_000:07d}")
        roll = rng.random()
        email, phone = (None, phone) if roll < 0.1 else (email, None) if roll < 0.2 else (
            email, phone)
        yield (identity, merchant_id, name, email, phone, "uk", False,
               started + timedelta(seconds=n))


def card_rows(merchant_id: int, program_id: int, first_id: int, count: int,
              location_ids: list[int], started: datetime) -> Iterator[tuple[Any, ...]]:
    from app.cards.numbers import luhn_check_digit

    for n in range(count):
        identity = first_id + n
        payload = f"{10**10 + (identity * 7_919_033) % (9 * 10**10):011d}"
        location = (location_ids[identity % len(location_ids)]
                    if location_ids and identity % 10 < 7 else None)
        moment = started + timedelta(seconds=n)
        yield (identity, merchant_id, program_id, identity, location,
               payload + luhn_check_digit(payload), uuid.uuid4().hex, uuid.uuid4().hex, 0,
               "active", 1000, 0, 0, 0, 0, 1, moment, moment, moment)


CUSTOMER_COLUMNS = ("id, merchant_id, name, email, phone, locale, marketing_consent, "
                    "created_at")
CARD_COLUMNS = ("id, merchant_id, program_id, customer_id, location_id, number, "
                "serial_number, authentication_token, link_version, status, balance, stamps, "
                "rewards, lifetime_spend, visits, pass_version, pass_updated_at, "
                "pass_last_modified, created_at")


def copy_rows(url: str, table: str, columns: str, rows: Iterator[tuple[Any, ...]]) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as connection:
        with connection.cursor() as cursor, cursor.copy(
                f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        connection.execute(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")


def load(app: Any, url: str, cards: int) -> Loaded:
    """Two merchants, the first with ``cards`` cards over five counters; the second's
    customers come first in the tables (lower ids)."""
    from app.merchants.models import Program
    from app.merchants.schemas import LocationCreate
    from app.merchants.service import create_location, create_merchant

    runtime = app.extensions["loyalpass"]
    with runtime.sessions() as session:
        ours = create_merchant(session, name="Bench Kava", email="owner@bench.example")
        theirs = create_merchant(session, name="Other", email="owner@other.example")
    client = app.test_client()
    ids = {}
    for label, created in (("ours", ours), ("theirs", theirs)):
        response = client.post("/api/v1/programs", json={"name": label, "country": "UA"},
                               headers={"Authorization": f"Bearer {created.api_key}"})
        assert response.status_code == 201, response.get_json()
        ids[label] = response.get_json()["id"]
    with runtime.sessions() as session:
        program = session.get(Program, ids["ours"])
        assert program is not None
        locations = [create_location(session, program=program,
                                     data=LocationCreate(name=f"Counter {n}")).id
                     for n in range(LOCATIONS)]
        merchant_ids = {"ours": program.merchant_id,
                        "theirs": session.get(Program, ids["theirs"]).merchant_id}  # type: ignore[union-attr]
        session.commit()
    started = datetime(2024, 1, 1)
    plan = (("theirs", 1, OTHER_MERCHANT_CARDS, []),
            ("ours", OTHER_MERCHANT_CARDS + 1, cards, locations))
    for label, first, count, counters in plan:
        copy_rows(url, "customers", CUSTOMER_COLUMNS,
                  customer_rows(merchant_ids[label], first, count, first, started))
        copy_rows(url, "cards", CARD_COLUMNS,
                  card_rows(merchant_ids[label], ids[label], first, count, counters, started))
    return Loaded(merchant_ids["ours"], ids["ours"], locations, ours.api_key)


def reloaded(app: Any) -> Loaded:
    """What ``load`` made, read back from a kept database, with a new owner key."""
    from sqlalchemy import select

    from app.merchants.models import Location, Program
    from app.merchants.service import create_api_key

    with app.extensions["loyalpass"].sessions() as session:
        program = session.scalars(select(Program).where(Program.name == "ours")).one()
        locations = list(session.scalars(select(Location.id).where(
            Location.program_id == program.id).order_by(Location.id)))
        key = create_api_key(session, merchant_id=program.merchant_id, role="owner")
        return Loaded(program.merchant_id, program.id, locations, key)


@dataclass(frozen=True)
class Search:
    label: str
    query: str
    before: int | None = None
    location_id: int | None = None


def searches(app: Any, loaded: Loaded, cards: int) -> list[Search]:
    """Typical searches, their phone, email and number taken from a card in the middle."""
    from sqlalchemy import select

    from app.cards.models import Card, Customer

    with app.extensions["loyalpass"].sessions() as session:
        row = session.execute(
            select(Card.id, Card.number, Customer.email, Customer.phone)
            .join(Customer, Customer.id == Card.customer_id)
            .where(Card.program_id == loaded.program_id, Customer.phone.is_not(None),
                   Customer.email.is_not(None),
                   Card.id > OTHER_MERCHANT_CARDS + cards // 2)
            .order_by(Card.id).limit(1)).one()
    national = row.phone[4:]  # +380 671234567
    spaced = f"{national[:2]} {national[2:5]} {national[5:7]} {national[7:]}"
    number = " ".join(row.number[i:i + 4] for i in range(0, len(row.number), 4))
    return [
        Search("name fragment 'олен'", "олен"), Search("name, mid-word 'тренк'", "тренк"),
        Search("surname 'Шевчук'", "Шевчук"), Search("two words 'олена ков'", "олена ков"),
        Search("English 'smith'", "smith"), Search("no match 'zzyzx'", "zzyzx"),
        Search("two letters 'ол'", "ол"),
        Search("phone +380 67 123 45 67", f"+380 {spaced}"),
        Search("phone 067…", f"0{national}"), Search("phone 67 123 45 67", spaced),
        Search("phone, last 4 digits", national[-4:]),
        Search("email fragment 'koval'", "koval"),
        Search("email, its user part", row.email.split("@")[0]),
        Search("card number, grouped", number),
        Search("card number, compact", row.number),
        Search("empty q, first page", ""),
        Search("empty q, second page", "", before=None),  # filled in by run()
        Search("empty q, deep page", "", before=row.id),
        Search("name, a page deep", "олен", before=row.id),
        Search("location key, empty q", "", location_id=loaded.location_ids[2]),
        Search("location key, 'коваль'", "коваль", location_id=loaded.location_ids[2]),
    ]


def timed(run: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    result = run()  # warm
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - started) * 1000)
    return times, result


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def plan_lines(session: Any, run_search: Callable[[], Any]) -> list[str]:
    """The index lines and execution time of EXPLAIN (ANALYZE) of each statement one
    search ran (caught as it ran, with its parameters), but the planner's estimates it
    asked for and the cards' loading."""
    from sqlalchemy import event

    engine = session.get_bind()
    statements: list[tuple[str, Any]] = []

    def caught(_connection: Any, _cursor: Any, statement: str, parameters: Any,
               _context: Any, _many: bool) -> None:
        if not statement.lstrip().startswith(("EXPLAIN", "SELECT cards.id, cards.",
                                               "SELECT programs.")):
            statements.append((statement, parameters))  # but the cards' loading

    event.listen(engine, "before_cursor_execute", caught)
    try:
        run_search()
    finally:
        event.remove(engine, "before_cursor_execute", caught)
    lines = []
    for statement, parameters in statements:
        plan = [row[0] for row in session.connection().exec_driver_sql(
            f"EXPLAIN (ANALYZE) {statement}", parameters)]
        used = [line.strip() for line in plan
                if "Index" in line or "Seq Scan" in line or "Execution" in line]
        lines.append(" | ".join(used))
    session.rollback()
    return lines


def run(app: Any, loaded: Loaded, cards: int, repeat: int) -> bool:
    from app.cards.search import search_cards
    from app.merchants.access import at_location
    from app.merchants.models import Program

    runtime = app.extensions["loyalpass"]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {loaded.api_key}"}
    all_within = True
    first_page_next = None
    print(f"{'search':32} {'service min p50/p95 ms':>23} {'HTTP p50/p95 ms':>16} "
          f"{'cards':>5}",
          flush=True)
    for search in searches(app, loaded, cards):
        if search.label == "empty q, second page":
            search = Search(search.label, "", before=first_page_next)
        with runtime.sessions() as session:
            program = session.get(Program, loaded.program_id)

            def service(search: Search = search, session: Any = session,
                        program: Any = program) -> Any:
                page = search_cards(session, program=program, query=search.query, limit=25,
                                    before=search.before,
                                    locations=at_location(search.location_id))
                session.rollback()  # each search its own transaction, as a request's
                return page

            service_times, page = timed(service, repeat)
            if search.label == "empty q, first page":
                first_page_next = page.next
            plans = plan_lines(session, service)
        http_times: list[float] = []
        if search.location_id is None:
            params = {"q": search.query, **({"before": search.before} if search.before else {})}
            http_times, response = timed(lambda params=params: client.get(
                f"/api/v1/programs/{loaded.program_id}/cards", query_string=params,
                headers=headers), repeat)
            assert response.status_code == 200, response.get_json()
        worst = max(percentile(service_times, 0.95),
                    percentile(http_times, 0.95) if http_times else 0.0)
        all_within &= worst <= GOAL_MS
        http = (f"{percentile(http_times, 0.5):7.1f}/{percentile(http_times, 0.95):5.1f}"
                if http_times else f"{'(bound key)':>13}")
        print(f"{search.label:32} {min(service_times):5.1f} "
              f"{percentile(service_times, 0.5):6.1f}/{percentile(service_times, 0.95):5.1f}"
              f" {http:>16} {len(page.cards):5}"
              f"{'' if worst <= GOAL_MS else '  OVER GOAL'}", flush=True)
        for line in plans:
            print(f"    plan: {line}", flush=True)
    return all_within


def migrate(url: str) -> float:
    """Applies 0015 (and anything after it) on the loaded tables; seconds it took."""
    from app.db import make_engine
    from app.migrations import upgrade

    engine = make_engine(url)
    started = time.perf_counter()
    upgrade(engine)
    elapsed = time.perf_counter() - started
    with engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE customers")
        connection.exec_driver_sql("ANALYZE cards")
        connection.commit()
    engine.dispose()
    return elapsed


def before_search_revision() -> str:
    from alembic.script import ScriptDirectory

    from app.migrations import alembic_config

    revision = ScriptDirectory.from_config(alembic_config()).get_revision("0015")
    assert revision is not None and isinstance(revision.down_revision, str)
    return revision.down_revision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--reuse", metavar="URL",
                        help="time the searches on a database kept by --keep (no load)")
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
                upgrade(engine, before_search_revision())
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
                print(f"loaded {options.cards:,} cards (and {OTHER_MERCHANT_CARDS:,} of "
                      f"another merchant) in {time.perf_counter() - started:.1f} s",
                      flush=True)
                print(f"migration 0015 (indexes built CONCURRENTLY) took "
                      f"{migrate(url):.1f} s", flush=True)
            within = run(app, loaded, options.cards, options.repeat)
            print(f"every search within {GOAL_MS:.0f} ms (p95): {'yes' if within else 'NO'}")
            app.extensions["loyalpass"].engine.dispose()
    finally:
        if options.keep:
            print(f"kept {url}")
        else:
            drop_database(url)


if __name__ == "__main__":
    main()
