"""How fast the counter is: POS purchases through HTTP against a bare endpoint of the app.

Builds a throw-away PostgreSQL database (dropped at the end) with one merchant, one
program and a few hundred cards, starts ``gunicorn -w 2 wsgi:app`` on a free loopback
port, and drives it from client processes (so that the client does not share the
server's GIL) over C concurrent connections. Short phases alternate between the bare
endpoint (``GET /healthz``) and purchases (``POST /api/v1/pos/purchases``, a fresh
Idempotency-Key each, a random card, a small amount, now and then a few points
redeemed), so that the drift of a shared virtual machine hits both alike. Each client
builds a phase's requests before the phase starts. Only 2xx answers count; any other
answers are reported.

Prints purchases/s, bare requests/s, their ratio (median of the rounds' ratios and
overall) and p50/p99 latencies, and where the CPU went per request of each kind (read
from /proc around each measured phase: the client processes, gunicorn, the PostgreSQL
processes of the bench database, the rest of the machine, and how busy it was). Goal:
purchases at 0.25 or more of the bare rate.

With ``--scale N`` it also builds a program of N cards with two years of history
(bench/dataset.py: 10 ledger entries and 2 registrations a card) and serves it from a
second gunicorn; each round then adds a phase of purchases there, on cards drawn as tills
meet them (a card per purchase of the last 30 days: the busiest come up most), and the
report puts their rate beside the small database's (goal: no more than 10 % slower).
``--scale-url URL`` uses a database bench/dataset.py built before (kept at the end).

    python bench/pos.py [--connections 16] [--rounds 6] [--seconds 3] [--threads 0]
                        [--offer none|multiplier] [--scale 1000000 | --scale-url URL]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import databases, dataset  # noqa: E402

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
SECRET = "bench-secret-" + "k" * 24
DATABASE_PREFIX = "loyalpass_bench_"
WELCOME = 1_000
HTTP_TIMEOUT = 15.0


# The client side: plain http.client on keep-alive connections, no app imports.

@dataclass
class PhaseResult:
    ok: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    cpu: Counter[str] = field(default_factory=Counter)  # CPU seconds by part (CpuMeter)


def _purchase_request(api_key: str, barcodes: list[str], rng: random.Random
                      ) -> tuple[str, str, bytes, dict[str, str]]:
    amount = rng.randrange(1_000, 20_000)  # 10.00 to 200.00
    body: dict[str, Any] = {"barcode": rng.choice(barcodes), "amount": amount}
    if rng.random() < 0.25:
        # At most 5 points, never more than half of 10.00: always within the rules and,
        # with 1 000 welcome points per card, always within the balance.
        body["redeem_points"] = rng.randint(1, 5)
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json",
               "Idempotency-Key": uuid.uuid4().hex}
    return "POST", "/api/v1/pos/purchases", json.dumps(body).encode(), headers


def _bare_request(*_: Any) -> tuple[str, str, bytes | None, dict[str, str]]:
    return "GET", "/healthz", None, {}


Request = tuple[str, str, bytes | None, dict[str, str]]
Target = tuple[int, str, list[str]]  # a server's port, the API key, the cards' barcodes


def _requests(kind: str, api_key: str, barcodes: list[str], seed: int, planned: int
              ) -> Iterator[Request]:
    """A connection's requests for a phase: ``planned`` of them built before it starts
    (so that during the phase the client's work is the HTTP exchange, for purchases as
    for bare requests), then more as they are needed."""
    rng = random.Random(seed)
    make = _purchase_request if kind.startswith("purchase") else _bare_request
    built = [make(api_key, barcodes, rng) for _ in range(planned)]
    return itertools.chain(built, iter(lambda: make(api_key, barcodes, rng), None))


def _drive(port: int, deadline: float, requests: Iterator[Request], result: PhaseResult,
           lock: threading.Lock, connection: list[http.client.HTTPConnection]) -> None:
    ok, failures, latencies = 0, Counter[str](), []
    for method, path, body, headers in requests:
        if time.perf_counter() >= deadline:
            break
        started = time.perf_counter()
        try:
            connection[0].request(method, path, body, headers)
            response = connection[0].getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as error:
            connection[0].close()
            connection[0] = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
            failures[type(error).__name__] += 1
            continue
        latencies.append(time.perf_counter() - started)
        if 200 <= status < 300:
            ok += 1
        else:
            failures[str(status)] += 1
    with lock:
        result.ok += ok
        result.failures.update(failures)
        result.latencies.extend(latencies)


def client_process(targets: dict[str, Target], threads: int, seed: int, commands: Any,
                   answers: Any) -> None:
    """Runs phases on ``threads`` keep-alive connections (per server) as the parent asks,
    until None; ``targets`` says which server, key and cards each kind of phase uses."""
    ports = sorted({port for port, _, _ in targets.values()})
    connections = {port: [[http.client.HTTPConnection("127.0.0.1", port,
                                                      timeout=HTTP_TIMEOUT)]
                          for _ in range(threads)] for port in ports}
    round_number = 0
    while (command := commands.get(timeout=600)) is not None:
        kind, seconds = command
        port, api_key, barcodes = targets[kind]
        result, lock = PhaseResult(), threading.Lock()
        # More than a connection sends in the phase here (with 16 connections on 2 workers
        # one waits 4 ms or more for each answer); then the parent says go.
        planned = [_requests(kind, api_key, barcodes, seed * 10_000 + round_number * 100 + n,
                             int(seconds * 400) + 50) for n in range(threads)]
        answers.put("ready")
        if commands.get(timeout=600) != "go":
            break
        started = time.perf_counter()
        deadline = started + seconds
        workers = [
            threading.Thread(target=_drive, args=(
                port, deadline, planned[n], result, lock, connections[port][n]))
            for n in range(threads)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=seconds + 2 * HTTP_TIMEOUT)
        result.elapsed = time.perf_counter() - started
        # Plain values: the class lives in __mp_main__ here, which the parent cannot import.
        answers.put((result.ok, dict(result.failures), result.latencies, result.elapsed))
        round_number += 1
    for held in connections.values():
        for connection in held:
            connection[0].close()


# The server side: a database, certificates, a merchant with cards, gunicorn.

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def create_database(server: str) -> str:
    return databases.create_database(server, DATABASE_PREFIX)

def drop_database(url: str) -> None:
    databases.drop_database(url, DATABASE_PREFIX)

def seed(url: str, folder: Path, cards: int, base_url: str, offer: str = "none"
         ) -> tuple[str, list[str]]:
    """Schema, certificates, a merchant, a program and ``cards`` cards (with ``offer``
    ``multiplier``, an offer doubling the points published to every card: each purchase
    then reads the card's offers); the merchant's API key and the cards' barcodes."""
    from app import create_app
    from app.config import Config
    from app.db import make_engine
    from app.merchants.service import create_merchant
    from app.migrations import upgrade
    from app.wallet.identity import write_development_chain

    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    write_development_chain(folder / "certs")
    app = create_app(Config(database_url=url, base_url=base_url, secret_key=SECRET,
                            certs_dir=folder / "certs", instance_dir=folder / "instance",
                            worker="external"))
    runtime = app.extensions["loyalpass"]
    with runtime.sessions() as session:
        api_key = create_merchant(session, name="Bench Kava", email="owner@bench.example").api_key
    client = app.test_client()
    headers = {"Authorization": f"Bearer {api_key}"}
    program = client.post("/api/v1/programs", headers=headers, json={
        "name": "Bench Club", "currency": "UAH", "earn_percent": 2, "point_value": 100,
        "welcome_points": WELCOME, "max_redeem_percent": 50,
        "tiers": [{"name": "Silver", "min_spend": 0, "earn_percent": 2},
                  {"name": "Gold", "min_spend": 500_000, "earn_percent": 3}],
    })
    assert program.status_code == 201, program.get_json()
    barcodes = []
    for number in range(cards):
        card = client.post(f"/api/v1/programs/{program.get_json()['id']}/cards",
                           headers=headers, json={"name": f"Guest {number}",
                                                  "email": f"guest{number}@bench.example"})
        assert card.status_code == 201, card.get_json()
        barcodes.append(card.get_json()["barcode"]["message"])
    if offer == "multiplier":
        created = client.post(f"/api/v1/programs/{program.get_json()['id']}/offers",
                              headers=headers, json={
                                  "title": "Double points", "promotional": False,
                                  "mechanic": {"type": "multiplier", "factor": 2}})
        assert created.status_code == 201, created.get_json()
        published = client.post(f"/api/v1/offers/{created.get_json()['id']}/publish",
                                headers=headers)
        assert published.get_json() == {"cards": cards}, published.get_json()
    runtime.engine.dispose()
    return api_key, barcodes


def start_gunicorn(url: str, folder: Path, port: int, workers: int, threads: int,
                   base_url: str, log: Any) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LOYALPASS_DATABASE_URL": url, "LOYALPASS_SECRET_KEY": SECRET,
        "LOYALPASS_CERTS_DIR": str(folder / "certs"), "LOYALPASS_BASE_URL": base_url,
        "LOYALPASS_ENV": "production", "LOYALPASS_WORKER": "external",
        "LOYALPASS_INSTANCE_DIR": str(folder / "instance"),
    }
    # Sync workers unless --threads: one request at a time each, no keep-alive.
    extra = ["--threads", str(threads)] if threads else []
    if "--control-socket" in subprocess.run(
            [sys.executable, "-m", "gunicorn", "--help"], capture_output=True, text=True,
            check=False).stdout:
        # Its control socket (newer gunicorns), else in the home folder: one per server.
        extra += ["--control-socket", str(folder / f"gunicorn-{port}.ctl")]
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), *extra,
         "-b", f"127.0.0.1:{port}", "--graceful-timeout", "5", "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_healthy(port: int, server: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode} before it answered")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                connection.close()
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer /healthz within {seconds:.0f} s")


def stop_gunicorn(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)  # the arbiter stops its workers gracefully
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=5)


# Where the CPU goes: read from Linux's /proc around each phase, so that the ratio can be
# explained as "CPU of a bare request / CPU of a purchase" part by part.

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _process_seconds(pid: int) -> float | None:
    """User + system CPU of a process (all its threads), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                found.append(int(entry.name))
    return found


def _machine_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:9]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks) - idle) / CLOCK_TICKS, sum(ticks) / CLOCK_TICKS


class CpuMeter:
    """CPU seconds spent per part during a phase: the client processes, gunicorn (arbiter
    and workers), the PostgreSQL backends serving the bench database, and the machine."""

    def __init__(self, url: str, server_pid: int, client_pids: list[int]) -> None:
        from sqlalchemy import create_engine

        server, self.database = url.rsplit("/", 1)
        self.admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT",
                                   pool_size=1)
        self.server_pid, self.client_pids = server_pid, client_pids

    def _pids(self) -> dict[str, list[int]]:
        from sqlalchemy import text

        with self.admin.connect() as connection:
            backends = list(connection.scalars(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :name"),
                {"name": self.database}))
        return {"client": self.client_pids, "PostgreSQL": backends,
                "gunicorn": [self.server_pid, *_children(self.server_pid)]}

    def sample(self) -> dict[tuple[str, int], float]:
        seconds = {(part, pid): value for part, pids in self._pids().items() for pid in pids
                   if (value := _process_seconds(pid)) is not None}
        seconds[("machine", 0)], seconds[("machine", 1)] = _machine_seconds()
        return seconds

    @staticmethod
    def spent(before: dict[tuple[str, int], float], after: dict[tuple[str, int], float]
              ) -> Counter[str]:
        """Per part; a process born during the phase counts whole, one that died is lost."""
        spent = Counter[str]()
        for (part, pid), value in after.items():
            spent[part if part != "machine" else ("busy", "total")[pid]] += (
                value - before.get((part, pid), 0.0))
        return spent

    def close(self) -> None:
        self.admin.dispose()


# The run.

def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def run_phase(kind: str, seconds: float, commands: list[Any], answers: Any,
              meter: CpuMeter | None = None) -> PhaseResult:
    for queue in commands:
        queue.put((kind, seconds))
    for _ in commands:  # each client has built its requests
        assert answers.get(timeout=60) == "ready"
    before = meter.sample() if meter is not None else {}
    for queue in commands:
        queue.put("go")
    total = PhaseResult()
    for _ in commands:
        ok, failures, latencies, elapsed = answers.get(timeout=seconds + 4 * HTTP_TIMEOUT)
        total.ok += ok
        total.failures.update(failures)
        total.latencies.extend(latencies)
        total.elapsed = max(total.elapsed, elapsed)
    if meter is not None:
        total.cpu = meter.spent(before, meter.sample())
    return total


def _overtime(*_: Any) -> None:
    raise TimeoutError("the benchmark overstayed its time budget")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds")
    parser.add_argument("--seconds", type=float, default=3.0, help="per phase")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds per kind, unmeasured")
    parser.add_argument("--cards", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=0,
                        help="gunicorn gthread threads per worker (default: sync workers)")
    parser.add_argument("--offer", choices=("none", "multiplier"), default="none",
                        help="multiplier: a running offer doubling points on every card")
    parser.add_argument("--postgres", default=os.environ.get("LOYALPASS_BENCH_POSTGRES_URL",
                                                             DEFAULT_SERVER),
                        help="server URL without a database name")
    parser.add_argument("--scale", type=int, default=0, metavar="CARDS",
                        help="also time purchases on a program of CARDS cards with their "
                             "history (bench/dataset.py), side by side")
    parser.add_argument("--scale-url", metavar="URL",
                        help="the --scale database, built before by bench/dataset.py (kept)")
    args = parser.parse_args()
    processes = max(1, min(args.client_processes, args.connections))
    per_process = [args.connections // processes + (n < args.connections % processes)
                   for n in range(processes)]

    scaled = Scaled.of(args)  # before the budget: a million cards take minutes to load
    # Everything is bounded: a run that overstays its budget stops and cleans up.
    budget = 120 + 3 * args.warmup + 3 * args.rounds * (args.seconds + 5) + args.cards / 10
    signal.signal(signal.SIGALRM, _overtime)
    signal.alarm(int(budget))
    folder = Path(tempfile.mkdtemp(prefix="loyalpass-bench-pos-"))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    url = create_database(args.postgres)
    server: subprocess.Popen[bytes] | None = None
    big_server: subprocess.Popen[bytes] | None = None
    clients: list[multiprocessing.process.BaseProcess] = []
    commands: list[Any] = []
    log = (folder / "gunicorn.log").open("wb")
    try:
        started = time.perf_counter()
        api_key, barcodes = seed(url, folder, args.cards, base_url, args.offer)
        print(f"setup: database, schema, certificates, {args.cards} cards "
              f"in {time.perf_counter() - started:.1f} s")
        server = start_gunicorn(url, folder, port, args.workers, args.threads, base_url, log)
        wait_healthy(port, server, 30)
        targets = {"bare": (port, api_key, barcodes), "purchase": (port, api_key, barcodes)}
        if scaled is not None:
            big_port = free_port()
            big_server = start_gunicorn(scaled.url, folder, big_port, args.workers, args.threads,
                                        f"http://127.0.0.1:{big_port}", log)
            wait_healthy(big_port, big_server, 120)
            targets["purchase-scale"] = (big_port, scaled.api_key, scaled.barcodes)
        context = multiprocessing.get_context("spawn")
        answers = context.Queue()
        for number, threads in enumerate(per_process):
            commands.append(context.Queue())
            clients.append(context.Process(target=client_process, daemon=True, args=(
                targets, threads, number + 1, commands[-1], answers)))
            clients[-1].start()
        for kind in targets:
            run_phase(kind, args.warmup, commands, answers)

        client_pids = [client.pid or 0 for client in clients]
        meter = CpuMeter(url, server.pid, client_pids)
        big_meter = (CpuMeter(scaled.url, big_server.pid, client_pids)
                     if scaled is not None and big_server is not None else None)
        bare: list[PhaseResult] = []
        buys: list[PhaseResult] = []
        big_buys: list[PhaseResult] = []
        for _ in range(args.rounds):
            bare.append(run_phase("bare", args.seconds, commands, answers, meter))
            buys.append(run_phase("purchase", args.seconds, commands, answers, meter))
            if big_meter is not None:
                big_buys.append(run_phase("purchase-scale", args.seconds, commands, answers,
                                          big_meter))
        meter.close()
        report(args, bare, buys)
        if big_meter is not None and scaled is not None:
            big_meter.close()
            report_scale(scaled, buys, big_buys)
    except BaseException:
        log.flush()
        tail = (folder / "gunicorn.log").read_text(errors="replace")[-3000:]
        print(f"gunicorn's log ends with:\n{tail}", file=sys.stderr)
        raise
    finally:
        signal.alarm(0)  # each step below is bounded on its own
        for queue in commands:
            queue.put(None)
        for client in clients:
            client.join(timeout=10)
            if client.is_alive():
                client.kill()
        for running in (server, big_server):
            if running is not None:
                stop_gunicorn(running)
                print(f"gunicorn stopped (exit code {running.returncode})")
        log.close()
        drop_database(url)
        if scaled is not None and not args.scale_url:
            dataset.drop_database(scaled.url)
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class Scaled:
    """The program at scale (bench/dataset.py) and the barcodes its tills scan: a card
    drawn per purchase of the last 30 days, so each comes up as often as it buys (and
    holds enough points for the redemptions the client asks)."""

    url: str
    cards: int
    api_key: str
    barcodes: list[str]

    @classmethod
    def of(cls, args: argparse.Namespace) -> Scaled | None:
        if not args.scale and not args.scale_url:
            return None
        from app.cards.numbers import barcode_message

        if args.scale_url:
            built = dataset.loaded(args.scale_url)
        else:
            url = dataset.create_database(args.postgres)
            print(f"building {url} with {args.scale:,} cards (bench/dataset.py)", flush=True)
            try:
                built = dataset.build(url, cards=args.scale,
                                      say=lambda line: print(line, flush=True))
            except BaseException:
                dataset.drop_database(url)
                raise
        numbers = dataset.active_cards(built.url, 20_000, min_balance=20)
        return cls(built.url, built.cards, built.api_key,
                   [barcode_message(number, SECRET.encode()) for number in numbers])


def report_scale(scaled: Scaled, small: list[PhaseResult], big: list[PhaseResult]) -> None:
    """Purchases on the program at scale against the small one's, round by round."""
    small_rates = [phase.ok / phase.elapsed for phase in small]
    big_rates = [phase.ok / phase.elapsed for phase in big]
    ratios = sorted(b / a for a, b in zip(small_rates, big_rates, strict=True))
    small_overall = sum(p.ok for p in small) / sum(p.elapsed for p in small)
    big_overall = sum(p.ok for p in big) / sum(p.elapsed for p in big)
    latency = [x for p in big for x in p.latencies]
    distinct = len(set(scaled.barcodes))
    print(f"POST …/purchases at {scaled.cards:,} cards: {statistics.median(big_rates):>6.0f} "
          f"req/s (median; overall {big_overall:.0f}; range {min(big_rates):.0f}-"
          f"{max(big_rates):.0f})  p50 {1000 * percentile(latency, 0.5):.1f} ms  "
          f"p99 {1000 * percentile(latency, 0.99):.1f} ms  ({len(scaled.barcodes):,} draws "
          f"by activity, {distinct:,} distinct cards)")
    print(f"ratio at scale / small:   {statistics.median(ratios):>8.3f}   (median of the rounds' "
          f"ratios, range {ratios[0]:.3f}-{ratios[-1]:.3f}; overall "
          f"{big_overall / small_overall:.3f}; goal >= 0.9, no more than 10 % slower)")
    print("CPU per purchase at scale: " + cpu_breakdown(big))
    failures = sum((p.failures for p in big), Counter[str]())
    print(f"non-2xx or failed at scale: {dict(failures) if failures else 'none'}")


def report(args: argparse.Namespace, bare: list[PhaseResult], buys: list[PhaseResult]) -> None:
    bare_rates = [phase.ok / phase.elapsed for phase in bare]
    buy_rates = [phase.ok / phase.elapsed for phase in buys]
    ratios = sorted(b / a for a, b in zip(bare_rates, buy_rates, strict=True))
    bare_overall = sum(p.ok for p in bare) / sum(p.elapsed for p in bare)
    buy_overall = sum(p.ok for p in buys) / sum(p.elapsed for p in buys)
    bare_latency = [x for p in bare for x in p.latencies]
    buy_latency = [x for p in buys for x in p.latencies]
    workers = f"gthread, {args.threads} threads each" if args.threads else "sync workers"
    print(f"server: gunicorn -w {args.workers} ({workers}) on 127.0.0.1, PostgreSQL; client: "
          f"{args.client_processes} processes, {args.connections} connections; "
          f"{args.rounds} rounds of {args.seconds:g} s per kind")
    print(f"note: client, server and PostgreSQL share this machine's {os.cpu_count()} cores"
          + ("; sync workers close every connection, so each request reconnects"
             if not args.threads else ""))
    print(f"bare GET /healthz:        {statistics.median(bare_rates):>8.0f} req/s (median; "
          f"overall {bare_overall:.0f}; range {min(bare_rates):.0f}-{max(bare_rates):.0f})  "
          f"p50 {1000 * percentile(bare_latency, 0.5):.1f} ms  "
          f"p99 {1000 * percentile(bare_latency, 0.99):.1f} ms")
    print(f"POST /api/v1/pos/purchases: {statistics.median(buy_rates):>6.0f} req/s (median; "
          f"overall {buy_overall:.0f}; range {min(buy_rates):.0f}-{max(buy_rates):.0f})  "
          f"p50 {1000 * percentile(buy_latency, 0.5):.1f} ms  "
          f"p99 {1000 * percentile(buy_latency, 0.99):.1f} ms")
    print(f"ratio purchases / bare:   {statistics.median(ratios):>8.3f}   (median of the rounds' "
          f"ratios, range {ratios[0]:.3f}-{ratios[-1]:.3f}; overall "
          f"{buy_overall / bare_overall:.3f}; goal >= 0.25)")
    for name, phases in (("bare", bare), ("purchase", buys)):
        print(f"CPU per {name + ' request:':<18}" + cpu_breakdown(phases))
    failures = sum((p.failures for p in (*bare, *buys)), Counter[str]())
    bare_failures = sum((p.failures for p in bare), Counter[str]())
    buy_failures = sum((p.failures for p in buys), Counter[str]())
    if failures:
        print(f"non-2xx or failed: bare {dict(bare_failures)}, purchases {dict(buy_failures)}")
    else:
        print(f"non-2xx or failed: none ({sum(p.ok for p in bare)} bare and "
              f"{sum(p.ok for p in buys)} purchases answered 2xx)")


def cpu_breakdown(phases: list[PhaseResult]) -> str:
    """Milliseconds of CPU per answered request, by part, and how busy the machine was."""
    answered = sum(phase.ok for phase in phases) or 1
    cpu = sum((phase.cpu for phase in phases), Counter[str]())
    if not cpu["total"]:
        return " not measured"
    ours = cpu["client"] + cpu["gunicorn"] + cpu["PostgreSQL"]
    parts = [(part, cpu[part]) for part in ("client", "gunicorn", "PostgreSQL")]
    parts += [("rest of machine", cpu["busy"] - ours), ("all", cpu["busy"])]
    return ("  ".join(f"{part} {1000 * seconds / answered:.2f}" for part, seconds in parts)
            + f" ms; machine busy {100 * cpu['busy'] / cpu['total']:.0f}%")


if __name__ == "__main__":
    main()
