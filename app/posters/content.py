"""What a program's poster says, in one language: its name, the location, the offer in
one line (from the program's rules), the two steps and the join link. The merchant's
texts (the name, a stamp card's reward) are the poster language's (``app.texts``)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_decimal

from app.i18n import current_locale, gettext, ngettext, using_locale
from app.merchants.models import Location, Program
from app.merchants.schemas import DEFAULT_COLORS
from app.points.postings import program_rules
from app.points.rules import earn_rate
from app.texts import localized


@dataclass(frozen=True)
class PosterColors:
    """``#rrggbb`` colours of the program's pass: the page, its text, the quieter text."""

    background: str
    foreground: str
    label: str


@dataclass(frozen=True)
class Poster:
    language: str
    title: str  # the program's name
    place: str | None  # the location's name, when the poster is for one counter
    offer: str
    steps: tuple[str, ...]
    url: str  # what the QR code holds: the join link
    footer: str  # the link as words, for a phone whose camera does not read codes
    colors: PosterColors
    logo: bytes | None  # the uploaded PNG or JPEG, as stored (``app.merchants.logos``)


def number(value: Decimal | int) -> str:
    """A number as the current language writes it: ``2.5`` in English, ``2,5`` and
    ``1 000`` in Russian and Ukrainian; no trailing zeros (a stored ``2.000`` is ``2``)."""
    return format_decimal(value, locale=current_locale())


def welcome_offer(points: int) -> str:
    return ngettext("Join and get %(count)s point", "Join and get %(count)s points", points,
                    count=number(points))


def offer_line(program: Program) -> str:
    """The program's offer to a newcomer in one line, in the current language: the
    welcome points ("Join and get 100 points"), a stamp card's reward ("Collect 8 stamps —
    get a free coffee"), the earn rate a new card starts at ("Get 2% back in points"), or
    an invitation."""
    rules = program_rules(program)
    if rules.kind == "stamps" and rules.stamps_required:
        required = rules.stamps_required
        reward = localized(program.reward_text_given, current_locale(),
                           program.locales).strip()
        if reward:
            return ngettext("Collect %(count)s stamp — get %(reward)s",
                            "Collect %(count)s stamps — get %(reward)s", required,
                            count=number(required), reward=reward)
        return ngettext("Collect %(count)s stamp and get a reward",
                        "Collect %(count)s stamps and get a reward", required,
                        count=number(required))
    if rules.kind == "points" and rules.welcome_points > 0:
        return welcome_offer(rules.welcome_points)
    rate = earn_rate(rules, 0)  # a new card's tier is the one for no spend yet
    if rules.kind == "points" and rate > 0:
        return gettext("Get %(percent)s%% back in points", percent=number(rate))
    return gettext("Get our loyalty card")


def poster_content(program: Program, *, location: Location | None, locale: str,
                   url: str) -> Poster:
    """The poster of ``program`` in ``locale`` whose code opens ``url`` (the join link,
    naming ``location`` and the campaign tag when there are)."""
    colors = {**DEFAULT_COLORS, **(program.colors or {})}
    shown_url = url.split("://", 1)[-1]  # people type what follows the scheme
    with using_locale(locale) as language:
        return Poster(
            language=language,
            title=localized(program.name_given, language, program.locales),
            place=location.name if location is not None else None,
            offer=offer_line(program),
            steps=(gettext("1. Scan the code with your phone's camera."),
                   gettext("2. Add the card to your wallet.")),
            url=url,
            footer=gettext("or open %(url)s", url=shown_url),
            colors=PosterColors(background=colors["background"],
                                foreground=colors["foreground"], label=colors["label"]),
            logo=program.logo,
        )
