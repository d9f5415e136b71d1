"""Google views of programs and cards, in the shapes ``passes.google`` takes."""

from __future__ import annotations

from collections.abc import Sequence

from app.cards.models import Card
from app.google_wallet.account import GoogleAccount
from app.merchants.models import Program
from app.offers.models import Offer
from app.wallet.card_texts import (
    history_lines,
    holder_locale,
    next_step_text,
    program_tiers,
)
from app.wallet.facts import CardFacts
from app.wallet.views import program_texts
from passes.google import MAX_BALANCE, GoogleCard, GoogleOffer, GoogleProgram


def logo_url(base_url: str, program: Program) -> str:
    """Where Google fetches the program's logo; the version busts Google's image cache."""
    return f"{base_url}/p/{program.slug}/logo.png?v={program.design_version}"


def google_program(program: Program, account: GoogleAccount, *, base_url: str) -> GoogleProgram:
    locales = tuple(program.locales) or ("en",)
    texts = program_texts(program, locales)
    callback = f"{base_url}/google/callback" if base_url.startswith("https://") else None
    return GoogleProgram(
        issuer_id=account.issuer_id,
        class_suffix=account.class_id(program.id).split(".", 1)[1],
        issuer_name=program.merchant.name,
        program_name=program.name,
        logo_url=logo_url(base_url, program),
        background_color=program.colors["background"],
        locales=locales,
        kind=program.kind,
        stamps_required=program.stamps_required,
        barcode_format=program.barcode_format,
        callback_url=callback,
        country_code=program.country,
        texts=texts,
        reward_text=program.reward_text,
    )


def google_card(card: Card, *, barcode_message: str, customer_url: str,
                offers: Sequence[Offer] = (), facts: CardFacts | None = None) -> GoogleCard:
    """The card's Google object view; with ``facts`` (``app.wallet.facts.card_facts``) it
    carries the next tier and the recent movements, as the Apple pass does."""
    facts = facts or CardFacts()
    locale = holder_locale(card)
    return GoogleCard(
        object_suffix=card.serial_number,
        card_number=card.number,
        barcode_message=barcode_message,
        holder_name=card.customer.name,
        # Google keeps the balance in 32 bits; no real card comes near it.
        balance=min(card.balance, MAX_BALANCE),
        tier=card.tier,
        stamps=card.stamps,
        blocked=card.status == "blocked",
        customer_url=customer_url,
        locale=card.customer.locale if card.customer.locale in ("en", "ru", "uk") else None,
        offers=tuple(GoogleOffer(id=f"offer_{offer.id}", title=offer.title, body=offer.body)
                     for offer in offers),
        rewards=card.rewards,
        next_step=next_step_text(program_tiers(card.program), currency=card.program.currency,
                                 current=card.tier, facts=facts, locale=locale),
        history=history_lines(facts, locale),
    )
