"""An offer reaches every card however many it names: statements that name the cards bind
their ids as one value (``app.bulk.among``), not one parameter each, which PostgreSQL's
protocol caps at 65,535 and SQLite at 32,766."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from app.bulk import among
from app.cards.models import Card
from app.clock import utcnow
from app.delivery.fanout import drain_outbox
from app.devices.models import Registration
from app.outbox.models import OutboxMessage
from tests.conftest import Api, database_kind

# Past each database's limit: PostgreSQL's protocol binds at most 65,535 parameters in a
# statement, SQLite at most 32,766.
CARDS = {"postgresql": 66_000, "sqlite": 33_000}

NUMBERS = {
    "postgresql": "SELECT n FROM generate_series(1, :cards) AS n",
    "sqlite": "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq "
              "WHERE n < :cards) SELECT n FROM seq",
}


def _seed(session: Session, merchant_id: int, program_id: int, cards: int) -> None:
    """``cards`` cards of the program, each with a registered device, written by the
    database itself."""
    numbers = NUMBERS[database_kind(str(session.get_bind().url))]
    now = "CURRENT_TIMESTAMP"
    values = {"cards": cards, "merchant": merchant_id, "program": program_id}
    for statement in (
        f"INSERT INTO customers (id, merchant_id, name, email, locale, marketing_consent, "
        f"created_at) SELECT 1000 + n, :merchant, 'Guest', 'g' || n || '@example.com', 'en', "
        f"false, {now} FROM ({numbers}) AS numbers",
        f"INSERT INTO cards (id, merchant_id, program_id, customer_id, number, serial_number, "
        f"authentication_token, link_version, status, balance, stamps, rewards, "
        f"lifetime_spend, visits, pass_version, pass_updated_at, pass_last_modified, "
        f"created_at) SELECT 1000 + n, :merchant, :program, 1000 + n, 'n' || n, 's' || n, "
        f"'token-of-card-' || n, 0, 'active', 0, 0, 0, 0, 0, 1, {now}, {now}, {now} "
        f"FROM ({numbers}) AS numbers",
        f"INSERT INTO devices (id, device_library_identifier, created_at, updated_at) "
        f"SELECT 1000 + n, 'device-' || n, {now}, {now} FROM ({numbers}) AS numbers",
        f"INSERT INTO registrations (id, device_id, card_id, push_token, created_at, "
        f"push_status, push_generation, push_attempts) SELECT 1000 + n, 1000 + n, 1000 + n, "
        f"'ab' || n, {now}, 'idle', 0, 0 FROM ({numbers}) AS numbers",
    ):
        session.execute(text(statement), values)
    session.commit()


def test_an_offer_published_to_more_cards_than_a_statement_may_bind_reaches_them_all(
        api: Api, program: dict[str, Any], session: Session) -> None:
    kind = database_kind(str(session.get_bind().url))
    merchant_id = session.execute(text("SELECT merchant_id FROM programs WHERE id = :id"),
                                  {"id": program["id"]}).scalar_one()
    _seed(session, merchant_id, program["id"], CARDS[kind])
    offer = api.post(f"/api/v1/programs/{program['id']}/offers", {
        "title": "Free croissant", "audience": {}, "promotional": False}).get_json()
    try:
        published = api.post(f"/api/v1/offers/{offer['id']}/publish")

        assert published.status_code == 202, published.get_json()
        assert published.get_json()["cards"] == CARDS[kind]
        # The publish recorded the audience; the fan-out bumps every pass it reached in
        # the transaction that marks their devices pending (not in the request).
        assert session.scalar(select(func.count()).where(Card.pass_version == 2)) == 0
        while drain_outbox(session):
            pass
        assert session.scalar(select(func.count()).where(Card.pass_version == 2)) \
            == CARDS[kind]
        assert session.scalar(select(func.count()).where(
            Registration.push_status == "pending")) == CARDS[kind]
    finally:
        if kind == "postgresql":  # quicker than the next test's DELETE of every row
            session.rollback()
            session.execute(text("TRUNCATE customers, devices CASCADE"))
            session.commit()


def test_a_condition_on_70000_ids_finds_and_changes_exactly_the_rows_named(
        api: Api, program: dict[str, Any], session: Session) -> None:
    cards = [api.post(f"/api/v1/programs/{program['id']}/cards",
                      {"name": "Guest", "email": f"guest{n}@example.com"}).get_json()["id"]
             for n in range(3)]
    named = [*range(10**6, 10**6 + 70_000), cards[0], cards[2]]

    found = session.scalars(select(Card.id).where(among(session, Card.id, named))).all()
    session.execute(update(Card).where(among(session, Card.id, named)).values(stamps=1))
    session.commit()

    assert sorted(found) == [cards[0], cards[2]]
    assert session.scalars(select(Card.id).where(Card.stamps == 1)).all() == found
    assert session.scalar(select(func.count()).where(among(session, Card.id, []))) == 0


def _passes_bumped(session: Session) -> dict[int, int]:
    """How many cards' passes were bumped how many times (a card starts at version 1)."""
    session.rollback()
    counts = dict(session.execute(select(Card.pass_version - 1, func.count())
                                  .group_by(Card.pass_version)).all())
    session.rollback()
    return counts


def _fanned(session: Session) -> list[tuple[str, int | None]]:
    session.rollback()
    rows = session.execute(select(OutboxMessage.status, OutboxMessage.fanned_through)
                           .where(OutboxMessage.card_id.is_(None))
                           .order_by(OutboxMessage.id)).all()
    session.rollback()
    return [(row.status, row.fanned_through) for row in rows]


def test_an_offers_cards_are_fanned_out_a_chunk_per_transaction_each_card_once(
        api: Api, program: dict[str, Any], session: Session) -> None:
    merchant_id = session.execute(text("SELECT merchant_id FROM programs WHERE id = :id"),
                                  {"id": program["id"]}).scalar_one()
    _seed(session, merchant_id, program["id"], 25)  # cards 1001 to 1025
    while drain_outbox(session):  # the program's creation
        pass
    session.execute(update(Registration).values(push_status="idle"))  # as if pushed
    session.commit()
    for title in ("Free croissant", "Second coffee half price"):
        offer = api.post(f"/api/v1/programs/{program['id']}/offers", {
            "title": title, "audience": {}, "promotional": False}).get_json()
        assert api.post(f"/api/v1/offers/{offer['id']}/publish").status_code == 202

    # Each transaction bumps (locking until its commit) ten cards at most: a till selling
    # to any other card meanwhile waits for nothing.
    before = utcnow()
    assert drain_outbox(session, cards=10) == 1
    assert _passes_bumped(session) == {1: 10, 0: 15}
    assert _fanned(session)[-2:] == [("pending", 1010), ("pending", None)]
    # Due again from its chunk: the wait /metrics shows counts from there.
    assert session.scalar(select(OutboxMessage.available_at)
                          .where(OutboxMessage.fanned_through.is_not(None))) >= before
    pending = select(func.count()).where(Registration.push_status == "pending")
    assert session.scalar(pending) == 10  # their devices with them, not before
    # The first chunk's pushes delivered: the offer's reach counts them as sent, and the
    # devices of the cards not fanned out yet as pending.
    session.execute(update(Registration).where(Registration.card_id <= 1010).values(
        push_status="idle", last_push_result="delivered", last_push_at=utcnow()))
    session.commit()
    first_offer = session.scalar(select(OutboxMessage.payload)
                                 .where(OutboxMessage.fanned_through.is_not(None)))["offer_id"]
    session.rollback()
    reach = api.get(f"/api/v1/offers/{first_offer}/reach").get_json()
    assert (reach["devices"], reach["pushes"]) == (25, {"sent": 10, "failed": 0, "pending": 15})
    session.execute(update(Registration).where(Registration.card_id <= 1010).values(
        push_status="pending"))  # as they were, for what follows
    session.commit()

    # Another worker (a new session: the first one may have died) goes on from there.
    other = Session(bind=session.get_bind())
    assert drain_outbox(other, cards=10) == 1
    assert drain_outbox(other, cards=10) == 2  # the first offer's last five, then five
    other.close()
    assert _passes_bumped(session) == {2: 5, 1: 20}
    assert _fanned(session)[-2:] == [("done", 1020), ("pending", 1005)]
    while drain_outbox(session, cards=10):
        pass

    assert _passes_bumped(session) == {2: 25}  # once for each offer, never twice
    assert {status for status, _ in _fanned(session)} == {"done"}
    assert session.scalar(pending) == 25


def test_a_new_design_redraws_the_programs_passes_a_chunk_per_transaction_each_once(
        api: Api, program: dict[str, Any], session: Session) -> None:
    merchant_id = session.execute(text("SELECT merchant_id FROM programs WHERE id = :id"),
                                  {"id": program["id"]}).scalar_one()
    _seed(session, merchant_id, program["id"], 25)
    while drain_outbox(session):  # the program's creation
        pass
    session.execute(update(Registration).values(push_status="idle"))
    session.commit()

    saved = api.patch(f"/api/v1/programs/{program['id']}", {"colors": {"background": "#112233"}})

    assert saved.status_code == 200
    assert _passes_bumped(session) == {0: 25}  # not in the request: no card locked by it
    assert drain_outbox(session, cards=10) == 1
    assert _passes_bumped(session) == {1: 10, 0: 15}
    pending = select(func.count()).where(Registration.push_status == "pending")
    assert session.scalar(pending) == 10
    session.rollback()
    while drain_outbox(session, cards=10):
        pass
    assert _passes_bumped(session) == {1: 25}
    assert session.scalar(pending) == 25
