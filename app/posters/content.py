"""What a program's poster says, in one language: its name, the location, the offer in
one line (from the program's rules), the two steps and the join link."""

from __future__ import annotations

from dataclasses import dataclass

from app.i18n import format_number, translate, translate_count
from app.merchants.models import Location, Program
from app.merchants.schemas import DEFAULT_COLORS
from app.points.postings import program_rules
from app.points.rules import earn_rate


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


def offer_line(program: Program, locale: str) -> str:
    """The program's offer to a newcomer in one line: the welcome points ("Join and get
    100 points"), a stamp card's reward ("Collect 8 stamps — get a free coffee"), the
    earn rate a new card starts at ("Get 2% back in points"), or an invitation."""
    rules = program_rules(program)
    if rules.kind == "stamps" and rules.stamps_required:
        reward = program.reward_text.strip()
        if reward:
            return translate_count(locale, "poster_stamps", rules.stamps_required,
                                   reward=reward)
        return translate_count(locale, "poster_stamps_plain", rules.stamps_required)
    if rules.kind == "points" and rules.welcome_points > 0:
        return translate_count(locale, "poster_welcome", rules.welcome_points)
    rate = earn_rate(rules, 0)  # a new card's tier is the one for no spend yet
    if rules.kind == "points" and rate > 0:
        return translate(locale, "poster_earn", percent=format_number(rate, locale))
    return translate(locale, "poster_join")


def poster_content(program: Program, *, location: Location | None, locale: str,
                   url: str) -> Poster:
    """The poster of ``program`` in ``locale`` whose code opens ``url`` (the join link,
    naming ``location`` and the campaign tag when there are)."""
    colors = {**DEFAULT_COLORS, **(program.colors or {})}
    shown_url = url.split("://", 1)[-1]  # people type what follows the scheme
    return Poster(
        language=locale,
        title=program.name,
        place=location.name if location is not None else None,
        offer=offer_line(program, locale),
        steps=(translate(locale, "poster_step_scan"), translate(locale, "poster_step_wallet")),
        url=url,
        footer=translate(locale, "poster_or_open", url=shown_url),
        colors=PosterColors(background=colors["background"], foreground=colors["foreground"],
                            label=colors["label"]),
        logo=program.logo,
    )
