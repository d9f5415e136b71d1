"""The mails to staff members: an invitation to the merchant's dashboard and a password
reset, each carrying its one-time link (built now from the link's id: nothing usable is
stored). Sent by the mail channel (``app.delivery.mail``) like the customers' mails."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage

from app.config import Config
from app.i18n import gettext, ngettext, using_locale
from app.merchants.links import link_url
from app.merchants.models import StaffLink, StaffLinkPurpose


def staff_link_open(link: StaffLink | None, now: datetime) -> bool:
    return link is not None and link.used_at is None and link.expires_at > now and (
        link.staff.active)


def compose_staff_mail(link: StaffLink, *, recipient: str, locale: str, config: Config,
                       sender_address: str) -> EmailMessage:
    """The invitation or the reset mail in the member's language."""
    url = link_url(config.base_url, config.secret_key, link.id)
    merchant = link.staff.merchant.name
    days = max(1, round((link.expires_at - link.created_at).total_seconds() / 86400))
    minutes = int((link.expires_at - link.created_at).total_seconds() // 60)
    with using_locale(locale):
        if link.purpose == StaffLinkPurpose.INVITE.value:
            subject = gettext("You are invited to %(merchant)s on Loyalpass", merchant=merchant)
            body = ngettext(
                "Hello,\n\nyou are invited to run the loyalty program of %(merchant)s on "
                "Loyalpass. Open this link to choose your password:\n\n%(url)s\n\nThe link "
                "works once and expires in %(num)d day.\n",
                "Hello,\n\nyou are invited to run the loyalty program of %(merchant)s on "
                "Loyalpass. Open this link to choose your password:\n\n%(url)s\n\nThe link "
                "works once and expires in %(num)d days.\n",
                days, merchant=merchant, url=url)
        else:
            subject = gettext("Reset your Loyalpass password")
            body = ngettext(
                "Hello,\n\nsomeone, probably you, asked to reset your password for "
                "%(merchant)s on Loyalpass. Open this link to choose a new one:\n\n%(url)s"
                "\n\nThe link works once and expires in %(num)d minute.\n\nIf you did not ask "
                "for this, ignore this mail: your password stays as it is.\n",
                "Hello,\n\nsomeone, probably you, asked to reset your password for "
                "%(merchant)s on Loyalpass. Open this link to choose a new one:\n\n%(url)s"
                "\n\nThe link works once and expires in %(num)d minutes.\n\nIf you did not ask "
                "for this, ignore this mail: your password stays as it is.\n",
                minutes, merchant=merchant, url=url)
    message = EmailMessage()
    message["From"] = sender_address
    message["To"] = recipient
    message["Subject"] = subject
    message.set_content(body)
    return message
