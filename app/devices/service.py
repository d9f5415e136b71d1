"""Apple's pass update web service as use cases: register, list, the latest pass,
unregister, log.

Authentication is the pass's ``authenticationToken``, compared in constant time; a pass
that does not exist and a wrong token look the same to the caller. The list (the device's
poll) and the latest pass are the wallet's frequent requests: each is one statement on
the thread's held connection (``app.devices.wallet_reads``).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, exists, func, select
from sqlalchemy.orm import Session

from app.analytics.models import APPLE, INSTALLED, REMOVED
from app.cards.models import Card
from app.cards.service import card_by_serial
from app.cards.wallet_events import record_wallet_events
from app.clock import to_microseconds, utcnow
from app.devices.models import Device, DeviceLog, Registration
from app.devices.wallet_reads import KeptPass, UpdatedPasses, pass_head, read_pass
from app.devices.wallet_reads import updated_passes as read_updated_passes
from app.errors import Unauthorized
from app.merchants.models import Program
from app.outbox.webhooks import wallet_event
from app.sql import HeldConnections, Raw
from app.wallet.service import Wallet


def authenticated_card(session: Session, *, serial_number: str, token: str | None) -> Card:
    card = card_by_serial(session, serial_number)
    _authenticate(card.authentication_token if card is not None else None, token)
    assert card is not None  # else _authenticate raised
    return card


def _authenticate(expected: str | None, token: str | None) -> None:
    """Unauthorized unless ``token`` is the pass's (``expected``; None: no such pass)."""
    matches = hmac.compare_digest((expected or "-" * 43).encode(), (token or "").encode())
    if not matches or expected is None:
        raise Unauthorized("The pass's authentication token does not match.")


@dataclass(frozen=True)
class LatestPass:
    last_modified: datetime
    package: bytes | None  # None: not modified since the device's copy (a 304)


def latest_pass(connections: HeldConnections, session: Callable[[], Session], wallet: Wallet,
                *, serial_number: str, token: str | None, modified_since: datetime | None
                ) -> LatestPass:
    """The pass, signed, unless it was not modified after ``modified_since`` (naive UTC);
    Unauthorized, whatever else the request says, unless ``token`` is the pass's.
    ``session`` makes (or gets) the request's session: on SQLite the statement runs in
    it, and anywhere it reads the program when its pass design is not drawn yet."""
    now = utcnow()
    made_with = wallet.made_with  # "": no kept part matches, what the pass shows is read
    with Raw.thread_connection(connections, session) as raw:
        if modified_since is not None:  # a 304, or a download after a push
            head = pass_head(raw, serial_number=serial_number, since=modified_since, now=now,
                             made_with=made_with)
            _authenticate(head.authentication_token if head is not None else None, token)
            assert head is not None
            if not modified_since < head.pass_last_modified:
                return LatestPass(head.pass_last_modified, None)
            if head.kept is not None:
                package = _joined(wallet, session, head.program_id, head.kept)
                if package is not None:
                    return LatestPass(head.pass_last_modified, package)
                made_with = ""  # kept for other design files: signed now
        found = read_pass(raw, serial_number=serial_number, now=now, made_with=made_with)
        _authenticate(found.authentication_token if found is not None else None, token)
        assert found is not None
        package = _joined(wallet, session, found.card.program_id, found.signed)
        if package is not None:
            return LatestPass(found.last_modified, package)
        if found.signed is not None:  # kept for other design files: signed now
            found = read_pass(raw, serial_number=serial_number, now=now, made_with="")
            assert found is not None  # the card was there a moment ago; cards stay
    program_id = found.card.program_id
    package = wallet.package_of(found.card, program=lambda: card_program(session(), program_id),
                                offers=found.offers, facts=found.facts)
    return LatestPass(found.last_modified, package)


def _joined(wallet: Wallet, session: Callable[[], Session], program_id: int,
            kept: KeptPass | None) -> bytes | None:
    """The package of the pass signed ahead ``kept``, if there is one and it was made for
    the design files drawn now (``app.devices.signing_ahead``)."""
    if kept is None:
        return None
    return wallet.join(kept.tail, program_id=program_id, design_version=kept.design_version,
                       stamps=kept.stamps, program=lambda: card_program(session(), program_id))


def card_program(session: Session, program_id: int) -> Program:
    """The card's program (``program_id``), read when its pass design is not drawn yet."""
    program = session.get(Program, program_id)
    assert program is not None  # a card's program is never deleted
    return program


def register(
    session: Session, *, device_library_identifier: str, serial_number: str, push_token: str,
    token: str | None,
) -> bool:
    """Register a device for a pass's updates; True when the registration is new.

    The push token is the registration's: registering again (Apple does, with a new token)
    replaces it for this pass only, and no registration of another pass on the same device
    identifier, whoever made it, changes where this pass's pushes go.
    """
    card = authenticated_card(session, serial_number=serial_number, token=token)
    now = utcnow()
    device = session.scalar(
        select(Device).where(Device.device_library_identifier == device_library_identifier)
    )
    if device is None:
        device = Device(device_library_identifier=device_library_identifier)
        session.add(device)
        session.flush()
    device.updated_at = now
    registration = session.scalar(
        select(Registration).where(Registration.device_id == device.id,
                                   Registration.card_id == card.id)
    )
    if registration is None:
        _record_first_install(session, card_id=card.id, now=now)
        session.add(Registration(device_id=device.id, card_id=card.id, push_token=push_token))
        wallet_event(session, merchant_id=card.merchant_id, program_id=card.program_id,
                     card_id=card.id, wallet="apple", installed=True)
    elif registration.push_token != push_token:
        registration.push_token = push_token
    session.commit()
    return registration is None


def has_registration() -> ColumnElement[bool]:
    """True for a ``Card`` that still has a registration on some device."""
    return exists().where(Registration.card_id == Card.id)


def _record_first_install(session: Session, *, card_id: int, now: datetime) -> None:
    """An ``installed`` wallet event when the card has no registration yet: a second
    device is the same card in Apple Wallet, not a new install."""
    record_wallet_events(session, card_ids=[card_id], wallet=APPLE, kind=INSTALLED, at=now,
                         where=~has_registration())


def unregister(
    session: Session, *, device_library_identifier: str, serial_number: str, token: str | None
) -> None:
    """Remove the device's registration for the pass; the card leaves Apple Wallet (a
    ``removed`` wallet event) when it was its last registration."""
    card = authenticated_card(session, serial_number=serial_number, token=token)
    device_id = session.scalar(
        select(Device.id).where(Device.device_library_identifier == device_library_identifier)
    )
    if device_id is not None:
        result = session.execute(delete(Registration).where(
            Registration.device_id == device_id, Registration.card_id == card.id))
        if getattr(result, "rowcount", 0):
            record_wallet_events(session, card_ids=[card.id], wallet=APPLE, kind=REMOVED,
                                 at=utcnow(), where=~has_registration())
            # The pass is off that device: the merchant's webhooks hear it.
            wallet_event(session, merchant_id=card.merchant_id, program_id=card.program_id,
                         card_id=card.id, wallet="apple", installed=False)
        remaining = session.scalar(
            select(func.count()).select_from(Registration)
            .where(Registration.device_id == device_id)
        )
        if not remaining:
            session.execute(delete(Device).where(Device.id == device_id))
    session.commit()


def parse_tag(tag: str | None, *, now: datetime | None = None) -> int | None:
    """A ``passesUpdatedSince`` tag we may have issued, or None (absent or not ours: list
    everything, so that a device is never stuck).

    Tags are past change times in microseconds: one later than ``now`` is not ours, and
    would not even be a date (``9999999999999999999``).
    """
    if tag is None or not tag.isascii() or not tag.isdigit() or len(tag) > 19:
        return None
    value = int(tag)
    return value if value <= to_microseconds(now or utcnow()) else None


def updated_passes(connections: HeldConnections, session: Callable[[], Session], *,
                   device_library_identifier: str, since: int | None
                   ) -> UpdatedPasses | None:
    """The serials of the device's passes changed after ``since``, or None when there are
    none; on the thread's held connection (``session``: SQLite's, as in ``latest_pass``)."""
    with Raw.thread_connection(connections, session) as raw:
        return read_updated_passes(raw, device_library_identifier=device_library_identifier,
                                   since=since)


def store_log(
    session: Session, *, messages: list[str], remote_addr: str | None, keep_rows: int
) -> None:
    for message in messages:
        session.add(DeviceLog(message=message[:2000], remote_addr=remote_addr))
    session.flush()
    newest_kept = session.scalar(
        select(DeviceLog.id).order_by(DeviceLog.id.desc()).offset(keep_rows).limit(1)
    )
    if newest_kept is not None:
        session.execute(delete(DeviceLog).where(DeviceLog.id <= newest_kept))
    session.commit()
