"""Staff accounts in the dashboard: the owner made by ``merchant create --password`` logs
in, a wrong password and an unknown email get the same answer, logins are rate limited
per account, sessions expire and end when the password changes, and a forgotten password
is reset through a one-time mailed link."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from app import create_app
from app.config import Config
from app.merchants.models import Staff, StaffEvent
from app.web.dashboard.signin import LOGIN_AT, SEEN_AT
from tests.dashboard_helpers import (
    PASSWORD,
    csrf_of,
    link_in,
    log_in,
    merchant_with_owner,
    send_mails,
    signed_in,
    snapshot,
)

NEW_PASSWORD = "a brand new password"


def _stored_hash(session: Session, email: str) -> str | None:
    session.rollback()
    try:
        return session.scalar(select(Staff.password_hash).where(Staff.email == email))
    finally:
        session.rollback()  # SQLite's write lock is free for the app


def test_the_owner_made_with_a_password_logs_in_and_sees_the_dashboard(
        app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    assert (_stored_hash(session, owner.owner_email) or "").startswith("$argon2id$")
    client = app.test_client()
    response = log_in(client, owner.owner_email)
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard/"
    page = client.get("/dashboard/")
    assert page.status_code == 200
    assert "Programs" in page.get_data(as_text=True)


def test_an_old_werkzeug_hash_still_logs_in_and_is_replaced_by_argon2(
        app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    session.execute(update(Staff).where(Staff.email == owner.owner_email)
                    .values(password_hash=generate_password_hash(PASSWORD)))
    session.commit()
    assert log_in(app.test_client(), owner.owner_email).status_code == 302
    assert (_stored_hash(session, owner.owner_email) or "").startswith("$argon2id$")


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
        app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    wrong = log_in(app.test_client(), owner.owner_email, "not the password")
    unknown = log_in(app.test_client(), "nobody@nowhere.example", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    sentence = "This email and password do not match an account."
    assert sentence in wrong.get_data(as_text=True)
    assert sentence in unknown.get_data(as_text=True)
    client = app.test_client()
    log_in(client, owner.owner_email, "not the password")
    assert client.get("/dashboard/").status_code == 302  # not signed in


def test_a_session_left_idle_or_too_old_ends(app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    idle = signed_in(app, owner.owner_email)
    with idle.session_transaction() as cookie:
        cookie[SEEN_AT] = int(time.time()) - 31 * 60
    assert idle.get("/dashboard/").status_code == 302
    old = signed_in(app, owner.owner_email)
    assert old.get("/dashboard/").status_code == 200
    with old.session_transaction() as cookie:
        cookie[LOGIN_AT] = int(time.time()) - 13 * 3600
    assert old.get("/dashboard/").status_code == 302


def test_logging_out_ends_the_session(app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    client = signed_in(app, owner.owner_email)
    response = client.post("/dashboard/logout", data={"csrf": csrf_of(client, "/dashboard/")})
    assert response.status_code == 302
    assert client.get("/dashboard/").status_code == 302


def test_a_password_change_keeps_this_session_and_ends_the_others(
        app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    here, elsewhere = signed_in(app, owner.owner_email), signed_in(app, owner.owner_email)
    response = here.post("/dashboard/password", data={
        "csrf": csrf_of(here, "/dashboard/password"), "current_password": PASSWORD,
        "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 200
    assert here.get("/dashboard/").status_code == 200
    assert elsewhere.get("/dashboard/").status_code == 302
    assert log_in(app.test_client(), owner.owner_email).status_code == 401
    assert log_in(app.test_client(), owner.owner_email, NEW_PASSWORD).status_code == 302


def test_a_wrong_current_password_changes_nothing(app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    client = signed_in(app, owner.owner_email)
    before = snapshot(session)
    response = client.post("/dashboard/password", data={
        "csrf": csrf_of(client, "/dashboard/password"), "current_password": "not it at all",
        "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 422
    assert "This is not your current password." in response.get_data(as_text=True)
    assert snapshot(session) == before


def _ask_reset(app: Flask, email: str) -> str:
    client = app.test_client()
    page = client.post("/dashboard/forgot", data={"csrf": csrf_of(client, "/dashboard/forgot"),
                                                  "email": email})
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_a_forgotten_password_is_reset_by_a_mailed_link_that_works_once(
        app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    notice = "If this email belongs to an account, a link to choose a new password is on its way."
    assert notice in _ask_reset(app, owner.owner_email)
    assert notice in _ask_reset(app, "nobody@nowhere.example")  # the same answer
    mails = send_mails(app)
    assert [mail["To"] for mail in mails] == [owner.owner_email]  # none for the unknown
    path = link_in(mails[0])
    client = app.test_client()
    form = client.get(path)
    assert form.status_code == 200 and form.headers["Cache-Control"] == "no-store"
    chosen = client.post(path, data={"csrf": csrf_of(client, path), "password": NEW_PASSWORD,
                                      "confirm": NEW_PASSWORD})
    assert chosen.status_code == 302
    assert log_in(app.test_client(), owner.owner_email, NEW_PASSWORD).status_code == 302
    assert app.test_client().get(path).status_code == 410  # used
    tampered = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
    assert app.test_client().get(tampered).status_code == 404
    session.rollback()
    actions = session.scalars(select(StaffEvent.action).order_by(StaffEvent.id)).all()
    session.rollback()
    assert "password.reset_requested" in actions and "password.reset" in actions


def test_the_reset_link_is_not_stored_anywhere(app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    _ask_reset(app, owner.owner_email)
    path = link_in(send_mails(app)[0])
    token = path.rsplit("/", 1)[1]
    mac = token.split(".", 1)[1]
    session.rollback()
    for table in ("staff_links", "mails", "staff_events"):
        dump = str(session.execute(select("*").select_from(
            __import__("sqlalchemy").table(table))).all())
        assert mac not in dump, table


def test_the_apis_answers_do_not_touch_the_session_cookie(app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    client = signed_in(app, owner.owner_email)  # a browser signed in to the dashboard
    answer = client.get("/api/v1/programs", headers={"Authorization": f"Bearer {owner.api_key}"})
    assert answer.status_code == 200
    assert "Vary" not in answer.headers and "Set-Cookie" not in answer.headers


def test_merchant_create_with_a_password_makes_an_owner_who_logs_in(
        tmp_path: Path, certs_dir: Path) -> None:
    database = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LOYALPASS_")},
           "LOYALPASS_DATABASE_URL": database}

    def loyalpass(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=120,
                              check=False)

    assert loyalpass("db", "upgrade").returncode == 0
    short = loyalpass("merchant", "create", "--name", "Salon Lux", "--email",
                      "owner@salon.example", "--password", "short")
    assert short.returncode == 1 and "at least 10 characters" in short.stderr
    made = loyalpass("merchant", "create", "--name", "Salon Lux", "--email",
                     "owner@salon.example", "--password", PASSWORD)
    assert made.returncode == 0, made.stderr
    app = create_app(Config(database_url=database, base_url="https://cards.example.test",
                            secret_key="cli-secret-0123456789abcdef", certs_dir=certs_dir,
                            instance_dir=tmp_path / "instance", worker="external"))
    try:
        assert log_in(app.test_client(), "owner@salon.example").status_code == 302
    finally:
        app.extensions["loyalpass"].engine.dispose()
