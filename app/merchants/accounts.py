"""Staff accounts: logging in, changing a password, and the mailed links that set one
(an invitation, a password reset).

Invariants:

- A login answers the same for an unknown email, a removed member and a wrong password
  (None), in about the same time (``passwords.check_absent``); only a member with a
  password set may log in.
- Every change that must end a member's other sessions raises ``Staff.session_version``;
  a session is live only while it carries the member's current number
  (``session_principal``).
- A link opens once, within its lifetime: one conditional UPDATE consumes it, so two
  submits racing set one password. A reset is asked for with an email and answers the
  same whether it is known or not; at most ``RESETS_PER_HOUR`` links per member an hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from app.clock import utcnow
from app.errors import Gone, Invalid
from app.merchants.access import Principal
from app.merchants.models import Staff, StaffEvent, StaffLink, StaffLinkPurpose
from app.merchants.passwords import check_password, hash_password, password_fault
from app.outbox.messages import queue_staff_mail
from app.outbox.models import MAIL_KIND_PASSWORD_RESET
from app.problem_codes import ProblemCode

RESET_LIFETIME = timedelta(minutes=30)
INVITE_LIFETIME = timedelta(days=7)
RESETS_PER_HOUR = 3


@dataclass(frozen=True)
class Where:
    """Where a staff action came from, for the action log."""

    address: str | None = None
    location_id: int | None = None


def record_event(session: Session, *, merchant_id: int, actor_staff_id: int | None,
                 action: str, where: Where, subject_staff_id: int | None = None,
                 **detail: object) -> None:
    """Add an entry to the staff action log in the caller's transaction."""
    session.add(StaffEvent(merchant_id=merchant_id, actor_staff_id=actor_staff_id,
                           action=action, subject_staff_id=subject_staff_id,
                           location_id=where.location_id,
                           address=(where.address or "")[:64] or None, detail=detail,
                           created_at=utcnow()))


def _member_by_email(session: Session, email: str) -> Staff | None:
    return session.scalar(select(Staff).where(Staff.email == email.strip().lower(),
                                              Staff.removed_at.is_(None)))


def log_in(session: Session, *, email: str, password: str, where: Where) -> Staff | None:
    """The member whose email and password these are, or None (see the invariants)."""
    staff = _member_by_email(session, email)
    checked = check_password(staff.password_hash if staff else None, password)
    if staff is None:
        return None
    if not checked.matches:
        record_event(session, merchant_id=staff.merchant_id, actor_staff_id=None,
                     action="login.failed", subject_staff_id=staff.id, where=where)
        session.commit()
        return None
    if checked.rehash is not None:
        staff.password_hash = checked.rehash
    record_event(session, merchant_id=staff.merchant_id, actor_staff_id=staff.id,
                 action="login", where=where)
    session.commit()
    return staff


def session_principal(session: Session, *, staff_id: int, session_version: int
                      ) -> Principal | None:
    """Who a dashboard session speaks for, while it is live: the member is not removed
    and nothing ended their sessions since it began."""
    staff = session.scalar(select(Staff).options(selectinload(Staff.locations))
                           .where(Staff.id == staff_id))
    if staff is None or not staff.active or staff.session_version != session_version:
        return None
    return Principal(merchant_id=staff.merchant_id, role=staff.role, staff_id=staff.id,
                     locations=staff.location_ids)


def get_member(session: Session, *, staff_id: int) -> Staff | None:
    return session.get(Staff, staff_id)


def _checked_new(password: str, field: str) -> None:
    fault = password_fault(password)
    if fault is not None:
        raise Invalid(f"{field}: {fault}", errors=[{"field": field, "message": fault}])


def change_password(session: Session, *, staff_id: int, current: str, new: str,
                    where: Where) -> int:
    """Set a member's new password after checking their current one; their other
    sessions end. Returns the session number the member's own session goes on with."""
    staff = session.get(Staff, staff_id)
    assert staff is not None
    if not check_password(staff.password_hash, current).matches:
        raise Invalid("current_password: this is not your password.",
                      errors=[{"field": "current_password", "message": "wrong password"}])
    _checked_new(new, "new_password")
    staff.password_hash = hash_password(new)
    staff.session_version += 1
    record_event(session, merchant_id=staff.merchant_id, actor_staff_id=staff.id,
                 action="password.changed", subject_staff_id=staff.id, where=where)
    session.commit()
    return staff.session_version


def new_link(session: Session, staff: Staff, purpose: StaffLinkPurpose, locale: str,
             now: datetime) -> StaffLink:
    """A one-time link for ``staff``, flushed (the caller queues its mail and commits)."""
    lifetime = INVITE_LIFETIME if purpose is StaffLinkPurpose.INVITE else RESET_LIFETIME
    link = StaffLink(merchant_id=staff.merchant_id, staff_id=staff.id, purpose=purpose.value,
                     locale=locale, created_at=now, expires_at=now + lifetime)
    session.add(link)
    session.flush()
    return link


def request_password_reset(session: Session, *, email: str, locale: str, where: Where,
                           now: datetime | None = None) -> None:
    """Mail a reset link to the member with this email, if there is one and they have not
    had ``RESETS_PER_HOUR`` this hour; the caller answers the same in every case."""
    now = now or utcnow()
    staff = _member_by_email(session, email)
    if staff is None:
        return
    recent = session.scalar(select(func.count()).select_from(StaffLink).where(
        StaffLink.staff_id == staff.id, StaffLink.purpose == StaffLinkPurpose.RESET.value,
        StaffLink.created_at > now - timedelta(hours=1))) or 0
    if recent >= RESETS_PER_HOUR:
        return
    link = new_link(session, staff, StaffLinkPurpose.RESET, locale, now)
    queue_staff_mail(session, merchant_id=staff.merchant_id, kind=MAIL_KIND_PASSWORD_RESET,
                     recipient=staff.email, locale=locale, staff_link_id=link.id)
    record_event(session, merchant_id=staff.merchant_id, actor_staff_id=None,
                 action="password.reset_requested", subject_staff_id=staff.id, where=where)
    session.commit()


def open_link(session: Session, *, link_id: int, now: datetime | None = None) -> StaffLink:
    """The link, while it may still set a password; ``Gone`` otherwise."""
    link = session.get(StaffLink, link_id)
    now = now or utcnow()
    if link is None or link.used_at is not None or link.expires_at <= now or (
            not link.staff.active):
        raise Gone("This link has been used or has expired.", code=ProblemCode.STAFF_LINK_GONE)
    return link


def set_password_by_link(session: Session, *, link_id: int, password: str, where: Where,
                         now: datetime | None = None) -> Staff:
    """Consume the link and set its member's password (their other sessions end)."""
    now = now or utcnow()
    link = open_link(session, link_id=link_id, now=now)
    _checked_new(password, "password")
    consumed = session.execute(
        update(StaffLink).where(StaffLink.id == link_id, StaffLink.used_at.is_(None),
                                StaffLink.expires_at > now)
        .values(used_at=now).execution_options(synchronize_session=False))
    if getattr(consumed, "rowcount", 0) != 1:
        session.rollback()
        raise Gone("This link has been used or has expired.", code=ProblemCode.STAFF_LINK_GONE)
    staff = link.staff
    staff.password_hash = hash_password(password)
    staff.session_version += 1
    action = ("invitation.accepted" if link.purpose == StaffLinkPurpose.INVITE.value
              else "password.reset")
    record_event(session, merchant_id=staff.merchant_id, actor_staff_id=staff.id,
                 action=action, subject_staff_id=staff.id, where=where)
    session.commit()
    return staff
