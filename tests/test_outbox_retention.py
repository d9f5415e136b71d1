"""Outbox rows fanned out are kept a week, then deleted by the worker's housekeeping;
nothing waiting to be fanned out is ever deleted, whatever its age."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.delivery.fanout import DONE_KEPT, drain_outbox, purge_done
from app.delivery.housekeeping import Housekeeping
from app.outbox.models import OutboxMessage
from tests.conftest import Api


def _enrol(api: Api, program: dict[str, Any], count: int) -> None:
    for number in range(count):
        response = api.post(f"/api/v1/programs/{program['id']}/cards",
                            {"name": "Holder", "email": f"holder{number}@example.com"})
        assert response.status_code == 201, response.get_json()


def _rows(session: Session) -> dict[str, int]:
    session.rollback()
    return {status: count for status, count in session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()}


def test_rows_fanned_out_over_a_week_ago_are_deleted_and_the_rest_kept(
        app: Flask, api: Api, session: Session, program: dict[str, Any]) -> None:
    _enrol(api, program, 6)
    while drain_outbox(session):
        pass
    done = _rows(session)["done"]
    assert done >= 6
    # Three of them fanned out eight days ago, one pending as long (a worker down?).
    ids = session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)).all()
    long_ago = utcnow() - DONE_KEPT - timedelta(days=1)
    session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids[:3]))
                    .values(available_at=long_ago, sent_at=long_ago))
    session.execute(update(OutboxMessage).where(OutboxMessage.id == ids[3])
                    .values(status="pending", available_at=long_ago, sent_at=None))
    session.commit()

    assert purge_done(session) == 3
    assert _rows(session) == {"done": done - 4, "pending": 1}
    assert purge_done(session) == 0  # and nothing changed
    assert _rows(session) == {"done": done - 4, "pending": 1}


def test_the_housekeeping_clears_a_backlog_of_old_rows_over_its_rounds(
        app: Flask, api: Api, session: Session, program: dict[str, Any]) -> None:
    _enrol(api, program, 5)
    while drain_outbox(session):
        pass
    old = _rows(session)["done"]
    long_ago = utcnow() - DONE_KEPT - timedelta(hours=1)
    session.execute(update(OutboxMessage).values(available_at=long_ago, sent_at=long_ago))
    session.commit()
    housekeeping = Housekeeping(app.extensions["loyalpass"].sessions, name="test",
                                outbox_batch=2, outbox_batches=2)
    rounds = [housekeeping.purge_outbox()]
    while rounds[-1][1]:  # more left: the loop runs again at once
        rounds.append(housekeeping.purge_outbox())
    assert rounds[0] == (4, True)
    assert sum(deleted for deleted, _ in rounds) == old
    assert _rows(session) == {}
