"""The words a pass says of its own ("Points", "Your reward"…) in each of a program's
languages, from the gettext catalogs, in the shape ``passes`` takes (``PassLabels``); and
a stamp card's way to its reward as a sentence, plurals and all, which the pass, the
Google object and the customer's page share.

The library words nothing itself: everything a phone reads on a pass is a msgid here or
the merchant's own text, so ``tests/test_i18n_catalogs.py`` holds every one of them to a
Russian and a Ukrainian translation.

Invariant: pure functions of the values handed in and the compiled catalogs (read once
per process, so a language's labels are made once).
"""

from __future__ import annotations

from functools import lru_cache

from app.i18n import gettext, ngettext, using_locale
from app.merchants.models import Program
from app.texts import localized
from passes.labels import PassLabels


@lru_cache(maxsize=8)
def pass_labels(locale: str) -> PassLabels:
    """The pass's own words in ``locale``."""
    with using_locale(locale):
        return PassLabels(
            points=gettext("Points"),
            stamps=gettext("Stamps"),
            tier=gettext("Tier"),
            member=gettext("Member"),
            card_number=gettext("Card number"),
            reward=gettext("Your reward"),
            reward_default=gettext("A reward"),
            next_tier=gettext("Next tier"),
            history=gettext("Recent activity"),
            offers=gettext("Offers"),
            offer=gettext("Offer"),
            offers_now=gettext("Current offers"),
            no_offers=gettext("No offers right now"),
            how_it_works=gettext("How it works"),
            terms=gettext("Terms"),
            support=gettext("Support"),
            customer_page=gettext("Your card page"),
            my_card=gettext("My card"),
            location_default=gettext("Show your card at the counter"),
            # %@ is where Wallet puts the new value.
            change_balance=gettext("Points on your card: %@"),
            change_stamps=gettext("Stamps collected: %@"),
            change_reward=gettext("Your reward is ready: %@"),
            change_tier=gettext("You are now %@"),
        )


def label_set(locales: tuple[str, ...]) -> dict[str, PassLabels]:
    """``{locale: PassLabels}`` for each of a program's languages."""
    return {locale: pass_labels(locale) for locale in locales}


def reward_step_text(program: Program, missing: int, locale: str, *, named: bool = True
                     ) -> str:
    """How far a stamp card is from its reward, in ``locale``: "3 more stamps to your
    reward: Free coffee" ("Ещё 3 штампа до подарка: Бесплатный кофе"), the reward as the
    program names it in that language; without the name when it has none, or when not
    ``named`` (the Apple pass names the reward in the field's label)."""
    reward = localized(program.reward_text_given, locale, program.locales) if named else ""
    with using_locale(locale):
        if reward:
            return ngettext("%(num)d more stamp to your reward: %(reward)s",
                            "%(num)d more stamps to your reward: %(reward)s",
                            missing, reward=reward)
        return ngettext("%(num)d more stamp to your reward",
                        "%(num)d more stamps to your reward", missing)


def reward_steps(program: Program, locales: tuple[str, ...], *, named: bool = True
                 ) -> dict[int, dict[str, str]]:
    """A stamp program's sentence for each number of stamps a card can miss (1 to
    ``stamps_required``) in each of ``locales`` (``named`` as :func:`reward_step_text`);
    empty for a points program."""
    if program.kind != "stamps":
        return {}
    return {missing: {locale: reward_step_text(program, missing, locale, named=named)
                      for locale in locales}
            for missing in range(1, (program.stamps_required or 1) + 1)}
