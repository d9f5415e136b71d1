"""The staff page: an owner invites a member by email with a role and locations, the
member sets a password through the mailed link and works within them; changing a
member's role or locations or removing them ends their sessions; a merchant keeps an
owner; every step is in the activity log."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.merchants.models import ApiKey, Staff, StaffEvent
from app.merchants.schemas import ProgramCreate
from app.merchants.service import create_program
from tests.dashboard_helpers import (
    PASSWORD,
    csrf_of,
    link_in,
    location,
    log_in,
    member,
    merchant_with_owner,
    send_mails,
    signed_in,
    snapshot,
)


def _post(client: FlaskClient, path: str, form: dict[str, Any]) -> Any:
    return client.post(path, data={**form, "csrf": csrf_of(client, "/dashboard/")})


def _actions(session: Session) -> list[str]:
    session.rollback()
    try:
        return list(session.scalars(select(StaffEvent.action).order_by(StaffEvent.id)))
    finally:
        session.rollback()


def _staff(session: Session, email: str) -> Any:
    session.rollback()
    try:
        return session.execute(select(Staff.id, Staff.role, Staff.removed_at)
                               .where(Staff.email == email)).one()
    finally:
        session.rollback()


def test_an_invited_cashier_sets_a_password_by_the_mailed_link_and_cannot_manage_staff(
        app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    program = create_program(session, merchant_id=owner.merchant_id,
                             data=ProgramCreate(name="Kava Club"))
    place = location(session, owner.merchant_id, program.id, "Podil")
    boss = signed_in(app, owner.owner_email)
    page = boss.get("/dashboard/staff?lang=ru").get_data(as_text=True)
    assert '<option selected value="ru">' in page  # the page's language is offered first
    response = boss.post("/dashboard/staff", data={
        "csrf": csrf_of(boss, "/dashboard/staff"), "email": "Ann@KavaBar.example",
        "name": "Ann", "role": "cashier", "locations": str(place), "language": "uk"})
    assert response.status_code == 302
    (mail,) = send_mails(app)
    assert mail["To"] == "ann@kavabar.example"
    assert "Kava Bar" in mail["Subject"] and "Loyalpass" in mail["Subject"]
    assert "запрошено" in mail.get_body(("plain",)).get_content()  # in the language chosen
    path = link_in(mail)
    invitee = app.test_client()
    page = invitee.get(path)
    assert "ann@kavabar.example" in page.get_data(as_text=True)
    assert invitee.post(path, data={"csrf": csrf_of(invitee, path), "password": PASSWORD,
                                     "confirm": PASSWORD}).status_code == 302
    cashier = signed_in(app, "ann@kavabar.example")
    assert cashier.get("/dashboard/").status_code == 200
    assert cashier.get("/dashboard/staff").status_code == 403
    assert cashier.get("/dashboard/keys").status_code == 403
    assert "Staff" not in cashier.get("/dashboard/").get_data(as_text=True).split("<main")[0]
    assert {"staff.invited", "invitation.accepted"} <= set(_actions(session))


def test_inviting_an_email_of_another_merchants_staff_is_refused_and_nothing_changes(
        app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    other = merchant_with_owner(session, "Chai Shop")
    boss = signed_in(app, owner.owner_email)
    before = snapshot(session)
    response = _post(boss, "/dashboard/staff", {"email": other.owner_email, "role": "manager",
                                                 "language": "en"})
    assert response.status_code == 409
    assert "belongs to a staff member already" in response.get_data(as_text=True)
    assert snapshot(session) == before


def test_changing_a_members_role_ends_their_sessions_and_the_new_role_applies(
        app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    manager_id = member(session, owner.merchant_id, "manager", "max@kavabar.example")
    manager = signed_in(app, "max@kavabar.example")
    boss = signed_in(app, owner.owner_email)
    assert _post(boss, f"/dashboard/staff/{manager_id}", {"role": "analyst"}).status_code == 302
    assert manager.get("/dashboard/").status_code == 302  # signed out
    assert _staff(session, "max@kavabar.example").role == "analyst"
    analyst = signed_in(app, "max@kavabar.example")
    assert _post(analyst, "/dashboard/password", {
        "current_password": PASSWORD, "password": "x" * 12, "confirm": "x" * 12,
    }).status_code == 200  # their own password, still theirs to change
    assert _post(analyst, "/dashboard/keys", {"role": "owner", "location": "0"}
                 ).status_code == 403


def test_a_removed_member_is_signed_out_their_keys_stop_and_they_cannot_log_in(
        app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    staff_id = member(session, owner.merchant_id, "cashier", "ann@kavabar.example")
    session.add(ApiKey(merchant_id=owner.merchant_id, staff_id=staff_id, role="cashier",
                       prefix="0123456789ab", secret_hash="0" * 64))
    session.commit()
    cashier = signed_in(app, "ann@kavabar.example")
    boss = signed_in(app, owner.owner_email)
    assert _post(boss, f"/dashboard/staff/{staff_id}/remove", {}).status_code == 302
    assert cashier.get("/dashboard/").status_code == 302
    assert log_in(app.test_client(), "ann@kavabar.example").status_code == 401
    assert _staff(session, "ann@kavabar.example").removed_at is not None
    session.rollback()
    assert session.scalar(select(ApiKey.revoked_at).where(ApiKey.staff_id == staff_id))
    session.rollback()
    assert "ann@kavabar.example" not in boss.get("/dashboard/staff").get_data(as_text=True)
    assert "removed" in _actions(session)[-1]


def test_the_last_owner_cannot_be_removed_or_demoted_and_nothing_changes(
        app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    second = member(session, owner.merchant_id, "owner", "co@kavabar.example")
    boss = signed_in(app, owner.owner_email)
    assert _post(boss, f"/dashboard/staff/{second}/remove", {}).status_code == 302
    me = _staff(session, owner.owner_email).id
    co = signed_in(app, owner.owner_email)
    before = snapshot(session)
    # The owner's own row is not offered on the page, but the form could be forged.
    refused = _post(co, f"/dashboard/staff/{me}", {"role": "manager"})
    assert refused.status_code == 409
    assert "needs an owner" in refused.get_data(as_text=True)
    assert _post(co, f"/dashboard/staff/{me}/remove", {}).status_code == 409
    assert snapshot(session) == before


def test_a_member_limited_to_a_location_carries_it_in_their_principal(
        app: Flask, session: Session) -> None:
    from app.merchants.accounts import session_principal

    owner = merchant_with_owner(session)
    program = create_program(session, merchant_id=owner.merchant_id,
                             data=ProgramCreate(name="Kava Club"))
    podil = location(session, owner.merchant_id, program.id, "Podil")
    lviv = location(session, owner.merchant_id, program.id, "Lviv")
    staff_id = member(session, owner.merchant_id, "cashier", "ann@kavabar.example")
    boss = signed_in(app, owner.owner_email)
    assert _post(boss, f"/dashboard/staff/{staff_id}",
                 {"role": "cashier", "locations": [str(podil)]}).status_code == 302
    session.rollback()
    principal = session_principal(session, staff_id=staff_id, session_version=1)
    session.rollback()
    assert principal is not None and principal.locations == frozenset({podil})
    assert principal.may_act_at(podil) and not principal.may_act_at(lviv)
    page = boss.get("/dashboard/staff").get_data(as_text=True)
    assert "Cashier · Podil" in page
    # What they do is logged at their location.
    cashier = signed_in(app, "ann@kavabar.example")
    assert _post(cashier, "/dashboard/password", {
        "current_password": PASSWORD, "password": "x" * 12, "confirm": "x" * 12,
    }).status_code == 200
    assert "Podil · 127.0.0.1" in boss.get("/dashboard/activity").get_data(as_text=True)


def test_a_location_of_another_merchant_is_refused_and_nothing_changes(
        app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    other = merchant_with_owner(session, "Chai Shop")
    program = create_program(session, merchant_id=other.merchant_id,
                             data=ProgramCreate(name="Chai Club"))
    theirs = location(session, other.merchant_id, program.id, "Their shop")
    staff_id = member(session, owner.merchant_id, "cashier", "ann@kavabar.example")
    boss = signed_in(app, owner.owner_email)
    before = snapshot(session)
    response = _post(boss, f"/dashboard/staff/{staff_id}",
                     {"role": "cashier", "locations": [str(theirs)]})
    assert response.status_code == 422
    assert snapshot(session) == before


def test_an_api_key_made_in_the_dashboard_is_shown_once_and_works_until_revoked(
        app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    boss = signed_in(app, owner.owner_email)
    page = _post(boss, "/dashboard/keys", {"name": "till", "role": "analyst", "location": "0"})
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    secret = text.split('<code class="key">')[1].split("</code>")[0]
    api = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.get("/api/v1/programs", headers=headers).status_code == 200
    assert secret not in boss.get("/dashboard/keys").get_data(as_text=True)
    session.rollback()
    key_id = session.scalar(select(ApiKey.id).where(ApiKey.name == "till"))
    session.rollback()
    assert _post(boss, f"/dashboard/keys/{key_id}/revoke", {}).status_code == 302
    assert api.get("/api/v1/programs", headers=headers).status_code == 401
    made = api.post("/api/v1/api-keys", json={"role": "cashier"},
                    headers={"Authorization": f"Bearer {owner.api_key}"})
    assert made.status_code == 201
    # Both doors leave the same trace in the action log, with the owner as who.
    assert _actions(session)[-3:] == ["api_key.created", "api_key.revoked", "api_key.created"]
    activity = boss.get("/dashboard/activity").get_data(as_text=True)
    assert activity.count("created an API key") == 2 and owner.owner_email in activity


def test_inviting_something_that_is_not_an_email_says_so_and_nothing_changes(
        app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    boss = signed_in(app, owner.owner_email)
    before = snapshot(session)
    response = _post(boss, "/dashboard/staff?lang=ru", {
        "email": "ann at kavabar", "role": "cashier", "language": "en"})
    assert response.status_code == 422
    assert "Это не адрес электронной почты." in response.get_data(as_text=True)
    assert snapshot(session) == before
