"""A recovery link keeps the contact details it proposed only while it may be opened:
once it expires, the worker's housekeeping (and ``loyalpass cards purge-links``) erases
them and the client's address, and leaves a live link and the link rows alone. On SQLite
and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cards import recovery
from app.cards.models import CardRecoveryLink, Customer
from app.cards.schemas import EnrolmentInput
from app.cli import main
from app.clock import utcnow
from app.config import Config
from app.delivery.housekeeping import Housekeeping
from app.delivery.workers import make_workers
from app.merchants.models import Program
from tests.conftest import Api


def _known_customer(api: Api, program: dict[str, Any], email: str) -> None:
    response = api.post(f"/api/v1/programs/{program['id']}/cards",
                        {"name": "Olena", "email": email})
    assert response.status_code == 201


def _ask_again(session: Session, program: dict[str, Any], email: str, phone: str,
               asked_minutes_ago: int) -> int:
    """The known customer's email with a new name, phone, birthday and consent: a link."""
    found = session.get(Program, program["id"])
    assert found is not None
    joined = recovery.join(
        session, program=found, requested_from="203.0.113.7",
        data=EnrolmentInput(name="Somebody Else", email=email, phone=phone,
                            birthday=date(1990, 5, 17), marketing_consent=True),
        now=utcnow() - timedelta(minutes=asked_minutes_ago))
    assert joined.reply is recovery.Reply.LINK_MAILED
    link_id = session.scalars(select(CardRecoveryLink.id).join(Customer).where(
        Customer.email == email)).one()
    session.rollback()
    return link_id


def _proposals(session: Session, link_id: int) -> tuple[Any, ...]:
    session.rollback()
    link = session.get(CardRecoveryLink, link_id, populate_existing=True)
    assert link is not None
    try:
        return (link.proposed_name, link.proposed_phone, link.proposed_birthday,
                link.proposed_consent, link.requested_from)
    finally:
        session.rollback()


PROPOSED = ("Somebody Else", "+380671234567", date(1990, 5, 17), True, "203.0.113.7")
ERASED = (None, None, None, False, None)


@pytest.fixture
def links(api: Api, program: dict[str, Any], session: Session) -> dict[str, int]:
    _known_customer(api, program, "expired@example.com")
    _known_customer(api, program, "live@example.com")
    expired = _ask_again(session, program, "expired@example.com", "067 123 45 67",
                         asked_minutes_ago=recovery.LINK_MINUTES + 1)
    live = _ask_again(session, program, "live@example.com", "067 765 43 21",
                      asked_minutes_ago=recovery.LINK_MINUTES - 5)
    assert _proposals(session, expired) == PROPOSED
    return {"expired": expired, "live": live}


def test_the_workers_housekeeping_erases_what_an_expired_link_proposed_and_keeps_a_live_ones(
        app: Flask, session: Session, links: dict[str, int]) -> None:
    [housekeeping] = [loop for loop in make_workers(app.extensions["loyalpass"])
                      if isinstance(loop, Housekeeping)]
    housekeeping.run_once()
    assert _proposals(session, links["expired"]) == ERASED
    assert _proposals(session, links["live"]) == (
        "Somebody Else", "+380677654321", date(1990, 5, 17), True, "203.0.113.7")
    assert session.get(CardRecoveryLink, links["expired"]) is not None  # the limit counts it
    assert recovery.purge_expired_links(session) == 0  # a second round finds nothing
    assert recovery.link_state(session.get(CardRecoveryLink, links["expired"])) is (
        recovery.LinkState.EXPIRED)


def test_the_purge_command_erases_them_too(
        config: Config, session: Session, links: dict[str, int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOYALPASS_DATABASE_URL", config.database_url)
    result = CliRunner().invoke(main, ["cards", "purge-links"])
    assert result.exit_code == 0, result.output
    assert result.output == "Erased the proposed details of 1 expired recovery links.\n"
    assert _proposals(session, links["expired"]) == ERASED
    assert _proposals(session, links["live"])[0] == "Somebody Else"
