"""Dashboard logins are rate limited per account (whatever address they come from) and
per address, before the password is checked."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from app.config import Config
from tests.dashboard_helpers import PASSWORD, csrf_of, log_in, merchant_with_owner


@pytest.fixture
def config(config: Config) -> Config:
    return config.with_changes(limit_login_per_account="3/minute")


def test_logins_to_one_account_are_limited_even_from_several_addresses(
        app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    for attempt in range(3):
        client = app.test_client()
        response = client.post("/dashboard/login", data={
            "csrf": csrf_of(client), "email": owner.owner_email, "password": "guess"},
            environ_base={"REMOTE_ADDR": f"192.0.2.{attempt + 1}"})
        assert response.status_code == 401
    client = app.test_client()
    refused = client.post("/dashboard/login", data={
        "csrf": csrf_of(client), "email": owner.owner_email.upper(), "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "192.0.2.9"})
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers
    assert client.get("/dashboard/").status_code == 302
    # Another account is not held back by it.
    other = merchant_with_owner(session, "Chai Shop")
    assert log_in(app.test_client(), other.owner_email).status_code == 302


def test_logins_from_one_address_are_limited_whichever_accounts_they_try(
        app: Flask, session: Session) -> None:
    owner = merchant_with_owner(session)
    for attempt in range(10):
        client = app.test_client()
        response = client.post("/dashboard/login", data={
            "csrf": csrf_of(client), "email": f"guess{attempt}@kavabar.example",
            "password": "guess"}, environ_base={"REMOTE_ADDR": "198.51.100.7"})
        assert response.status_code == 401
    client = app.test_client()
    refused = client.post("/dashboard/login", data={
        "csrf": csrf_of(client), "email": owner.owner_email, "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert refused.status_code == 429
    assert log_in(app.test_client(), owner.owner_email).status_code == 302
