"""Apple's web service through gunicorn on PostgreSQL: ``python bench/pkpass.py --http``.

A throw-away database ``bench_wallet_fast_…`` (dropped at the end) gets a merchant, a
program with tiers, ``--cards`` cards enrolled through the API, two purchases each (so
that every pass has movements and a next tier to show) and one registered device each;
or ``--database-url`` names an existing, migrated database whose registered cards are
sampled instead (the requests write nothing; the sampled passes signed ahead for the
``ahead`` phase are kept in its ``signed_passes``, as a worker would have kept them).
``gunicorn -w 1`` (one sync worker) serves it; one client process drives it from
``--threads`` threads (two by default) over plain ``http.client``, in short alternating
phases:

- ``bare``: ``GET /healthz``;
- ``poll``: ``GET /passkit/v1/devices/{device}/registrations/{type}?passesUpdatedSince=``
  the device's latest tag, answered 204 (nothing new);
- ``304``: ``GET /passkit/v1/passes/{type}/{serial}`` with the pass's token and its
  ``Last-Modified`` as ``If-Modified-Since``;
- ``pass``: the same without ``If-Modified-Since``: the full, signed pass (a first
  download);
- ``pushed``: the same with an ``If-Modified-Since`` an hour before the pass's
  ``Last-Modified``: the full pass as a phone asks for it after a push (it has a copy),
  when the push left without signing it ahead (a worker without the pass key's files);
- ``ahead``: the same request for a pass the worker signed as its push left
  (``app.devices.signing_ahead``, run here before the rounds for half of the sampled
  passes; ``pass`` and ``pushed`` ask for the other half): what a phone's download after
  a push costs the web service;
- ``sign``: no request; the raw PKCS#7 signing rate of the pass key over a real pass's
  manifest, in this process, while the server idles.

The ideal rate of a full pass is a bare round trip plus one raw signature:
``1 / (1 / bare + 1 / sign)``, round by round. A pass signed ahead is measured against the
same ideal, though its signature was made by the worker, not in the request: the worker's
signature is the cost moved, once per card however many devices it has. Each phase's
requests are built before it starts; only the expected status counts (200, 204, 304,
200), anything else is reported.
Sync workers close every connection, so each request connects anew (the bare one too).
"""

from __future__ import annotations

import argparse
import http.client
import io
import itertools
import json
import multiprocessing
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import databases  # noqa: E402
from bench.pos import (  # noqa: E402
    DEFAULT_SERVER,
    HTTP_TIMEOUT,
    CpuMeter,
    PhaseResult,
    cpu_breakdown,
    free_port,
    percentile,
    seed,
    start_gunicorn,
    stop_gunicorn,
    wait_healthy,
)

KINDS = ("bare", "poll", "304", "pass", "pushed", "ahead")
EXPECTED = {"bare": 200, "poll": 204, "304": 304, "pass": 200, "pushed": 200, "ahead": 200}
# The kinds that ask only for the passes signed ahead, or only for the others.
SIGNED_AHEAD = {"ahead": True, "pass": False, "pushed": False}
DATABASE_PREFIX = "bench_wallet_fast_"


@dataclass(frozen=True)
class Sample:
    """One registered pass as its device knows it."""

    device: str
    serial: str
    token: str
    tag: str  # the device's latest passesUpdatedSince
    last_modified: str  # the pass's Last-Modified
    older: str  # an hour before it: what a phone that has an older copy sends
    signed_ahead: bool = False  # the worker's signed part of it is kept


Request = tuple[str, dict[str, str]]  # path, headers (every request is a GET)


def _request(kind: str, pass_type: str, sample: Sample) -> Request:
    if kind == "bare":
        return "/healthz", {}
    if kind == "poll":
        return (f"/passkit/v1/devices/{sample.device}/registrations/{pass_type}"
                f"?passesUpdatedSince={sample.tag}"), {}
    headers = {"Authorization": f"ApplePass {sample.token}"}
    if kind == "304":
        headers["If-Modified-Since"] = sample.last_modified
    elif kind in ("pushed", "ahead"):
        headers["If-Modified-Since"] = sample.older
    return f"/passkit/v1/passes/{pass_type}/{sample.serial}", headers


def _requests(kind: str, pass_type: str, samples: Sequence[Sample], seed_value: int,
              planned: int) -> Iterator[Request]:
    rng = random.Random(seed_value)
    built = [_request(kind, pass_type, rng.choice(samples)) for _ in range(planned)]
    return itertools.chain(built, iter(lambda: _request(kind, pass_type, rng.choice(samples)),
                                       None))


def _drive(port: int, deadline: float, requests: Iterator[Request], expected: int,
           result: PhaseResult, lock: threading.Lock) -> None:
    ok, failures, latencies = 0, Counter[str](), []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
    for path, headers in requests:
        if time.perf_counter() >= deadline:
            break
        started = time.perf_counter()
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            failures[type(error).__name__] += 1
            continue
        latencies.append(time.perf_counter() - started)
        if status == expected:
            ok += 1
        else:
            failures[str(status)] += 1
    connection.close()
    with lock:
        result.ok += ok
        result.failures.update(failures)
        result.latencies.extend(latencies)


def client_process(port: int, threads: int, pass_type: str, samples: list[Sample],
                   commands: Any, answers: Any) -> None:
    """Runs phases from ``threads`` threads as the parent asks, until None."""
    round_number = 0
    while (command := commands.get(timeout=600)) is not None:
        kind, seconds = command
        result, lock = PhaseResult(), threading.Lock()
        asked = [sample for sample in samples
                 if SIGNED_AHEAD.get(kind, sample.signed_ahead) == sample.signed_ahead]
        planned = [_requests(kind, pass_type, asked, round_number * 100 + n,
                             int(seconds * 2000) + 50) for n in range(threads)]
        answers.put("ready")
        if commands.get(timeout=600) != "go":
            break
        started = time.perf_counter()
        workers = [threading.Thread(target=_drive, args=(
            port, started + seconds, planned[n], EXPECTED[kind], result, lock))
            for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=seconds + 2 * HTTP_TIMEOUT)
        result.elapsed = time.perf_counter() - started
        answers.put((result.ok, dict(result.failures), result.latencies, result.elapsed))
        round_number += 1


# The server side.

def create_database(server: str) -> str:
    return databases.create_database(server, DATABASE_PREFIX)

def drop_database(url: str) -> None:
    databases.drop_database(url, DATABASE_PREFIX)

def seed_wallets(url: str, folder: Path, cards: int, base_url: str) -> None:
    """``cards`` cards (``bench.pos.seed``), two purchases each and one device each."""
    from sqlalchemy import text

    from app import create_app
    from app.config import Config
    from bench.pos import SECRET

    api_key, barcodes = seed(url, folder, cards, base_url)
    app = create_app(Config(database_url=url, base_url=base_url, secret_key=SECRET,
                            certs_dir=folder / "certs", instance_dir=folder / "instance",
                            worker="external"))
    runtime = app.extensions["loyalpass"]
    client = app.test_client()
    for number, barcode in enumerate(barcodes):
        for amount in (12_345, 4_200 + number % 1000):
            bought = client.post("/api/v1/pos/purchases",
                                 json={"barcode": barcode, "amount": amount},
                                 headers={"Authorization": f"Bearer {api_key}",
                                          "Idempotency-Key": uuid.uuid4().hex})
            assert bought.status_code == 201, bought.get_json()
    pass_type = runtime.wallet.pass_type_identifier
    with runtime.engine.connect() as connection:
        passes = connection.execute(text(
            "SELECT serial_number, authentication_token FROM cards ORDER BY id")).all()
    for number, (serial, token) in enumerate(passes):
        registered = client.post(
            f"/passkit/v1/devices/bench{number:08d}/registrations/{pass_type}/{serial}",
            json={"pushToken": f"{number:064x}"}, headers={"Authorization": f"ApplePass {token}"})
        assert registered.status_code == 201, registered.data
    runtime.engine.dispose()


def registered_passes(url: str, count: int) -> list[tuple[str, str, str]]:
    """Up to ``count`` registered passes at random: (device, serial, token)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT devices.device_library_identifier, cards.serial_number,"
            " cards.authentication_token FROM registrations"
            " JOIN devices ON devices.id = registrations.device_id"
            " JOIN cards ON cards.id = registrations.card_id"
            " WHERE cards.status = 'active' ORDER BY random() LIMIT :count"),
            {"count": count}).all()
    engine.dispose()
    return [(row[0], row[1], row[2]) for row in rows]


def sign_half_ahead(url: str, folder: Path, base_url: str, samples: list[Sample]
                    ) -> list[Sample]:
    """Every other sample's pass signed ahead as the worker signs it when its push leaves
    (``app.devices.signing_ahead.sign_ahead``, with the server's own configuration)."""
    from sqlalchemy import select

    from app import create_app
    from app.cards.models import Card
    from app.config import Config
    from app.devices.signing_ahead import sign_ahead
    from bench.pos import SECRET

    app = create_app(Config(database_url=url, base_url=base_url, secret_key=SECRET,
                            certs_dir=folder / "certs", instance_dir=folder / "instance",
                            worker="external"))
    runtime = app.extensions["loyalpass"]
    ahead = [replace(sample, signed_ahead=number % 2 == 0)
             for number, sample in enumerate(samples)]
    with runtime.sessions() as session:
        card_ids = session.scalars(select(Card.id).where(Card.serial_number.in_(
            [sample.serial for sample in ahead if sample.signed_ahead]))).all()
        signed = sign_ahead(session, runtime.wallet, card_ids=card_ids)
        session.commit()
    runtime.engine.dispose()
    assert signed == len(card_ids), (signed, len(card_ids))
    return ahead


def samples_of(port: int, pass_type: str, passes: list[tuple[str, str, str]]
               ) -> tuple[list[Sample], bytes]:
    """What each device knows after its first poll and download (its tag, the pass's
    Last-Modified), through the server; and one pass's manifest, to sign."""
    samples, manifest = [], b""
    for device, serial, token in passes:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
        connection.request("GET", f"/passkit/v1/devices/{device}/registrations/{pass_type}")
        listed = connection.getresponse()
        body = listed.read()
        connection.close()
        assert listed.status == 200, (listed.status, body)
        tag = json.loads(body)["lastUpdated"]
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
        connection.request("GET", f"/passkit/v1/passes/{pass_type}/{serial}",
                           headers={"Authorization": f"ApplePass {token}"})
        downloaded = connection.getresponse()
        package = downloaded.read()
        connection.close()
        assert downloaded.status == 200, (downloaded.status, package[:300])
        if not manifest:
            with zipfile.ZipFile(io.BytesIO(package)) as archive:
                manifest = archive.read("manifest.json")
        last_modified = downloaded.headers["Last-Modified"]
        older = parsedate_to_datetime(last_modified) - timedelta(hours=1)
        samples.append(Sample(device, serial, token, tag, last_modified,
                              format_datetime(older, usegmt=True)))
    return samples, manifest


# The run.

def signing_phase(sign: Callable[[], object], seconds: float) -> PhaseResult:
    sign()
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(20):
            sign()
        count += 20
    return PhaseResult(ok=count, elapsed=elapsed)


def run_phase(kind: str, seconds: float, commands: Any, answers: Any,
              meter: CpuMeter | None) -> PhaseResult:
    commands.put((kind, seconds))
    assert answers.get(timeout=60) == "ready"
    before = meter.sample() if meter is not None else {}
    commands.put("go")
    ok, failures, latencies, elapsed = answers.get(timeout=seconds + 4 * HTTP_TIMEOUT)
    result = PhaseResult(ok=ok, failures=Counter(failures), latencies=latencies,
                         elapsed=elapsed)
    if meter is not None:
        result.cpu = meter.spent(before, meter.sample())
    return result


def _overtime(*_: Any) -> None:
    raise TimeoutError("the benchmark overstayed its time budget")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench/pkpass.py --http",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=500, help="cards to seed")
    parser.add_argument("--sample", type=int, default=500,
                        help="registered passes the clients ask for")
    parser.add_argument("--database-url", help="an existing, migrated database to sample "
                        "instead of seeding one (postgresql+psycopg://…)")
    parser.add_argument("--threads", type=int, default=2, help="client threads")
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds")
    parser.add_argument("--seconds", type=float, default=2.0, help="per phase")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds per kind, unmeasured")
    parser.add_argument("--postgres", default=os.environ.get("LOYALPASS_BENCH_POSTGRES_URL",
                                                             DEFAULT_SERVER),
                        help="server URL without a database name (for the seeded database)")
    args = parser.parse_args(argv)

    budget = 300 + args.cards / 5 + args.sample / 20 + 6 * (args.rounds + 1) * (args.seconds + 5)
    signal.signal(signal.SIGALRM, _overtime)
    signal.alarm(int(budget))
    folder = Path(tempfile.mkdtemp(prefix="loyalpass-bench-pkpass-"))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    url = args.database_url or create_database(args.postgres)
    server: subprocess.Popen[bytes] | None = None
    client: Any = None
    commands: Any = None
    log = (folder / "gunicorn.log").open("wb")
    try:
        started = time.perf_counter()
        if args.database_url:
            from app.wallet.identity import write_development_chain

            write_development_chain(folder / "certs")
        else:
            seed_wallets(url, folder, args.cards, base_url)
        passes = registered_passes(url, args.sample)
        assert passes, "no registered pass in the database"
        print(f"setup: {'sampled ' + url.rsplit('/', 1)[1] if args.database_url else 'seeded'}"
              f" ({args.cards if not args.database_url else 'its'} cards, {len(passes)} "
              f"sampled) in {time.perf_counter() - started:.1f} s")
        server = start_gunicorn(url, folder, port, 1, 0, base_url, log)
        wait_healthy(port, server, 30)
        identity, sign_manifest = _signing(folder)
        samples, manifest = samples_of(port, identity.pass_type_identifier, passes)
        samples = sign_half_ahead(url, folder, base_url, samples)
        context = multiprocessing.get_context("spawn")
        commands, answers = context.Queue(), context.Queue()
        client = context.Process(target=client_process, daemon=True, args=(
            port, args.threads, identity.pass_type_identifier, samples, commands, answers))
        client.start()
        for kind in KINDS:
            run_phase(kind, args.warmup, commands, answers, None)

        meter = CpuMeter(url, server.pid, [client.pid or 0])
        phases: dict[str, list[PhaseResult]] = {kind: [] for kind in (*KINDS, "sign")}
        for _ in range(args.rounds):
            for kind in KINDS:
                phases[kind].append(run_phase(kind, args.seconds, commands, answers, meter))
            phases["sign"].append(signing_phase(lambda: sign_manifest(manifest, identity),
                                                args.seconds))
        meter.close()
        report(args, phases, len(manifest))
    except BaseException:
        log.flush()
        tail = (folder / "gunicorn.log").read_text(errors="replace")[-3000:]
        print(f"gunicorn's log ends with:\n{tail}", file=sys.stderr)
        raise
    finally:
        signal.alarm(0)
        if commands is not None:
            commands.put(None)
        if client is not None:
            client.join(timeout=10)
            if client.is_alive():
                client.kill()
        if server is not None:
            stop_gunicorn(server)
        log.close()
        if not args.database_url:
            drop_database(url)
        shutil.rmtree(folder, ignore_errors=True)


def _signing(folder: Path) -> tuple[Any, Callable[[bytes, Any], bytes]]:
    from passes.apple import load_signing_identity, sign_manifest

    certs = folder / "certs"
    identity = load_signing_identity(
        certificate_pem=(certs / "pass.pem").read_bytes(),
        private_key_pem=(certs / "pass.key").read_bytes(),
        wwdr_pem=(certs / "wwdr.pem").read_bytes(), password=None)
    return identity, sign_manifest


def _rates(phases: list[PhaseResult]) -> list[float]:
    return [phase.ok / phase.elapsed for phase in phases]


def report(args: argparse.Namespace, phases: dict[str, list[PhaseResult]],
           manifest_size: int) -> None:
    rates = {kind: _rates(results) for kind, results in phases.items()}
    ideal = [1 / (1 / bare + 1 / sign) for bare, sign in zip(rates["bare"], rates["sign"],
                                                              strict=True)]
    print(f"server: gunicorn -w 1 (one sync worker) on 127.0.0.1, PostgreSQL; client: one "
          f"process, {args.threads} threads; {args.rounds} rounds of {args.seconds:g} s per "
          f"kind; {os.cpu_count()} cores shared by client, server and PostgreSQL")
    labels = {"bare": "bare GET /healthz", "poll": "poll, nothing new (204)",
              "304": "unchanged pass (304)", "pass": "full pass (200)",
              "pushed": "after a push, signed now", "ahead": "after a push, signed ahead"}
    for kind in KINDS:
        latencies = [x for phase in phases[kind] for x in phase.latencies]
        line = (f"{labels[kind]:<26}{statistics.median(rates[kind]):>7.0f} req/s (median; range "
                f"{min(rates[kind]):.0f}-{max(rates[kind]):.0f})  p50 "
                f"{1000 * percentile(latencies, 0.5):.2f} ms  p99 "
                f"{1000 * percentile(latencies, 0.99):.2f} ms")
        print(line)
    print(f"{'raw PKCS#7 signature':<26}{statistics.median(rates['sign']):>7.0f} /s    "
          f"(manifest of {manifest_size} bytes, this process, one thread)")
    print(f"{'ideal full pass':<26}{statistics.median(ideal):>7.0f} req/s (a bare round trip "
          f"plus one signature, round by round)")
    for kind, against, name, goal in (("poll", rates["bare"], "bare", 0.85),
                                      ("304", rates["bare"], "bare", 0.85),
                                      ("pass", rates["bare"], "bare", None),
                                      ("pass", ideal, "ideal", 0.85),
                                      ("pushed", ideal, "ideal", 0.85),
                                      ("ahead", ideal, "ideal", 0.85),
                                      ("ahead", rates["bare"], "bare", None)):
        ratios = sorted(mine / theirs for mine, theirs in zip(rates[kind], against,
                                                              strict=True))
        print(f"ratio {kind + ' / ' + name + ':':<22}{statistics.median(ratios):>7.3f}  "
              f"(median of the rounds' ratios, range {ratios[0]:.3f}-{ratios[-1]:.3f}"
              + (f"; goal >= {goal})" if goal else ")"))
    for kind in KINDS:
        print(f"CPU per {kind + ' request:':<18}" + cpu_breakdown(phases[kind]))
    failures = {kind: dict(sum((p.failures for p in phases[kind]), Counter[str]()))
                for kind in KINDS}
    if any(failures.values()):
        print(f"unexpected answers or failures: {failures}")
    else:
        print("unexpected answers or failures: none")
