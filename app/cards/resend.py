"""Mailing a customer the link to their card when the merchant asks (the dashboard's card
page): the same one-time link and mail as a returning customer's (``app.cards.recovery``),
through the mail outbox.

Invariants: only a card the member may reach (``card_in_reach``) and that is not deleted;
a customer without an email is mailed nothing; the links mailed to a customer count
against one budget whoever asked (``MAILS_PER_HOUR`` in any hour, with the join form's),
so that no number of clicks floods a mailbox; every mail sent is in the action log.
"""

from __future__ import annotations

import enum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.cards.models import CardRecoveryLink, CardStatus, Customer
from app.cards.recovery import LINK_LIFETIME, MAILS_PER_HOUR, RATE_WINDOW
from app.cards.service import card_in_reach
from app.clock import utcnow
from app.errors import Conflict
from app.outbox.messages import queue_mail
from app.outbox.models import MAIL_KIND_CARD_RECOVERY
from app.points.postings import Actor, audit
from app.problem_codes import ProblemCode


class Resent(enum.Enum):
    MAILED = "mailed"
    NO_EMAIL = "no_email"  # nothing to send it to
    TOO_MANY = "too_many"  # the customer's hourly budget of links is spent


def mail_card_link(session: Session, *, actor: Actor, card_id: int) -> Resent:
    """Queue a mail of a one-time link to the card for its holder, in their language."""
    card = card_in_reach(session, principal=actor.principal, card_id=card_id)
    if card.status == CardStatus.DELETED:
        raise Conflict("This card was deleted with its holder's data.",
                       code=ProblemCode.CARD_DELETED)
    customer = card.customer
    if not customer.email:
        session.rollback()
        return Resent.NO_EMAIL
    now = utcnow()
    # One at a time per customer, so that racing clicks cannot both pass the budget.
    session.execute(select(Customer.id).where(Customer.id == customer.id).with_for_update())
    recent = session.scalar(select(func.count()).select_from(CardRecoveryLink).where(
        CardRecoveryLink.customer_id == customer.id,
        CardRecoveryLink.created_at > now - RATE_WINDOW)) or 0
    if recent >= MAILS_PER_HOUR:
        session.rollback()
        return Resent.TOO_MANY
    link = CardRecoveryLink(merchant_id=card.merchant_id, program_id=card.program_id,
                            customer_id=customer.id, card_id=card.id, locale=customer.locale,
                            created_at=now, expires_at=now + LINK_LIFETIME)
    session.add(link)
    session.flush()
    queue_mail(session, merchant_id=card.merchant_id, customer_id=customer.id,
               kind=MAIL_KIND_CARD_RECOVERY, recipient=customer.email,
               locale=customer.locale, recovery_link_id=link.id)
    audit(session, actor, "link_mailed", card_id=card.id)
    session.commit()
    return Resent.MAILED
