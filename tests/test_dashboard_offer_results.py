"""The offer's page says what the offer did in one plain sentence, in the page's
language, with the figures of both groups; a published offer is ended from the page
(a second end is refused and changes nothing)."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.offers.models import Offer
from tests.conftest import Api
from tests.dashboard_helpers import csrf_of, merchant_with_owner, signed_in, snapshot
from tests.test_offer_results import EFFECT, generate


def verdict(page: str) -> str:
    found = re.search(r'data-figure="verdict">([^<]*)<', page)
    assert found is not None, "the page has no verdict"
    return html.unescape(found.group(1))


def _program(api: Api) -> dict[str, Any]:
    response = api.post("/api/v1/programs", {"name": "Kava Club", "currency": "UAH",
                                             "earn_percent": 2, "locales": ["uk", "en", "ru"]})
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def test_the_offer_page_says_the_offer_raised_spend_significantly_in_each_language(
        app: Flask, session: Session, client: FlaskClient) -> None:
    owner = merchant_with_owner(session)
    api = Api(client, owner.api_key)
    history = generate(session, api, _program(api), seed=14, effect=EFFECT)
    found = api.get(f"/api/v1/offers/{history.offer_id}/results").get_json()
    spend = found["difference"]["spend"]
    boss = signed_in(app, owner.owner_email)
    page = boss.get(f"/dashboard/offers/{history.offer_id}?lang=en").get_data(as_text=True)
    amount = f"{round(spend['estimate']) / 100:,.2f}".replace(".00", "")
    assert verdict(page).startswith(
        f"Customers who got the offer spent {amount}\u00a0UAH more each than the control group")
    assert verdict(page).endswith("that is significant.")
    assert f"{found['treated']['customers']} customers got the offer" in page
    ukrainian = verdict(boss.get(f"/dashboard/offers/{history.offer_id}?lang=uk")
                        .get_data(as_text=True))
    assert ukrainian.startswith("Клієнти, які отримали пропозицію, витратили кожен на")
    assert "більше, ніж контрольна група" in ukrainian
    assert ukrainian.endswith("це статистично значуще.")
    russian = verdict(boss.get(f"/dashboard/offers/{history.offer_id}?lang=ru")
                      .get_data(as_text=True))
    assert "больше" in russian and russian.endswith("это статистически значимо.")


def test_an_offer_without_a_control_group_says_it_cannot_be_measured_yet(
        app: Flask, session: Session, client: FlaskClient) -> None:
    owner = merchant_with_owner(session)
    api = Api(client, owner.api_key)
    program = _program(api)
    api.post(f"/api/v1/programs/{program['id']}/cards",
             {"name": "Only", "email": "only@example.com", "marketing_consent": True})
    offer = api.post(f"/api/v1/programs/{program['id']}/offers", {"title": "All"}).get_json()
    api.post(f"/api/v1/offers/{offer['id']}/publish")
    page = signed_in(app, owner.owner_email).get(
        f"/dashboard/offers/{offer['id']}?lang=en").get_data(as_text=True)
    assert "Too few customers to measure the offer" in page


def test_ending_an_offer_in_the_page_takes_it_off_and_a_second_end_is_refused(
        app: Flask, session: Session, client: FlaskClient) -> None:
    owner = merchant_with_owner(session)
    api = Api(client, owner.api_key)
    program = _program(api)
    offer = api.post(f"/api/v1/programs/{program['id']}/offers", {"title": "All"}).get_json()
    api.post(f"/api/v1/offers/{offer['id']}/publish")
    boss = signed_in(app, owner.owner_email)
    path = f"/dashboard/offers/{offer['id']}"
    assert "End the offer now" in boss.get(f"{path}?lang=en").get_data(as_text=True)
    ended = boss.post(f"{path}/end", data={"csrf": csrf_of(boss, "/dashboard/")})
    assert ended.status_code == 302
    page = boss.get(ended.headers["Location"]).get_data(as_text=True)
    assert "Ended. It is leaving the passes now." in page
    assert "End the offer now" not in page
    assert session.get(Offer, offer["id"]).status == "ended"  # type: ignore[union-attr]
    session.rollback()
    before = snapshot(session)
    again = boss.post(f"{path}/end", data={"csrf": csrf_of(boss, "/dashboard/")})
    assert again.status_code == 409
    assert "This offer has ended already." in again.get_data(as_text=True)
    assert snapshot(session) == before


def test_an_offer_starting_later_is_scheduled_from_the_page_and_can_be_cancelled(
        app: Flask, session: Session, client: FlaskClient) -> None:
    owner = merchant_with_owner(session)
    api = Api(client, owner.api_key)
    program = _program(api)
    later = (utcnow() + timedelta(days=3)).isoformat() + "Z"
    offer = api.post(f"/api/v1/programs/{program['id']}/offers",
                     {"title": "Next week", "starts_at": later}).get_json()
    boss = signed_in(app, owner.owner_email)
    path = f"/dashboard/offers/{offer['id']}"
    assert "Schedule it for its start" in boss.get(f"{path}?lang=en").get_data(as_text=True)
    scheduled = boss.post(f"{path}/publish", data={"csrf": csrf_of(boss, "/dashboard/")})
    assert scheduled.status_code == 302
    page = boss.get(scheduled.headers["Location"]).get_data(as_text=True)
    assert "Scheduled: it is published to its audience when it starts" in page
    assert "Cancel before it starts" in page
    cancelled = boss.post(f"{path}/end", data={"csrf": csrf_of(boss, "/dashboard/")})
    assert cancelled.status_code == 302
    assert api.get(f"/api/v1/offers/{offer['id']}").get_json()["status"] == "ended"
