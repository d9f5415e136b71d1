"""The words a pass says of its own, in one language, as its caller writes them.

A pass's labels ("Points", "Your reward", "Card number"…) and change messages are not
this library's to word or translate: the caller hands in one :class:`PassLabels` per
language of a design (``{"en": PassLabels(...), "ru": PassLabels(...)}``), made from its
own catalogs. The Apple pass writes them into each language's ``pass.strings``, the
Google class and object into LocalizedStrings.

There are no built-in texts, English or other: every field is required, so a label the
caller forgot is a TypeError where the value is made, never a silent English word on a
Russian phone, and the wording lives in one place (the caller's catalogs).

Invariants, checked by :func:`check_labels` when a design or program is made: every
language of the design has its labels; no text is blank; every change message holds
``%@`` (Wallet's placeholder for the new value; without it no change is announced).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

CHANGE_PLACEHOLDER = "%@"


@dataclass(frozen=True)
class PassLabels:
    """A pass's own words in one language. ``change_*`` are lock-screen messages with
    ``%@`` where Wallet puts the new value."""

    points: str  # the balance's label
    stamps: str  # a stamp card's count's label
    tier: str
    member: str  # the holder's name
    card_number: str
    reward: str  # a reward earned, and a stamp card's way to it ("Your reward")
    reward_default: str  # what a stamp card earns when the program names nothing ("A reward")
    next_tier: str
    history: str  # the last movements ("Recent activity")
    offers: str  # the offers on the front
    offer: str  # one offer without a title (Google's module header)
    offers_now: str  # the offers on the back ("Current offers")
    no_offers: str
    how_it_works: str
    terms: str
    support: str
    customer_page: str  # the link to the customer's page on the back ("Your card page")
    my_card: str  # the same link on Google ("My card")
    location_default: str  # lock-screen text near a place the caller gave none for
    change_balance: str
    change_stamps: str
    change_reward: str
    change_tier: str

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"label {item.name} must be a non-empty string")
            if item.name.startswith("change_") and CHANGE_PLACEHOLDER not in value:
                raise ValueError(f"change message {item.name} must hold {CHANGE_PLACEHOLDER} "
                                 f"(where Wallet puts the new value), not {value!r}")


LabelSet = Mapping[str, PassLabels]
"""language code -> that language's labels."""


def check_labels(labels: LabelSet, locales: tuple[str, ...]) -> None:
    """ValueError unless every one of ``locales`` has its :class:`PassLabels`."""
    missing = [locale for locale in locales if locale not in labels]
    if missing:
        raise ValueError(f"labels are missing for {missing}: every language of a pass "
                         "needs its own")
    if not all(isinstance(labels[locale], PassLabels) for locale in locales):
        raise ValueError("labels must be PassLabels values")


def check_reward_steps(steps: Mapping[int, Mapping[str, str]], locales: tuple[str, ...],
                       stamps_required: int | None) -> None:
    """ValueError unless a stamp card has its sentence for every number of stamps it can
    miss (1 to ``stamps_required``) in every language, and nothing else has any."""
    wanted = set(range(1, (stamps_required or 0) + 1))
    if set(steps) != wanted:
        raise ValueError("reward_steps must hold a sentence for each number of stamps "
                         f"from 1 to {stamps_required or 0}, and no other")
    for missing, texts in steps.items():
        for locale in locales:
            text = texts.get(locale)
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"reward_steps[{missing}] has no {locale!r} sentence")


def stamps_missing(stamps_required: int, stamps: int) -> int:
    """How many stamps a card holding ``stamps`` lacks for its reward: the key of the
    sentence ``reward_steps`` holds for it (1 to ``stamps_required``)."""
    return max(1, min(stamps_required, stamps_required - stamps))
