"""The program editor and the locations pages through the dashboard's session: a change is
saved through the API's own rules, refused values come back beside their fields in the
page's language with nothing changed, the preview draws unsaved values, a change says how
many passes it redraws, uploads are checked as the API checks them, and each location's
QR code and posters download."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cards.models import Card
from app.merchants.models import Location, Program
from app.merchants.schemas import ProgramCreate
from app.merchants.service import create_program
from tests.dashboard_helpers import csrf_of, location, member, merchant_with_owner, signed_in


@pytest.fixture
def kava(session: Session) -> dict[str, Any]:
    ours = merchant_with_owner(session, "Kava Bar")
    program = create_program(session, merchant_id=ours.merchant_id, data=ProgramCreate(
        name={"uk": "Кава Клуб", "en": "Coffee Club"}, locales=["uk", "en"], currency="UAH",
        earn_percent=5))
    member(session, ours.merchant_id, "analyst", "analyst@kavabar.example")
    made = {"owner": ours.owner_email, "program": program.id, "merchant": ours.merchant_id}
    session.rollback()  # no read left open: SQLite's writers would wait on it
    return made


def _form(client: FlaskClient, program_id: int) -> dict[str, Any]:
    """The editor's fields as the page sends them, with its CSRF token."""
    html = client.get(f"/dashboard/programs/{program_id}").get_data(as_text=True)
    form: dict[str, Any] = {"csrf": re.search(r'name="csrf" value="([^"]+)"', html).group(1)}
    for name, value in re.findall(r'<input type="(?:text|color)" id="f-[^"]+" name="([^"]+)" '
                                  r'value="([^"]*)"', html):
        form[name] = value
    for name, value in re.findall(r'<input type="hidden" name="(tier[^"]+)" value="([^"]*)"',
                                  html):
        form[name] = value
    form["locales"] = re.findall(r'name="locales" value="(\w+)" checked', html)
    form["kind"], form["barcode_format"] = "points", "qr"
    return form


def _program(session: Session, program_id: int) -> Program:
    session.expire_all()
    return session.get(Program, program_id)


def test_an_owner_changes_the_rules_and_design_and_the_api_reads_them(
        app: Flask, session: Session, kava: dict[str, Any]) -> None:
    client = signed_in(app, kava["owner"])
    form = _form(client, kava["program"])
    form.update({"earn_percent": "7.5", "colors-background": "#0A5C36", "name-uk": "Зерно",
                 "tiers-0-name-uk": "Срібло", "tiers-0-name-en": "Silver",
                 "tiers-0-min_spend": "1500", "tiers-0-earn_percent": "10",
                 "point_value": "0.50", "points_expire_days": "365"})
    saved = client.post(f"/dashboard/programs/{kava['program']}", data=form)
    assert saved.status_code == 302, saved.get_data(as_text=True)
    program = _program(session, kava["program"])
    assert program.earn_percent == 7.5 and program.colors["background"] == "#0A5C36"
    assert program.name_texts == {"uk": "Зерно", "en": "Coffee Club"}
    assert program.tiers[0]["name"] == {"uk": "Срібло", "en": "Silver"}
    assert program.tiers[0]["min_spend"] == 150000 and program.point_value == 50
    assert program.points_expire_days == 365 and program.design_version == 2


def test_refused_values_are_said_beside_their_fields_in_ukrainian_and_nothing_changed(
        app: Flask, session: Session, kava: dict[str, Any]) -> None:
    client = signed_in(app, kava["owner"])
    client.get("/dashboard/?lang=uk")
    form = _form(client, kava["program"])
    form.update({"earn_percent": "150", "colors-label": "blue", "name-uk": ""})
    refused = client.post(f"/dashboard/programs/{kava['program']}", data=form)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert re.search(r'id="f-earn_percent-error">[^<]*відсот', html), html
    assert 'id="f-colors-label-error"' in html and 'value="blue"' in html
    assert 'id="f-name-uk-error"' in html and 'value="150"' in html
    program = _program(session, kava["program"])
    assert (program.earn_percent, program.design_version) == (5, 1)


def test_the_preview_draws_the_unsaved_values_and_saves_nothing(
        app: Flask, session: Session, kava: dict[str, Any]) -> None:
    client = signed_in(app, kava["owner"])
    path = f"/dashboard/programs/{kava['program']}/preview.png"
    saved = client.get(path)
    assert saved.status_code == 200 and saved.mimetype == "image/png"
    form = _form(client, kava["program"])
    query = {name: value for name, value in form.items() if name != "csrf"}
    query["colors-background"] = "#B00020"
    red = client.get(path, query_string=query)
    assert red.data != saved.data
    with Image.open(io.BytesIO(red.data)) as picture:
        # The pass's background, just inside its top-left corner.
        assert picture.convert("RGB").getpixel((60, 60)) == (0xB0, 0x00, 0x20)
    assert _program(session, kava["program"]).colors["background"] != "#B00020"


def test_a_change_says_how_many_passes_it_updates_before_it_is_saved(
        app: Flask, session: Session, kava: dict[str, Any]) -> None:
    # One name for every language and a colour in capitals, as the API may have stored
    # them: the page shows them per language and the browser sends the colour in lower
    # case, and that is no change.
    program = create_program(session, merchant_id=kava["merchant"], data=ProgramCreate(
        name="Kava", locales=["uk", "en"], colors={"background": "#AB12CD"}))
    program_id = program.id
    for index in range(3):
        _card(session, program, index)
    session.rollback()
    client = signed_in(app, kava["owner"])
    form = _form(client, program_id)
    assert (form["name-uk"], form["name-en"]) == ("Kava", "Kava")
    form["colors-background"] = "#ab12cd"
    unchanged = client.post(f"/dashboard/programs/{program_id}",
                            data={**form, "action": "preview"})
    assert "This change updates no passes." in unchanged.get_data(as_text=True)
    form.update({"colors-foreground": "#FFEEDD", "action": "preview"})
    changed = client.post(f"/dashboard/programs/{program_id}", data=form)
    assert "This change updates 3 passes." in changed.get_data(as_text=True)
    assert _program(session, program_id).design_version == 1


def _card(session: Session, program: Program, index: int) -> None:
    from app.cards.schemas import EnrolmentInput
    from app.cards.service import enroll

    enroll(session, program=program, data=EnrolmentInput(
        name=f"Guest {index}", email=f"guest{index}@example.com"))


def test_an_analyst_reads_the_editor_but_may_not_save(
        app: Flask, session: Session, kava: dict[str, Any]) -> None:
    client = signed_in(app, "analyst@kavabar.example")
    page = client.get(f"/dashboard/programs/{kava['program']}")
    assert page.status_code == 200 and "disabled" in page.get_data(as_text=True)
    form = {"csrf": csrf_of(client, "/dashboard/"), "earn_percent": "9"}
    assert client.post(f"/dashboard/programs/{kava['program']}", data=form).status_code == 403
    assert _program(session, kava["program"]).earn_percent == 5


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_logo_is_uploaded_and_a_file_that_is_no_image_is_refused_with_nothing_changed(
        app: Flask, session: Session, kava: dict[str, Any]) -> None:
    client = signed_in(app, kava["owner"])
    csrf = csrf_of(client, "/dashboard/")
    path = f"/dashboard/programs/{kava['program']}/artwork/logo"
    refused = client.post(path, data={"csrf": csrf, "image": (io.BytesIO(b"GIF89a..."),
                                                              "logo.gif")})
    assert refused.status_code == 422
    assert 'id="upload-logo-error"' in refused.get_data(as_text=True)
    assert _program(session, kava["program"]).logo is None
    session.rollback()
    tiny = client.post(path, data={"csrf": csrf, "image": (io.BytesIO(_png(8, 8)), "a.png")})
    assert tiny.status_code == 422 and _program(session, kava["program"]).logo is None
    session.rollback()
    logo = _png(300, 120)
    uploaded = client.post(path, data={"csrf": csrf, "image": (io.BytesIO(logo), "a.png")})
    assert uploaded.status_code == 302
    program = _program(session, kava["program"])
    assert program.logo == logo and program.design_version == 2


def test_a_new_program_is_created_in_the_pages_language(
        app: Flask, session: Session, kava: dict[str, Any]) -> None:
    client = signed_in(app, kava["owner"])
    page = client.get("/dashboard/programs/new?lang=ru")
    assert page.status_code == 200
    form = {"csrf": csrf_of(client, "/dashboard/"), "locales": ["ru"], "first": "ru",
            "name-ru": "Чайная", "kind": "stamps", "currency": "UAH", "earn_percent": "0",
            "point_value": "1", "max_redeem_percent": "100", "stamps_required": "",
            "barcode_format": "qr", "colors-background": "#123456",
            "colors-foreground": "#FFFFFF", "colors-label": "#EEEEEE", "tier_rows": "1"}
    shown = client.post("/dashboard/programs/new", data={
        **form, "locales": ["ru", "uk"], "action": "refresh"})
    assert shown.status_code == 200 and 'name="name-uk"' in shown.get_data(as_text=True)
    assert session.scalars(select(Program).where(Program.name == "Чайная")).all() == []
    session.rollback()
    refused = client.post("/dashboard/programs/new", data=form)
    assert refused.status_code == 422 and 'id="f-stamps_required-error"' in refused.get_data(
        as_text=True)
    created = client.post("/dashboard/programs/new", data={**form, "stamps_required": "8"})
    assert created.status_code == 302
    program = session.scalars(select(Program).where(Program.name == "Чайная")).one()
    assert (program.kind, program.stamps_required, program.locales) == ("stamps", 8, ["ru"])


def test_a_location_is_added_edited_and_its_qr_code_and_posters_download(
        app: Flask, session: Session, kava: dict[str, Any]) -> None:
    client = signed_in(app, kava["owner"])
    csrf = csrf_of(client, "/dashboard/")
    path = f"/dashboard/programs/{kava['program']}/locations"
    refused = client.post(path, data={"csrf": csrf, "name": "Podil", "latitude": "91",
                                      "longitude": "30.5"})
    assert refused.status_code == 422 and 'id="l-latitude-error"' in refused.get_data(
        as_text=True)
    assert session.scalars(select(Location)).all() == []
    session.rollback()
    added = client.post(path, data={"csrf": csrf, "name": "Podil", "address": "Khoryva 1",
                                    "latitude": "50.4656", "longitude": "30.5152"})
    assert added.status_code == 302
    place = session.scalars(select(Location)).one()
    place_id = place.id
    session.rollback()
    moved = client.post(f"/dashboard/locations/{place_id}", data={
        "csrf": csrf, "name": "Podil", "address": "Khoryva 2", "latitude": "50.47",
        "longitude": "30.52"})
    assert moved.status_code == 302
    session.expire_all()
    assert (place.address, place.latitude) == ("Khoryva 2", 50.47)
    assert _program(session, kava["program"]).design_version == 3
    session.rollback()
    qr = client.get(f"/dashboard/locations/{place_id}/qr.png")
    assert qr.status_code == 200 and qr.data.startswith(b"\x89PNG")
    poster = client.get(f"/dashboard/locations/{place_id}/poster-A5-uk.pdf")
    assert poster.status_code == 200 and poster.data.startswith(b"%PDF")
    listed = client.get(path).get_data(as_text=True)
    assert f"/dashboard/locations/{place_id}/poster-A4-en.pdf" in listed


def test_another_merchants_location_is_404(app: Flask, session: Session,
                                           kava: dict[str, Any]) -> None:
    theirs = merchant_with_owner(session, "Chai Shop")
    program = create_program(session, merchant_id=theirs.merchant_id,
                              data=ProgramCreate(name="Chai"))
    place = location(session, theirs.merchant_id, program.id, "Lviv")
    client = signed_in(app, kava["owner"])
    for path in (f"/dashboard/locations/{place}", f"/dashboard/locations/{place}/qr.png",
                 f"/dashboard/programs/{program.id}/preview.png"):
        assert client.get(path).status_code == 404, path
    assert session.scalars(select(Card)).all() == []


def test_a_bonus_for_every_fifth_visit_is_added_and_one_without_its_visits_is_refused(
        app: Flask, session: Session, kava: dict[str, Any]) -> None:
    client = signed_in(app, kava["owner"])
    form = _form(client, kava["program"])
    form.update({"trigger_rows": "1", "triggers-0-kind": "nth_visit", "triggers-0-points": "20"})
    refused = client.post(f"/dashboard/programs/{kava['program']}", data=form)
    assert refused.status_code == 422
    assert ('id="f-triggers-0-points-error">Fill in the points and the visit or the amount.'
            in refused.get_data(as_text=True))
    assert _program(session, kava["program"]).triggers == []
    session.rollback()
    form["triggers-0-every"] = "5"
    saved = client.post(f"/dashboard/programs/{kava['program']}", data=form)
    assert saved.status_code == 302
    triggers = _program(session, kava["program"]).triggers
    assert [(trigger["kind"], trigger["every"], trigger["points"]) for trigger in triggers] == [
        ("nth_visit", 5, 20)]
    session.rollback()
    page = client.get(f"/dashboard/programs/{kava['program']}").get_data(as_text=True)
    assert 'name="triggers-0-every" value="5"' in page
