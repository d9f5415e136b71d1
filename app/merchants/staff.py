"""The merchant's staff: inviting members, changing their role and locations, removing
them, and reading the staff action log.

Invariants: only an owner manages staff (``access.authorize``, the same check the pages
make); a member is the merchant's own or is not found; a merchant keeps at least one
owner; every change ends the member's sessions (``Staff.session_version``) and is logged
(``accounts.record_event``: who, what, to whom, when, from where). A removed member
keeps their row (the log and their past actions name it) without a password, locations
or live API keys; inviting their email again brings them back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, selectinload

from app.clock import utcnow
from app.errors import Conflict, Invalid, NotFound
from app.merchants.access import OWNER, OWNERS, Principal, authorize
from app.merchants.accounts import Where, new_link, record_event
from app.merchants.models import (
    ROLES,
    ApiKey,
    Location,
    Staff,
    StaffEvent,
    StaffLinkPurpose,
    StaffLocation,
)
from app.outbox.messages import queue_staff_mail
from app.outbox.models import MAIL_KIND_STAFF_INVITE
from app.problem_codes import ProblemCode

NAME_LIMIT = 200


@dataclass(frozen=True)
class MemberChange:
    """What an owner sets for a member: the role and the locations (empty: all)."""

    role: str
    location_ids: frozenset[int] = frozenset()


def list_staff(session: Session, *, merchant_id: int) -> list[Staff]:
    return list(session.scalars(
        select(Staff).options(selectinload(Staff.locations))
        .where(Staff.merchant_id == merchant_id, Staff.removed_at.is_(None))
        .order_by(Staff.id)))


def list_locations(session: Session, *, merchant_id: int) -> list[Location]:
    return list(session.scalars(select(Location).where(Location.merchant_id == merchant_id)
                                .order_by(Location.name, Location.id)))


def staff_names(session: Session, *, merchant_id: int) -> dict[int, str]:
    """Every member's email by id, removed ones too (the action log names them)."""
    rows = session.execute(select(Staff.id, Staff.email).where(Staff.merchant_id == merchant_id))
    return {row.id: row.email for row in rows}


@dataclass(frozen=True)
class EventFilter:
    """Which entries of the staff action log to read: by whom (as the actor or the one
    acted on), at which location, and from which day to which day (UTC, both included)."""

    staff_id: int | None = None
    location_id: int | None = None
    since: date | None = None
    until: date | None = None


def staff_events(session: Session, *, merchant_id: int, limit: int = 100,
                 only: EventFilter | None = None) -> list[StaffEvent]:
    """The newest ``limit`` entries of the log, all or ``only`` those asked for."""
    query = select(StaffEvent).where(StaffEvent.merchant_id == merchant_id)
    only = only or EventFilter()
    if only.staff_id is not None:
        query = query.where(or_(StaffEvent.actor_staff_id == only.staff_id,
                                StaffEvent.subject_staff_id == only.staff_id))
    if only.location_id is not None:
        query = query.where(StaffEvent.location_id == only.location_id)
    if only.since is not None:
        query = query.where(StaffEvent.created_at >= datetime.combine(only.since, time()))
    if only.until is not None:
        query = query.where(StaffEvent.created_at < datetime.combine(
            only.until + timedelta(days=1), time()))
    return list(session.scalars(query.order_by(StaffEvent.id.desc()).limit(limit)))


def _email(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise Invalid("email: this is not an email address.",
                      errors=[{"field": "email", "message": "not an email address"}]) from None


def _checked(session: Session, merchant_id: int, change: MemberChange) -> None:
    if change.role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}.",
                      errors=[{"field": "role", "message": "unknown role"}])
    if change.location_ids:
        known = set(session.scalars(select(Location.id).where(
            Location.merchant_id == merchant_id, Location.id.in_(change.location_ids))))
        if known != set(change.location_ids):
            raise Invalid("locations: no such location.",
                          errors=[{"field": "locations", "message": "no such location"}])


def invite_staff(session: Session, *, actor: Principal, email: str, name: str,
                 change: MemberChange, locale: str, where: Where) -> Staff:
    """Add a member (or bring a removed one back) and mail them a link that sets their
    password."""
    authorize(actor, OWNERS)
    email, name = _email(email), name.strip()[:NAME_LIMIT]
    _checked(session, actor.merchant_id, change)
    staff = session.scalar(select(Staff).where(Staff.email == email))
    if staff is not None and (staff.merchant_id != actor.merchant_id or staff.active):
        raise Conflict(f"{email} belongs to a staff member already.",
                       code=ProblemCode.STAFF_EMAIL_TAKEN)
    if staff is None:
        staff = Staff(merchant_id=actor.merchant_id, email=email, role=change.role)
        session.add(staff)
    staff.name, staff.role, staff.removed_at, staff.password_hash = name, change.role, None, None
    session.flush()
    _set_locations(session, staff, change.location_ids)
    link = new_link(session, staff, StaffLinkPurpose.INVITE, locale, utcnow())
    queue_staff_mail(session, merchant_id=actor.merchant_id, kind=MAIL_KIND_STAFF_INVITE,
                     recipient=email, locale=locale, staff_link_id=link.id)
    record_event(session, merchant_id=actor.merchant_id, actor_staff_id=actor.staff_id,
                 action="staff.invited", subject_staff_id=staff.id, where=where,
                 role=change.role, locations=sorted(change.location_ids))
    session.commit()
    return staff


def member(session: Session, *, actor: Principal, staff_id: int) -> Staff:
    """One of the merchant's current members; ``NotFound`` for anyone else."""
    staff = session.get(Staff, staff_id)
    if staff is None or staff.merchant_id != actor.merchant_id or not staff.active:
        raise NotFound("No such staff member.")
    return staff


def _keep_an_owner(session: Session, staff: Staff) -> None:
    """``Conflict`` when ``staff`` is the merchant's last owner (locked first, so that two
    owners cannot remove each other at once)."""
    if staff.role != OWNER:
        return
    owners = list(session.scalars(
        select(Staff.id).where(Staff.merchant_id == staff.merchant_id, Staff.role == OWNER,
                               Staff.removed_at.is_(None)).with_for_update()))
    if owners == [staff.id]:
        raise Conflict("A merchant needs an owner: make someone else an owner first.",
                       code=ProblemCode.LAST_OWNER)


def _set_locations(session: Session, staff: Staff, location_ids: Iterable[int]) -> None:
    staff.locations = [StaffLocation(staff_id=staff.id, location_id=location_id)
                       for location_id in sorted(location_ids)]


def change_staff(session: Session, *, actor: Principal, staff_id: int, change: MemberChange,
                 where: Where) -> Staff:
    """Set a member's role and locations; their sessions end when either changed."""
    authorize(actor, OWNERS)
    staff = member(session, actor=actor, staff_id=staff_id)
    _checked(session, actor.merchant_id, change)
    before = (staff.role, staff.location_ids)
    if before == (change.role, change.location_ids):
        return staff
    if change.role != OWNER:
        _keep_an_owner(session, staff)
    staff.role = change.role
    _set_locations(session, staff, change.location_ids)
    staff.session_version += 1
    record_event(session, merchant_id=actor.merchant_id, actor_staff_id=actor.staff_id,
                 action="staff.changed", subject_staff_id=staff.id, where=where,
                 role_before=before[0], role=change.role,
                 locations_before=sorted(before[1]), locations=sorted(change.location_ids))
    session.commit()
    return staff


def remove_staff(session: Session, *, actor: Principal, staff_id: int, where: Where) -> None:
    """Remove a member: their sessions end, their password and their API keys stop."""
    authorize(actor, OWNERS)
    staff = member(session, actor=actor, staff_id=staff_id)
    _keep_an_owner(session, staff)
    now = utcnow()
    staff.removed_at, staff.password_hash = now, None
    staff.session_version += 1
    _set_locations(session, staff, ())
    revoked = session.execute(
        update(ApiKey).where(ApiKey.staff_id == staff.id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now).execution_options(synchronize_session=False))
    record_event(session, merchant_id=actor.merchant_id, actor_staff_id=actor.staff_id,
                 action="staff.removed", subject_staff_id=staff.id, where=where,
                 role=staff.role, api_keys_revoked=int(getattr(revoked, "rowcount", 0) or 0))
    session.commit()

