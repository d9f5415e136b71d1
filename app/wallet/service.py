"""The wallet as the app sees it: links, barcodes and signed packages for a card.

Barcodes, card links and recovery links are signed with the current secret key and
verified with it and every previous one (``app.secret_keys``): a card handed out before a
key rotation keeps scanning and opening while its key is listed, and everything made
now carries the current key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from app.cards.models import Card
from app.cards.numbers import barcode_message
from app.config import Config
from app.google_wallet.account import GoogleAccount
from app.i18n import best_locale
from app.merchants.models import Program
from app.metrics import PASSES_BUILT, PASSES_SERVED_SIGNED
from app.points.rules import Tier
from app.wallet.apple_shapes import CardPass, design_key, design_key_of, pass_card, pass_design
from app.wallet.barcodes import barcode_png, link_qr_png
from app.wallet.card_texts import history_lines, next_step_text, program_tiers
from app.wallet.facts import CardFacts
from passes.apple import (
    CardTail,
    PassCard,
    PassDesign,
    PassPackager,
    SigningIdentity,
    validate_logo,
    validate_stamp_icon,
    validate_strip,
)
from passes.apple.images import square_mark

log = logging.getLogger("loyalpass.wallet")
MAX_CACHED_DESIGNS = 512
# Raised when the same card and design give a pass written otherwise (new fields, texts):
# the signed parts kept of the old writing are then not served (``Wallet.made_with``).
# Part 2: kept without the certificates in its signature (``passes.apple.PassPackager.tail``).
SIGNED_PART_FORMAT = b"loyalpass signed pass part 2"

BARCODE_FORMATS = {"qr": "QR", "pdf417": "PDF417", "aztec": "Aztec", "code128": "Code 128"}


@dataclass(frozen=True)
class _Drawn:
    """What every pass of one design version shares: the design, the tiers parsed and as
    written (their names in each language), the currency and languages."""

    design: PassDesign
    tiers: tuple[Tier, ...]
    currency: str
    written_tiers: tuple[Mapping[str, Any], ...]
    locales: tuple[str, ...]  # as the program lists them (possibly none)


@dataclass
class Wallet:
    config: Config
    identity: SigningIdentity
    google: GoogleAccount | None = None  # None: Google Wallet is off

    def __post_init__(self) -> None:
        self.packager = PassPackager(self.identity)
        # Every key a barcode or link may be signed with, the current one first.
        self.scan_keys = self.config.secret_keys.verifying_bytes
        self._secret = self.scan_keys[0]
        # A key of its own for links, so that a link MAC is never a barcode MAC.
        self._link_keys = tuple(hmac.new(key, b"loyalpass.card-link", "sha256").digest()
                                for key in self.scan_keys)
        # And one for recovery links, so that no card link MAC opens a recovery link.
        self._recovery_keys = tuple(
            hmac.new(key, b"loyalpass.card-recovery", "sha256").digest()
            for key in self.scan_keys)
        self._designs: dict[str, _Drawn] = {}
        self._lock = threading.Lock()
        # What a kept signed part (``signed_part``) was made with besides the card and its
        # design's files: how it is written, the certificates, the links, the barcode key.
        # A part made with other ones is not served: the pass is signed anew.
        self.made_with = hashlib.sha256(b"\n".join([
            SIGNED_PART_FORMAT, self.identity.certificate.public_bytes(Encoding.DER),
            self.identity.wwdr.public_bytes(Encoding.DER), self.config.base_url.encode(),
            self.config.web_service_url.encode(),
            self.config.secret_keys.current_id.encode()])).hexdigest()

    @property
    def is_development_chain(self) -> bool:
        """Signed by `loyalpass certs dev`'s chain, which Apple's services refuse."""
        return "Loyalpass Development" in self.identity.wwdr.subject.rfc4514_string()

    @property
    def pass_type_identifier(self) -> str:
        return self.identity.pass_type_identifier

    def barcode_message(self, card: Card | CardPass) -> str:
        return barcode_message(card.number, self._secret)

    def barcode_image(self, card: Card) -> bytes:
        """The pass's barcode as a PNG (same format, same message), for the card's page."""
        return barcode_png(card.program.barcode_format, self.barcode_message(card))

    def card_url_qr(self, card: Card) -> bytes:
        """A QR code of the card's page (its secret link), for a desktop to hand it on."""
        return link_qr_png(self.card_url(card))

    @staticmethod
    def _link_mac(link_key: bytes, serial_number: str, link_version: int) -> str:
        # Version 0 is the link cards had before links could be reissued: its MAC covers
        # the serial number alone, so those links keep working until the first reissue.
        # Later versions cover "serial:version" (a serial number never holds a colon).
        message = serial_number if link_version == 0 else f"{serial_number}:{link_version}"
        digest = hmac.new(link_key, message.encode(), "sha256").digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()

    def card_token(self, card: Card | CardPass) -> str:
        """The card's current link token: its serial number and a MAC of it and of its
        link version (144 bits), under the current key."""
        return self._token(self._link_keys[0], card)

    def _token(self, link_key: bytes, card: Card | CardPass) -> str:
        return (f"{card.serial_number}."
                f"{self._link_mac(link_key, card.serial_number, card.link_version)}")

    @staticmethod
    def serial_in_token(token: str) -> str | None:
        """The serial number a card link token names, when it has a token's shape (printable
        ASCII, serial and MAC); whether it opens the card is ``token_opens``'s to say."""
        serial_number, dot, mac = token.partition(".")
        if not (serial_number and dot and mac and token.isascii() and token.isprintable()):
            return None
        return serial_number

    def token_opens(self, card: Card, token: str) -> bool:
        """Whether ``token`` is the card's current link (an earlier version is not),
        signed with the current key or a previous one."""
        return token.isascii() and any(
            hmac.compare_digest(self._token(link_key, card).encode(), token.encode())
            for link_key in self._link_keys)

    def card_url(self, card: Card | CardPass) -> str:
        return f"{self.config.base_url}/c/{self.card_token(card)}"

    @staticmethod
    def _recovery_mac(recovery_key: bytes, link_id: int) -> str:
        digest = hmac.new(recovery_key, str(link_id).encode(), "sha256").digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()

    def recovery_url(self, link_id: int) -> str:
        """The one-time link mailed to a returning customer: the row's id and its MAC."""
        mac = self._recovery_mac(self._recovery_keys[0], link_id)
        return f"{self.config.base_url}/r/{link_id}.{mac}"

    def recovery_link_id(self, token: str) -> int | None:
        """The recovery link a token names, or None when it is not one we made."""
        number, _, mac = token.partition(".")
        # Ids as the database writes them: digits, no leading zero, within 64 bits.
        if not (number.isascii() and number.isdigit()) or number[0] == "0" or len(number) > 18:
            return None
        if not any(hmac.compare_digest(self._recovery_mac(key, int(number)).encode(),
                                       mac.encode()) for key in self._recovery_keys):
            return None
        return int(number)

    def apple_pass_url(self, card: Card) -> str:
        return f"{self.card_url(card)}/pass.pkpass"

    def google_save_url(self, card: Card) -> str | None:
        """The "Add to Google Wallet" link, or None while Google Wallet is off."""
        if self.google is None:
            return None
        return self.google.save_url(program_id=card.program_id,
                                    serial_number=card.serial_number)

    def design(self, program: Program) -> PassDesign:
        return self._drawn(program).design

    def _drawn(self, program: Program) -> _Drawn:
        return self._drawn_of(design_key(program), lambda: program)

    def _drawn_of(self, key: str, program: Callable[[], Program]) -> _Drawn:
        """The pass design and parsed tiers of the program version ``key`` names, made once
        per design version (any change to how a pass looks, tiers and currency included,
        is a new version) from the program ``program`` reads, only when not made yet. A
        program changed since ``key`` was read is drawn as it is now."""
        with self._lock:
            drawn = self._designs.get(key)
        if drawn is None:
            current = program()
            design = self._drawable(
                pass_design(current, web_service_url=self.config.web_service_url), current)
            drawn = _Drawn(design, program_tiers(current), current.currency,
                           tuple(current.tiers), tuple(current.locales))
            with self._lock:
                if len(self._designs) >= MAX_CACHED_DESIGNS:
                    self._designs.clear()
                self._designs[design.design_key] = drawn
        return drawn

    def _drawable(self, design: PassDesign, program: Program) -> PassDesign:
        """``design`` without any uploaded image that cannot be drawn (one stored before
        uploads were decoded in full): one program's artwork must not stop its passes
        from being served."""
        if not self._can_draw(design.logo, validate_logo, "logo", program):
            design = replace(design, logo=None)
        if not self._can_draw(design.strip, validate_strip, "strip photo", program):
            design = replace(design, strip=None)
        if not self._can_draw(design.stamp_icon, validate_stamp_icon, "stamp icon", program):
            design = replace(design, stamp_icon=None)
        return design

    @staticmethod
    def _can_draw(image: bytes | None, validate: Callable[[bytes], None], what: str,
                  program: Program) -> bool:
        if image is None:
            return True
        try:
            validate(image)
        except (ValueError, OSError) as error:
            log.warning("program %s: its %s cannot be drawn (%s); its passes show the "
                        "default artwork until a new %s is uploaded", program.id, what,
                        error, what)
            return False
        return True

    def program_mark(self, program: Program, side: int = 660) -> bytes:
        """The program's square mark (PNG), ``side`` pixels, for Google Wallet (660) and
        the customer's pages (small), with the same fallback."""
        colors = program.colors
        try:
            return square_mark(program.name, colors["background"], colors["foreground"],
                               program.logo, side=side)
        except (ValueError, OSError) as error:
            log.warning("program %s: its logo cannot be drawn (%s); the default mark is "
                        "served", program.id, error)
            return square_mark(program.name, colors["background"], colors["foreground"],
                               None, side=side)

    def package(self, card: Card, *, offers: Sequence[Mapping[str, str]] = (),
                facts: CardFacts | None = None) -> bytes:
        """The signed pass; ``offers`` are the titles of the offers the card shows now
        (each ``{locale: title}``, ``app.offers.service.shown_offers``),
        ``facts`` its recent movements and tier spend (``app.wallet.facts.card_facts``;
        without them the pass has no history and no next tier)."""
        return self.package_of(CardPass.of(card), program=lambda: card.program,
                               offers=offers, facts=facts)

    def package_of(self, card: CardPass, *, program: Callable[[], Program],
                   offers: Sequence[Mapping[str, str]] = (),
                   facts: CardFacts | None = None) -> bytes:
        """``package`` of a card read as plain values; ``program`` reads the card's program
        when its design version is not drawn yet (the first pass of each version)."""
        view, design = self._pass_view(card, program, offers, facts or CardFacts())
        package = self.packager.package(view, design)
        PASSES_BUILT.inc()
        return package

    def signed_part(self, card: CardPass, *, program: Callable[[], Program],
                    offers: Sequence[Mapping[str, str]] = (),
                    facts: CardFacts | None = None) -> CardTail:
        """The card's own signed part of ``package_of``'s package, to keep and join to
        its design's files later (``join``), signed ahead of the download."""
        view, design = self._pass_view(card, program, offers, facts or CardFacts())
        tail = self.packager.tail(view, design)
        PASSES_BUILT.inc()
        return tail

    def join(self, tail: CardTail, *, program_id: int, design_version: int, stamps: int,
             program: Callable[[], Program]) -> bytes | None:
        """The package whose kept signed part is ``tail``, made for the program's
        ``design_version`` and a card with ``stamps``; None when it was made for other
        design files than the ones drawn now (a new build of the artwork): it is signed
        anew then."""
        drawn = self._drawn_of(design_key_of(program_id, design_version), program)
        try:
            package = self.packager.join(tail, drawn.design, stamps=stamps)
        except ValueError:
            return None
        PASSES_SERVED_SIGNED.inc()
        return package

    def _pass_view(self, card: CardPass, program: Callable[[], Program],
                   offers: Sequence[Mapping[str, str]], facts: CardFacts
                   ) -> tuple[PassCard, PassDesign]:
        drawn = self._drawn_of(design_key_of(card.program_id, card.design_version), program)
        locale = best_locale([card.holder_locale], drawn.locales)
        locales = drawn.locales or ("en",)
        next_step = next_step_text(drawn.tiers, currency=drawn.currency, current=card.tier,
                                   facts=facts, locale=locale, written=drawn.written_tiers,
                                   locales=locales)
        view = pass_card(card, tiers=drawn.written_tiers, locales=locales,
                         barcode_message=self.barcode_message(card),
                         customer_url=self.card_url(card), offers=offers,
                         next_step=next_step, history=history_lines(facts, locale))
        return view, drawn.design
