"""Reissuing a card's own link (``card_url``), and with it, when asked, the pass's token.

Invariants: a reissue moves ``link_version`` on, so every earlier link of the card (and
the pass download under it) stops working at once; the card's JSON always shows the
current one. The pass is bumped either way, since it carries the card's link on its back
and Google's object does too. Resetting the pass token (``reset_pass_token``) replaces
the ``authenticationToken`` that Apple's web service checks: a copy of the pass that
leaked can no longer fetch updates or register devices, and the registrations made with
the old token are dropped (their devices could never fetch the pass again); the owner
adds the pass anew from the new link.
"""

from __future__ import annotations

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from app.cards.models import Card
from app.cards.service import card_in_reach, new_authentication_token
from app.devices.models import Device, Registration
from app.outbox.messages import pass_changed
from app.points.postings import Actor, audit


def reissue_link(session: Session, *, actor: Actor, card_id: int, reset_pass_token: bool
                 ) -> Card:
    """A new link for the card ``actor`` may reach (``card_in_reach``; the old link is
    dead), and optionally a new pass token; the staff action log records who did it."""
    card = card_in_reach(session, principal=actor.principal, card_id=card_id)
    # Two reissues at once make two versions: the second waits for the first.
    session.execute(select(Card.id).where(Card.id == card.id).with_for_update())
    session.refresh(card)
    card.link_version += 1
    if reset_pass_token:
        card.authentication_token = new_authentication_token()
        _forget_devices(session, card.id)
    pass_changed(session, card, reason="link_reissued")
    audit(session, actor, "link_reissued", card_id=card.id, reset_pass_token=reset_pass_token)
    session.commit()
    return card


def _forget_devices(session: Session, card_id: int) -> None:
    device_ids = list(session.scalars(
        select(Registration.device_id).where(Registration.card_id == card_id)))
    session.execute(delete(Registration).where(Registration.card_id == card_id))
    if device_ids:
        session.execute(delete(Device).where(
            Device.id.in_(device_ids), ~exists().where(Registration.device_id == Device.id)))
