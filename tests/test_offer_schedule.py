"""Offers by the clock: one published ahead of its start is scheduled and the worker
publishes it once when it starts; one whose end passes, or that is ended by hand, leaves
every pass it was on and those passes are pushed, once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.delivery.pushes import Worker
from app.delivery.workers import make_workers
from app.integrations.fakes import FakePushSender
from app.merchants.service import create_api_key
from app.offers.models import CardOffer, Offer
from app.offers.schedule import end_due_offers, publish_due_offers
from app.outbox.models import OutboxMessage
from tests.conftest import Api, count_rows, new_merchant
from tests.push_helpers import install, pass_json, register
from tests.test_offers import create, enroll


def shown(client: FlaskClient, card: dict[str, Any]) -> str:
    document = pass_json(client.get(urlsplit(card["apple_pass_url"]).path).data)
    back = {field["key"]: field for field in document["storeCard"]["backFields"]}
    return str(back["offers_now"]["value"])


def push_loop(app: Flask, sender: FakePushSender) -> Worker:
    (push,) = [loop for loop in make_workers(app.extensions["loyalpass"], push_sender=sender)
               if isinstance(loop, Worker)]
    return push


def drain(push: Worker) -> None:
    while push.run_once():
        pass


def in_hours(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def test_a_scheduled_offer_is_published_once_when_it_starts(
        api: Api, program: dict[str, Any], client: FlaskClient, session: Session) -> None:
    card = enroll(api, program, "early@example.com")
    offer = create(api, program, starts_at=in_hours(1)).get_json()
    assert api.post(f"/api/v1/offers/{offer['id']}/publish").get_json()["status"] == "scheduled"
    session.rollback()
    assert publish_due_offers(session, now=utcnow() + timedelta(minutes=30)) == 0
    assert count_rows(session, CardOffer) == 0
    assert shown(client, card) == "Зараз пропозицій немає"
    outbox = count_rows(session, OutboxMessage)
    started = utcnow() + timedelta(hours=1, seconds=1)
    assert publish_due_offers(session, now=started) == 1
    assert publish_due_offers(session, now=started + timedelta(minutes=1)) == 0
    assert count_rows(session, CardOffer) == 1
    assert count_rows(session, OutboxMessage) == outbox + 1  # the offer's push
    answer = api.get(f"/api/v1/offers/{offer['id']}").get_json()
    assert answer["status"] == "active" and answer["published_at"] is not None
    assert shown(client, card) == "Free croissant"


def test_an_offer_whose_end_passes_leaves_its_passes_and_they_are_pushed_once(
        app: Flask, api: Api, program: dict[str, Any], client: FlaskClient,
        session: Session) -> None:
    card = enroll(api, program, "ends@example.com")
    assert register(client, install(client, card), "device-a", "aa" * 32) == 201
    sender = FakePushSender()
    push = push_loop(app, sender)
    offer = create(api, program, ends_at=in_hours(1)).get_json()
    assert api.post(f"/api/v1/offers/{offer['id']}/publish").get_json()["cards"] == 1
    drain(push)
    assert shown(client, card) == "Free croissant"
    sent_before = len(sender.sent)
    session.rollback()
    assert end_due_offers(session, now=utcnow() + timedelta(minutes=30)) == 0
    assert end_due_offers(session, now=utcnow() + timedelta(hours=2)) == 1
    assert end_due_offers(session, now=utcnow() + timedelta(hours=3)) == 0
    drain(push)
    assert [token for token, _ in sender.sent[sent_before:]] == ["aa" * 32]
    assert shown(client, card) == "Зараз пропозицій немає"
    answer = api.get(f"/api/v1/offers/{offer['id']}").get_json()
    assert answer["status"] == "ended" and answer["ended_at"] is not None
    lookup = api.post("/api/v1/pos/lookup", {"barcode": card["number"]}).get_json()
    assert lookup["offers"] == []


def test_ending_an_offer_by_hand_takes_it_off_now_and_a_second_end_changes_nothing(
        app: Flask, api: Api, program: dict[str, Any], client: FlaskClient,
        session: Session) -> None:
    card = enroll(api, program, "byhand@example.com")
    assert register(client, install(client, card), "device-b", "bb" * 32) == 201
    sender = FakePushSender()
    push = push_loop(app, sender)
    offer = create(api, program).get_json()
    api.post(f"/api/v1/offers/{offer['id']}/publish")
    drain(push)
    sent_before = len(sender.sent)
    ended = api.post(f"/api/v1/offers/{offer['id']}/end")
    assert ended.status_code == 200
    body = ended.get_json()
    assert body["status"] == "ended" and body["passes"] == 1 and body["ends_at"] is not None
    drain(push)
    assert [token for token, _ in sender.sent[sent_before:]] == ["bb" * 32]
    assert shown(client, card) == "Зараз пропозицій немає"
    outbox = count_rows(session, OutboxMessage)
    again = api.post(f"/api/v1/offers/{offer['id']}/end")
    assert again.status_code == 409 and again.get_json()["code"] == "offer_ended"
    assert count_rows(session, OutboxMessage) == outbox
    assert end_due_offers(session, now=utcnow() + timedelta(days=1)) == 0


def test_a_draft_cannot_be_ended_and_a_scheduled_offer_ended_is_never_published(
        api: Api, program: dict[str, Any], session: Session) -> None:
    enroll(api, program, "never@example.com")
    draft = create(api, program).get_json()
    refused = api.post(f"/api/v1/offers/{draft['id']}/end")
    assert refused.status_code == 409 and refused.get_json()["code"] == "offer_not_published"
    assert api.get(f"/api/v1/offers/{draft['id']}").get_json()["status"] == "draft"
    later = create(api, program, starts_at=in_hours(1)).get_json()
    api.post(f"/api/v1/offers/{later['id']}/publish")
    assert api.post(f"/api/v1/offers/{later['id']}/end").get_json()["passes"] == 0
    session.rollback()
    assert publish_due_offers(session, now=utcnow() + timedelta(hours=2)) == 0
    assert count_rows(session, CardOffer) == 0


def test_only_writers_of_the_merchant_may_end_an_offer_and_nothing_changes_otherwise(
        api: Api, program: dict[str, Any], client: FlaskClient, session: Session) -> None:
    enroll(api, program, "guarded@example.com")
    offer = create(api, program).get_json()
    api.post(f"/api/v1/offers/{offer['id']}/publish")
    other = new_merchant(client, session, "Other Cafe")
    assert other.post(f"/api/v1/offers/{offer['id']}/end").status_code == 404
    merchant_id = session.get(Offer, offer["id"]).merchant_id  # type: ignore[union-attr]
    for role in ("cashier", "analyst"):
        key = Api(client, create_api_key(session, merchant_id=merchant_id, role=role))
        assert key.post(f"/api/v1/offers/{offer['id']}/end").status_code == 403
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Offer)
                          .where(Offer.status == "ended")) == 0
    session.rollback()
    assert api.get(f"/api/v1/offers/{offer['id']}").get_json()["status"] == "active"


def test_two_workers_at_once_publish_a_scheduled_offer_once(
        app: Flask, api: Api, program: dict[str, Any], session: Session) -> None:
    for number in range(5):
        enroll(api, program, f"race{number}@example.com")
    offer = create(api, program, starts_at=in_hours(1)).get_json()
    api.post(f"/api/v1/offers/{offer['id']}/publish")
    session.rollback()
    outbox = count_rows(session, OutboxMessage)
    sessions = app.extensions["loyalpass"].sessions
    started = utcnow() + timedelta(hours=2)
    together = threading.Barrier(2)

    def worker() -> int:
        with sessions() as own:
            together.wait()
            return publish_due_offers(own, now=started)

    with ThreadPoolExecutor(2) as pool:
        published = [future.result() for future in [pool.submit(worker) for _ in range(2)]]
    assert sorted(published) == [0, 1]
    assert count_rows(session, CardOffer) == 5
    assert count_rows(session, OutboxMessage) == outbox + 1
