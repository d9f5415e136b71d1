"""pass.json for a Loyalpass store card.

The texts come from :func:`passes.apple.strings.design_phrases` and
:func:`~passes.apple.strings.card_phrases` in the primary locale, so every label, change
message, relevant text, offer title and a stamp card's next step here is also a key of
each locale's pass.strings; the card's own sentences (``next_step``, ``history``)
come written in the holder's language. Identifiers come from the certificate.

Only what a customer wants to hear about carries a ``changeMessage`` (with ``%@``):
the balance (or the stamps collected), a reward earned, the tier, the offers.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from passes.apple.identity import SigningIdentity
from passes.apple.layout import tier_in_header
from passes.apple.model import (
    BARCODE_FORMATS,
    MAX_LOCATIONS,
    TEXT_IDS,
    PassCard,
    PassDesign,
    css_rgb,
)
from passes.apple.strings import Phrases, card_phrases, design_phrases

FORMAT_VERSION = 1
MAX_ROW_FIELDS = 2  # under the strip: more than two and Wallet cuts every value short
BARCODE_MESSAGE_ENCODING = "iso-8859-1"

Field = dict[str, Any]


@dataclass(frozen=True)
class FrontPlan:
    """What a design decides about every card's front, measured once per design
    (:mod:`passes.apple.layout`): whether the tier fits in the header."""

    tier_in_header: bool


def front_plan(design: PassDesign) -> FrontPlan:
    return FrontPlan(tier_in_header=tier_in_header(design))


def build_pass_json(
    card: PassCard, design: PassDesign, identity: SigningIdentity
) -> dict[str, Any]:
    """The pass.json object of ``card`` drawn with ``design``, signed by ``identity``."""
    phrases = design_phrases(design)
    return {**card_part(card, design, identity, {**phrases, **card_phrases(card, design)},
                        front_plan(design)),
            **design_part(design, phrases)}


def card_part(
    card: PassCard, design: PassDesign, identity: SigningIdentity, phrases: Phrases,
    plan: FrontPlan,
) -> dict[str, Any]:
    """The keys of pass.json that vary by card (or identity), in their pass.json order;
    ``phrases`` are the design's and the card's (:func:`card_phrases`)."""
    document: dict[str, Any] = {
        "formatVersion": FORMAT_VERSION,
        "passTypeIdentifier": identity.pass_type_identifier,
        "teamIdentifier": identity.team_identifier,
        "serialNumber": card.serial_number,
        "authenticationToken": card.authentication_token,
        "barcodes": [_barcode(card, design)],
        "storeCard": _store_card(card, design, plan, _Sayer(phrases, design.primary_locale)),
    }
    if card.voided:
        document["voided"] = True
    return document


def design_part(design: PassDesign, phrases: Phrases) -> dict[str, Any]:
    """The keys of pass.json that are the same for every card of the design."""
    colors = design.colors
    document: dict[str, Any] = {
        "webServiceURL": design.web_service_url,
        "description": design.description,
        "organizationName": design.organization_name,
        "backgroundColor": css_rgb(colors.background),
        "foregroundColor": css_rgb(colors.foreground),
        "labelColor": css_rgb(colors.label),
        "sharingProhibited": True,
    }
    if design.logo_text.strip():
        document["logoText"] = design.logo_text
    if design.locations:
        document["locations"] = _locations(design, _Sayer(phrases, design.primary_locale))
    return document


def serialize_pass_json(document: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON: the exact bytes that go into the package and its manifest.

    orjson because this runs for every pass served and costs a fifth of the stdlib's.
    """
    return orjson.dumps(document)


def serialize_with_design_part(card_document: Mapping[str, Any], design_members: bytes) -> bytes:
    """``serialize_pass_json({**card_document, **design})`` given the design part's members.

    ``design_members`` is the serialized design part without its braces,
    computed once per design; only the card part is serialized per card.
    """
    card_json = serialize_pass_json(card_document)
    return card_json[:-1] + b"," + design_members + b"}"


def design_members(design: PassDesign, phrases: Phrases) -> bytes:
    """The serialized design part without its braces, for :func:`serialize_with_design_part`."""
    return serialize_pass_json(design_part(design, phrases))[1:-1]


class _Sayer:
    """The primary-locale text of a phrase id."""

    def __init__(self, phrases: Phrases, primary: str) -> None:
        self._phrases = phrases
        self._primary = primary

    def __call__(self, phrase_id: str) -> str:
        return self._phrases[phrase_id][self._primary]

    def has(self, phrase_id: str) -> bool:
        return phrase_id in self._phrases


def _barcode(card: PassCard, design: PassDesign) -> dict[str, str]:
    return {
        "format": BARCODE_FORMATS[design.barcode_format],
        "message": card.barcode_message,
        "messageEncoding": BARCODE_MESSAGE_ENCODING,
        "altText": card.card_number,
    }


def _store_card(card: PassCard, design: PassDesign, plan: FrontPlan,
                say: _Sayer) -> dict[str, list[Field]]:
    """The front as the best store cards have it: the balance (or the stamps) as the
    primary field over the strip; the tier in the header when it fits beside the name;
    under the strip, in this order and at most two: the reward (stamp cards), the tier
    (when not in the header), what to do next, the offers; the holder's name joins them
    only beside short values (a number, a tier), so that no value is cut short. A stamp
    card's next step is a sentence and has the row to itself. What does not fit on the
    front is on the back (the offers are there anyway)."""
    header: list[Field] = []
    row: list[Field] = []
    short = True  # every field in the row has a short value
    if design.kind == "stamps" or card.rewards:
        row.append(_reward_field(card, design, say))
        short = False
    sentence_row = design.kind == "stamps" and not card.rewards
    if card.tier is not None and card.tier.strip():
        tier = _changing_field("tier", card.tier, say)
        (header if plan.tier_in_header else row).append(tier)
    if card.next_step.strip():
        row.append({"key": "next", "label": say("label.next_tier"), "value": card.next_step})
        short = False
    offers = say.has("value.offers")
    if offers:
        row.append({"key": "offers", "label": say("label.offers"),
                     "value": say("value.offers")})
        short = False
    member: Field | None = None
    if card.holder_name.strip():
        member = {"key": "member", "label": say("label.member"), "value": card.holder_name}
        if short and len(row) < MAX_ROW_FIELDS:
            row.append(member)
    shown = row[:1] if sentence_row else row[:MAX_ROW_FIELDS]
    fields: dict[str, list[Field]] = {}
    if header:
        fields["headerFields"] = header
    fields["primaryFields"] = [_primary_field(card, design, say)]
    fields["secondaryFields"] = shown[:1]
    if shown[1:]:
        fields["auxiliaryFields"] = shown[1:]
    back = [_offers_now(say)]
    back += [field for field in row if field not in shown and field["key"] in ("tier", "next")]
    if card.history:
        back.append({"key": "history", "label": say("label.history"),
                     "value": "\n".join(card.history)})
    back += _back_fields(card, say, None if member in shown else member)
    fields["backFields"] = back
    return fields


def _primary_field(card: PassCard, design: PassDesign, say: _Sayer) -> Field:
    """The balance, or the stamps as "3/8". A stamp count that falls to zero is never
    news (the card was just completed, and its reward is announced instead)."""
    if design.kind != "stamps":
        return _changing_field("balance", card.balance, say, label="label.points")
    value = f"{card.stamps}/{design.stamps_required}"
    if card.stamps == 0:
        return {"key": "stamps", "label": say("label.stamps"), "value": value}
    return _changing_field("stamps", value, say)


def _reward_field(card: PassCard, design: PassDesign, say: _Sayer) -> Field:
    """The reward the holder may claim ("Free coffee", "Free coffee × 2"), announced when
    earned; without one, the reward named in the label and the sentence saying how many
    stamps are still missing as the value ("FREE COFFEE / 3 more stamps to your reward",
    never announced). One key for both, so that earning a reward is a change of this
    field, which Wallet announces, and not a field appearing, which it does not."""
    if card.rewards:
        value = say("value.rewards") if card.rewards > 1 else say("value.reward")
        return _changing_field("reward", value, say)
    label = say("value.reward") if design.reward_text.strip() else say("label.reward")
    return {"key": "reward", "label": label, "value": say("value.reward_step")}


def _offers_now(say: _Sayer) -> Field:
    """Always on the back, so that the first offer is a change Wallet announces (a field
    that appears is not announced); the front shows the offers without a second alert.
    The titles, as "none right now", are pass.strings keys: each phone reads its own
    language's."""
    offers = say.has("value.offers_now")
    return {
        "key": "offers_now",
        "label": say("label.offers_now"),
        "value": say("value.offers_now") if offers else say("value.no_offers"),
        "changeMessage": say("change.offers"),
    }


def _changing_field(key: str, value: str | int, say: _Sayer, *, label: str = "") -> Field:
    """A field whose change shows on the lock screen (its change message has ``%@``)."""
    return {
        "key": key,
        "label": say(label or f"label.{key}"),
        "value": value,
        "changeMessage": say(f"change.{key}"),
    }


def _back_fields(card: PassCard, say: _Sayer, member: Field | None) -> list[Field]:
    fields: list[Field] = []
    if say.has("text.how_it_works"):
        fields.append(_text_field("how_it_works", say))
    if member is not None:
        fields.append(member)
    fields.append({"key": "number", "label": say("label.number"), "value": card.card_number})
    if card.customer_url:
        link = html.escape(card.customer_url, quote=True)
        fields.append(
            {
                "key": "customer_url",
                "label": say("label.customer_url"),
                "value": card.customer_url,
                "attributedValue": f"<a href='{link}'>{link}</a>",
            }
        )
    for text_id in TEXT_IDS:
        if text_id != "how_it_works" and say.has(f"text.{text_id}"):
            fields.append(_text_field(text_id, say))
    return fields


def _text_field(text_id: str, say: _Sayer) -> Field:
    return {"key": text_id, "label": say(f"label.{text_id}"), "value": say(f"text.{text_id}")}


def _locations(design: PassDesign, say: _Sayer) -> list[dict[str, Any]]:
    return [
        {
            "latitude": location.latitude,
            "longitude": location.longitude,
            "relevantText": say(f"location.{index}"),
        }
        for index, location in enumerate(design.locations[:MAX_LOCATIONS])
    ]
