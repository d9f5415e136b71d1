"""``GET|PUT /api/v1/programs/{id}/automations``: a merchant switches rules on with their
texts, reads them back, and every bad request is refused with nothing changed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.automations.models import AutomationRule, AutomationSettings
from app.merchants.models import Program
from app.merchants.service import create_api_key
from app.offers.models import Offer
from tests.conftest import Api, count_rows, new_merchant


def _put(api: Api, program_id: int, body: Any) -> Any:
    return api.client.put(f"/api/v1/programs/{program_id}/automations",
                          data=json.dumps(body), content_type="application/json",
                          headers={"Authorization": f"Bearer {api.key}"})


def _url(program: dict[str, Any]) -> str:
    return f"/api/v1/programs/{program['id']}/automations"


BIRTHDAY = {"enabled": True, "title": {"uk": "З днем народження!", "en": "Happy birthday!"},
            "body": {"uk": "Кава в подарунок цього тижня", "en": "A free coffee this week"},
            "holdout_percent": 10, "when": "week", "valid_days": 5}


def test_rules_start_off_with_their_defaults(api: Api, program: dict[str, Any]) -> None:
    answer = api.get(_url(program)).get_json()

    assert answer["weekly_cap"] == 2 and answer["pause_over_budget"] is True
    assert set(answer["rules"]) == {"welcome", "birthday", "we_miss_you", "tier_upgrade"}
    assert answer["rules"]["we_miss_you"] == {
        "enabled": False, "title": None, "body": None, "holdout_percent": 0, "valid_days": 7,
        "offer_id": None, "floor_days": 14, "max_days": 365}


def test_a_rule_switched_on_is_answered_back_with_its_automatic_offer(
        api: Api, program: dict[str, Any]) -> None:
    response = _put(api, program["id"], {"weekly_cap": 3, "rules": {"birthday": BIRTHDAY}})

    assert response.status_code == 200, response.get_json()
    rule = response.get_json()["rules"]["birthday"]
    assert {key: rule[key] for key in BIRTHDAY} == BIRTHDAY
    assert api.get(_url(program)).get_json() == response.get_json()
    offer = api.get(f"/api/v1/offers/{rule['offer_id']}").get_json()
    assert offer["automatic"] is True and offer["title"] == BIRTHDAY["title"]
    assert offer["status"] == "active" and offer["audience"] == {"holdout_percent": 10}


def test_what_a_put_leaves_out_keeps_its_value(api: Api, program: dict[str, Any]) -> None:
    _put(api, program["id"], {"weekly_cap": 4, "rules": {"birthday": BIRTHDAY}})

    answer = _put(api, program["id"], {"rules": {"birthday": {"enabled": False}}}).get_json()

    assert answer["weekly_cap"] == 4
    assert answer["rules"]["birthday"] == {**answer["rules"]["birthday"],
                                           **{**BIRTHDAY, "enabled": False}}


@pytest.mark.parametrize(("body", "field"), [
    ({"rules": {"welcome": {"enabled": True}}}, "rules.welcome.title"),
    ({"rules": {"welcome": {"enabled": True, "title": {"ru": "Привет"}}}},
     "rules.welcome.title.uk"),  # the program's first language is needed
    ({"rules": {"birthday": {"title": "Hi", "when": "month"}}}, "rules.birthday.when"),
    ({"rules": {"birthday": {"title": "Hi", "days": 3}}}, "rules.birthday.days"),
    ({"rules": {"welcome": {"title": "Hi", "holdout_percent": 95}}},
     "rules.welcome.holdout_percent"),
    ({"rules": {"welcome": {"title": "Hi", "enabled": 1}}}, "rules.welcome.enabled"),
    ({"rules": {"we_miss_you": {"title": "Hi", "floor_days": True}}},
     "rules.we_miss_you.floor_days"),
    ({"rules": {"sometimes": {}}}, "rules.sometimes"),
    ({"weekly_cap": -1}, "weekly_cap"),
    ({"weekly_cap": 2**70}, "weekly_cap"),
    ({"pause_over_budget": "no"}, "pause_over_budget"),
])
def test_bad_settings_are_refused_and_nothing_changed(
        api: Api, program: dict[str, Any], session: Session, body: dict[str, Any],
        field: str) -> None:
    response = _put(api, program["id"], body)

    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    assert problem["code"] == "invalid"
    assert field in {error["field"] for error in problem["errors"]}
    for model in (AutomationRule, AutomationSettings):
        assert count_rows(session, model) == 0
    assert count_rows(session, Offer) == 0


def test_a_body_that_is_not_json_is_a_400(api: Api, program: dict[str, Any]) -> None:
    response = api.client.put(_url(program), data=b"{", content_type="application/json",
                              headers={"Authorization": f"Bearer {api.key}"})
    assert response.status_code == 400
    assert response.get_json()["code"] == "malformed_body"


def test_analysts_read_the_automations_and_only_owners_and_managers_change_them(
        api: Api, program: dict[str, Any], client: FlaskClient, session: Session) -> None:
    merchant_id = session.get(Program, program["id"]).merchant_id  # type: ignore[union-attr]
    keys = {role: Api(client, create_api_key(session, merchant_id=merchant_id, role=role))
            for role in ("manager", "cashier", "analyst")}

    assert keys["analyst"].get(_url(program)).status_code == 200
    assert keys["cashier"].get(_url(program)).status_code == 403
    for role in ("cashier", "analyst"):
        assert _put(keys[role], program["id"], {"weekly_cap": 5}).status_code == 403
    assert count_rows(session, AutomationSettings) == 0
    assert _put(keys["manager"], program["id"], {"weekly_cap": 5}).status_code == 200


def test_another_merchants_program_is_a_404_and_nothing_changed(
        api: Api, program: dict[str, Any], client: FlaskClient, session: Session) -> None:
    theirs = new_merchant(client, session, "Chai Shop")

    assert theirs.get(_url(program)).status_code == 404
    response = _put(theirs, program["id"], {"rules": {"birthday": BIRTHDAY}})
    assert response.status_code == 404
    assert count_rows(session, AutomationRule) == 0
