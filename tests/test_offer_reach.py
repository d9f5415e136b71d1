"""An offer's reach (``GET /api/v1/offers/{id}/reach``): every device of the cards it
reached counts as pending until the worker has pushed it, then as sent or, parked after
an error, as failed; the control group and the cards outside the audience are not
counted; a draft reaches nothing."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from app.delivery.pushes import Worker
from tests.conftest import Api
from tests.push_helpers import RecordingSender, install, register

DELIVERED, PARKED = "d1" * 32, "e2" * 32


def _card_on_devices(api: Api, client: FlaskClient, program: dict[str, Any],
                     tokens: list[str], *, consent: bool = True) -> None:
    card = api.post(f"/api/v1/programs/{program['id']}/cards", {
        "name": "Holder", "email": f"{uuid.uuid4().hex[:8]}@example.com",
        "marketing_consent": consent}).get_json()
    installed = install(client, card)
    for token in tokens:
        assert register(client, installed, f"device-{token[:6]}", token) == 201


def _drain(app: Flask, sender: RecordingSender) -> None:
    runtime = app.extensions["loyalpass"]
    worker = Worker(sessions=runtime.sessions, sender=sender,
                    topic=runtime.wallet.pass_type_identifier)
    while worker.run_once():
        pass


def test_an_offers_devices_are_pending_until_pushed_then_sent_or_failed(
        app: Flask, api: Api, client: FlaskClient, program: dict[str, Any]) -> None:
    sender = RecordingSender({PARKED: "error"})
    _card_on_devices(api, client, program, [DELIVERED, PARKED])
    _card_on_devices(api, client, program, ["f3" * 32], consent=False)  # not in the audience
    _drain(app, sender)  # the enrolments' own pushes, out of the way
    offer = api.post(f"/api/v1/programs/{program['id']}/offers",
                     {"title": "Free croissant"}).get_json()
    draft = api.get(f"/api/v1/offers/{offer['id']}/reach").get_json()
    assert draft["cards"] == 0 and draft["devices"] == 0
    assert api.post(f"/api/v1/offers/{offer['id']}/publish", {}).get_json()["cards"] == 1
    waiting = api.get(f"/api/v1/offers/{offer['id']}/reach").get_json()
    assert (waiting["cards"], waiting["devices"]) == (1, 2)
    assert waiting["pushes"] == {"sent": 0, "failed": 0, "pending": 2}
    _drain(app, sender)
    done = api.get(f"/api/v1/offers/{offer['id']}/reach").get_json()
    assert done["pushes"] == {"sent": 1, "failed": 1, "pending": 0}
    assert done["google_messages"] == {"sent": 0, "failed": 0, "pending": 0}


def test_another_merchants_offer_has_no_reach_to_read(
        api: Api, client: FlaskClient, session: Any, program: dict[str, Any]) -> None:
    from tests.conftest import new_merchant

    offer = api.post(f"/api/v1/programs/{program['id']}/offers",
                     {"title": "Free croissant"}).get_json()
    other = new_merchant(client, session, "Chai Shop")
    assert other.get(f"/api/v1/offers/{offer['id']}/reach").status_code == 404
