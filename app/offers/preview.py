"""An offer as it would look on a pass, before anyone gets it: the front of a sample card
of the offer's program, drawn by ``passes.apple.preview`` from a pass packaged by the same
code that signs real ones (``app.wallet``).

Invariants: nothing is written: the sample card and its holder are never added to the
session; the sample is of the offer's first targeted tier (none when it targets every
tier), in the language asked for when the program speaks it, else its first.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

from sqlalchemy.orm import Session

from app.cards.models import Card, Customer
from app.clock import utcnow
from app.i18n import best_locale, gettext, using_locale
from app.merchants.models import Program
from app.offers.models import Offer
from app.texts import in_every_locale
from app.wallet.service import Wallet
from passes.apple.preview import render_front

SAMPLE_POINTS = 120
SAMPLE_STAMPS = 3
SAMPLE_NUMBER = "0000000000000"


def offer_preview(session: Session, *, wallet: Wallet, offer: Offer, locale: str) -> bytes:
    """The PNG of a sample card's front with ``offer`` among its offers, as a phone in
    ``locale`` shows it."""
    program = session.get(Program, offer.program_id)
    assert program is not None  # an offer's program is never deleted
    locales = tuple(program.locales) or ("en",)
    shown = best_locale([locale], locales)
    card = _sample_card(program, offer, shown)
    package = wallet.package(card, offers=[in_every_locale(offer.title_given, locales)])
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        files = {info.filename: archive.read(info) for info in archive.infolist()}
    return render_front(json.loads(files["pass.json"]), files, locale=shown).png


def _sample_card(program: Program, offer: Offer, locale: str) -> Card:
    """A card of the program that exists nowhere but in this picture."""
    with using_locale(locale):
        name = gettext("Sample customer")
    tiers = list(offer.audience.get("tiers") or ())
    now = utcnow()
    stamps = program.kind == "stamps"
    return Card(
        id=0, merchant_id=program.merchant_id, program=program, program_id=program.id,
        customer=Customer(name=name, locale=locale, merchant_id=program.merchant_id),
        number=SAMPLE_NUMBER, serial_number=f"preview-{offer.id}",
        authentication_token="preview-" + "0" * 24, link_version=0, status="active",
        balance=0 if stamps else SAMPLE_POINTS, stamps=SAMPLE_STAMPS if stamps else 0,
        rewards=0, tier=tiers[0] if tiers else None, pass_version=1, pass_updated_at=now,
        pass_last_modified=now - timedelta(seconds=1), created_at=now)
