"""The fault suite's rig (``tests/test_faults_*.py``): a PostgreSQL cluster of its own that
the tests may restart and crash, a deployment on it as production runs (gunicorn and
``loyalpass worker`` processes), a till buying over HTTP and retrying as a till does, and
phones that download their pass whenever Apple's stand-in delivers them a push.

The cluster is made with Debian's ``pg_createcluster`` on a port of its own (5499, plus
the pytest-xdist worker's number) and dropped at the end; the machine's main server is
never touched. Tests skip, saying why, where ``pg_createcluster`` is missing or the
suite does not run as root (which creating a cluster needs).

What the tests assert is what people would notice: every purchase the till got a 2xx for
is in the ledger exactly once and nothing else is; each card's balance is the sum of its
acknowledged purchases' points (and of its ledger entries); each phone's last download,
after its last push, shows that balance; Google's object shows it too.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from app import create_app
from app.config import Config
from app.db import make_engine
from app.merchants.service import create_merchant
from app.migrations import upgrade
from tests.apns_standin import Answer, ApnsStandIn, RecordedRequest, write_test_certificates
from tests.conftest import Api
from tests.google_helpers import make_service_account, write_google_json
from tests.google_standin import GoogleStandIn
from tests.push_helpers import install, register
from tests.wallet_helpers import pass_json

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "fault-suite-secret-key-0123456789"
EARN_PERCENT = 10  # of the amount, in points worth 1.00: 10 % of 123.00 is 12 points
LOG_TAIL = 4000  # characters of each process's log shown when a test fails


def earned(amount: int) -> int:
    return amount * EARN_PERCENT // 100 // 100


# -- the cluster

@dataclass
class Cluster:
    """A PostgreSQL cluster of the suite's own, which tests may restart and crash."""

    version: str
    name: str
    port: int

    @property
    def server(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"

    def ctl(self, *action: str) -> None:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name,
                        *action], check=True, capture_output=True, timeout=120)

    def restart(self) -> None:
        """A clean restart: every connection is ended, the server is down for a moment."""
        self.ctl("restart", "-m", "fast")

    def crash(self, down: float = 1.0) -> None:
        """Killed without a checkpoint (``-m immediate``), then started: crash recovery."""
        self.ctl("stop", "-m", "immediate")
        time.sleep(down)
        self.ctl("start")

    def create_database(self) -> str:
        name = f"faults_{uuid.uuid4().hex[:10]}"
        admin = create_engine(f"{self.server}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = f"{self.server}/{name}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        return url

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        admin = create_engine(f"{self.server}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def cluster_problem() -> str | None:
    if shutil.which("pg_createcluster") is None or shutil.which("pg_ctlcluster") is None:
        return ("pg_createcluster is missing (Debian's postgresql-common): the fault suite "
                "restarts a PostgreSQL cluster of its own")
    if os.geteuid() != 0:
        return "the fault suite creates a PostgreSQL cluster of its own, which needs root"
    if not Path("/usr/lib/postgresql").is_dir() or not os.listdir("/usr/lib/postgresql"):
        return "no PostgreSQL server is installed under /usr/lib/postgresql"
    return None


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def fault_cluster() -> Iterator[Cluster]:
    problem = cluster_problem()
    if problem is not None:
        pytest.skip(problem)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    number = int(worker.removeprefix("gw") or 0)
    version = max(os.listdir("/usr/lib/postgresql"), key=lambda name: int(name))
    cluster = Cluster(version=version, name=f"loyalpass_faults_{worker}", port=5499 + number)
    _drop_cluster(cluster)  # left over by a run that was killed
    if _listening(cluster.port):
        pytest.skip(f"port {cluster.port} is taken: the fault suite's cluster needs it")
    subprocess.run(
        ["pg_createcluster", "--start-conf=manual", "-p", str(cluster.port),
         "-o", "fsync=off", "-o", "full_page_writes=off", "-o", "shared_buffers=32MB",
         "-o", "max_connections=200", cluster.version, cluster.name, "--", "--auth=trust"],
        check=True, capture_output=True, timeout=180)
    try:
        cluster.ctl("start")
        yield cluster
    finally:
        _drop_cluster(cluster)


def _drop_cluster(cluster: Cluster) -> None:
    subprocess.run(["pg_dropcluster", "--stop", cluster.version, cluster.name],
                   capture_output=True, timeout=120)


# -- Apple's stand-in, and the phones

class Apple(ApnsStandIn):
    """The APNs stand-in, also noting what it answered to each push (a phone hears only
    of those answered 200) and when each arrived."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.delivered: list[str] = []  # tokens, in the order their 200s were decided
        self.arrivals: list[tuple[str, int, float]] = []  # token, connection, monotonic
        self._heard = threading.Condition()

    def overlapping(self) -> list[str]:
        """Tokens pushed twice at once: over two connections (two worker processes), the
        second arriving before the first could be answered (``answer_delay``)."""
        last: dict[str, tuple[int, float]] = {}
        found = []
        for token, connection, moment in sorted(self.arrivals, key=lambda item: item[2]):
            before = last.get(token)
            if (before is not None and before[0] != connection
                    and moment - before[1] < self.answer_delay):
                found.append(token)
            last[token] = (connection, moment)
        return found

    def _decide(self, request: RecordedRequest) -> tuple[Any, Answer]:
        self.arrivals.append((request.token, request.connection, time.monotonic()))
        control, answer = super()._decide(request)
        if control in ("answer", "goaway") and answer.status == 200:
            with self._heard:
                self.delivered.append(request.token)
                self._heard.notify_all()
        return control, answer

    def wait_delivered(self, seen: int, timeout: float) -> list[str]:
        with self._heard:
            self._heard.wait_for(lambda: len(self.delivered) > seen, timeout)
            return self.delivered[seen:]


@dataclass
class Phone:
    """One card's pass on one device."""

    card_id: int
    token: str  # APNs push token
    type: str
    serial: str
    authentication: str


@dataclass
class Phones:
    """Every phone downloads its pass after each push Apple delivered to it (retrying
    while the service is down), and remembers the balance its last download showed."""

    apple: Apple
    origin: tuple[str, int]
    by_token: dict[str, Phone]
    shown: dict[int, int] = field(default_factory=dict)  # card id: balance last downloaded
    downloads: int = 0
    _seen: int = 0  # of Apple's deliveries, those heard
    _waiting: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Phones:
        self._thread = threading.Thread(target=self._run, name="phones", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    @property
    def idle(self) -> bool:
        return not self._waiting and len(self.apple.delivered) == self._seen

    def _run(self) -> None:
        while not self._stop.is_set():
            fresh = self.apple.wait_delivered(self._seen, timeout=0.2)
            self._waiting.extend(token for token in dict.fromkeys(fresh)
                                 if token not in self._waiting)
            self._seen += len(fresh)
            while self._waiting and not self._stop.is_set():
                phone = self.by_token[self._waiting[0]]
                balance = self._download(phone)
                if balance is None:
                    time.sleep(0.2)  # the service is down: Wallet tries again later
                    continue
                self.shown[phone.card_id] = balance
                self.downloads += 1
                self._waiting.pop(0)

    def _download(self, phone: Phone) -> int | None:
        connection = http.client.HTTPConnection(*self.origin, timeout=10)
        try:
            connection.request("GET", f"/passkit/v1/passes/{phone.type}/{phone.serial}",
                               headers={"Authorization": f"ApplePass {phone.authentication}"})
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):  # refused, or cut mid-answer
            return None
        finally:
            connection.close()
        if response.status != 200:
            return None
        fields = pass_json(body)["storeCard"]["primaryFields"]
        return int(next(item["value"] for item in fields if item["key"] == "balance"))


# -- the till

@dataclass(frozen=True)
class Acknowledged:
    key: str
    card_id: int
    amount: int
    earned: int
    attempts: int


@dataclass
class Till:
    """Buys over HTTP as a POS does: a fresh Idempotency-Key per purchase, the same key
    and body again after a 503, a dropped connection or a timeout, until a 2xx."""

    origin: tuple[str, int]
    api_key: str
    cards: list[dict[str, Any]]
    seed: int
    acknowledged: list[Acknowledged] = field(default_factory=list)
    answers: dict[int, int] = field(default_factory=dict)  # status: how many
    failures: list[str] = field(default_factory=list)  # what no till should ever get
    give_up_after: float = 90.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, lanes: int = 2) -> Till:
        for lane in range(lanes):
            thread = threading.Thread(target=self._run, args=(random.Random(self.seed + lane),),
                                      name=f"till-{lane}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.give_up_after + 30)

    def _run(self, rng: random.Random) -> None:
        while not self._stop.is_set():
            card = rng.choice(self.cards)
            amount = rng.randrange(1_000, 60_000, 100)
            self._buy(card, amount)
            time.sleep(rng.uniform(0.0, 0.05))

    def _buy(self, card: dict[str, Any], amount: int) -> None:
        key = uuid.uuid4().hex
        body = json.dumps({"barcode": card["barcode"]["message"], "amount": amount,
                           "external_id": key})
        deadline = time.monotonic() + self.give_up_after
        attempts = 0
        while time.monotonic() < deadline:
            attempts += 1
            status, answer = self._post(body, key)
            with self._lock:
                self.answers[status] = self.answers.get(status, 0) + 1
            if status in (200, 201):
                if answer.get("earned") != earned(amount) or answer.get("card_id") != card["id"]:
                    self._fail(f"purchase {key}: answered {answer}")
                with self._lock:
                    self.acknowledged.append(Acknowledged(key, card["id"], amount,
                                                          earned(amount), attempts))
                return
            if status not in (0, 502, 503, 504):
                self._fail(f"purchase {key}: {status} {answer}")
                return
            time.sleep(0.2)
        self._fail(f"purchase {key}: no 2xx in {self.give_up_after:g} s")

    def _post(self, body: str, key: str) -> tuple[int, dict[str, Any]]:
        connection = http.client.HTTPConnection(*self.origin, timeout=15)
        try:
            connection.request("POST", "/api/v1/pos/purchases", body=body, headers={
                "Authorization": f"Bearer {self.api_key}", "Idempotency-Key": key,
                "Content-Type": "application/json"})
            response = connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            # Refused, reset, timed out, or cut mid-answer by a killed web process
            # (IncompleteRead): the till cannot know, so it resends.
            return 0, {}
        finally:
            connection.close()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, {"body": raw[:200].decode(errors="replace")}

    def _fail(self, what: str) -> None:
        with self._lock:
            self.failures.append(what)

    def expected_balances(self) -> dict[int, int]:
        balances = {card["id"]: 0 for card in self.cards}
        for purchase in self.acknowledged:
            balances[purchase.card_id] += purchase.earned
        return balances


# -- the deployment

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Process:
    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"\n==== start {self.starts}\n".encode())
            self.popen = subprocess.Popen(self.command, env=self.env, cwd=PROJECT_ROOT,
                                          stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True)

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def freeze(self) -> None:
        """SIGSTOP: the process stays, silent, holding what it holds, until ``thaw``."""
        assert self.popen is not None
        os.killpg(self.popen.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.popen is not None
        os.killpg(self.popen.pid, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL to the process and everything it started (gunicorn's workers)."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(30)

    def children(self) -> list[int]:
        if not self.alive:
            return []
        assert self.popen is not None
        try:
            listed = Path(f"/proc/{self.popen.pid}/task/{self.popen.pid}/children").read_text()
        except OSError:
            return []
        return [int(pid) for pid in listed.split()]

    def terminate(self) -> None:
        """SIGTERM (gunicorn and the workers finish what is in flight): see ``stop``."""
        if self.alive:
            assert self.popen is not None
            os.killpg(self.popen.pid, signal.SIGTERM)

    def stop(self) -> None:
        if self.popen is None:
            return
        self.terminate()
        try:
            self.popen.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-LOG_TAIL:] if self.log.exists() else ""


@dataclass
class Deployment:
    """Loyalpass as production runs it, on the suite's cluster: gunicorn and workers."""

    cluster: Cluster
    database_url: str
    env: dict[str, str]
    port: int
    apple: Apple
    logs: Path
    web: Process
    workers: list[Process]
    certs_dir: Path
    api_key: str = ""
    cards: list[dict[str, Any]] = field(default_factory=list)
    phones: dict[str, Phone] = field(default_factory=dict)

    @property
    def origin(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def engine(self) -> Engine:
        return create_engine(self.database_url, pool_pre_ping=True)

    def start(self) -> None:
        """Start gunicorn and the workers (``wait_ready`` waits for the web side)."""
        self.web.start()
        for worker in self.workers:
            worker.start()

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.web.alive:
                raise AssertionError(f"gunicorn ended:\n{self.web.tail()}")
            try:
                connection = http.client.HTTPConnection(*self.origin, timeout=5)
                connection.request("GET", "/readyz")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the service was not ready in {timeout:g} s:\n{self.web.tail()}")

    def stop(self) -> None:
        processes = [self.web, *self.workers]
        for process in processes:  # all at once, then each waited for
            process.terminate()
        for process in processes:
            process.stop()

    def logs_tail(self) -> str:
        return "\n".join(f"---- {process.name}\n{process.tail()}"
                         for process in [self.web, *self.workers])


GOOGLE_ISSUER = "3388000000012345678"


def deploy(cluster: Cluster, certs_dir: Path, tmp_path: Path, *, web_workers: int = 2,
           workers: int = 2, google: GoogleStandIn | None = None) -> Deployment:
    """A database on the cluster, migrated, Apple's stand-in (and Google's, when given),
    and the processes' commands (not started: see ``running``)."""
    extra_env: dict[str, str] = {}
    if google is not None:
        certs_dir = _with_google_key(certs_dir, tmp_path / "certs", google)
        extra_env = {"LOYALPASS_GOOGLE_ISSUER_ID": GOOGLE_ISSUER,
                     "LOYALPASS_GOOGLE_API_URL": google.api_url,
                     "LOYALPASS_GOOGLE_CA_FILE": str(google.ca_file)}
    (tmp_path / "apns").mkdir()
    server = write_test_certificates(tmp_path / "apns")
    trusted = tmp_path / "trusted-clients.pem"
    trusted.write_bytes((certs_dir / "root.pem").read_bytes()
                        + (certs_dir / "wwdr.pem").read_bytes())
    apple = Apple(certificate_file=server.server_certificate, key_file=server.server_key,
                  client_ca_file=trusted).start()
    apns_ca = server.server_ca
    database_url = cluster.create_database()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PYTHONUNBUFFERED": "1",
           "LOYALPASS_DATABASE_URL": database_url, "LOYALPASS_SECRET_KEY": SECRET_KEY,
           "LOYALPASS_BASE_URL": f"http://127.0.0.1:{port}",
           "LOYALPASS_CERTS_DIR": str(certs_dir), "LOYALPASS_APNS_URL": apple.origin,
           "LOYALPASS_APNS_CA_FILE": str(apns_ca),
           "LOYALPASS_INSTANCE_DIR": str(tmp_path / "instance"), **extra_env}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    # Kept where pytest's rotation of temporary folders does not reach, for reviewers.
    logs = PROJECT_ROOT / "artifacts" / "faults" / tmp_path.name
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    web = Process("gunicorn", [sys.executable, "-m", "gunicorn", "--workers", str(web_workers),
                               "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "3",
                               "--timeout", "30", *_no_control_socket(), "wsgi:app"],
                  env, logs / "gunicorn.log")
    worker_processes = [
        Process(f"worker-{number}", [sys.executable, "-c", "from app.cli import main; main()",
                                     "worker"], env, logs / f"worker-{number}.log")
        for number in range(1, workers + 1)]
    return Deployment(cluster=cluster, database_url=database_url, env=env, port=port,
                      apple=apple, logs=logs, web=web, workers=worker_processes,
                      certs_dir=certs_dir)


def _no_control_socket() -> list[str]:
    """Newer gunicorns open a control socket at one path in the home folder, which
    several at once (tests side by side) would fight over; this suite needs none."""
    from gunicorn.config import KNOWN_SETTINGS

    known = {setting.name for setting in KNOWN_SETTINGS}
    return ["--no-control-socket"] if "control_socket_disable" in known else []


def _with_google_key(certs_dir: Path, copy: Path, google: GoogleStandIn) -> Path:
    shutil.copytree(certs_dir, copy)
    info, key = make_service_account(google.token_uri)
    google.register(info["client_email"], key.public_key())
    write_google_json(copy, info)
    return copy


@contextmanager
def running(cluster: Cluster, certs_dir: Path, tmp_path: Path, *, cards: int,
            **options: Any) -> Iterator[Deployment]:
    """``deploy``, ``start`` and ``seed`` (while the processes boot); stopped, and its
    database dropped, after."""
    deployment = deploy(cluster, certs_dir, tmp_path, **options)
    try:
        deployment.start()
        seed(deployment, app_config(deployment, tmp_path), cards=cards)
        deployment.wait_ready()
        yield deployment
    finally:
        deployment.stop()
        deployment.apple.stop()
        cluster.drop_database(deployment.database_url)


def seed(deployment: Deployment, config: Config, *, cards: int) -> None:
    """A merchant, a points program and ``cards`` cards, each on a phone of its own
    registered for pushes, written through the app in this process."""
    app = create_app(config)
    with app.extensions["loyalpass"].sessions() as session:
        created = create_merchant(session, name="Faults", email=f"{uuid.uuid4().hex}@f.io")
    api = Api(app.test_client(), created.api_key)
    program = api.post("/api/v1/programs", {"name": "Faults", "earn_percent": EARN_PERCENT,
                                            "welcome_points": 0}).get_json()
    device = app.test_client()
    for number in range(cards):
        card = api.post(f"/api/v1/programs/{program['id']}/cards",
                        {"name": f"Customer {number}",
                         "email": f"customer{number}@example.com"}).get_json()
        installed = install(device, card)
        token = f"{number:064x}"
        assert register(device, installed, f"phone-{number}", token) == 201
        deployment.cards.append(card)
        deployment.phones[token] = Phone(card["id"], token, installed["type"],
                                         installed["serial"], installed["token"])
    deployment.api_key = created.api_key
    app.extensions["loyalpass"].engine.dispose()


def app_config(deployment: Deployment, tmp_path: Path) -> Config:
    return Config(database_url=deployment.database_url,
                  base_url=f"http://127.0.0.1:{deployment.port}", secret_key=SECRET_KEY,
                  certs_dir=deployment.certs_dir, instance_dir=tmp_path / "seed-instance",
                  development=False, worker="external")


def wait_until(check: Callable[[], bool], timeout: float, what: str,
               context: Callable[[], str] = str) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:g} s\n{context()}")
        time.sleep(0.2)
    return time.monotonic() - started


def delivered_everything(engine: Engine) -> bool:
    """Every change fanned out and every registration pushed (none pending or leased)."""
    with engine.connect() as connection:
        waiting = connection.scalar(text(
            "SELECT (SELECT count(*) FROM outbox WHERE status = 'pending')"
            " + (SELECT count(*) FROM registrations WHERE push_status <> 'idle')"))
    return waiting == 0


def ledger_findings(engine: Engine, till: Till) -> list[str]:
    """What a merchant or a customer would find wrong in the books, given what the till
    was told: each acknowledged purchase once (and nothing else), each earn entry whole,
    each balance the sum of its acknowledged purchases' points and of its entries."""
    findings = list(till.failures)
    with engine.connect() as connection:
        purchases = connection.execute(text(
            "SELECT p.external_id, p.card_id, p.amount, count(e.id) AS entries,"
            " coalesce(sum(e.points), 0) AS points FROM purchases p"
            " LEFT JOIN ledger_entries e ON e.purchase_id = p.id GROUP BY p.id")).all()
        cards = connection.execute(text(
            "SELECT c.id, c.balance, coalesce(sum(e.points), 0) AS entries FROM cards c"
            " LEFT JOIN ledger_entries e ON e.card_id = c.id GROUP BY c.id")).all()
    recorded: dict[str, int] = {}
    for row in purchases:
        recorded[row.external_id] = recorded.get(row.external_id, 0) + 1
        if row.points != earned(row.amount) or row.entries != 1:
            findings.append(f"purchase {row.external_id}: {row.entries} entries, "
                            f"{row.points} points for {row.amount}")
    acknowledged = {purchase.key for purchase in till.acknowledged}
    findings += [f"acknowledged purchase {key} is not in the ledger"
                 for key in sorted(acknowledged - set(recorded))]
    findings += [f"purchase {key} is in the ledger {count} times"
                 for key, count in recorded.items() if count > 1]
    findings += [f"purchase {key} is in the ledger but the till was never told"
                 for key in sorted(set(recorded) - acknowledged)]
    expected = till.expected_balances()
    for card in cards:
        if not (card.balance == card.entries == expected.get(card.id, 0)):
            findings.append(f"card {card.id}: balance {card.balance}, entries "
                            f"{card.entries}, acknowledged {expected.get(card.id, 0)}")
    return findings


def phone_findings(phones: Phones, till: Till) -> list[str]:
    """Each card's phone last downloaded, after a push, the balance the till's purchases
    add up to."""
    expected = till.expected_balances()
    return [f"card {card_id}: the phone shows {phones.shown.get(card_id)}, not {balance}"
            for card_id, balance in expected.items()
            if balance and phones.shown.get(card_id) != balance]
