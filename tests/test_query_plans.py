"""Every statement the hot paths issue is served by an index at scale (PostgreSQL).

A database is seeded once for the module by bench/dataset.py (20,000 cards of a program
with two years of history, 40,000 Apple registrations, another merchant's 2,000 cards
first, then ANALYZE), enough rows that the planner's choice between an index and a
sequential scan means something. Each test drives one real path, the way a till, a
phone, a worker or Google does (the POS lookup, purchase, redemption and refund, Apple's
device poll, pass download and 304, registration and unregistration, the push fan-out
and claim, Google's sync and callbacks, the card page by its link, the card search),
catches every statement sent to PostgreSQL on the way (at the driver: the ORM's and the
hand-written ones alike) and EXPLAINs each with the parameters it ran with (the plan of
that execution) and as the generic plan a prepared statement may switch to (psycopg
prepares a statement run five times on a connection; PostgreSQL then keeps a generic
plan when it is estimated no dearer than those made with the values). A sequential scan
of a table of more than ``LARGE_ROWS`` rows in either fails the test, naming the
statement.

``LOYALPASS_QUERY_PLANS_URL`` runs the same tests on a database bench/dataset.py filled
before (a million cards, say), which they leave in place (they add a few purchases).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient
from psycopg import sql
from psycopg.adapt import PyFormat, Transformer

from app import create_app
from app.cards.numbers import barcode_message
from app.config import Config
from app.delivery.fanout import FANOUT_CARDS, drain_outbox
from app.delivery.google.sync import GoogleSync
from app.delivery.pushes import Worker
from app.devices.signing_ahead import forget_signed
from app.integrations.fakes import FakeGoogleWallet
from bench import dataset
from passes.google.callbacks import sign_callback
from tests.conftest import BASE_URL, POSTGRES_PROBLEM, POSTGRES_SERVER
from tests.google_helpers import make_service_account, write_google_json
from tests.google_keys_standin import RootKeysStandIn
from tests.push_helpers import RecordingSender

pytestmark = pytest.mark.postgres

CARDS = 20_000
OTHER_CARDS = 2_000
LARGE_ROWS = 10_000
SECRET = "test-secret-key-0123456789abcdef"
DAY_MS = 86_400_000
EXPLAINED = ("SELECT", "WITH", "INSERT", "UPDATE", "DELETE")
# A prepared statement keeps its generic plan only when that plan is estimated no dearer
# than the plans made with its values plus their planning (which PostgreSQL's plan cache
# prices at 1000 × cpu_operator_cost, 2.5, a relation): a generic plan much dearer is
# never run, whatever it scans. Counted with room to spare (10 relations, 10 %).
CHEAPER, PLANNING = 1.1, 25.0
PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")


@dataclass(frozen=True)
class Seeded:
    data: dataset.Dataset
    large: frozenset[str]  # tables of more than LARGE_ROWS rows


@pytest.fixture(scope="module")
def seeded() -> Iterator[Seeded]:
    if POSTGRES_PROBLEM is not None:
        pytest.skip(POSTGRES_PROBLEM)
    given = os.environ.get("LOYALPASS_QUERY_PLANS_URL")
    if given:
        yield Seeded(dataset.loaded(given), _large(given))
        return
    name = f"loyalpass_test_plans_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_plain(f"{POSTGRES_SERVER}/postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    url = f"{POSTGRES_SERVER}/{name}"
    try:
        data = dataset.build(url, cards=CARDS, other_cards=OTHER_CARDS, say=lambda _: None)
        yield Seeded(data, _large(url))
    finally:
        with psycopg.connect(_plain(f"{POSTGRES_SERVER}/postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def _large(url: str) -> frozenset[str]:
    with psycopg.connect(_plain(url)) as connection:
        return frozenset(name for name, in connection.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND reltuples > %s",
            (LARGE_ROWS,)))


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def root_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def keys_server(tmp_path: Path, root_key: ec.EllipticCurvePrivateKey
                ) -> Iterator[RootKeysStandIn]:
    standin = RootKeysStandIn(tmp_path).start()
    standin.serve([root_key], int(time.time() * 1000) + DAY_MS)
    yield standin
    standin.stop()


@pytest.fixture
def app(seeded: Seeded, certs_dir: Path, tmp_path: Path, keys_server: RootKeysStandIn
        ) -> Iterator[Flask]:
    """The app on the seeded database, with Google Wallet on (the dataset's issuer)."""
    certs = tmp_path / "certs"
    shutil.copytree(certs_dir, certs)
    info, _ = make_service_account("https://127.0.0.1:9/token")
    write_google_json(certs, info)
    application = create_app(Config(
        database_url=seeded.data.url, base_url=BASE_URL, secret_key=SECRET, certs_dir=certs,
        instance_dir=tmp_path / "instance", development=False, worker="external",
        google_issuer_id=dataset.GOOGLE_ISSUER, google_keys_url=keys_server.url,
        google_ca_file=keys_server.ca_file))
    yield application
    application.extensions["loyalpass"].engine.dispose()


class Statements:
    """What the app sends to PostgreSQL while ``catching`` (psycopg's cursors, which both
    the ORM and ``app.sql.Raw`` run their statements on)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.caught: list[tuple[str, Any]] = []
        self.on = False
        original = psycopg.Cursor.execute

        def execute(cursor: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
            if self.on and isinstance(query, str):
                self.caught.append((query, params))
            return original(cursor, query, params, **kwargs)

        monkeypatch.setattr(psycopg.Cursor, "execute", execute)

    def catching(self, run: Callable[[], Any]) -> Any:
        self.on = True
        try:
            return run()
        finally:
            self.on = False


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Statements:
    return Statements(monkeypatch)


def _seq_scans(plan: Any, large: frozenset[str]) -> list[str]:
    found = []
    if isinstance(plan, dict):
        if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") in large:
            found.append(plan["Relation Name"])
        for value in plan.values():
            found += _seq_scans(value, large)
    elif isinstance(plan, list):
        for value in plan:
            found += _seq_scans(value, large)
    return found


def _positional(query: str, params: Any) -> tuple[str, list[Any]]:
    """The statement with $1, $2… for psycopg's placeholders, and the values in order."""
    values: list[Any] = []
    names: dict[str, int] = {}
    counter = iter(params) if isinstance(params, list | tuple) else None

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        if match.group(1) is None:
            assert counter is not None
            values.append(next(counter))
            return f"${len(values)}"
        if match.group(1) not in names:
            values.append(params[match.group(1)])
            names[match.group(1)] = len(values)
        return f"${names[match.group(1)]}"

    return PLACEHOLDER.sub(replace, query), values


def _generic_plan(connection: psycopg.Connection[Any], query: str, params: Any) -> Any:
    """EXPLAIN of the plan PostgreSQL keeps for the statement prepared, whatever values it
    is run with: each parameter typed as psycopg types it, or as the server infers it (a
    text or a NULL, which psycopg leaves untyped)."""
    text, values = _positional(query, params)
    transformer = Transformer(connection)
    oids = [transformer.get_dumper(value, PyFormat.AUTO).oid if value is not None else 0
            for value in values]
    types = [connection.execute("SELECT format_type(%s, NULL)", (oid,)).fetchone()[0]  # type: ignore[index]
             if oid else "unknown" for oid in oids]
    connection.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    try:
        with connection.transaction():
            connection.execute(f"PREPARE plan_check ({', '.join(types)}) AS {text}"  # type: ignore[arg-type]
                               if types else f"PREPARE plan_check AS {text}")
    except psycopg.errors.IndeterminateDatatype:  # a NULL in a select list, say
        types = [kind if kind != "unknown" else "text" for kind in types]
        connection.execute(f"PREPARE plan_check ({', '.join(types)}) AS {text}")  # type: ignore[arg-type]
    inferred = connection.execute("SELECT parameter_types::text[] FROM pg_prepared_statements"
                                  " WHERE name = 'plan_check'").fetchone()[0]  # type: ignore[index]
    # EXECUTE's arguments are typed as it runs, too late for a bound parameter: literals.
    arguments = sql.SQL(", ").join(sql.SQL("{}::{}").format(sql.Literal(value), sql.SQL(kind))
                                   for value, kind in zip(values, inferred, strict=True))
    plan = connection.execute(sql.SQL("EXPLAIN (FORMAT JSON) EXECUTE plan_check{}").format(
        sql.SQL("({})").format(arguments) if values else sql.SQL(""))).fetchone()[0]  # type: ignore[index]
    connection.execute("DEALLOCATE plan_check")
    return plan


def _cost(plan: Any) -> float:
    return float(plan[0]["Plan"]["Total Cost"])


def assert_indexed(seeded: Seeded, caught: list[tuple[str, Any]], path: str) -> int:
    """Fails naming each statement whose plan (with its values, or generic) scans a large
    table; how many statements were explained."""
    explained, problems = 0, []
    with psycopg.connect(_plain(seeded.data.url)) as connection:
        for query, params in caught:
            if not query.lstrip().upper().startswith(EXPLAINED):
                continue
            explained += 1
            plans = {"with its values": connection.execute(
                "EXPLAIN (FORMAT JSON) " + query, params).fetchone()[0]}  # type: ignore[index,operator]
            connection.rollback()
            generic = _generic_plan(connection, query, params)
            connection.rollback()
            if _cost(generic) <= CHEAPER * _cost(plans["with its values"]) + PLANNING:
                plans["generic"] = generic  # PostgreSQL may keep it once prepared
            for kind, plan in plans.items():
                scanned = _seq_scans(plan, seeded.large)
                if scanned:
                    problems.append(f"{path}: a sequential scan of {', '.join(scanned)} "
                                    f"({kind}) in:\n    {' '.join(query.split())[:600]}")
    assert not problems, "\n".join(problems)
    assert explained, f"{path}: no statement was caught"
    return explained


# What the paths work on: a busy card, a card on Apple devices, a Google object.

def _one(seeded: Seeded, sql: str) -> tuple[Any, ...]:
    with psycopg.connect(_plain(seeded.data.url)) as connection:
        row = connection.execute(sql).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return tuple(row)


def busy_card(seeded: Seeded) -> tuple[int, str]:
    """The card with the most purchases (the till's slowest case), and its number."""
    return _one(seeded, "SELECT id, number FROM cards WHERE balance >= 10"  # type: ignore[return-value]
                " ORDER BY visits DESC, id LIMIT 1")


def apple_card(seeded: Seeded) -> tuple[str, str, str]:
    """A registered device's library identifier, and its pass's serial and token."""
    return _one(seeded, "SELECT devices.device_library_identifier, cards.serial_number,"  # type: ignore[return-value]
                " cards.authentication_token FROM registrations JOIN devices"
                " ON devices.id = registrations.device_id JOIN cards"
                " ON cards.id = registrations.card_id ORDER BY registrations.id DESC LIMIT 1")


def till(seeded: Seeded) -> dict[str, str]:
    return {"Authorization": f"Bearer {seeded.data.cashier_keys[0]}"}


def owner(seeded: Seeded) -> dict[str, str]:
    return {"Authorization": f"Bearer {seeded.data.api_key}"}


def purchase(client: FlaskClient, seeded: Seeded, number: str, **body: Any) -> Any:
    response = client.post("/api/v1/pos/purchases", headers={
        **till(seeded), "Idempotency-Key": uuid.uuid4().hex}, json={
        "barcode": barcode_message(number, SECRET.encode()), "amount": 15_000, **body})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def pass_type(app: Flask) -> str:
    return str(app.extensions["loyalpass"].wallet.pass_type_identifier)


# The paths.

def test_the_till_looks_a_card_up_by_index(client: FlaskClient, seeded: Seeded,
                                           statements: Statements) -> None:
    _, number = busy_card(seeded)
    response = statements.catching(lambda: client.post(
        "/api/v1/pos/lookup", headers=till(seeded),
        json={"barcode": barcode_message(number, SECRET.encode())}))
    assert response.status_code == 200, response.get_json()
    assert_indexed(seeded, statements.caught, "POS lookup")


def test_a_purchase_on_the_busiest_card_reads_and_writes_by_index(
        client: FlaskClient, seeded: Seeded, statements: Statements) -> None:
    _, number = busy_card(seeded)
    statements.catching(lambda: purchase(client, seeded, number))
    assert_indexed(seeded, statements.caught, "POS purchase")


def test_a_redemption_and_a_refund_read_and_write_by_index(
        client: FlaskClient, seeded: Seeded, statements: Statements) -> None:
    _, number = busy_card(seeded)

    def redeem_and_refund() -> None:
        bought = purchase(client, seeded, number, redeem_points=5)
        assert bought["redeemed"] == 5
        response = client.post(f"/api/v1/pos/purchases/{bought['id']}/refund", headers={
            **till(seeded), "Idempotency-Key": uuid.uuid4().hex}, json={})
        assert response.status_code in (200, 201), response.get_json()

    statements.catching(redeem_and_refund)
    assert_indexed(seeded, statements.caught, "redemption and refund")


def test_a_device_poll_with_nothing_new_is_served_by_index(
        app: Flask, client: FlaskClient, seeded: Seeded, statements: Statements) -> None:
    device, _, _ = apple_card(seeded)
    path = f"/passkit/v1/devices/{device}/registrations/{pass_type(app)}"
    first = client.get(path)
    assert first.status_code == 200
    tag = first.get_json()["lastUpdated"]
    response = statements.catching(lambda: client.get(f"{path}?passesUpdatedSince={tag}"))
    assert response.status_code == 204
    statements.catching(lambda: client.get(path))
    assert_indexed(seeded, statements.caught, "Apple device poll")


def test_a_pass_download_and_its_304_are_served_by_index(
        app: Flask, client: FlaskClient, seeded: Seeded, statements: Statements) -> None:
    _, serial, token = apple_card(seeded)
    path = f"/passkit/v1/passes/{pass_type(app)}/{serial}"
    headers = {"Authorization": f"ApplePass {token}"}
    full = statements.catching(lambda: client.get(path, headers=headers))
    assert full.status_code == 200
    unchanged = statements.catching(lambda: client.get(path, headers={
        **headers, "If-Modified-Since": full.headers["Last-Modified"]}))
    assert unchanged.status_code == 304
    assert_indexed(seeded, statements.caught, "pass download and 304")


def test_registering_and_unregistering_a_device_is_served_by_index(
        app: Flask, client: FlaskClient, seeded: Seeded, statements: Statements) -> None:
    _, serial, token = apple_card(seeded)
    path = (f"/passkit/v1/devices/{uuid.uuid4().hex}/registrations/{pass_type(app)}/"
            f"{serial}")
    headers = {"Authorization": f"ApplePass {token}"}
    registered = statements.catching(lambda: client.post(
        path, headers=headers, json={"pushToken": uuid.uuid4().hex * 2}))
    assert registered.status_code == 201
    gone = statements.catching(lambda: client.delete(path, headers=headers))
    assert gone.status_code == 200
    assert_indexed(seeded, statements.caught, "registration and unregistration")


def test_the_push_fan_out_and_claim_are_served_by_index(
        app: Flask, client: FlaskClient, seeded: Seeded, statements: Statements) -> None:
    _, serial, _ = apple_card(seeded)
    card_id, = _one(seeded, f"SELECT id FROM cards WHERE serial_number = '{serial}'")
    number, = _one(seeded, f"SELECT number FROM cards WHERE id = {card_id}")
    purchase(client, seeded, number)
    runtime = app.extensions["loyalpass"]
    sender = RecordingSender()
    worker = Worker(sessions=runtime.sessions, sender=sender, topic=pass_type(app),
                    google=runtime.wallet.google, wallet=runtime.wallet)
    statements.catching(worker.run_once)
    assert sender.pushes, "the purchase's pass was not pushed"
    kept, = _one(seeded, f"SELECT count(*) FROM signed_passes WHERE card_id = {card_id}")
    assert kept == 1, "the pass was not signed ahead"
    # The phone's download after the push, served signed ahead; housekeeping's deletion.
    token, = _one(seeded, f"SELECT authentication_token FROM cards WHERE id = {card_id}")
    downloaded = statements.catching(lambda: client.get(
        f"/passkit/v1/passes/{pass_type(app)}/{serial}", headers={
            "Authorization": f"ApplePass {token}",
            "If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"}))
    assert downloaded.status_code == 200
    with runtime.sessions() as session:
        statements.catching(lambda: forget_signed(session))
        session.rollback()
    assert_indexed(seeded, statements.caught, "push fan-out, signing ahead and claim")


def _publish_an_offer(client: FlaskClient, seeded: Seeded) -> None:
    offer = client.post(f"/api/v1/programs/{seeded.data.program_id}/offers", headers=owner(
        seeded), json={"title": "Free croissant", "audience": {}, "promotional": False})
    assert offer.status_code == 201, offer.get_json()
    published = client.post(f"/api/v1/offers/{offer.get_json()['id']}/publish",
                            headers=owner(seeded))
    assert published.status_code == 202 and published.get_json()["cards"] >= CARDS // 2


def _redraw_the_program(client: FlaskClient, seeded: Seeded) -> None:
    saved = client.patch(f"/api/v1/programs/{seeded.data.program_id}", headers=owner(seeded),
                         json={"colors": {"background": "#123456"}})
    assert saved.status_code == 200, saved.get_json()


@pytest.mark.parametrize("change", [_publish_an_offer, _redraw_the_program],
                         ids=["an offer", "a new design"])
def test_a_fan_out_to_every_card_takes_them_a_chunk_at_a_time_by_index(
        app: Flask, client: FlaskClient, seeded: Seeded, statements: Statements,
        change: Callable[[FlaskClient, Seeded], None]) -> None:
    change(client, seeded)
    runtime = app.extensions["loyalpass"]
    try:
        # A chunk the share of these cards that FANOUT_CARDS is of a chain's million.
        chunk = CARDS * FANOUT_CARDS // 1_000_000
        google = runtime.wallet.google  # and each chunk's Google objects and messages
        assert google is not None
        with runtime.sessions() as session:
            assert drain_outbox(session, cards=chunk, google=google)  # the pending; a chunk
            statements.catching(lambda: drain_outbox(session, cards=chunk, google=google))
        assert _one(seeded, "SELECT count(*) FROM outbox WHERE status = 'pending'"
                            " AND fanned_through IS NOT NULL") == (1,)  # more chunks left
        assert_indexed(seeded, statements.caught, "a fan-out, a chunk at a time")
    finally:  # the rest is not fanned out: no other test pushes 20,000 devices
        with psycopg.connect(_plain(seeded.data.url)) as connection:
            connection.execute("UPDATE outbox SET status = 'done' WHERE status = 'pending'")
            connection.execute("UPDATE registrations SET push_status = 'idle'"
                               " WHERE push_status = 'pending'")


def _nodes(plan: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(plan, dict):
        if "Node Type" in plan:
            found.append(plan)
        for value in plan.values():
            found += _nodes(value)
    elif isinstance(plan, list):
        for value in plan:
            found += _nodes(value)
    return found


def test_a_push_claim_reads_its_batch_in_order_from_an_index_with_every_card_pending(
        seeded: Seeded) -> None:
    from sqlalchemy import create_engine

    from app.clock import utcnow
    from app.delivery.pushes import due_query

    claim = due_query(now=utcnow(), limit=1000).compile(
        dialect=create_engine(seeded.data.url).dialect,  # no connection made
        compile_kwargs={"literal_binds": True})
    with psycopg.connect(_plain(seeded.data.url)) as connection:
        # As after an offer to every card: each registration pending (undone after).
        pending = connection.execute(
            "UPDATE registrations SET push_status = 'pending',"
            " push_available_at = now() AT TIME ZONE 'UTC' - interval '1 second'").rowcount
        connection.execute("ANALYZE registrations")
        plan = connection.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {claim}").fetchone()[0]  # type: ignore[index]
        connection.rollback()
    nodes = _nodes(plan)
    assert pending >= 40_000
    assert not [node for node in nodes if node["Node Type"] in ("Sort", "Seq Scan")], plan
    scans = [node for node in nodes if node["Node Type"] == "Index Scan"]
    assert [scan["Index Name"] for scan in scans] == ["ix_registrations_push_pending"]
    assert scans[0]["Actual Rows"] <= 1000  # the batch, not every pending row


def test_the_google_sync_is_served_by_index(
        app: Flask, client: FlaskClient, seeded: Seeded, statements: Statements) -> None:
    # A card whose object is in a wallet: Google hears only of those (a tenth are removed).
    card_id, = _one(seeded, "SELECT card_id FROM google_objects WHERE saved_at IS NOT NULL"
                            " AND removed_at IS NULL ORDER BY card_id DESC LIMIT 1")
    number, = _one(seeded, f"SELECT number FROM cards WHERE id = {card_id}")
    purchase(client, seeded, number)
    runtime = app.extensions["loyalpass"]
    Worker(sessions=runtime.sessions, sender=RecordingSender(), topic=pass_type(app),
           google=runtime.wallet.google).run_once()
    google = FakeGoogleWallet()
    sync = GoogleSync(sessions=runtime.sessions, client=google,
                      account=runtime.wallet.google, wallet=runtime.wallet)
    statements.catching(sync.run_once)
    assert google.calls, "the object was not patched"
    assert_indexed(seeded, statements.caught, "Google sync")


def test_google_callbacks_are_served_by_index(
        app: Flask, client: FlaskClient, seeded: Seeded, statements: Statements,
        root_key: ec.EllipticCurvePrivateKey) -> None:
    object_id, = _one(seeded, "SELECT object_id FROM google_objects ORDER BY card_id LIMIT 1")

    def callback(event_type: str) -> None:
        now = int(time.time() * 1000)
        body = sign_callback(
            {"classId": f"{dataset.GOOGLE_ISSUER}.loyalpass-program-1", "objectId": object_id,
             "expTimeMillis": now + 3_600_000, "eventType": event_type,
             "nonce": uuid.uuid4().hex},
            root_private_key=root_key, intermediate_private_key=ec.generate_private_key(
                ec.SECP256R1()), recipient_id=dataset.GOOGLE_ISSUER,
            intermediate_expires_ms=now + DAY_MS)
        response = client.post("/google/callback", data=json.dumps(body).encode(),
                               content_type="application/json")
        assert response.status_code == 200, response.get_json()

    statements.catching(lambda: (callback("del"), callback("save")))
    assert_indexed(seeded, statements.caught, "Google callbacks")


def test_the_card_page_by_its_link_is_served_by_index(
        client: FlaskClient, seeded: Seeded, statements: Statements) -> None:
    card_id, _ = busy_card(seeded)
    card = statements.catching(lambda: client.get(f"/api/v1/cards/{card_id}",
                                                  headers=owner(seeded)))
    assert card.status_code == 200, card.get_json()
    page = statements.catching(lambda: client.get(urlsplit(card.get_json()["card_url"]).path))
    assert page.status_code == 200
    assert_indexed(seeded, statements.caught, "card read and card page")


@pytest.mark.parametrize("query", ["коваль", "olena", "0671", "", "+380 50"])
def test_the_card_search_is_served_by_index(
        client: FlaskClient, seeded: Seeded, statements: Statements, query: str) -> None:
    response = statements.catching(lambda: client.get(
        f"/api/v1/programs/{seeded.data.program_id}/cards", query_string={"q": query},
        headers=owner(seeded)))
    assert response.status_code == 200, response.get_json()
    assert_indexed(seeded, statements.caught, f"card search {query!r}")


def test_the_seeded_ledger_keeps_the_ledger_invariants(seeded: Seeded) -> None:
    assert dataset.check(seeded.data.url) == dict.fromkeys(
        [*dataset.CHECKS, "tier is the one the last 12 months of spend earn"], 0)
