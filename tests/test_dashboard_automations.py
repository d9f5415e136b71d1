"""The automatic offers page over HTTP: an owner switches a rule on with its texts in
the program's languages and sees them saved, as the API reads them; a bad number or a
rule switched on without its title is shown again with the field marked and nothing
changed; an analyst reads the page and cannot save."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.automations.service import automations_of
from app.merchants.models import Program
from app.merchants.schemas import ProgramCreate
from app.merchants.service import create_program
from tests.dashboard_helpers import csrf_of, member, merchant_with_owner, signed_in, snapshot


def _setup(session: Session) -> tuple[int, str]:
    ours = merchant_with_owner(session, "Kava Bar")
    program = create_program(session, merchant_id=ours.merchant_id, data=ProgramCreate(
        name="Kava Club", locales=["uk", "en"]))
    program_id = program.id
    session.rollback()
    return program_id, ours.owner_email


def _post(client: FlaskClient, path: str, form: dict[str, Any]) -> Any:
    return client.post(path, data={**form, "csrf": csrf_of(client, "/dashboard/")})


FORM = {"weekly_cap": "3", "pause_over_budget": "y", "birthday-enabled": "y",
        "birthday-title-uk": "З днем народження!", "birthday-title-en": "Happy birthday!",
        "birthday-body-uk": "Кава в подарунок", "birthday-when": "week",
        "birthday-holdout_percent": "10", "birthday-valid_days": "5"}


def test_an_owner_switches_the_birthday_rule_on_and_sees_it_saved(
        app: Flask, session: Session) -> None:
    program_id, owner = _setup(session)
    client = signed_in(app, owner)
    path = f"/dashboard/programs/{program_id}/automations"

    response = _post(client, path, FORM)

    assert response.status_code == 302 and response.headers["Location"].endswith("saved=1")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "З днем народження!" in page and 'value="week" selected' in page
    program = session.get(Program, program_id)
    assert program is not None
    saved = automations_of(session, program=program)
    birthday = next(rule for rule in saved.rules if rule.kind == "birthday")
    assert saved.weekly_cap == 3 and saved.pause_over_budget is True
    assert birthday.enabled and birthday.holdout_percent == 10 and birthday.valid_days == 5
    assert birthday.title == {"uk": "З днем народження!", "en": "Happy birthday!"}
    assert birthday.body == {"uk": "Кава в подарунок"} and birthday.settings["when"] == "week"
    assert not next(rule for rule in saved.rules if rule.kind == "welcome").enabled


def test_a_bad_form_is_shown_again_with_the_field_marked_and_nothing_changed(
        app: Flask, session: Session) -> None:
    program_id, owner = _setup(session)
    client = signed_in(app, owner)
    path = f"/dashboard/programs/{program_id}/automations"
    before = snapshot(session)

    for form, field in [({**FORM, "birthday-holdout_percent": "95"}, "birthday-holdout_percent"),
                        ({**FORM, "weekly_cap": "many"}, "weekly_cap"),
                        ({"welcome-enabled": "y"}, "welcome-title-uk")]:
        response = _post(client, path, form)
        assert response.status_code == 422, field
        page = response.get_data(as_text=True)
        assert f'id="{field}-error"' in page, field
    assert snapshot(session) == before


def test_an_analyst_reads_the_page_without_a_save_button(app: Flask, session: Session
                                                         ) -> None:
    program_id, _ = _setup(session)
    program = session.get(Program, program_id)
    assert program is not None
    member(session, program.merchant_id, "analyst", "analyst@kavabar.example")
    client = signed_in(app, "analyst@kavabar.example")

    page = client.get(f"/dashboard/programs/{program_id}/automations").get_data(as_text=True)

    assert 'name="weekly_cap"' in page and ' disabled' in page
    assert 'id="save-automations"' not in page
