"""pass.json for a Loyalpass store card.

The texts come from :func:`passes.apple.strings.design_phrases` in the primary
locale, so every label, change message and relevant text here is also a key of
each locale's pass.strings. Fields whose change should reach the lock screen
carry a ``changeMessage`` with ``%@``; identifiers come from the certificate.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import orjson

from passes.apple.identity import SigningIdentity
from passes.apple.model import (
    BARCODE_FORMATS,
    MAX_LOCATIONS,
    TEXT_IDS,
    PassCard,
    PassDesign,
    css_rgb,
)
from passes.apple.strings import Phrases, design_phrases

FORMAT_VERSION = 1
BARCODE_MESSAGE_ENCODING = "iso-8859-1"

Field = dict[str, Any]


def build_pass_json(
    card: PassCard, design: PassDesign, identity: SigningIdentity
) -> dict[str, Any]:
    """The pass.json object of ``card`` drawn with ``design``, signed by ``identity``."""
    phrases = design_phrases(design)
    return {**card_part(card, design, identity, phrases), **design_part(design, phrases)}


def card_part(
    card: PassCard, design: PassDesign, identity: SigningIdentity, phrases: Phrases
) -> dict[str, Any]:
    """The keys of pass.json that vary by card (or identity), in their pass.json order."""
    document: dict[str, Any] = {
        "formatVersion": FORMAT_VERSION,
        "passTypeIdentifier": identity.pass_type_identifier,
        "teamIdentifier": identity.team_identifier,
        "serialNumber": card.serial_number,
        "authenticationToken": card.authentication_token,
        "barcodes": [_barcode(card, design)],
        "storeCard": _store_card(card, design, _Sayer(phrases, design.primary_locale)),
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


def _store_card(card: PassCard, design: PassDesign, say: _Sayer) -> dict[str, list[Field]]:
    if design.kind == "stamps":
        progress = f"{card.stamps}/{design.stamps_required}"
        header = _changing_field("stamps", progress, say)
    else:
        header = _changing_field("balance", card.balance, say)
    secondary: list[Field] = []
    if card.holder_name.strip():
        secondary.append({"key": "member", "label": say("label.member"), "value": card.holder_name})
    if card.tier is not None and card.tier.strip():
        secondary.append(_changing_field("tier", card.tier, say))
    fields: dict[str, list[Field]] = {"headerFields": [header], "secondaryFields": secondary}
    offers = [offer for offer in card.offers if offer.strip()]
    if offers:
        fields["auxiliaryFields"] = [
            {"key": "offers", "label": say("label.offers"), "value": ", ".join(offers)}]
    fields["backFields"] = [_offers_now(offers, say), *_back_fields(card, say)]
    return fields


def _offers_now(offers: list[str], say: _Sayer) -> Field:
    """Always on the back, so that the first offer is a change Wallet announces (a field
    that appears is not announced); the front shows the offers without a second alert."""
    return {
        "key": "offers_now",
        "label": say("label.offers_now"),
        # Empty, a pass.strings key: Wallet shows it in the phone's language.
        "value": "\n".join(offers) if offers else say("value.no_offers"),
        "changeMessage": say("change.offers"),
    }


def _changing_field(key: str, value: str | int, say: _Sayer) -> Field:
    """A field whose change shows on the lock screen (its change message has ``%@``)."""
    return {
        "key": key,
        "label": say(f"label.{key}"),
        "value": value,
        "changeMessage": say(f"change.{key}"),
    }


def _back_fields(card: PassCard, say: _Sayer) -> list[Field]:
    fields: list[Field] = []
    if say.has("text.how_it_works"):
        fields.append(_text_field("how_it_works", say))
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
