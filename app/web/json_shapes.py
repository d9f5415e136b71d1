"""The API's JSON shapes of programs, locations and cards, as the contract fixes them (the
OpenAPI description's schemas of them: ``app.web.openapi_schemas``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from app.analytics.segments import CardScores
from app.cards.contacts import masked_email, masked_phone
from app.cards.models import Card
from app.clock import iso
from app.merchants.fraud_thresholds import thresholds_of
from app.merchants.models import Location, Program
from app.texts import tier_key
from app.wallet.service import Wallet


def _number(value: Decimal | str | float | int) -> int | float:
    decimal = Decimal(str(value))
    return int(decimal) if decimal == decimal.to_integral_value() else float(decimal)


def join_url(base_url: str, program: Program, location_id: int | None = None,
             source: str | None = None) -> str:
    """The join page's link, naming the counter's location and the campaign tag (a
    checked one: ``app.cards.attribution``) when given, so the card records them."""
    url = f"{base_url}/join/{program.slug}"
    query = urlencode([(name, value) for name, value in (("location", location_id),
                                                         ("src", source)) if value is not None])
    return f"{url}?{query}" if query else url


def program_json(program: Program, base_url: str) -> dict[str, Any]:
    """The program; its localized texts (name, reward text, terms, tier names) in the shape
    they were given: one string, or an object of languages."""
    return {
        "id": program.id,
        "slug": program.slug,
        "name": program.name_given,
        "kind": program.kind,
        "currency": program.currency,
        "country": program.country,
        "earn_percent": _number(program.earn_percent),
        "point_value": program.point_value,
        "welcome_points": program.welcome_points,
        "tiers": [
            {"key": tier_key(t), "name": t["name"], "min_spend": t["min_spend"],
             "earn_percent": _number(t["earn_percent"])}
            for t in program.tiers
        ],
        "stamps_required": program.stamps_required,
        "reward_text": program.reward_text_given,
        "colors": program.colors,
        "locales": program.locales,
        "barcode_format": program.barcode_format,
        "limits": {
            name: (program.limits or {}).get(name)
            for name in ("purchases_per_card_per_hour", "purchases_per_card_per_day",
                         "points_per_cashier_per_day")
        },
        "fraud": thresholds_of(program.fraud).model_dump(),
        "reward_budget_percent": _number(program.reward_budget_percent),
        "terms": program.terms_given,
        "contact": program.contact,
        "ask_birthday": program.ask_birthday,
        "terms_url": program.terms_url,
        "privacy": program.privacy,
        "privacy_url": program.privacy_url,
        "support_email": program.support_email,
        "support_phone": program.support_phone,
        "website": program.website,
        "has_logo": program.logo is not None,
        # By their media types: the images themselves are loaded only to draw passes.
        "has_strip": program.strip_content_type is not None,
        "has_stamp_icon": program.stamp_icon_content_type is not None,
        "design_version": program.design_version,
        "join_url": join_url(base_url, program),
        "qr_url": f"{base_url}/api/v1/programs/{program.id}/qr.png",
        "created_at": program.created_at.isoformat() + "Z",
    }


def location_json(location: Location, base_url: str) -> dict[str, Any]:
    return {
        "id": location.id,
        "program_id": location.program_id,
        "name": location.name,
        "address": location.address,
        "latitude": location.latitude,
        "longitude": location.longitude,
        "join_url": join_url(base_url, location.program, location.id),
    }


def card_json(card: Card, wallet: Wallet, *, masked: bool = False) -> dict[str, Any]:
    """The card and its holder. ``masked``, for a role that may not read customers whole
    (``app.merchants.access.sees_customers_whole``): their email and phone masked
    (``app.cards.contacts.masked_email``), no birthday, and nothing that acts for them
    (card link, pass download, Google save link, barcode message) but null."""
    customer = card.customer
    body: dict[str, Any] = {
        "id": card.id,
        "program_id": card.program_id,
        "number": card.number,
        "serial_number": card.serial_number,
        "status": card.status,
        "balance": card.balance,
        "tier": card.tier,
        "stamps": card.stamps,
        "rewards": card.rewards,
        "visits": card.visits,
        "lifetime_spend": card.lifetime_spend,
        "location_id": card.location_id,
        "source": card.source,
        "last_visit_at": card.last_visit_at.isoformat() + "Z" if card.last_visit_at else None,
        "barcode": {"format": card.program.barcode_format,
                    "message": None if masked else wallet.barcode_message(card)},
        "apple_pass_url": None if masked else wallet.apple_pass_url(card),
        "card_url": None if masked else wallet.card_url(card),
        "customer": {
            "name": customer.name,
            "email": masked_email(customer.email) if masked else customer.email,
            "phone": masked_phone(customer.phone) if masked else customer.phone,
            "locale": customer.locale,
            "marketing_consent": customer.marketing_consent,
            "birthday": (customer.birthday.isoformat()
                         if customer.birthday and not masked else None),
            "masked": masked,
        },
        "created_at": card.created_at.isoformat() + "Z",
    }
    google_save_url = None if masked else wallet.google_save_url(card)
    if google_save_url is not None or masked:  # absent while Google Wallet is off
        body["google_save_url"] = google_save_url
    return body


def with_segment(body: dict[str, Any], scores: CardScores | None) -> dict[str, Any]:
    """A card's JSON with its RFM segment and scores as last computed (null: none)."""
    body["segment"] = None if scores is None else {
        "name": scores.segment, "recency": scores.recency, "frequency": scores.frequency,
        "monetary": scores.monetary, "computed_at": iso(scores.computed_at)}
    return body
