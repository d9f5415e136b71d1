"""Google views of programs and cards, in the shapes ``passes.google`` takes.

Texts the merchant wrote per language (``app.texts``) become Google's LocalizedStrings:
the class's program name and text modules, an offer's header and body (the program's
first language as the default value, the others translated). What Google shows as a
plain string on one card (the tier, as a points balance's string) is in the holder's
language.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.cards.models import Card
from app.google_wallet.account import GoogleAccount
from app.i18n import LOCALES
from app.merchants.models import Program
from app.offers.models import Offer
from app.texts import in_every_locale, is_per_locale, localized, own_texts, tier_name
from app.wallet.apple_shapes import program_texts
from app.wallet.card_texts import (
    history_lines,
    holder_locale,
    next_step_text,
    program_tiers,
)
from app.wallet.facts import CardFacts
from app.wallet.labels import label_set, reward_steps
from passes.google import MAX_BALANCE, GoogleCard, GoogleOffer, GoogleProgram


def logo_url(base_url: str, program: Program) -> str:
    """Where Google fetches the program's logo; the version busts Google's image cache."""
    return f"{base_url}/p/{program.slug}/logo.png?v={program.design_version}"


def google_program(program: Program, account: GoogleAccount, *, base_url: str) -> GoogleProgram:
    locales = tuple(program.locales) or ("en",)
    texts = program_texts(program, locales)
    names = own_texts(program.name_given, locales) if is_per_locale(program.name_given) else {}
    callback = f"{base_url}/google/callback" if base_url.startswith("https://") else None
    return GoogleProgram(
        issuer_id=account.issuer_id,
        class_suffix=account.class_id(program.id).split(".", 1)[1],
        issuer_name=program.merchant.name,
        program_name=localized(program.name_given, locales[0], locales),
        program_name_translations={locale: name for locale, name in names.items()
                                   if locale != locales[0]},
        logo_url=logo_url(base_url, program),
        background_color=program.colors["background"],
        locales=locales,
        labels=label_set(locales),
        kind=program.kind,
        stamps_required=program.stamps_required,
        barcode_format=program.barcode_format,
        callback_url=callback,
        country_code=program.country,
        texts=texts,
        reward_text=localized(program.reward_text_given, locales[0], locales),
        reward_steps=reward_steps(program, locales),
    )


def google_card(card: Card, *, barcode_message: str, customer_url: str,
                offers: Sequence[Offer] = (), facts: CardFacts | None = None) -> GoogleCard:
    """The card's Google object view; with ``facts`` (``app.wallet.facts.card_facts``) it
    carries the next tier and the recent movements, as the Apple pass does."""
    facts = facts or CardFacts()
    program = card.program
    locales = tuple(program.locales) or ("en",)
    locale = holder_locale(card)
    return GoogleCard(
        object_suffix=card.serial_number,
        card_number=card.number,
        barcode_message=barcode_message,
        holder_name=card.customer.name,
        # Google keeps the balance in 32 bits; no real card comes near it.
        balance=min(card.balance, MAX_BALANCE),
        tier=tier_name(program.tiers, card.tier, locale, locales),
        stamps=card.stamps,
        blocked=card.pass_voided,  # blocked or deleted: INACTIVE
        customer_url=customer_url,
        locale=card.customer.locale if card.customer.locale in LOCALES else None,
        offers=tuple(google_offer(offer, locale, locales) for offer in offers),
        rewards=card.rewards,
        next_step=next_step_text(program_tiers(card.program), currency=card.program.currency,
                                 current=card.tier, facts=facts, locale=locale,
                                 written=program.tiers, locales=locales),
        history=history_lines(facts, locale),
    )


def google_offer(offer: Offer, locale: str, locales: tuple[str, ...]) -> GoogleOffer:
    """An offer in the holder's language, with every language's text when it was written
    per language."""
    title, body = offer.title_given, offer.body_given
    return GoogleOffer(
        id=f"offer_{offer.id}", title=localized(title, locale, locales),
        body=localized(body, locale, locales),
        titles=in_every_locale(title, locales) if is_per_locale(title) else {},
        bodies=in_every_locale(body, locales) if is_per_locale(body) else {})
