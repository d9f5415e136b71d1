"""The offers, alerts and staff activity pages over HTTP: composing an offer in the
program's languages, its preview on a pass, publishing it as the API does and reading
how far it got (in the page and from the API); alerts listed newest first with their
card, acknowledged and their card blocked; the action log filtered by member and day."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cards.models import Card
from app.clock import utcnow
from app.ledger.models import Alert
from app.merchants.models import Program, StaffEvent
from app.merchants.schemas import ProgramCreate
from app.merchants.service import create_program
from app.offers.models import CardOffer, Offer
from tests.conftest import Api
from tests.dashboard_helpers import (
    csrf_of,
    location,
    member,
    merchant_with_owner,
    signed_in,
    snapshot,
    velocity_alert,
)

TIERS = [{"name": {"en": "Silver", "uk": "Срібло"}, "key": "silver", "min_spend": 0,
          "earn_percent": 3},
         {"name": {"en": "Gold", "uk": "Золото"}, "key": "gold", "min_spend": 100_000,
          "earn_percent": 5}]


@pytest.fixture(autouse=True)
def _loaded_objects_stay(session: Session) -> None:
    session.expire_on_commit = False


def release(session: Session) -> None:
    """End the test's transaction (on SQLite it holds the write lock the pages need),
    keeping what was read as it was read."""
    session.expunge_all()
    session.rollback()


def _post(client: FlaskClient, path: str, form: dict[str, Any]) -> Any:
    return client.post(path, data={**form, "csrf": csrf_of(client, "/dashboard/")})


def _program(session: Session, merchant_id: int, **values: Any) -> Program:
    program = create_program(session, merchant_id=merchant_id, data=ProgramCreate(
        name="Kava Club", locales=["uk", "en"], tiers=TIERS, **values))
    release(session)
    return program


def _compose(client: FlaskClient, program: Program, **form: Any) -> Any:
    return _post(client, f"/dashboard/programs/{program.id}/offers/new", {
        "title_uk": "Круасан у подарунок", "title_en": "A free croissant",
        "body_uk": "До будь-якої кави", "promotional": "y", **form})


def test_an_owner_composes_an_offer_in_two_languages_and_sees_it_on_a_pass(
        app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    program = _program(session, owner.merchant_id)
    boss = signed_in(app, owner.owner_email)
    response = _compose(boss, program, tiers="gold", inactive_days="30",
                        ends_on=(utcnow() + timedelta(days=7)).date().isoformat())
    assert response.status_code == 302, response.get_data(as_text=True)
    offer = session.scalars(select(Offer)).one()
    assert offer.title_texts == {"uk": "Круасан у подарунок", "en": "A free croissant"}
    assert offer.audience == {"tiers": ["gold"], "inactive_days": 30}
    assert offer.status == "draft"
    offer_id = offer.id
    release(session)
    page = boss.get(response.headers["Location"] + "?lang=uk").get_data(as_text=True)
    assert "Круасан у подарунок" in page and "Золото" in page
    picture = boss.get(f"/dashboard/offers/{offer_id}/preview.png")
    assert picture.status_code == 200 and picture.mimetype == "image/png"
    with Image.open(io.BytesIO(picture.data)) as image:
        assert image.size[0] == (375 + 32) * 2
    assert session.scalars(select(Card)).all() == []  # the sample card is nowhere
    assert [event.action for event in session.scalars(select(StaffEvent).where(
        StaffEvent.action.like("offer.%")))] == ["offer.created"]


def test_an_offer_without_a_title_in_the_first_language_is_refused_and_nothing_changes(
        app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    program = _program(session, owner.merchant_id)
    boss = signed_in(app, owner.owner_email)
    before = snapshot(session)
    response = _compose(boss, program, title_uk="")
    assert response.status_code == 422
    assert "Fill in this field." in response.get_data(as_text=True)
    assert _compose(boss, program, tiers="platinum").status_code == 422
    assert _compose(boss, program, inactive_days="0").status_code == 422
    ended = _compose(boss, program, starts_on="2030-01-10", ends_on="2030-01-01")
    assert ended.status_code == 422
    assert snapshot(session) == before


def test_publishing_in_the_page_reaches_the_tier_and_the_api_says_the_same_figures(
        app: Flask, session: Session, client: FlaskClient) -> None:
    owner = merchant_with_owner(session)
    api = Api(client, owner.api_key)
    program = _program(session, owner.merchant_id)
    cards = [api.post(f"/api/v1/programs/{program.id}/cards", {
        "name": f"N{number}", "email": f"{uuid.uuid4().hex[:8]}@example.com",
        "marketing_consent": True}).get_json() for number in range(3)]
    session.execute(Card.__table__.update().where(Card.id == cards[0]["id"])
                    .values(tier="gold"))
    session.commit()
    boss = signed_in(app, owner.owner_email)
    _compose(boss, program, tiers="gold")
    offer_id = session.scalars(select(Offer.id)).one()
    release(session)
    draft = boss.get(f"/dashboard/offers/{offer_id}").get_data(as_text=True)
    assert "Published now, it reaches 1 card." in draft  # of three, one in the tier
    published = _post(boss, f"/dashboard/offers/{offer_id}/publish", {})
    assert published.status_code == 302
    assert session.scalars(select(CardOffer.card_id)).all() == [cards[0]["id"]]
    release(session)
    page = boss.get(published.headers["Location"]).get_data(as_text=True)
    assert 'data-figure="cards">1<' in page
    figures = api.get(f"/api/v1/offers/{offer_id}/reach").get_json()
    assert figures == {"cards": 1, "held_out": 0, "devices": 0,
                       "pushes": {"sent": 0, "failed": 0, "pending": 0},
                       "google_objects": 0,
                       "google_messages": {"sent": 0, "failed": 0, "pending": 0}}
    again = _post(boss, f"/dashboard/offers/{offer_id}/publish", {})
    assert again.status_code == 409
    assert "published already" in again.get_data(as_text=True)


def test_an_analyst_reads_the_offer_but_is_offered_no_publishing(
        app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    program = _program(session, owner.merchant_id)
    member(session, owner.merchant_id, "analyst", "ana@kavabar.example")
    _compose(signed_in(app, owner.owner_email), program)
    offer_id = session.scalars(select(Offer.id)).one()
    release(session)
    analyst = signed_in(app, "ana@kavabar.example")
    page = analyst.get(f"/dashboard/offers/{offer_id}").get_data(as_text=True)
    assert "Круасан" in page or "croissant" in page
    assert "/publish" not in page
    assert "New offer" not in analyst.get("/dashboard/offers").get_data(as_text=True)


def test_alerts_are_listed_newest_first_acknowledged_and_their_card_blocked(
        app: Flask, session: Session, client: FlaskClient) -> None:
    owner = merchant_with_owner(session)
    program = _program(session, owner.merchant_id)
    first = velocity_alert(session, program, None)
    boss = signed_in(app, owner.owner_email)
    raised = session.get(Alert, first)
    assert raised is not None
    card_id = raised.card_id
    newer = Alert(merchant_id=owner.merchant_id, program_id=program.id,
                  card_id=card_id, kind="velocity_limit", detail="again")
    session.add(newer)
    session.commit()
    newer_id = newer.id
    release(session)
    page = boss.get("/dashboard/alerts").get_data(as_text=True)
    assert page.index(f'id="alert-{newer_id}"') < page.index(f'id="alert-{first}"')
    card = session.get(Card, card_id)
    assert card is not None and card.number in page
    release(session)
    assert _post(boss, f"/dashboard/alerts/{first}/acknowledge", {}).status_code == 302
    assert _post(boss, f"/dashboard/alerts/{first}/block", {}).status_code == 302
    release(session)
    assert session.get(Alert, first).acknowledged_at is not None  # type: ignore[union-attr]
    assert session.get(Alert, newer_id).acknowledged_at is None  # type: ignore[union-attr]
    assert session.get(Card, card_id).status == "blocked"  # type: ignore[union-attr]
    release(session)
    api = Api(client, owner.api_key)
    listed = api.get(f"/api/v1/alerts?program={program.id}").get_json()["alerts"]
    assert [alert["id"] for alert in listed] == [newer_id, first]
    assert listed[1]["acknowledged_by_staff_id"] is not None
    acknowledged = api.post(f"/api/v1/alerts/{newer_id}/acknowledge", {}).get_json()
    assert acknowledged["acknowledged_at"] and acknowledged["acknowledged_by_api_key_id"]
    before = snapshot(session)
    assert api.post(f"/api/v1/alerts/{newer_id}/acknowledge", {}).get_json() == acknowledged
    assert snapshot(session) == before


def test_a_manager_limited_to_a_location_sees_only_the_alerts_raised_there(
        app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    program = _program(session, owner.merchant_id)
    here = location(session, owner.merchant_id, program.id, "Podil")
    there = location(session, owner.merchant_id, program.id, "Obolon")
    seen = velocity_alert(session, program, here)
    other = _program(session, owner.merchant_id)
    unseen = velocity_alert(session, other, there)
    member(session, owner.merchant_id, "manager", "max@kavabar.example", (here,))
    manager = signed_in(app, "max@kavabar.example")
    page = manager.get("/dashboard/alerts").get_data(as_text=True)
    assert f'id="alert-{seen}"' in page and f'id="alert-{unseen}"' not in page
    before = snapshot(session)
    assert _post(manager, f"/dashboard/alerts/{unseen}/acknowledge", {}).status_code == 404
    assert snapshot(session) == before


def test_the_action_log_filters_by_member_location_and_day(
        app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    program = _program(session, owner.merchant_id)
    here = location(session, owner.merchant_id, program.id, "Podil")
    member(session, owner.merchant_id, "manager", "max@kavabar.example", (here,))
    manager = signed_in(app, "max@kavabar.example")
    _compose(manager, program)
    boss = signed_in(app, owner.owner_email)
    staff_ids = dict(session.execute(select(StaffEvent.action, StaffEvent.actor_staff_id)
                                     .where(StaffEvent.action == "offer.created")).all())
    release(session)
    everything = boss.get("/dashboard/activity").get_data(as_text=True)
    assert "wrote an offer" in everything and "owner@kavabar.example" in everything
    only_max = boss.get(f"/dashboard/activity?member={staff_ids['offer.created']}"
                        ).get_data(as_text=True)
    assert "wrote an offer" in only_max
    assert "owner@kavabar.example" not in only_max.split("<tbody>")[1]
    at_podil = boss.get(f"/dashboard/activity?location={here}").get_data(as_text=True)
    assert "wrote an offer" in at_podil and "Podil" in at_podil
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    later = boss.get(f"/dashboard/activity?since={tomorrow}").get_data(as_text=True)
    assert "wrote an offer" not in later and "Nothing here." in later
    odd = boss.get("/dashboard/activity?member=abc&since=yesterday")
    assert odd.status_code == 200 and "wrote an offer" in odd.get_data(as_text=True)
