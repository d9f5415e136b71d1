"""Webhooks against a receiver on loopback: every change's events reach the merchant's
endpoint after commit, signed so that the README's check verifies them; a receiver that
fails for a while gets every event once it recovers, in order per card, none twice after
a 2xx; URLs and addresses inside the operator's network are refused unless the operator
allows them."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import create_app
from app.cards.models import Card
from app.clock import utcnow
from app.config import Config
from app.delivery.webhook_client import PinnedSender
from app.delivery.webhooks import (
    FIRST_DELAY,
    JITTER,
    MAX_ATTEMPTS,
    MAX_DELAY,
    RETRY_FOR,
    WebhookSync,
)
from app.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.conftest import Api, count_rows, new_merchant
from tests.webhook_receiver import Receiver

ALL_EVENTS = ["card.created", "card.installed", "card.removed", "purchase.created",
              "purchase.refunded", "points.changed", "tier.changed", "offer.published"]


@pytest.fixture
def config(config: Config) -> Config:
    return config.with_changes(webhooks_allow_private=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def sync(app: Flask, *, allow_private: bool = True, resolve: Any = None) -> WebhookSync:
    sender = (PinnedSender(allow_private=allow_private) if resolve is None
              else PinnedSender(allow_private=allow_private, resolve=resolve))
    return WebhookSync(sessions=app.extensions["loyalpass"].sessions, sender=sender)


def drain(channel: WebhookSync, session: Session, rounds: int = 50) -> None:
    """Rounds until nothing is pending, each round as if every retry had come due."""
    for _ in range(rounds):
        channel.run_once()
        session.rollback()
        session.execute(update(WebhookDelivery).where(WebhookDelivery.status == "pending")
                        .values(available_at=utcnow()))
        session.commit()
        pending = session.scalars(select(WebhookDelivery.id)
                                  .where(WebhookDelivery.status == "pending")).first()
        session.rollback()  # SQLite: no write lock held while the channel runs
        if pending is None:
            return
    raise AssertionError("deliveries still pending")


def register(api: Api, url: str, events: list[str] | None = None) -> dict[str, Any]:
    response = api.post("/api/v1/webhooks", {"url": url, "events": events or ALL_EVENTS})
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def enroll(api: Api, program: dict[str, Any], name: str) -> dict[str, Any]:
    response = api.post(f"/api/v1/programs/{program['id']}/cards",
                        {"name": name, "email": f"{name.lower()}@example.com"})
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def buy(api: Api, card: dict[str, Any], amount: int, key: str) -> dict[str, Any]:
    response = api.post("/api/v1/pos/purchases",
                        {"barcode": card["barcode"]["message"], "amount": amount},
                        headers={"Idempotency-Key": key})
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The README's verification, as a receiver would write it."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    timestamp = int(fields["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body,
                        hashlib.sha256).hexdigest()
    return (hmac.compare_digest(expected, fields["v1"])
            and abs(time.time() - timestamp) <= tolerance)


def test_each_event_arrives_signed_and_the_signature_verifies_with_the_secret(
        app: Flask, api: Api, program: dict[str, Any], session: Session,
        receiver: Receiver) -> None:
    endpoint = register(api, receiver.url)
    card = enroll(api, program, "Olena")
    purchase = buy(api, card, 10_000, "p-1")
    drain(sync(app), session)
    got = receiver.accepted()
    assert [json.loads(each.body)["type"] for each in got] == [
        "card.created", "purchase.created", "points.changed"]
    for each in got:
        assert verify(endpoint["secret"], each.headers["Loyalpass-Signature"], each.body)
        assert not verify("whsec_wrong", each.headers["Loyalpass-Signature"], each.body)
        assert not verify(endpoint["secret"], each.headers["Loyalpass-Signature"],
                          each.body.replace(b'"card_id":', b'"card_id": '))
    event = json.loads(got[1].body)
    assert set(event) == {"id", "type", "created_at", "data"}
    assert event["data"]["id"] == purchase["id"]
    assert event["data"]["balance"] == purchase["balance"]
    assert json.loads(got[2].body)["data"]["balance"] == purchase["balance"]


def test_a_receiver_failing_for_a_while_gets_every_event_after_it_recovers_in_order_per_card_and_none_twice(  # noqa: E501
        app: Flask, api: Api, program: dict[str, Any], session: Session,
        receiver: Receiver) -> None:
    register(api, receiver.url)
    cards = [enroll(api, program, name) for name in ("Olena", "Taras")]
    bought = {card["id"]: [buy(api, card, 10_000 * (n + 1), f"p-{card['id']}-{n}")["id"]
                           for n in range(3)] for card in cards}
    receiver.failing = True
    channel = sync(app)
    for _ in range(4):  # four rounds of failures, each retry brought forward
        channel.run_once()
        session.rollback()
        session.execute(update(WebhookDelivery).values(available_at=utcnow()))
        session.commit()
    assert receiver.received and not receiver.accepted()
    # While the first event of each card fails, nothing later of that card is tried.
    tried = {json.loads(each.body)["id"] for each in receiver.received}
    assert {json.loads(each.body)["type"] for each in receiver.received} == {"card.created"}
    assert len(tried) == 2
    receiver.failing = False
    drain(channel, session)
    accepted = [json.loads(each.body) for each in receiver.accepted()]
    ids = [event["id"] for event in accepted]
    assert len(ids) == len(set(ids)) == count_rows(session, WebhookDelivery) == 2 + 2 * 3 * 2
    for card in cards:
        of_card = [event for event in accepted if event["data"].get("card_id") == card["id"]]
        assert [event["type"] for event in of_card] == ["card.created"] + [
            "purchase.created", "points.changed"] * 3
        assert [event["data"]["id"] for event in of_card
                if event["type"] == "purchase.created"] == bought[card["id"]]
    before = len(receiver.received)
    channel.run_once()
    assert len(receiver.received) == before  # nothing sent twice after its 2xx


def test_a_merchant_without_an_endpoint_writes_no_delivery(
        app: Flask, api: Api, program: dict[str, Any], session: Session) -> None:
    card = enroll(api, program, "Olena")
    buy(api, card, 10_000, "p-1")
    assert count_rows(session, WebhookDelivery) == 0


def test_only_the_event_types_an_endpoint_took_are_delivered_to_it(
        app: Flask, api: Api, program: dict[str, Any], session: Session,
        receiver: Receiver) -> None:
    register(api, receiver.url, ["purchase.refunded", "offer.published"])
    card = enroll(api, program, "Olena")
    purchase = buy(api, card, 10_000, "p-1")
    refunded = api.post(f"/api/v1/pos/purchases/{purchase['id']}/refund", {},
                        headers={"Idempotency-Key": "r-1"})
    assert refunded.status_code == 201, refunded.get_json()
    offer = api.post(f"/api/v1/programs/{program['id']}/offers", {"title": "Coffee"})
    published = api.post(f"/api/v1/offers/{offer.get_json()['id']}/publish")
    assert published.status_code == 202
    drain(sync(app), session)
    events = {(event := json.loads(each.body))["type"]: event for each in receiver.accepted()}
    assert len(receiver.accepted()) == 2  # events of no card are not ordered with a card's
    assert set(events) == {"purchase.refunded", "offer.published"}
    assert events["purchase.refunded"]["data"]["purchase_id"] == purchase["id"]
    assert events["offer.published"]["data"]["offer_id"] == offer.get_json()["id"]
    assert events["offer.published"]["data"]["cards"] == published.get_json()["cards"]


def test_plain_http_and_private_addresses_are_refused_without_the_setting_and_nothing_is_made(
        config: Config, session: Session) -> None:
    strict = create_app(config.with_changes(webhooks_allow_private=False))
    try:
        with strict.extensions["loyalpass"].sessions() as own:
            api = new_merchant(strict.test_client(), own)
            for url in ("http://hooks.example.com/in", "https://127.0.0.1/in",
                        "https://10.1.2.3/in", "https://[::1]/in",
                        "https://169.254.169.254/latest", "https://localhost/in",
                        "https://[::ffff:192.168.0.1]/in", "https://100.64.0.1/in",
                        "https://user:pw@hooks.example.com/", "ftp://hooks.example.com/"):
                response = api.post("/api/v1/webhooks", {"url": url,
                                                         "events": ["card.created"]})
                assert response.status_code == 422, url
                assert response.get_json()["code"] == "webhook_url_refused", url
            assert count_rows(own, WebhookEndpoint) == 0
            assert register(api, "https://hooks.example.com/in")["url"] == (
                "https://hooks.example.com/in")
    finally:
        strict.extensions["loyalpass"].engine.dispose()


def test_an_unknown_event_type_is_refused_and_nothing_is_made(
        api: Api, session: Session) -> None:
    for events in (["card.exploded"], [], ["card.created", "card.created"], "card.created"):
        response = api.post("/api/v1/webhooks", {"url": "https://hooks.example.com/in",
                                                 "events": events})
        assert response.status_code == 422, events
    assert count_rows(session, WebhookEndpoint) == 0


def test_a_name_that_resolves_to_a_private_address_is_not_called_at_delivery(
        app: Flask, api: Api, program: dict[str, Any], session: Session,
        receiver: Receiver) -> None:
    register(api, f"https://hooks.example.com:{receiver.port}/hooks")
    enroll(api, program, "Olena")

    def to_loopback(host: str, port: int, **_: Any) -> list[Any]:
        return [(2, 1, 6, "", ("127.0.0.1", port))]

    sync(app, allow_private=False, resolve=to_loopback).run_once()
    session.rollback()
    delivery = session.scalars(select(WebhookDelivery)).one()
    session.rollback()
    assert receiver.received == []
    assert delivery.status == "pending" and delivery.attempts == 1
    assert "127.0.0.1 is not a public address" in (delivery.last_error or "")


def test_the_sender_connects_to_the_address_it_checked_and_names_the_host(
        receiver: Receiver) -> None:
    asked: list[str] = []

    def resolve(host: str, port: int, **_: Any) -> list[Any]:
        asked.append(host)
        return [(2, 1, 6, "", ("127.0.0.1", port))]

    sender = PinnedSender(allow_private=True, resolve=resolve)
    reply = sender.post(f"http://hooks.example.com:{receiver.port}/in?x=1", b"{}",
                        {"Content-Type": "application/json"})
    assert reply.delivered and reply.status == 204
    assert asked == ["hooks.example.com"]
    [got] = receiver.received
    assert got.headers["Host"] == f"hooks.example.com:{receiver.port}"
    assert got.path == "/in?x=1"


def test_a_redelivery_sends_the_same_event_again(
        app: Flask, api: Api, program: dict[str, Any], session: Session,
        receiver: Receiver) -> None:
    endpoint = register(api, receiver.url, ["card.created"])
    enroll(api, program, "Olena")
    channel = sync(app)
    drain(channel, session)
    log = api.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries").get_json()
    [delivery] = log["deliveries"]
    assert delivery["status"] == "sent" and delivery["last_status"] == 204
    again = api.post(f"/api/v1/webhooks/deliveries/{delivery['id']}/redeliver")
    assert again.status_code == 202 and again.get_json()["status"] == "pending"
    drain(channel, session)
    first, second = (json.loads(each.body) for each in receiver.accepted())
    assert first == second


def test_another_merchants_endpoint_and_deliveries_are_not_found_and_nothing_changes(
        app: Flask, api: Api, program: dict[str, Any], session: Session, client: Any,
        receiver: Receiver) -> None:
    endpoint = register(api, receiver.url, ["card.created"])
    enroll(api, program, "Olena")
    session.rollback()
    delivery_id = session.scalars(select(WebhookDelivery.id)).one()
    session.rollback()
    other = new_merchant(client, session, "Tea House")
    assert other.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries").status_code == 404
    assert other.client.delete(f"/api/v1/webhooks/{endpoint['id']}", headers={
        "Authorization": f"Bearer {other.key}"}).status_code == 404
    assert other.post(f"/api/v1/webhooks/deliveries/{delivery_id}/redeliver").status_code == 404
    assert other.get("/api/v1/webhooks").get_json() == {"webhooks": []}
    listed = api.get("/api/v1/webhooks").get_json()["webhooks"]
    assert [each["id"] for each in listed] == [endpoint["id"]]
    assert "secret" not in listed[0]
    assert count_rows(session, WebhookEndpoint) == 1


def test_an_endpoint_deleted_takes_its_deliveries_with_it(
        app: Flask, api: Api, program: dict[str, Any], session: Session,
        receiver: Receiver) -> None:
    endpoint = register(api, receiver.url, ["card.created"])
    enroll(api, program, "Olena")
    response = api.client.delete(f"/api/v1/webhooks/{endpoint['id']}",
                                 headers={"Authorization": f"Bearer {api.key}"})
    assert response.status_code == 200
    sync(app).run_once()
    assert receiver.received == []
    assert count_rows(session, WebhookDelivery) == count_rows(session, WebhookEndpoint) == 0


def test_retries_go_on_for_at_least_a_day_even_with_every_delay_at_its_shortest() -> None:
    waited = sum(min(MAX_DELAY, FIRST_DELAY * 2 ** (attempt - 1)) * (1 - JITTER)
                 for attempt in range(1, MAX_ATTEMPTS))
    assert waited >= RETRY_FOR.total_seconds()


def test_a_pass_added_and_later_refused_by_apns_is_heard_as_installed_then_removed(
        app: Flask, api: Api, client: Any, card: dict[str, Any], session: Session,
        receiver: Receiver) -> None:
    from app.delivery.pushes import Worker
    from tests.push_helpers import RecordingSender, install
    from tests.push_helpers import register as register_device

    register(api, receiver.url, ["card.installed", "card.removed"])
    installed = install(client, card)
    assert register_device(client, installed, "device-a", "aa" * 32) == 201
    assert register_device(client, installed, "device-a", "aa" * 32) == 200  # once only
    purchase = api.post("/api/v1/pos/purchases",
                        {"barcode": card["barcode"]["message"], "amount": 1_000},
                        headers={"Idempotency-Key": "p-apns"})
    assert purchase.status_code == 201
    runtime = app.extensions["loyalpass"]
    pushes = Worker(sessions=runtime.sessions, sender=RecordingSender({"aa" * 32: "unregistered"}),
                    topic=runtime.wallet.pass_type_identifier)
    while pushes.run_once():
        pass
    drain(sync(app), session)
    events = [json.loads(each.body) for each in receiver.accepted()]
    assert [(event["type"], event["data"]["wallet"], event["data"]["card_id"])
            for event in events] == [("card.installed", "apple", card["id"]),
                                     ("card.removed", "apple", card["id"])]


def test_cards_imported_from_a_file_each_arrive_as_card_created_like_a_joined_card(
        app: Flask, api: Api, program: dict[str, Any], session: Session,
        receiver: Receiver) -> None:
    register(api, receiver.url, ["card.created"])
    joined = enroll(api, program, "Olena")
    text = "name;email\nTaras;taras@example.com\nIryna;iryna@example.com\n"
    response = api.client.post(f"/api/v1/programs/{program['id']}/imports", data=text.encode(),
                               content_type="text/csv",
                               headers={"Authorization": f"Bearer {api.key}"})
    assert response.status_code in (200, 201), response.get_json()
    drain(sync(app), session)
    events = [json.loads(each.body) for each in receiver.accepted()]
    assert [event["type"] for event in events] == ["card.created"] * 3
    imported = [event["data"] for event in events if event["data"]["card_id"] != joined["id"]]
    assert len(imported) == 2 and {data["source"] for data in imported} == {"import"}
    assert set(imported[0]) == set(events[0]["data"])  # the same shape as a joined card's
    numbers = {data["number"] for data in imported}
    assert numbers == {card.number for card in session.query(Card).filter(
        Card.source == "import")}


def test_an_import_for_a_merchant_without_an_endpoint_writes_no_delivery(
        api: Api, program: dict[str, Any], session: Session) -> None:
    response = api.client.post(f"/api/v1/programs/{program['id']}/imports",
                               data=b"name;email\nTaras;taras@example.com\n",
                               content_type="text/csv",
                               headers={"Authorization": f"Bearer {api.key}"})
    assert response.status_code in (200, 201), response.get_json()
    assert count_rows(session, Card) == 1 and count_rows(session, WebhookDelivery) == 0
