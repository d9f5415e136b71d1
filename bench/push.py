"""Push fan-out speed and commit-to-push latency.

1. One change to a card with N registered devices (default 5,000): from the purchase's
   commit to the last push answered by a fast stand-in APNs (``tests/apns_fast_standin.py``:
   HTTP/2 over TLS on loopback, answering 200 at once, in its own process), pushes per
   second of one worker as ``loyalpass worker`` runs it (fan-out, claim, push over HTTP/2,
   record), and in the same run the rate of a minimal reference client (one h2
   connection, 500 streams in flight, no database) on the same stand-in, and their ratio.
   Rounds alternate between the two; the medians are compared. Goal: >= 0.6. On a
   shared machine the rates follow the load, so it also prints the CPU each push cost
   the worker's process, PostgreSQL's backends and the reference client.
2. The time from a purchase's commit to its push leaving the worker, over 200
   purchases (median and 99th percentile), with the inline worker woken after commit.

    python bench/push.py [--devices 5000] [--rounds 3] [--purchases 200]
                         [--database postgresql sqlite] [--profile FILE]

Everything runs on loopback and stops by itself.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import socket
import ssl
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
from sqlalchemy import create_engine, insert, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.config import Config  # noqa: E402
from app.db import make_engine  # noqa: E402
from app.delivery.pushes import Worker  # noqa: E402
from app.delivery.senders import make_sender  # noqa: E402
from app.devices.models import Device, Registration  # noqa: E402
from app.integrations.apns import PushResult, PushSender, SendWhile  # noqa: E402
from app.merchants.service import create_merchant  # noqa: E402
from app.migrations import upgrade  # noqa: E402
from app.wallet.identity import write_development_chain  # noqa: E402
from tests.apns_fast_standin import FastStandInProcess  # noqa: E402

REFERENCE_STREAMS = 500

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"


def reference_rate(port: int, server_ca: Path, certs: Path, topic: str, count: int) -> float:
    """A minimal client: one connection, 500 streams in flight (fewer if the server
    allows fewer), no database, nothing else."""
    context = ssl.create_default_context(cafile=str(server_ca))
    context.load_cert_chain(certs / "pass.pem", certs / "pass.key")
    context.set_alpn_protocols(["h2"])
    sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                               server_hostname="127.0.0.1")
    sock.settimeout(10)
    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    connection.initiate_connection()
    sock.sendall(connection.data_to_send())
    settled = False
    while not settled:  # the server's SETTINGS say how many streams it takes
        for event in connection.receive_data(sock.recv(65536)):
            settled = settled or isinstance(event, h2.events.RemoteSettingsChanged)
        sock.sendall(connection.data_to_send())
    headers = [(":method", "POST"), (":scheme", "https"), (":authority", f"127.0.0.1:{port}"),
               (":path", ""), ("apns-topic", topic), ("content-length", "2")]
    limit = min(REFERENCE_STREAMS, connection.remote_settings.max_concurrent_streams)
    sent = done = 0
    started = time.perf_counter()
    while done < count:
        while sent < count and connection.open_outbound_streams < limit:
            stream = connection.get_next_available_stream_id()
            headers[3] = (":path", f"/3/device/{sent:064x}")
            connection.send_headers(stream, headers)
            connection.send_data(stream, b"{}", end_stream=True)
            sent += 1
        sock.sendall(connection.data_to_send())
        try:
            data = sock.recv(65536)
        except TimeoutError:
            data = b""
        if not data:
            raise SystemExit(f"reference client lost the server: sent {sent}, answered {done}")
        for event in connection.receive_data(data):
            if isinstance(event, h2.events.StreamEnded | h2.events.StreamReset):
                done += 1
            elif isinstance(event, h2.events.DataReceived):
                connection.acknowledge_received_data(event.flow_controlled_length,
                                                     event.stream_id)
        sock.sendall(connection.data_to_send())
    elapsed = time.perf_counter() - started
    sock.close()
    return count / elapsed


class TimingSender:
    """Wraps the real sender and notes when each token's push leaves the worker."""

    def __init__(self, inner: PushSender) -> None:
        self.inner = inner
        self.left: dict[str, float] = {}

    def push(self, tokens: Sequence[str], *, topic: str,
             send_while: SendWhile | None = None) -> list[PushResult]:
        now = time.perf_counter()
        for token in tokens:
            self.left.setdefault(token, now)
        return self.inner.push(tokens, topic=topic, send_while=send_while)

    def close(self) -> None:
        self.inner.close()


def _database(kind: str) -> tuple[str, Any]:
    if kind == "sqlite":
        path = Path(tempfile.mkdtemp(prefix="loyalpass-push-")) / "bench.sqlite3"
        return f"sqlite:///{path}", None
    name = f"bench_fanout_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return f"{POSTGRES}/{name}", (admin, name)


def _register_devices(app: Any, card_id: int, count: int) -> None:
    engine = app.extensions["loyalpass"].engine
    with engine.begin() as connection:
        connection.execute(insert(Device), [
            {"device_library_identifier": f"bench-{n}"} for n in range(count)])
        ids = connection.execute(text("SELECT id FROM devices ORDER BY id")).scalars().all()
        connection.execute(insert(Registration), [
            {"device_id": i, "card_id": card_id, "push_token": f"{n:064x}"}
            for n, i in enumerate(ids)])


def _owner_client(app: Any) -> tuple[Any, dict[str, str]]:
    with app.extensions["loyalpass"].sessions() as session:
        key = create_merchant(session, name="Bench", email=f"{uuid.uuid4().hex}@b.io").api_key
    return app.test_client(), {"Authorization": f"Bearer {key}"}


def _card(client: Any, auth: dict[str, str], program_id: int, n: int) -> dict[str, Any]:
    card: dict[str, Any] = client.post(
        f"/api/v1/programs/{program_id}/cards", headers=auth,
        json={"name": f"Bench {n}", "email": f"bench{n}@example.com"}).get_json()
    return card


def _buy(client: Any, auth: dict[str, str], card: dict[str, Any]) -> None:
    response = client.post("/api/v1/pos/purchases", headers={
        **auth, "Idempotency-Key": uuid.uuid4().hex},
        json={"barcode": card["barcode"]["message"], "amount": 1000})
    assert response.status_code == 201, response.get_json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--purchases", type=int, default=200)
    parser.add_argument("--database", nargs="+", choices=["sqlite", "postgresql"],
                        default=["postgresql", "sqlite"])
    parser.add_argument("--profile", type=Path,
                        help="write a cProfile of the worker's rounds (its thread) to "
                             "FILE.postgresql and FILE.sqlite")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="loyalpass-push-"))
    certs = folder / "certs"
    write_development_chain(certs)
    trusted = folder / "trusted.pem"
    trusted.write_bytes((certs / "root.pem").read_bytes() + (certs / "wwdr.pem").read_bytes())
    standin = FastStandInProcess(folder, trusted)
    try:
        for kind in args.database:
            url, dropper = _database(kind)
            try:
                upgrade(make_engine(url))
                config = Config(
                    database_url=url, base_url="https://cards.example.com",
                    secret_key="bench-" + "x" * 26, certs_dir=certs, instance_dir=folder,
                    worker="external", apns_url=f"https://127.0.0.1:{standin.port}",
                    apns_ca_file=standin.server_ca)
                fan_out(config, standin, certs, args.devices, args.rounds, args.profile)
                if args.purchases:
                    latency(config, args.purchases)
            finally:
                if dropper is not None:
                    admin, name = dropper
                    with admin.connect() as connection:
                        connection.execute(
                            text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        standin.stop()


@dataclass
class Rounds:
    """What the rounds measured: rates in pushes a second, CPU in seconds."""

    leaving: list[float] = field(default_factory=list)  # commit to the last push answered
    recorded: list[float] = field(default_factory=list)  # commit to every result recorded
    reference: list[float] = field(default_factory=list)
    worker_cpu: float = 0.0  # the worker's process: its loop, the APNs client, the pushers
    postgres_cpu: float = 0.0  # the server's backends for the benchmark's database
    reference_cpu: float = 0.0


def fan_out(config: Config, standin: FastStandInProcess, certs: Path, devices: int,
            rounds: int, profile: Path | None) -> None:
    app = create_app(config)
    runtime = app.extensions["loyalpass"]
    client, auth = _owner_client(app)
    program = client.post("/api/v1/programs", headers=auth, json={"name": "Fan"}).get_json()
    card = _card(client, auth, program["id"], 0)
    _register_devices(app, card["id"], devices)
    topic = runtime.wallet.pass_type_identifier
    sender = make_sender(config, development_chain=False)
    # As make_workers builds it for ``loyalpass worker``: the default batch and lease.
    worker = Worker(sessions=runtime.sessions, sender=sender, topic=topic)
    sender.push([f"{0:064x}"], topic=topic)  # connect before timing, as a running worker is
    profiler = cProfile.Profile() if profile is not None else None
    measured = Rounds()
    for _ in range(rounds):
        before, _at = standin.answered()
        _buy(client, auth, card)  # one change for every device; committed when it returns
        started, cpu, server = time.monotonic(), time.process_time(), _postgres_cpu(runtime)
        if profiler is not None:
            profiler.enable()
        while worker.run_once():
            pass
        if profiler is not None:
            profiler.disable()
        done = time.monotonic()
        measured.worker_cpu += time.process_time() - cpu
        measured.postgres_cpu += _postgres_cpu(runtime) - server
        answered, last = standin.answered()
        if answered - before != devices:
            raise SystemExit(f"the stand-in answered {answered - before} of {devices} pushes")
        measured.leaving.append(devices / (last - started))
        measured.recorded.append(devices / (done - started))
        cpu = time.process_time()
        measured.reference.append(
            reference_rate(standin.port, standin.server_ca, certs, topic, devices))
        measured.reference_cpu += time.process_time() - cpu
    sender.close()
    runtime.engine.dispose()
    if profiler is not None and profile is not None:  # one file per database
        profiler.dump_stats(profile.with_name(f"{profile.name}.{runtime.engine.dialect.name}"))
    print(f"fan-out of one change to {devices} devices of a card "
          f"({config.database_url.split(':')[0]}, fast stand-in APNs, {rounds} rounds):")
    _print_rounds(measured, devices * rounds)


def _print_rounds(measured: Rounds, pushes: int) -> None:
    worker, reference = statistics.median(measured.leaving), statistics.median(measured.reference)
    print(f"  worker, commit to last push answered: {worker:>8.0f} pushes/s  "
          f"(rounds: {', '.join(f'{rate:.0f}' for rate in measured.leaving)})")
    print(f"  worker, commit to all recorded:       "
          f"{statistics.median(measured.recorded):>8.0f} pushes/s")
    print(f"  minimal h2 client, {REFERENCE_STREAMS} streams:      {reference:>8.0f} pushes/s  "
          f"(rounds: {', '.join(f'{rate:.0f}' for rate in measured.reference)})")
    print(f"  ratio worker / reference:             {worker / reference:>8.3f}   (goal >= 0.6)")
    print(f"  CPU per push: worker {measured.worker_cpu / pushes * 1e6:.0f} us"
          f" + PostgreSQL {measured.postgres_cpu / pushes * 1e6:.0f} us;"
          f" reference {measured.reference_cpu / pushes * 1e6:.0f} us"
          f" (load average {os.getloadavg()[0]:.1f})")


def _postgres_cpu(runtime: Any) -> float:
    """Seconds of CPU used so far by the server's backends for the benchmark's database
    (from Linux's /proc; 0 on SQLite)."""
    if runtime.engine.dialect.name != "postgresql":
        return 0.0
    with runtime.engine.connect() as connection:
        backends = connection.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars()
        total = 0
        for pid in backends:
            try:  # utime and stime: fields 14 and 15, counted after the command's ")"
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def latency(config: Config, purchases: int) -> None:
    inner = make_sender(config, development_chain=False)
    sender = TimingSender(inner)
    app = create_app(config.with_changes(worker="inline", worker_poll_interval=30.0),
                     push_sender=sender)
    client, auth = _owner_client(app)
    program = client.post("/api/v1/programs", headers=auth, json={"name": "Lat"}).get_json()
    committed: dict[str, float] = {}
    cards = [_card(client, auth, program["id"], n + 1) for n in range(purchases)]
    _register_latency_devices(app, [card["id"] for card in cards])
    for n, card in enumerate(cards):
        _buy(client, auth, card)
        committed[f"{10**9 + n:064x}"] = time.perf_counter()  # the commit is done by now
        time.sleep(0.01)
    deadline = time.monotonic() + 30
    while len(sender.left) < purchases and time.monotonic() < deadline:
        time.sleep(0.05)
    app.extensions["loyalpass"].stop_workers()
    waits = sorted((sender.left[token] - at) * 1000 for token, at in committed.items()
                   if token in sender.left)
    p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
    print(f"commit to push leaving the worker, {len(waits)} of {purchases} purchases:")
    print(f"  median {statistics.median(waits):.1f} ms, 99th percentile {p99:.1f} ms")
    inner.close()


def _register_latency_devices(app: Any, card_ids: list[int]) -> None:
    engine = app.extensions["loyalpass"].engine
    with engine.begin() as connection:
        for n, card_id in enumerate(card_ids):
            device_id = connection.execute(insert(Device).values(
                device_library_identifier=f"latency-{n}").returning(Device.id)).scalar_one()
            connection.execute(insert(Registration).values(
                device_id=device_id, card_id=card_id, push_token=f"{10**9 + n:064x}"))


if __name__ == "__main__":
    main()
