"""Plain pass views of programs and cards, in the shapes ``passes.apple`` takes.

Texts the merchant wrote per language (``app.texts``) come out per locale here: the rules
text in each locale names the tiers and the reward in that locale, and pass.json's
primary-locale program name, description, reward and tier name are turned into each
locale's by the design's ``names`` (its pass.strings). The pass's own words and a stamp
card's next step are the catalogs' (``app.wallet.labels``); a location's lock-screen text
and the offers' titles (``app.offers.service.shown_offers``) come in every language too,
so each phone reads its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.cards.models import Card
from app.i18n import gettext, ngettext, using_locale
from app.merchants.models import Program
from app.texts import in_every_locale, is_per_locale, localized, tier_key, tier_name
from app.wallet.labels import label_set, reward_steps
from passes.apple import Colors, PassCard, PassDesign, PassLocation

ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF"})
MAX_PASS_LOCATIONS = 10


def major_units(amount: int, currency: str) -> str:
    """An amount in minor units as people write it: 150 UAH-kopecks → "1.50", 100 → "1"."""
    if currency in ZERO_DECIMAL_CURRENCIES:
        return str(amount)
    whole, cents = divmod(amount, 100)
    return str(whole) if cents == 0 else f"{whole}.{cents:02d}"


def percent_text(value: Decimal | str | float) -> str:
    text = format(Decimal(str(value)).normalize(), "f")
    return text


def rules_text(program: Program, locale: str) -> str:
    with using_locale(locale):
        return "\n".join(_rules_lines(program, locale))


def _rules_lines(program: Program, locale: str) -> list[str]:
    lines: list[str] = []
    locales = program.locales
    reward_text = localized(program.reward_text_given, locale, locales)
    if program.kind == "stamps":
        lines.append(ngettext(
            "Get a stamp with every purchase. %(num)d stamp: %(reward)s.",
            "Get a stamp with every purchase. %(num)d stamps: %(reward)s.",
            program.stamps_required or 0,  # set on every stamps program (merchants.service)
            reward=reward_text or gettext("a reward")))
    else:
        lines.append(gettext(
            "Earn %(percent)s%% of every purchase back in points. "
            "1 point = %(point_value)s %(currency)s.",
            percent=percent_text(program.earn_percent),
            point_value=major_units(program.point_value, program.currency),
            currency=program.currency,
        ))
        for tier in program.tiers:
            lines.append(gettext(
                "%(name)s: from %(min_spend)s %(currency)s spent in 12 months, "
                "%(percent)s%% back.",
                name=localized(tier["name"], locale, locales), currency=program.currency,
                min_spend=major_units(int(tier["min_spend"]), program.currency),
                percent=percent_text(tier["earn_percent"]),
            ))
        if reward_text:
            lines.append(reward_text)
    if program.welcome_points:
        lines.append(ngettext("%(num)d welcome point when you join.",
                              "%(num)d welcome points when you join.", program.welcome_points))
    return lines


def support_text(program: Program, locale: str) -> str:
    lines = []
    with using_locale(locale):
        if program.support_email:
            lines.append(gettext("Email: %(email)s", email=program.support_email))
        if program.support_phone:
            lines.append(gettext("Phone: %(phone)s", phone=program.support_phone))
        if program.website:
            lines.append(gettext("Web: %(website)s", website=program.website))
    return "\n".join(lines)


def design_key(program: Program) -> str:
    return design_key_of(program.id, program.design_version)


def design_key_of(program_id: int, design_version: int) -> str:
    return f"program-{program_id}-v{design_version}"


def program_texts(program: Program, locales: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """The program's texts by text id and locale, as both wallets show them."""
    texts: dict[str, dict[str, str]] = {
        "how_it_works": {locale: rules_text(program, locale) for locale in locales},
    }
    support = {locale: support_text(program, locale) for locale in locales}
    if any(support.values()):
        texts["support"] = support
    if program.terms:
        texts["terms"] = in_every_locale(program.terms_given, locales)
    return texts


def program_names(program: Program, locales: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """The pass's other localized texts (``PassDesign.names``): the program's name and the
    description, and each tier's name by its key; the ones written as one string for
    every language need no strings entry and have none."""
    names: dict[str, dict[str, str]] = {"description": {}}
    for locale in locales:
        with using_locale(locale):
            names["description"][locale] = gettext(
                "%(program)s loyalty card",
                program=localized(program.name_given, locale, locales))
    if is_per_locale(program.name_given):
        names["program"] = in_every_locale(program.name_given, locales)
    if is_per_locale(program.reward_text_given):
        names["reward"] = in_every_locale(program.reward_text_given, locales)
    for tier in program.tiers:
        if is_per_locale(tier["name"]):
            names[f"tier.{tier_key(tier)}"] = in_every_locale(tier["name"], locales)
    return names


def pass_design(program: Program, *, web_service_url: str) -> PassDesign:
    locales = tuple(program.locales) or ("en",)
    texts = program_texts(program, locales)
    names = program_names(program, locales)
    colors = program.colors
    located = [loc for loc in program.locations if loc.latitude is not None]
    return PassDesign(
        design_key=design_key(program),
        organization_name=program.merchant.name,
        description=names["description"][locales[0]],
        logo_text=localized(program.name_given, locales[0], locales),
        colors=Colors(background=colors["background"], foreground=colors["foreground"],
                      label=colors["label"]),
        barcode_format=program.barcode_format,
        kind=program.kind,
        stamps_required=program.stamps_required,
        locales=locales,
        web_service_url=web_service_url,
        labels=label_set(locales),
        locations=tuple(
            PassLocation(latitude=float(loc.latitude or 0), longitude=float(loc.longitude or 0),
                         relevant_texts=relevant_texts(loc.name, locales))
            for loc in located[:MAX_PASS_LOCATIONS]
        ),
        logo=program.logo,
        texts=texts,
        names=names,
        tier_names=tuple(localized(tier["name"], locales[0], locales) for tier in program.tiers),
        reward_text=localized(program.reward_text_given, locales[0], locales),
        strip=program.strip_image,
        stamp_icon=program.stamp_icon,
        # The front names the reward in the field's label: a sentence with the name too
        # would not fit the row in Russian or Ukrainian ("Ещё 5 штампов до подарка: …").
        reward_steps=reward_steps(program, locales, named=False),
    )


def relevant_texts(name: str, locales: tuple[str, ...]) -> dict[str, str]:
    """What the lock screen says near a location, in each language."""
    texts = {}
    for locale in locales:
        with using_locale(locale):
            texts[locale] = gettext("Show your card at %(name)s", name=name)
    return texts


@dataclass(frozen=True, slots=True)
class CardPass:
    """What a card's pass shows of the card and its holder, as plain values: read from a
    ``Card`` (``of``) or straight from the database (``app.devices.wallet_reads``). The
    program's part of the pass is its design, cached by ``program_id`` and
    ``design_version`` (``app.wallet.service``)."""

    serial_number: str
    authentication_token: str
    number: str
    link_version: int
    holder_name: str
    holder_locale: str  # the customer's language as they chose it
    balance: int
    tier: str | None
    stamps: int
    rewards: int
    voided: bool
    program_id: int
    design_version: int

    @classmethod
    def of(cls, card: Card) -> CardPass:
        return cls(serial_number=card.serial_number,
                   authentication_token=card.authentication_token, number=card.number,
                   link_version=card.link_version, holder_name=card.customer.name,
                   holder_locale=card.customer.locale, balance=card.balance, tier=card.tier,
                   stamps=card.stamps, rewards=card.rewards, voided=card.pass_voided,
                   program_id=card.program_id, design_version=card.program.design_version)


def pass_card(card: CardPass, *, tiers: Sequence[Mapping[str, Any]], locales: tuple[str, ...],
              barcode_message: str, customer_url: str,
              offers: Sequence[Mapping[str, str]] = (), next_step: str = "",
              history: Sequence[str] = ()) -> PassCard:
    """The card's view; its tier named in the primary locale (pass.strings has the rest)
    among the program's ``tiers`` as written, in its ``locales`` (never empty)."""
    return PassCard(
        serial_number=card.serial_number,
        authentication_token=card.authentication_token,
        card_number=card.number,
        barcode_message=barcode_message,
        holder_name=card.holder_name,
        balance=card.balance,
        tier=tier_name(tiers, card.tier, locales[0], locales),
        stamps=card.stamps,
        voided=card.voided,
        customer_url=customer_url,
        offers=tuple(offers),
        rewards=card.rewards,
        next_step=next_step,
        history=tuple(history),
    )
