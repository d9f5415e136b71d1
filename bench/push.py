"""Push fan-out speed and commit-to-push latency.

1. One change published to N registered devices (default 20,000): pushes per second of
   one worker (claim, push over HTTP/2, record) to a stand-in APNs running in its own
   process, and in the same run the rate of a minimal reference client (one h2
   connection, no database) on the same stand-in, and their ratio. Goal: >= 0.6.
2. The time from a purchase's commit to its push leaving the worker, over 200
   purchases (median and 99th percentile), with the inline worker woken after commit.

    python bench/push.py [--devices 20000] [--purchases 200] [--database sqlite|postgresql]

Everything runs on loopback and stops by itself.
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import ssl
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
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
from app.integrations.apns import PushResult, PushSender  # noqa: E402
from app.merchants.service import create_merchant  # noqa: E402
from app.migrations import upgrade  # noqa: E402
from app.wallet.identity import write_development_chain  # noqa: E402
from tests.apns_standin import ApnsStandIn, write_test_certificates  # noqa: E402

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"


def _standin_process(folder: str, trusted: str, pipe: Any) -> None:
    server = write_test_certificates(Path(folder))
    apns = ApnsStandIn(certificate_file=server.server_certificate, key_file=server.server_key,
                       client_ca_file=Path(trusted)).start()
    pipe.send((apns.port, str(server.server_ca)))
    pipe.recv()  # until told to stop
    apns.stop()


def reference_rate(port: int, server_ca: Path, certs: Path, topic: str, count: int) -> float:
    """A minimal client: one connection, as many streams as the server allows, no DB."""
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
    sent = done = 0
    started = time.perf_counter()
    while done < count:
        limit = connection.remote_settings.max_concurrent_streams
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

    def push(self, tokens: Sequence[str], *, topic: str) -> list[PushResult]:
        now = time.perf_counter()
        for token in tokens:
            self.left.setdefault(token, now)
        return self.inner.push(tokens, topic=topic)

    def close(self) -> None:
        self.inner.close()


def _database(kind: str) -> tuple[str, Any]:
    if kind == "sqlite":
        path = Path(tempfile.mkdtemp(prefix="loyalpass-push-")) / "bench.sqlite3"
        return f"sqlite:///{path}", None
    name = f"loyalpass_bench_{uuid.uuid4().hex[:8]}"
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
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--purchases", type=int, default=200)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="loyalpass-push-"))
    certs = folder / "certs"
    write_development_chain(certs)
    trusted = folder / "trusted.pem"
    trusted.write_bytes((certs / "root.pem").read_bytes() + (certs / "wwdr.pem").read_bytes())
    parent, child = multiprocessing.Pipe()
    standin = multiprocessing.get_context("spawn").Process(
        target=_standin_process, args=(str(folder), str(trusted), child), daemon=True)
    standin.start()
    port, server_ca = parent.recv()
    url, dropper = _database(args.database)
    try:
        upgrade(make_engine(url))
        config = Config(database_url=url, base_url="https://cards.example.com",
                        secret_key="bench-" + "x" * 26, certs_dir=certs, instance_dir=folder,
                        worker="external", apns_url=f"https://127.0.0.1:{port}",
                        apns_ca_file=Path(server_ca))
        fan_out(config, port, Path(server_ca), certs, args.devices)
        latency(config, args.purchases)
    finally:
        parent.send("stop")
        standin.join(10)
        if dropper is not None:
            admin, name = dropper
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def fan_out(config: Config, port: int, server_ca: Path, certs: Path, devices: int) -> None:
    app = create_app(config)
    runtime = app.extensions["loyalpass"]
    client, auth = _owner_client(app)
    program = client.post("/api/v1/programs", headers=auth, json={"name": "Fan"}).get_json()
    card = _card(client, auth, program["id"], 0)
    _register_devices(app, card["id"], devices)
    topic = runtime.wallet.pass_type_identifier
    sender = make_sender(config, development_chain=False)
    worker = Worker(sessions=runtime.sessions, sender=sender, topic=topic, batch=5000)
    sender.push([f"{0:064x}"], topic=topic)  # connect before timing, as a running worker is
    _buy(client, auth, card)  # one change for every device
    started = time.perf_counter()
    while worker.run_once():
        pass
    worker_rate = devices / (time.perf_counter() - started)
    reference = reference_rate(port, server_ca, certs, topic, devices)
    sender.close()
    print(f"fan-out to {devices} devices ({config.database_url.split(':')[0]}):")
    print(f"  worker (claim, push, record):  {worker_rate:>8.0f} pushes/s")
    print(f"  minimal reference h2 client:   {reference:>8.0f} pushes/s")
    print(f"  ratio worker / reference:      {worker_rate / reference:>8.3f}   (goal >= 0.6)")


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
