"""An offer to 100,000 cards, end to end, on PostgreSQL with the real processes.

Builds a throw-away database ``bench_scale_…`` (dropped at the end unless ``--keep``):
one merchant, one program, N cards (default 100,000) each with one registered Apple
device, and a share of them (``--google-share``) with a Google object already inserted,
all written on the server by ``INSERT … SELECT generate_series`` (``seed_cards``: a few
seconds for 100,000 cards). Then it starts, each in its own process:

- a stand-in APNs on loopback (``tests/apns_standin.py``: HTTP/2 over TLS, client
  certificate, answering at once), which hands every push it receives to
- the simulated phones: on each push the device polls the web service
  (``GET /passkit/v1/devices/…/registrations/…?passesUpdatedSince=…``) and downloads its
  pass (``GET /passkit/v1/passes/…`` with its ``ApplePass`` token), as Wallet does, over
  ``--device-threads`` client threads;
- ``gunicorn wsgi:app`` (``--web-workers`` sync workers) serving the API and the pass
  web service;
- ``--workers`` real ``loyalpass worker`` processes (pushes, Google, mail, webhooks);
- in this process, a Google Wallet stand-in (``tests/google_standin.py``) that answers
  429 past ``--google-quota`` API requests in a second.

It creates an offer and publishes it through the API, and reports the time from the
publish request to the last push reaching the stand-in and to the last device's pass
download, how long a till's purchase on one of the offer's cards took meanwhile (a till
buys on a random card every ``--till-every`` seconds from the publish to the last push:
a fan-out locks the cards whose passes it bumps until it commits), and what the offer
queued for Google (objects, messages), how much of it drained in ``--google-wait``
seconds, at what rate (the most requests in one second of the clock and in any sliding
second) and how many 429s the quota gave, with the time the whole queue takes at that
rate.

    python bench/scale.py [--cards 100000] [--google-share 0.1] [--web-workers 2]
                          [--workers 1] [--device-threads 8] [--google-wait 60]
                          [--till-every 0.2] [--keep]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import databases  # noqa: E402
from bench.pos import (  # noqa: E402
    SECRET,
    _children,
    _machine_seconds,
    _process_seconds,
    free_port,
    stop_gunicorn,
    wait_healthy,
)
from tests import metrics_helpers  # noqa: E402
from tests.google_standin import sliding_peak  # noqa: E402

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
DATABASE_PREFIX = "bench_scale_"
ISSUER = "3388000000022222222"
BASE_URL = "https://cards.example.com"
HTTP_TIMEOUT = 60.0


# The cards: who they are is a function of their number n (1..N), so that the devices
# know their identifiers, serials and tokens without asking the database.

def serial(n: int) -> str:
    return f"scale-{n}"


def device_id(n: int) -> str:
    return f"scale-device-{n}"


def auth_token(n: int) -> str:
    return f"scale-token-{n:020d}"


def push_token(n: int) -> str:
    return f"{n:064x}"


SEED = """
SET session_replication_role = replica;
INSERT INTO customers (id, merchant_id, name, email, locale, marketing_consent, created_at)
    SELECT n, %(merchant)s, 'Guest ' || n, 'guest' || n || '@scale.example', 'en', true,
           %(at)s
    FROM generate_series(1, %(cards)s) AS n;
INSERT INTO cards (id, merchant_id, program_id, customer_id, number, serial_number,
        authentication_token, link_version, status, balance, stamps, rewards,
        lifetime_spend, visits, pass_version, pass_updated_at, pass_last_modified, created_at)
    SELECT n, %(merchant)s, %(program)s, n, '9' || lpad(n::text, 15, '0'), 'scale-' || n,
           'scale-token-' || lpad(n::text, 20, '0'), 0, 'active', 100, 0, 0, 0, 0, 1,
           %(at)s, %(at)s, %(at)s
    FROM generate_series(1, %(cards)s) AS n;
INSERT INTO devices (id, device_library_identifier, created_at, updated_at)
    SELECT n, 'scale-device-' || n, %(at)s, %(at)s FROM generate_series(1, %(cards)s) AS n;
INSERT INTO registrations (id, device_id, card_id, push_token, created_at, push_status,
        push_generation, push_attempts)
    SELECT n, n, n, lpad(to_hex(n), 64, '0'), %(at)s, 'idle', 0, 0
    FROM generate_series(1, %(cards)s) AS n;
INSERT INTO google_objects (card_id, program_id, object_id, inserted, status, generation,
        synced_generation, attempts, available_at, saved_at)
    SELECT n, %(program)s, %(issuer)s || '.scale-' || n, true, 'synced', 1, 1, 0, %(at)s,
           %(at)s
    FROM generate_series(1, %(cards)s) AS n WHERE n <= %(google)s;
SET session_replication_role = origin;
UPDATE outbox SET status = 'done', sent_at = %(at)s WHERE status = 'pending';
SELECT setval('customers_id_seq', %(cards)s), setval('cards_id_seq', %(cards)s),
       setval('devices_id_seq', %(cards)s), setval('registrations_id_seq', %(cards)s);
"""


def seed_cards(url: str, *, merchant_id: int, program_id: int, cards: int,
               google_objects: int, at: datetime) -> float:
    """The cards, their devices and the first ``google_objects`` cards' Google objects;
    seconds taken (ANALYZE included). Written on the server: nothing crosses the wire
    per row. What the program's creation queued counts as sent long ago."""
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"),
                         autocommit=True) as connection:
        for statement in SEED.split(";\n"):
            if statement.strip():
                connection.execute(statement, {  # type: ignore[call-overload]
                    "merchant": merchant_id, "program": program_id, "cards": cards,
                    "google": google_objects, "at": at, "issuer": ISSUER})
        connection.execute("ANALYZE")
    return time.perf_counter() - started


def micros(moment: datetime) -> int:
    from app.devices.service import to_microseconds

    return int(to_microseconds(moment))


# The stand-in APNs, in a process of its own, handing each push to the devices.

def apns_process(folder: str, trusted: str, pipe: Any, pushes: Any, relayed: Any) -> None:
    from tests.apns_standin import ApnsStandIn, RecordedRequest, write_test_certificates

    arrived: list[tuple[str, float]] = []
    lock = threading.Lock()

    class Relaying(ApnsStandIn):
        def _decide(self, request: RecordedRequest) -> Any:
            decided = super()._decide(request)
            with lock:
                arrived.append((request.token, time.time()))
            return decided

    server = write_test_certificates(Path(folder))
    apns = Relaying(certificate_file=server.server_certificate, key_file=server.server_key,
                    client_ca_file=Path(trusted)).start()
    pipe.send((apns.port, str(server.server_ca)))
    times: list[float] = []
    stop = threading.Event()

    def relay() -> None:
        while not stop.is_set():
            time.sleep(0.02)
            with lock:
                batch = arrived[:]
                arrived.clear()
            if batch:
                times.extend(moment for _, moment in batch)
                pushes.put(batch)
                with relayed.get_lock():
                    relayed.value += len(batch)

    relayer = threading.Thread(target=relay, daemon=True)
    relayer.start()
    pipe.recv()  # until told to stop
    stop.set()
    relayer.join(5)
    apns.stop()
    pipe.send({"pushes": len(times), "first": min(times, default=0.0),
               "last": max(times, default=0.0), "connections": apns.connections_opened,
               "max_streams": apns.max_streams_seen})


# The phones, in a process of their own.

def devices_process(port: int, pass_type: str, tag: int, threads: int, pushes: Any,
                    control: Any, results: Any, finished: Any) -> None:
    work: queue.Queue[tuple[str, float] | None] = queue.Queue()
    done: list[tuple[float, float]] = []  # (push arrived, pass downloaded)
    failures: Counter[str] = Counter()
    lock = threading.Lock()

    def phone() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
        while (item := work.get()) is not None:
            token, arrived = item
            n = int(token, 16)
            try:
                outcome = fetch(connection, n)
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                outcome = type(error).__name__
            with lock:
                if outcome is None:
                    done.append((arrived, time.time()))
                else:
                    failures[outcome] += 1
            with finished.get_lock():
                finished.value += 1

    def fetch(connection: http.client.HTTPConnection, n: int) -> str | None:
        connection.request("GET", f"/passkit/v1/devices/{device_id(n)}/registrations/"
                                  f"{pass_type}?passesUpdatedSince={tag}")
        response = connection.getresponse()
        listed = response.read()
        if response.status != 200 or serial(n) not in json.loads(listed)["serialNumbers"]:
            return f"poll {response.status}"
        connection.request("GET", f"/passkit/v1/passes/{pass_type}/{serial(n)}",
                           headers={"Authorization": f"ApplePass {auth_token(n)}"})
        response = connection.getresponse()
        body = response.read()
        if response.status != 200 or not body.startswith(b"PK"):
            return f"pass {response.status}"
        return None

    phones = [threading.Thread(target=phone, daemon=True) for _ in range(threads)]
    for one in phones:
        one.start()
    while True:
        try:
            batch = pushes.get(timeout=0.1)
        except queue.Empty:
            if not control.empty():
                break
            continue
        for item in batch:
            work.put(item)
    control.get()
    left = 0  # pushes not yet fetched: dropped, not waited for
    while True:
        try:
            work.get_nowait()
        except queue.Empty:
            break
        left += 1
    for _ in phones:
        work.put(None)
    for one in phones:
        one.join(HTTP_TIMEOUT)
    with lock:
        results.put({"done": list(done), "failures": dict(failures), "left": left})


# Google's stand-in, with its quota.

def quota_google(limit: int) -> Any:
    from tests.google_standin import GoogleStandIn, google_error

    class QuotaGoogle(GoogleStandIn):
        """Answers 429 rateLimitExceeded past ``limit`` API requests in a second."""

        refused = 0

        def _answer(self, method: str, path: str, raw: bytes, headers: dict[str, str]
                    ) -> Any:
            if path != "/token":
                second = int(time.time())
                with self._lock:
                    count = self._counts.get(second, 0) + 1
                    self._counts[second] = count
                if count > limit:
                    self.refused += 1
                    return 429, google_error(429, "Quota exceeded.", "rateLimitExceeded",
                                             "RESOURCE_EXHAUSTED"), {"Retry-After": "1"}
            return super()._answer(method, path, raw, headers)

    standin = QuotaGoogle()
    standin._counts = {}
    return standin


class CpuTally:
    """CPU seconds per part of the run, sampled from /proc (a process's last sample counts
    after it ends; PostgreSQL's backends of the bench database come and go)."""

    def __init__(self, url: str, parts: dict[str, list[int]], trees: set[str]) -> None:
        self.database = url.rsplit("/", 1)[1]
        self.parts = parts  # part: its pids (with their children for the parts in trees)
        self.trees = trees
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self.machine: list[tuple[float, float]] = []

    def sample(self, connection: Any) -> None:
        backends = [row[0] for row in connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,))]
        pids = {part: [pid for root in roots for pid in (
                    (root, *_children(root)) if part in self.trees else (root,))]
                for part, roots in self.parts.items()}
        pids["PostgreSQL"] = backends
        for part, members in pids.items():
            for pid in members:
                value = _process_seconds(pid)
                if value is not None:
                    self.first.setdefault((part, pid), value)
                    self.last[(part, pid)] = value
        self.machine.append(_machine_seconds())

    def spent(self) -> Counter[str]:
        spent = Counter[str]()
        for (part, pid), value in self.last.items():
            spent[part] += value - self.first[(part, pid)]
        if len(self.machine) > 1:
            (busy0, total0), (busy1, total1) = self.machine[0], self.machine[-1]
            spent["machine busy"], spent["machine total"] = busy1 - busy0, total1 - total0
        return spent


# The service's processes.

def service_env(url: str, folder: Path, *, apns_port: int, apns_ca: str,
                google: Any) -> dict[str, str]:
    return {
        **os.environ, "PYTHONPATH": str(ROOT),
        "LOYALPASS_DATABASE_URL": url, "LOYALPASS_SECRET_KEY": SECRET,
        "LOYALPASS_CERTS_DIR": str(folder / "certs"), "LOYALPASS_BASE_URL": BASE_URL,
        "LOYALPASS_ENV": "production", "LOYALPASS_WORKER": "external",
        "LOYALPASS_INSTANCE_DIR": str(folder / "instance"),
        "LOYALPASS_APNS_URL": f"https://127.0.0.1:{apns_port}", "LOYALPASS_APNS_CA_FILE": apns_ca,
        "LOYALPASS_GOOGLE_ISSUER_ID": ISSUER, "LOYALPASS_GOOGLE_API_URL": google.api_url,
        "LOYALPASS_GOOGLE_CA_FILE": str(google.ca_file),
        # Every process's counters summed in the web's /metrics (how downloads were served).
        "PROMETHEUS_MULTIPROC_DIR": str(folder / "prometheus"),
    }


def start_web(env: dict[str, str], port: int, workers: int, log: Any) -> Any:
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
         "--backlog", "4096", "--timeout", "600", "--graceful-timeout", "5", "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def start_worker(env: dict[str, str], concurrency: int, log: Any) -> Any:
    return subprocess.Popen(
        [sys.executable, "-c", "from app.cli import main; main()", "worker",
         "--concurrency", str(concurrency)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def api(port: int, method: str, path: str, key: str, body: Any = None) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.request(method, path, json.dumps(body) if body is not None else None,
                       {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, json.loads(payload) if payload else None


# The database.

def create_database() -> str:
    return databases.create_database(SERVER, DATABASE_PREFIX)

def drop_database(url: str) -> None:
    databases.drop_database(url, DATABASE_PREFIX)

def google_queue(url: str) -> dict[str, int]:
    """What waits for Google: objects to insert, objects to patch, messages."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as connection:
        row = connection.execute(
            "SELECT (SELECT count(*) FROM google_objects WHERE status = 'pending'"
            "         AND NOT inserted),"
            "       (SELECT count(*) FROM google_objects WHERE status = 'pending' AND inserted),"
            "       (SELECT count(*) FROM google_messages WHERE status = 'pending'),"
            "       (SELECT count(*) FROM google_classes WHERE status = 'pending'),"
            "       (SELECT count(*) FROM registrations WHERE push_status = 'pending'),"
            "       (SELECT count(*) FROM outbox WHERE status = 'pending')").fetchone()
    assert row is not None
    return dict(zip(("inserts", "patches", "messages", "classes", "pushes", "outbox"), row,
                    strict=True))


@dataclass
class Setup:
    url: str
    folder: Path
    api_key: str
    program_id: int
    pass_type: str
    tag: int
    seconds: float


def prepare(cards: int, google_share: float) -> Setup:
    url = create_database()
    try:
        return _prepare(url, cards, google_share)
    except BaseException:
        drop_database(url)
        raise


def _prepare(url: str, cards: int, google_share: float) -> Setup:
    from app import create_app
    from app.config import Config
    from app.db import make_engine
    from app.merchants.service import create_merchant
    from app.migrations import upgrade
    from app.wallet.identity import write_development_chain

    folder = Path(tempfile.mkdtemp(prefix="loyalpass-scale-"))
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    write_development_chain(folder / "certs")
    app = create_app(Config(database_url=url, base_url=BASE_URL, secret_key=SECRET,
                            certs_dir=folder / "certs", instance_dir=folder / "instance",
                            worker="external"))
    runtime = app.extensions["loyalpass"]
    with runtime.sessions() as session:
        created = create_merchant(session, name="Scale Kava", email="owner@scale.example")
    response = app.test_client().post(
        "/api/v1/programs", headers={"Authorization": f"Bearer {created.api_key}"},
        json={"name": "Scale Club", "currency": "UAH", "earn_percent": 2})
    assert response.status_code == 201, response.get_json()
    program_id = response.get_json()["id"]
    at = datetime.utcnow().replace(microsecond=0) - timedelta(days=1)
    seconds = seed_cards(url, merchant_id=created.merchant.id, program_id=program_id,
                         cards=cards, google_objects=int(cards * google_share), at=at)
    pass_type = runtime.wallet.pass_type_identifier
    runtime.engine.dispose()
    return Setup(url, folder, created.api_key, program_id, pass_type, micros(at), seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=100_000)
    parser.add_argument("--google-share", type=float, default=0.1)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="loyalpass worker processes")
    parser.add_argument("--concurrency", type=int, default=1, help="push loops per worker")
    parser.add_argument("--device-threads", type=int, default=8)
    parser.add_argument("--google-quota", type=int, default=20)
    parser.add_argument("--google-wait", type=float, default=60.0,
                        help="seconds to watch Google's queue drain after the devices")
    parser.add_argument("--timeout", type=float, default=7200.0,
                        help="seconds after the publish to stop waiting")
    parser.add_argument("--downloads-for", type=float, default=None,
                        help="stop waiting for the devices' downloads this many seconds "
                             "after the last push (the rest is projected at their rate)")
    parser.add_argument("--till-every", type=float, default=0.2,
                        help="seconds between the till's purchases during the fan-out")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()

    started = time.perf_counter()
    setup = prepare(args.cards, args.google_share)
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    print(f"{args.cards:,} cards, devices and {int(args.cards * args.google_share):,} Google "
          f"objects seeded in {setup.seconds:.1f} s ({time.perf_counter() - started:.1f} s "
          f"with the schema) into {setup.url.rsplit('/', 1)[1]}", flush=True)
    run(setup, args)


def run(setup: Setup, args: argparse.Namespace) -> None:
    from tests.google_helpers import make_service_account, write_google_json

    folder = setup.folder
    trusted = folder / "trusted.pem"
    certs = folder / "certs"
    trusted.write_bytes((certs / "root.pem").read_bytes() + (certs / "wwdr.pem").read_bytes())
    google = quota_google(args.google_quota).start()
    info, key = make_service_account(google.token_uri)
    google.register(info["client_email"], key.public_key())
    write_google_json(certs, info)
    for n in range(1, int(args.cards * args.google_share) + 1):  # inserted long ago
        object_id = f"{ISSUER}.{serial(n)}"
        google.objects[object_id] = {"id": object_id,
                                     "classId": f"{ISSUER}.loyalpass-program-{setup.program_id}"}

    spawn = multiprocessing.get_context("spawn")
    pushes, control, results = spawn.Queue(), spawn.Queue(), spawn.Queue()
    relayed, finished = spawn.Value("q", 0), spawn.Value("q", 0)
    parent, child = spawn.Pipe()
    apns = spawn.Process(target=apns_process, daemon=True,
                         args=(str(folder), str(trusted), child, pushes, relayed))
    apns.start()
    apns_port, apns_ca = parent.recv()
    web_port = free_port()
    devices = spawn.Process(target=devices_process, args=(
        web_port, setup.pass_type, setup.tag, args.device_threads, pushes, control, results,
        finished),
        daemon=True)
    devices.start()
    env = service_env(setup.url, folder, apns_port=apns_port, apns_ca=apns_ca, google=google)
    (folder / "prometheus").mkdir()
    log = (folder / "service.log").open("wb")
    web = start_web(env, web_port, args.web_workers, log)
    workers = [start_worker(env, args.concurrency, log) for _ in range(args.workers)]
    try:
        wait_healthy(web_port, web, 60)
        time.sleep(3)  # the workers' start (certificates, the LISTEN connection)
        tally = CpuTally(setup.url, {
            "web (gunicorn)": [web.pid], "worker": [one.pid for one in workers],
            "APNs stand-in": [apns.pid or 0], "devices": [devices.pid or 0],
            "bench, Google stand-in": [os.getpid()]}, trees={"web (gunicorn)"})
        measure(setup, args, web_port, google, (control, results, relayed, finished), parent,
                tally)
    finally:
        for process in workers:
            stop_gunicorn(process)  # SIGTERM, then SIGKILL of its group after 15 s
        stop_gunicorn(web)
        log.close()
        google.stop()
        if apns.is_alive():
            apns.terminate()
        if devices.is_alive():
            devices.terminate()
        print(f"service log: {folder / 'service.log'}")
        if not args.keep:
            drop_database(setup.url)


class Till(threading.Thread):
    """A till selling to random cards of the program, one purchase every ``every``
    seconds, noting how long each took and what it answered."""

    def __init__(self, port: int, key: str, numbers: list[str], every: float) -> None:
        super().__init__(daemon=True, name="till")
        self.port, self.key, self.numbers, self.every = port, key, numbers, every
        self.took: list[float] = []
        self.answers: Counter[int] = Counter()
        self.done = threading.Event()

    @staticmethod
    def numbers(watcher: Any, cards: int, count: int = 1000) -> list[str]:
        """Card numbers a till can scan for ``count`` cards spread over all of them (the
        seeded numbers are not valid card numbers: these are given valid ones)."""
        from app.cards.numbers import luhn_check_digit

        chosen = {1 + index * cards // count: "" for index in range(count)}
        for card_id in chosen:
            payload = f"9{card_id:010d}"
            chosen[card_id] = payload + luhn_check_digit(payload)
        with watcher.cursor() as cursor:
            cursor.executemany("UPDATE cards SET number = %s WHERE id = %s",
                               [(number, card_id) for card_id, number in chosen.items()])
        return list(chosen.values())

    def run(self) -> None:
        import random
        import uuid

        from app.cards.numbers import barcode_message

        rng = random.Random(1515)
        while not self.done.wait(self.every):
            body = json.dumps({"barcode": barcode_message(rng.choice(self.numbers),
                                                          SECRET.encode()), "amount": 450})
            started = time.perf_counter()
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port,
                                                        timeout=HTTP_TIMEOUT)
                connection.request("POST", "/api/v1/pos/purchases", body, {
                    "Authorization": f"Bearer {self.key}", "Content-Type": "application/json",
                    "Idempotency-Key": uuid.uuid4().hex})
                status = connection.getresponse().status
                connection.close()
            except OSError:
                status = 0
            self.took.append(time.perf_counter() - started)
            self.answers[status] += 1

    def report(self) -> None:
        took = sorted(self.took)
        if not took:
            print("till: no purchase made")
            return
        print(f"till, one purchase every {self.every:g} s from the publish to the last push: "
              f"{len(took)} purchases {dict(self.answers)}, p50 "
              f"{1000 * took[len(took) // 2]:.0f} ms, p99 "
              f"{1000 * took[min(len(took) - 1, int(len(took) * 0.99))]:.0f} ms, "
              f"slowest {1000 * took[-1]:.0f} ms")


def measure(setup: Setup, args: argparse.Namespace, port: int, google: Any,
            phones_link: tuple[Any, Any, Any, Any], apns: Any, tally: CpuTally) -> None:
    import psycopg

    control, results, relayed, finished = phones_link
    watcher = psycopg.connect(setup.url.replace("postgresql+psycopg", "postgresql"),
                              autocommit=True)
    tally.sample(watcher)
    till = Till(port, setup.api_key, Till.numbers(watcher, args.cards), args.till_every)
    status, offer = api(port, "POST", f"/api/v1/programs/{setup.program_id}/offers",
                        setup.api_key, {"title": "Autumn coffee", "body": "A free croissant "
                                        "with any coffee this week.", "audience": {}})
    assert status == 201, offer
    published_at = time.time()
    status, answer = api(port, "POST", f"/api/v1/offers/{offer['id']}/publish", setup.api_key)
    answered = time.time() - published_at
    assert status == 202, answer
    print(f"publish: 202 {answer} in {answered:.2f} s", flush=True)
    till.start()
    deadline, queued, last_note = published_at + args.timeout, None, 0.0
    pushed_all_at = None
    while time.time() < deadline:
        time.sleep(1.0)
        tally.sample(watcher)
        state = google_queue(setup.url)
        if queued is None and state["outbox"] == 0 and (state["messages"] or state["patches"]
                                                        or state["inserts"]):
            queued = dict(state, at=time.time() - published_at)
        if time.time() - last_note >= 15:
            last_note = time.time()
            print(f"  {time.time() - published_at:6.0f} s: {state}, pushes relayed "
                  f"{relayed.value:,}, passes fetched {finished.value:,}", flush=True)
        if state["pushes"] == 0 and state["outbox"] == 0 and queued is not None:
            pushed_all_at = pushed_all_at or time.time()
            till.done.set()
            if finished.value >= relayed.value:
                time.sleep(0.5)  # the last relay batch
                if finished.value >= relayed.value:
                    break
            if args.downloads_for is not None \
                    and time.time() > pushed_all_at + args.downloads_for:
                break
    tally.sample(watcher)
    spent = tally.spent()
    watcher.close()
    control.put("stop")
    phones = results.get(timeout=HTTP_TIMEOUT * 2)
    apns.send("stop")
    pushed = apns.recv()
    watch_google(setup, args, google, published_at, queued)
    till.done.set()
    till.join(timeout=HTTP_TIMEOUT)
    report(args, published_at, answered, pushed, phones)
    served(port)
    till.report()
    cpu(spent, len(phones["done"]))


def watch_google(setup: Setup, args: argparse.Namespace, google: Any, published_at: float,
                 queued: dict[str, Any] | None) -> None:
    until = time.time() + args.google_wait
    drained_at = None
    while time.time() < until:
        state = google_queue(setup.url)
        if not (state["inserts"] or state["patches"] or state["messages"] or state["classes"]):
            drained_at = time.time()
            break
        time.sleep(1.0)
    moments = [request.time for request in google.requests
               if request.path.startswith("/loyalty") and request.time >= published_at]
    per_second = Counter(int(moment) for moment in moments)
    left = google_queue(setup.url)
    total = sum(queued[kind] for kind in ("inserts", "patches", "messages", "classes")) \
        if queued else 0
    sent = len([1 for request in google.requests if request.path.startswith("/loyalty")
                and request.time >= published_at and request.status < 400])
    print("Google Wallet:")
    if queued:
        print(f"  queued by the fan-out ({queued['at']:.1f} s after publish): "
              f"{queued['inserts']:,} objects to insert, {queued['patches']:,} to patch, "
              f"{queued['messages']:,} messages, {queued['classes']} classes")
    span = (max(moments) - min(moments)) if len(moments) > 1 else 0.0
    rate = len(moments) / span if span else 0.0
    print(f"  requests sent: {len(moments):,} ({sent:,} accepted, {google.refused} refused "
          f"429 by the {args.google_quota}/s quota) over {span:.0f} s: {rate:.1f}/s on average")
    print(f"  most in one clock second: {max(per_second.values(), default=0)}; "
          f"in any sliding second: {sliding_peak(moments)}")
    if drained_at is not None:
        print(f"  drained {drained_at - published_at:.0f} s after publish")
    else:
        remaining = left["inserts"] + left["patches"] + left["messages"] + left["classes"]
        hours = remaining / rate / 3600 if rate else float("inf")
        print(f"  still queued after the watch: {remaining:,} of {total:,} "
              f"(at {rate:.1f}/s: {hours:.1f} more hours; the whole queue "
              f"{total / rate / 3600 if rate else float('inf'):.1f} hours)")


def report(args: argparse.Namespace, published_at: float, answered: float,
           pushed: dict[str, Any], phones: dict[str, Any]) -> None:
    done = phones["done"]
    print(f"pushes: {pushed['pushes']:,} reached the stand-in APNs "
          f"({pushed['connections']} connection(s), at most {pushed['max_streams']} streams "
          f"at once)")
    if pushed["pushes"]:
        first, last = pushed["first"] - published_at, pushed["last"] - published_at
        print(f"  publish to first push {first:.1f} s, to last push {last:.1f} s "
              f"({pushed['pushes'] / max(last - first, 1e-9):,.0f} pushes/s between them)")
    print(f"devices: {len(done):,} downloaded their pass; failures {phones['failures']}, "
          f"{phones['left']} not fetched")
    if done:
        waits = sorted(finished - arrived for arrived, finished in done)
        first = min(finished for _, finished in done) - published_at
        last = max(finished for _, finished in done) - published_at
        rate = len(done) / max(last - first, 1e-9)
        print(f"  publish to first pass download {first:.1f} s, to last {last:.1f} s "
              f"({rate:,.1f} downloads/s between them); push to download "
              f"p50 {statistics.median(waits):.1f} s, p99 {waits[int(len(waits) * 0.99)]:.1f} s")
        missing = pushed["pushes"] - len(done)
        if missing > 0:
            print(f"  the other {missing:,} devices were not waited for: at that rate the last "
                  f"download would come {last + missing / rate:,.0f} s after the publish")
    print(f"publish request itself: {answered:.2f} s")


def served(port: int) -> None:
    """How the service served the downloads, from its ``/metrics`` (every process's
    counters): signed ahead by the worker as the pushes left, or signed in the request."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
    connection.request("GET", "/metrics")
    answer = connection.getresponse()
    text = answer.read().decode()
    connection.close()
    assert answer.status == 200, (answer.status, text[:300])
    samples = metrics_helpers.parse(text)
    ahead, served_ahead, built = (metrics_helpers.value(samples, f"loyalpass_passes_{name}_total")
                                  for name in ("signed_ahead", "served_signed_ahead", "built"))
    print(f"passes: {ahead:,.0f} signed ahead by the worker; downloads served from them "
          f"{served_ahead:,.0f}, signed in the request {built - ahead:,.0f} (built counts both)")


def cpu(spent: Counter[str], downloads: int) -> None:
    """Where the CPU went from the publish to the end of the wait, per download too."""
    print("CPU seconds from the publish to the end of the wait (total, per download):")
    for part in ("web (gunicorn)", "PostgreSQL", "worker", "APNs stand-in", "devices",
                 "bench, Google stand-in", "machine busy", "machine total"):
        per = spent[part] * 1000 / downloads if downloads else 0.0
        print(f"  {part:<24} {spent[part]:8.1f} s {per:8.2f} ms")


if __name__ == "__main__":
    main()
