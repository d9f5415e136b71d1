"""The fraud alerts a program's velocity limits raise (``app.ledger.fraud``) and the
fraud detector raises (``app.ledger.fraud_detector``, with their evidence), as the
merchant reads and acknowledges them, through the API and the dashboard alike.

Invariants: a principal sees its merchant's alerts only, and one limited to locations
only those raised at them (another's is a 404, as an object of another merchant); an
alert is acknowledged once: acknowledging it again changes nothing and answers it as it
stands. Listing reads newest first, by key (``before``), never by offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.cards.models import Card
from app.clock import iso, utcnow
from app.errors import NotFound
from app.ledger.models import Alert
from app.ledger.service import set_blocked
from app.merchants.access import Principal
from app.merchants.accounts import Where, record_event
from app.merchants.models import ApiKey, Location, Program, Staff
from app.points.postings import Actor

ALERT_ACKNOWLEDGED = "alert.acknowledged"  # its action in the staff action log


@dataclass(frozen=True)
class AlertView:
    """An alert with the card it names (its number and whether it is blocked now)."""

    id: int
    kind: str
    detail: str
    created_at: datetime
    program_id: int | None
    card_id: int | None
    card_number: str | None
    card_status: str | None
    location_id: int | None
    api_key_id: int | None
    acknowledged_at: datetime | None
    acknowledged_by_staff_id: int | None
    acknowledged_by_api_key_id: int | None
    staff_id: int | None = None
    evidence: dict[str, Any] | None = None

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None


def _visible(principal: Principal) -> Select[Alert, str, str]:
    query = (select(Alert, Card.number, Card.status)
             .outerjoin(Card, Card.id == Alert.card_id)
             .where(Alert.merchant_id == principal.merchant_id))
    if principal.limited:
        query = query.where(Alert.location_id.in_(sorted(principal.locations)))
    return query


def _view(alert: Alert, number: str | None, status: str | None) -> AlertView:
    return AlertView(
        id=alert.id, kind=alert.kind, detail=alert.detail, created_at=alert.created_at,
        program_id=alert.program_id, card_id=alert.card_id, card_number=number,
        card_status=status, location_id=alert.location_id, api_key_id=alert.api_key_id,
        acknowledged_at=alert.acknowledged_at,
        acknowledged_by_staff_id=alert.acknowledged_by_staff_id,
        acknowledged_by_api_key_id=alert.acknowledged_by_api_key_id,
        staff_id=alert.staff_id, evidence=alert.evidence)


def list_alerts(session: Session, *, principal: Principal, program_id: int | None = None,
                limit: int = 100, before: int | None = None) -> list[AlertView]:
    """The alerts the principal may see, newest first; of one program with
    ``program_id``; older than the alert ``before`` for the next page."""
    query = _visible(principal)
    if program_id is not None:
        query = query.where(Alert.program_id == program_id)
    if before is not None:
        query = query.where(Alert.id < before)
    rows = session.execute(query.order_by(Alert.id.desc()).limit(limit)).all()
    return [_view(row.Alert, row.number, row.status) for row in rows]


@dataclass(frozen=True)
class AlertsPage:
    """A page of alerts, the merchant's programs and locations by id (to name them), and
    where the next page starts (None: this is the last)."""

    alerts: list[AlertView]
    programs: dict[int, str]
    locations: dict[int, str]
    next_before: int | None
    currencies: dict[int, str]  # by program: how the evidence's amounts are written
    cashiers: dict[str, str]  # the alerts' keys ("k<id>") and members ("s<id>") by name


def alerts_page(session: Session, *, principal: Principal, program_id: int | None,
                before: int | None, limit: int) -> AlertsPage:
    found = list_alerts(session, principal=principal, program_id=program_id,
                        before=before, limit=limit + 1)
    programs = session.execute(select(Program.id, Program.name, Program.currency).where(
        Program.merchant_id == principal.merchant_id).order_by(Program.id)).all()
    locations = session.execute(select(Location.id, Location.name).where(
        Location.merchant_id == principal.merchant_id)).all()
    return AlertsPage(alerts=found[:limit], programs={row.id: row.name for row in programs},
                      locations={row.id: row.name for row in locations},
                      next_before=found[limit - 1].id if len(found) > limit else None,
                      currencies={row.id: row.currency for row in programs},
                      cashiers=_cashier_names(session, found[:limit]))


def _cashier_names(session: Session, alerts: list[AlertView]) -> dict[str, str]:
    """The names of the keys and staff members the alerts name."""
    keys = sorted({alert.api_key_id for alert in alerts if alert.api_key_id is not None})
    members = sorted({alert.staff_id for alert in alerts if alert.staff_id is not None})
    names = {f"k{row.id}": row.name for row in session.execute(
        select(ApiKey.id, ApiKey.name).where(ApiKey.id.in_(keys)))} if keys else {}
    if members:
        names.update({f"s{row.id}": row.name for row in session.execute(
            select(Staff.id, Staff.name).where(Staff.id.in_(members)))})
    return names


def get_alert(session: Session, *, principal: Principal, alert_id: int) -> AlertView:
    row = session.execute(_visible(principal).where(Alert.id == alert_id)).one_or_none()
    if row is None:
        raise NotFound("No such alert.")
    return _view(row.Alert, row.number, row.status)


def acknowledge_alert(session: Session, *, principal: Principal, alert_id: int,
                      where: Where | None = None) -> AlertView:
    """Mark the alert seen, by whom and when; the staff action log records a member's
    acknowledgement. An acknowledged alert stays as it was."""
    found = get_alert(session, principal=principal, alert_id=alert_id)
    if found.acknowledged:
        session.rollback()
        return found
    alert = session.get(Alert, alert_id, with_for_update=True,
                        populate_existing=True)
    assert alert is not None
    if alert.acknowledged_at is None:  # not meanwhile by someone else
        alert.acknowledged_at = utcnow()
        alert.acknowledged_by_staff_id = principal.staff_id
        alert.acknowledged_by_api_key_id = principal.api_key_id
        if principal.staff_id is not None and principal.api_key_id is None:
            record_event(session, merchant_id=principal.merchant_id,
                         actor_staff_id=principal.staff_id, action=ALERT_ACKNOWLEDGED,
                         where=where or Where(), alert=alert.id, card=alert.card_id)
    session.commit()
    return get_alert(session, principal=principal, alert_id=alert_id)


def block_card_of_alert(session: Session, *, principal: Principal, alert_id: int) -> AlertView:
    """Block the card the alert names, as ``POST /api/v1/cards/{id}/block`` does (the
    reason names the alert); an alert that names no card is a 404."""
    alert = get_alert(session, principal=principal, alert_id=alert_id)
    if alert.card_id is None:
        raise NotFound("This alert names no card.")
    location = next(iter(principal.locations)) if len(principal.locations) == 1 else None
    actor = Actor(merchant_id=principal.merchant_id, api_key_id=principal.api_key_id,
                  staff_id=principal.staff_id, location_id=location, role=principal.role)
    set_blocked(session, actor=actor, card_id=alert.card_id, blocked=True,
                reason=f"alert {alert.id}: {alert.kind}")
    return get_alert(session, principal=principal, alert_id=alert_id)


def alert_json(alert: AlertView) -> dict[str, Any]:
    return {
        "id": alert.id, "kind": alert.kind, "detail": alert.detail,
        "card_id": alert.card_id, "card_number": alert.card_number,
        "program_id": alert.program_id, "api_key_id": alert.api_key_id,
        "staff_id": alert.staff_id, "evidence": alert.evidence or {},
        "location_id": alert.location_id, "created_at": iso(alert.created_at),
        "acknowledged_at": iso(alert.acknowledged_at),
        "acknowledged_by_staff_id": alert.acknowledged_by_staff_id,
        "acknowledged_by_api_key_id": alert.acknowledged_by_api_key_id,
    }
