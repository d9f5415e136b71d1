"""LoyaltyClass and LoyaltyObject bodies for the Google Wallet REST API (walletobjects v1).

Every function returns a JSON-ready dict with Google's own field names. Two
rules of Google's PATCH shape what is sent:

- arrays are replaced whole, so ``textModulesData`` is always the complete
  list (empty when a card has no offers, which is what removes old ones);
- ``null`` deletes a field, so :func:`object_patch` sends
  ``secondaryLoyaltyPoints: None`` when a card loses its tier.

Nested objects are merged on PATCH, so every ``LocalizedString`` carries its
``translatedValues`` list even when empty: a translation dropped from a
program then disappears instead of lingering.

Labels are the program's (``GoogleProgram.labels``): each localized label carries every
one of the program's languages, and the plain text beside it is the holder's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from passes.google.model import (
    BARCODE_TYPES,
    TEXT_IDS,
    GoogleCard,
    GoogleOffer,
    GoogleProgram,
    check_google_id,
)
from passes.labels import stamps_missing

JsonObject = dict[str, Any]

MESSAGE_TYPE_NOTIFY = "TEXT_AND_NOTIFY"  # a plain TEXT message never notifies
MESSAGE_TYPE_TEXT = "TEXT"


def localized_string(texts: Mapping[str, str], locales: tuple[str, ...]) -> JsonObject:
    """A LocalizedString: the first locale as ``defaultValue``, the rest translated.

    Locales without a text are left out; the first locale must have one.
    """
    default, *others = locales
    return {
        "defaultValue": {"language": default, "value": texts[default]},
        "translatedValues": [
            {"language": locale, "value": texts[locale]} for locale in others if locale in texts
        ],
    }


def object_id(program: GoogleProgram, card: GoogleCard) -> str:
    """The LoyaltyObject id: ``<issuer id>.<card serial number>``."""
    return check_google_id("object id", f"{program.issuer_id}.{card.object_suffix}")


def loyalty_class(program: GoogleProgram) -> JsonObject:
    """The LoyaltyClass for a program, ready for insert or update (PUT).

    ``reviewStatus`` is always ``UNDER_REVIEW``: a new class must not stay a
    draft (no object could be saved), and Google asks approved classes to be
    updated with it too. Optional parts that are unset are left out, so an
    update through PUT clears them.
    """
    locales = program.locales
    body: JsonObject = {
        "id": check_google_id("class id", program.class_id),
        "issuerName": program.issuer_name,
        "localizedIssuerName": _program_text(
            program.issuer_name, program.issuer_name_translations, locales
        ),
        "programName": program.program_name,
        "localizedProgramName": _program_text(
            program.program_name, program.program_name_translations, locales
        ),
        "programLogo": _image(program.logo_url, program),
        "hexBackgroundColor": program.background_color.lower(),
        "reviewStatus": "UNDER_REVIEW",
        "accountNameLabel": program.label("member"),
        "localizedAccountNameLabel": _label("member", program),
        "accountIdLabel": program.label("card_number"),
        "localizedAccountIdLabel": _label("card_number", program),
        "textModulesData": _class_text_modules(program),
    }
    if program.hero_image_url is not None:
        body["heroImage"] = _image(program.hero_image_url, program)
    if program.callback_url is not None:
        body["callbackOptions"] = {"url": program.callback_url}
    if program.country_code is not None:
        body["countryCode"] = program.country_code
    return body


def loyalty_object(program: GoogleProgram, card: GoogleCard) -> JsonObject:
    """The LoyaltyObject for a card, ready for insert or update (PUT)."""
    body: JsonObject = {
        "id": object_id(program, card),
        "classId": check_google_id("class id", program.class_id),
        "accountId": card.card_number,
        **object_patch(program, card),
    }
    if body["secondaryLoyaltyPoints"] is None:
        del body["secondaryLoyaltyPoints"]  # absent is enough on insert and PUT
    if not body["accountName"]:
        del body["accountName"]
    return body


def object_patch(program: GoogleProgram, card: GoogleCard) -> JsonObject:
    """The fields that follow the card, for a PATCH after any change to it: its holder's
    name, its barcode and link, and what follows the ledger.

    The name, the barcode and the link are sent every time, not only at the insert: a
    holder who renames themselves or has their data erased (an empty name: Google clears
    it) must not keep showing the old name, and after a secret key rotation the barcode
    and the link carry the new key before the old one is retired.

    What the Apple pass's front and back show, in Google's shapes: the balance (or the
    stamps) as the loyalty points; beside it the tier, or on a stamp card the reward
    earned; as text modules the reward when the tier took that place (or, on a stamp
    card without one, the sentence saying how many stamps are still missing, in every
    language), what to do next, the current offers and the recent movements.

    Always complete: ``textModulesData`` is the full list (empty when there is
    nothing), and ``secondaryLoyaltyPoints`` is ``None`` when there is nothing beside
    the balance, so Google deletes the old one.
    """
    secondary = _tier_points(program, card)
    modules: list[JsonObject] = []
    if secondary is None:
        secondary = _reward_points(program, card)
    elif card.rewards:
        modules.append(_module("reward", _reward_value(program, card), program, card))
    step = _reward_step(program, card)
    if step is not None:
        modules.append(step)
    if card.next_step.strip():
        modules.append(_module("next_tier", card.next_step, program, card))
    modules += [_offer_module(program, card, offer) for offer in card.offers]
    if card.history:
        modules.append(_module("history", "\n".join(card.history), program, card))
    return {
        "accountName": card.holder_name.strip(),
        "barcode": {
            "type": BARCODE_TYPES[program.barcode_format],
            "value": card.barcode_message,
            "alternateText": card.card_number,
        },
        "linksModuleData": {"uris": [_customer_link(program, card)]},
        "state": "INACTIVE" if card.blocked else "ACTIVE",
        "loyaltyPoints": _primary_points(program, card),
        "secondaryLoyaltyPoints": secondary,
        "textModulesData": modules,
    }


def message(
    message_id: str,
    header: str,
    body: str,
    *,
    notify: bool = True,
    language: str | None = None,
    translations: Mapping[str, tuple[str, str]] | None = None,
) -> JsonObject:
    """An ``addMessage`` request body.

    ``notify`` picks ``TEXT_AND_NOTIFY`` (an Android notification; Google
    allows three per pass a day) over ``TEXT``, which only shows on the card.
    ``translations`` maps other locales to ``(header, body)``; it needs
    ``language``, the locale of ``header`` and ``body``.
    """
    if not isinstance(message_id, str) or not message_id.strip():
        raise ValueError("message id must be a non-empty string")
    if not header.strip() or not body.strip():
        raise ValueError("a message needs a header and a body")
    content: JsonObject = {
        "id": message_id,
        "header": header,
        "body": body,
        "messageType": MESSAGE_TYPE_NOTIFY if notify else MESSAGE_TYPE_TEXT,
    }
    if translations:
        if language is None or language in translations:
            raise ValueError("translations need the language of header and body, not among them")
        locales = (language, *translations)
        headers = {language: header, **{key: pair[0] for key, pair in translations.items()}}
        bodies = {language: body, **{key: pair[1] for key, pair in translations.items()}}
        content["localizedHeader"] = localized_string(headers, locales)
        content["localizedBody"] = localized_string(bodies, locales)
    return {"message": content}


def _program_text(
    primary_text: str, translations: Mapping[str, str], locales: tuple[str, ...]
) -> JsonObject:
    return localized_string({**translations, locales[0]: primary_text}, locales)


def _label(name: str, program: GoogleProgram) -> JsonObject:
    """The label ``name`` (a ``PassLabels`` field) in every language of the program."""
    return localized_string({locale: program.label(name, locale) for locale in program.locales},
                            program.locales)


def _plain(name: str, program: GoogleProgram, card: GoogleCard) -> str:
    """The untranslated text beside a localized one: in the holder's language if known."""
    return program.label(name, card.locale)


def _image(uri: str, program: GoogleProgram) -> JsonObject:
    return {
        "sourceUri": {"uri": uri},
        "contentDescription": _program_text(
            program.program_name, program.program_name_translations, program.locales
        ),
    }


def _class_text_modules(program: GoogleProgram) -> list[JsonObject]:
    modules = []
    for text_id in TEXT_IDS:
        texts = _merchant_text(program, text_id)
        if not texts:
            continue
        modules.append(
            {
                "id": text_id,
                "header": program.label(text_id),
                "localizedHeader": _label(text_id, program),
                "body": texts[program.primary_locale],
                "localizedBody": localized_string(texts, program.locales),
            }
        )
    return modules


def _merchant_text(program: GoogleProgram, text_id: str) -> dict[str, str]:
    """The program's ``{locale: text}`` for a text id, never without the primary locale.

    Like the Apple pass: a text missing in the primary locale borrows the first
    other locale's, so the module still shows; blank texts count as missing.
    """
    given = {
        locale: text
        for locale, text in program.texts.get(text_id, {}).items()
        if locale in program.locales and text.strip()
    }
    if not given:
        return {}
    primary = program.primary_locale
    borrowed = next(given[locale] for locale in program.locales if locale in given)
    return {**given, primary: given.get(primary, borrowed)}


def _primary_points(program: GoogleProgram, card: GoogleCard) -> JsonObject:
    if program.kind == "stamps":
        return {
            "label": _plain("stamps", program, card),
            "localizedLabel": _label("stamps", program),
            # Google shows one balance; "3/10" says how far the reward is.
            "balance": {"string": f"{card.stamps}/{program.stamps_required}"},
        }
    return {
        "label": _plain("points", program, card),
        "localizedLabel": _label("points", program),
        "balance": {"int": card.balance},
    }


def _tier_points(program: GoogleProgram, card: GoogleCard) -> JsonObject | None:
    if card.tier is None:
        return None
    return {
        "label": _plain("tier", program, card),
        "localizedLabel": _label("tier", program),
        "balance": {"string": card.tier},
    }


def _reward_value(program: GoogleProgram, card: GoogleCard) -> str:
    """"Free coffee", or "Free coffee × 2" for two."""
    reward = program.reward_text.strip() or _plain("reward_default", program, card)
    return reward if card.rewards == 1 else f"{reward} × {card.rewards}"


def _reward_points(program: GoogleProgram, card: GoogleCard) -> JsonObject | None:
    """A stamp card's reward beside its stamps, once earned."""
    if not card.rewards:
        return None
    return {
        "label": _plain("reward", program, card),
        "localizedLabel": _label("reward", program),
        "balance": {"string": _reward_value(program, card)},
    }


def _reward_step(program: GoogleProgram, card: GoogleCard) -> JsonObject | None:
    """A stamp card's way to its next reward while none waits, as a sentence in every
    language ("3 more stamps to your reward: Free coffee"); a text module, since a
    sentence does not fit beside the stamps."""
    if program.kind != "stamps" or card.rewards:
        return None
    texts = program.reward_steps[stamps_missing(program.stamps_required or 1, card.stamps)]
    body = texts.get(card.locale or "", texts[program.primary_locale])
    module = _module("reward", body, program, card)
    module["localizedBody"] = localized_string(texts, program.locales)
    return module


def _module(name: str, body: str, program: GoogleProgram, card: GoogleCard) -> JsonObject:
    """A text module under one of the labels (its id is the label's name: no dots)."""
    return {
        "id": name,
        "header": _plain(name, program, card),
        "localizedHeader": _label(name, program),
        "body": body,
    }


def _offer_module(program: GoogleProgram, card: GoogleCard, offer: GoogleOffer) -> JsonObject:
    module: JsonObject = {"id": f"offer_{offer.id}"}
    if offer.title.strip():
        module["header"] = offer.title
        if program.primary_locale in offer.titles:
            module["localizedHeader"] = localized_string(offer.titles, program.locales)
    else:
        module["header"] = _plain("offer", program, card)
        module["localizedHeader"] = _label("offer", program)
    if offer.body.strip():
        module["body"] = offer.body
        if program.primary_locale in offer.bodies:
            module["localizedBody"] = localized_string(offer.bodies, program.locales)
    return module


def _customer_link(program: GoogleProgram, card: GoogleCard) -> JsonObject:
    return {
        "id": "customer_page",
        "uri": card.customer_url,
        "description": _plain("my_card", program, card),
        "localizedDescription": _label("my_card", program),
    }
