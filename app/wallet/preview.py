"""A picture of a program's pass front as Wallet shows it, for the dashboard's editor.

The pass is made by the same code that signs every pass (``pass_design``, ``pass_card``,
``passes.apple.build_package``) for a sample card of the program, and its front is drawn
from the package's pass.json and files (``passes.apple.preview``), so what the merchant
sees is what phones will get. The program may be an unsaved draft
(``app.merchants.service.program_draft``): its design is prepared on the spot under a
key of its own, never put into the packager's caches, so a draft is never served as a
real pass.

Invariant: reads the program handed in; nothing here touches the database.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import replace

from app.i18n import best_locale, gettext, using_locale
from app.merchants.models import Program
from app.texts import localized
from app.wallet.apple_shapes import pass_design
from app.wallet.service import Wallet
from passes.apple import PassCard, build_package, prepare_design
from passes.apple.preview import render_front

SAMPLE_BALANCE = 240  # points on the sample card: a few visits' worth
SAMPLE_SERIAL = "preview"
# Not a secret: the sample card's pass is drawn, never served to a phone.
SAMPLE_TOKEN = "preview-authentication-token"  # noqa: S105
SAMPLE_NUMBER = "1234 5678 9012"


def sample_card(program: Program, locale: str, base_url: str) -> PassCard:
    """A card of the program half-way to its reward, with its first tier (if any)."""
    locales = tuple(program.locales) or ("en",)
    stamps = max((program.stamps_required or 0) // 2, 1) if program.kind == "stamps" else 0
    tier = (localized(program.tiers[0]["name"], locales[0], locales)
            if program.tiers and program.kind != "stamps" else None)
    with using_locale(locale):
        holder = gettext("Sample customer")
    return PassCard(serial_number=SAMPLE_SERIAL, authentication_token=SAMPLE_TOKEN,
                    card_number=SAMPLE_NUMBER, barcode_message=SAMPLE_NUMBER,
                    holder_name=holder, balance=SAMPLE_BALANCE, tier=tier, stamps=stamps,
                    voided=False, customer_url=base_url)


def preview_front(wallet: Wallet, program: Program, *, locale: str) -> bytes:
    """The PNG of the front of a sample card's signed pass, read in ``locale`` (the
    program's nearest language), as a phone in that language shows it."""
    shown = best_locale([locale], program.locales or ["en"])
    design = pass_design(program, web_service_url=wallet.config.web_service_url)
    # A key no real pass has: the preview's artwork is prepared here, apart.
    design = replace(design, design_key=f"preview-{program.id}-{program.design_version}")
    card = sample_card(program, shown, wallet.config.base_url)
    package = build_package(card, prepare_design(design, stamps=card.stamps),
                            wallet.identity)
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    document = json.loads(files["pass.json"])
    return render_front(document, files, locale=shown).png
