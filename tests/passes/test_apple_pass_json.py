"""pass.json, field by field, and the checks on the values it is built from."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from passes.apple import (
    Colors,
    PassCard,
    PassDesign,
    PassLocation,
    SigningIdentity,
    build_pass_json,
    load_signing_identity,
)

MakeDesign = Callable[..., PassDesign]
MakeCard = Callable[..., PassCard]


def fields_of(document: dict[str, Any], group: str) -> dict[str, dict[str, Any]]:
    return {field["key"]: field for field in document["storeCard"].get(group, [])}


def test_top_level_keys_and_their_types(
    card: PassCard, design: PassDesign, identity: SigningIdentity
) -> None:
    document = build_pass_json(card, design, identity)
    assert document["formatVersion"] == 1 and type(document["formatVersion"]) is int
    assert document["passTypeIdentifier"] == identity.pass_type_identifier
    assert document["teamIdentifier"] == identity.team_identifier
    assert document["serialNumber"] == card.serial_number
    assert document["authenticationToken"] == card.authentication_token
    assert document["webServiceURL"] == "https://loyalpass.example/passkit"
    assert document["description"] == design.description
    assert document["organizationName"] == design.organization_name
    assert document["logoText"] == design.logo_text
    assert document["sharingProhibited"] is True
    assert "voided" not in document
    assert set(document["storeCard"]) <= {
        "headerFields",
        "primaryFields",
        "secondaryFields",
        "auxiliaryFields",
        "backFields",
    }


def test_identifiers_follow_the_certificate_not_the_design(
    card: PassCard, design: PassDesign, make_chain: Callable[..., Any]
) -> None:
    custom = make_chain()
    other = load_signing_identity(
        certificate_pem=custom.certificate_pem,
        private_key_pem=custom.private_key_pem,
        wwdr_pem=custom.wwdr_pem,
    )
    document = build_pass_json(card, design, other)
    assert (document["passTypeIdentifier"], document["teamIdentifier"]) == (
        "pass.test.custom",
        "TEAMCUSTOM",
    )


def test_colors_are_rgb_triplets(
    card: PassCard, make_design: MakeDesign, identity: SigningIdentity
) -> None:
    colors = Colors(background="#0a0B0c", foreground="#FFFFFF", label="#000000")
    document = build_pass_json(card, make_design(colors=colors), identity)
    assert document["backgroundColor"] == "rgb(10,11,12)"
    assert document["foregroundColor"] == "rgb(255,255,255)"
    assert document["labelColor"] == "rgb(0,0,0)"
    for key in ("backgroundColor", "foregroundColor", "labelColor"):
        assert re.fullmatch(r"rgb\(\d{1,3},\d{1,3},\d{1,3}\)", document[key])


def test_points_balance_is_an_integer_header_with_a_change_message(
    card: PassCard, design: PassDesign, identity: SigningIdentity
) -> None:
    header = fields_of(build_pass_json(card, design, identity), "headerFields")
    assert list(header) == ["balance"]
    balance = header["balance"]
    assert balance["value"] == 120 and type(balance["value"]) is int
    assert balance["label"] == "Balance"
    assert balance["changeMessage"] == "Your balance is now %@ points"


def test_stamps_header_shows_collected_of_required(
    make_card: MakeCard, make_design: MakeDesign, identity: SigningIdentity
) -> None:
    design = make_design(kind="stamps", stamps_required=8)
    header = fields_of(build_pass_json(make_card(stamps=3), design, identity), "headerFields")
    assert list(header) == ["stamps"]
    assert header["stamps"]["value"] == "3/8"
    assert "%@" in header["stamps"]["changeMessage"]


def test_member_and_tier_are_secondary_fields(
    card: PassCard, design: PassDesign, identity: SigningIdentity
) -> None:
    secondary = fields_of(build_pass_json(card, design, identity), "secondaryFields")
    assert list(secondary) == ["member", "tier"]
    assert secondary["member"]["value"] == "Олена Петренко"
    assert "changeMessage" not in secondary["member"]
    assert secondary["tier"]["value"] == "Gold"
    assert secondary["tier"]["changeMessage"] == "You are now %@"


def test_no_tier_means_no_tier_field(
    make_card: MakeCard, design: PassDesign, identity: SigningIdentity
) -> None:
    document = build_pass_json(make_card(tier=None), design, identity)
    secondary = fields_of(document, "secondaryFields")
    assert list(secondary) == ["member"]


def test_offers_are_joined_in_one_auxiliary_field(
    card: PassCard, design: PassDesign, identity: SigningIdentity
) -> None:
    document = build_pass_json(card, design, identity)
    auxiliary = fields_of(document, "auxiliaryFields")
    assert auxiliary["offers"]["value"] == "Free coffee, −10% on cakes"
    assert "changeMessage" not in auxiliary["offers"]  # the back field announces them
    back = fields_of(document, "backFields")
    assert back["offers_now"]["value"] == "Free coffee\n−10% on cakes"
    assert back["offers_now"]["changeMessage"] == "%@"


def test_the_offers_field_is_on_the_back_before_any_offer_so_the_first_one_is_announced(
    make_card: MakeCard, design: PassDesign, identity: SigningIdentity
) -> None:
    document = build_pass_json(make_card(offers=()), design, identity)
    assert "auxiliaryFields" not in document["storeCard"]
    back = fields_of(document, "backFields")
    assert back["offers_now"]["value"] == "No offers right now"
    assert back["offers_now"]["changeMessage"] == "%@"


def test_no_offers_means_no_auxiliary_fields(
    make_card: MakeCard, design: PassDesign, identity: SigningIdentity
) -> None:
    document = build_pass_json(make_card(offers=()), design, identity)
    assert "auxiliaryFields" not in document["storeCard"]


def test_back_fields_in_order_with_a_link_to_the_customer_page(
    card: PassCard, design: PassDesign, identity: SigningIdentity
) -> None:
    back = fields_of(build_pass_json(card, design, identity), "backFields")
    assert list(back) == ["offers_now", "how_it_works", "number", "customer_url", "terms",
                          "support"]
    assert back["how_it_works"]["value"] == "Earn 5% back"
    assert back["number"]["value"] == "4821 0000 1234"
    link = back["customer_url"]
    assert link["value"] == "https://loyalpass.example/c/abc?x=1&y=2"
    escaped = "https://loyalpass.example/c/abc?x=1&amp;y=2"
    assert link["attributedValue"] == f"<a href='{escaped}'>{escaped}</a>"
    assert back["terms"]["value"] == "Points expire after a year."
    assert back["support"]["value"] == "hello@romashka.example"


def test_texts_not_supplied_are_omitted(
    card: PassCard, make_design: MakeDesign, identity: SigningIdentity
) -> None:
    design = make_design(texts={"terms": {"en": "   "}})
    back = fields_of(build_pass_json(card, design, identity), "backFields")
    assert list(back) == ["offers_now", "number", "customer_url"]


def test_text_missing_in_the_primary_locale_borrows_another(
    card: PassCard, make_design: MakeDesign, identity: SigningIdentity
) -> None:
    design = make_design(texts={"support": {"uk": "Пишіть нам"}})
    back = fields_of(build_pass_json(card, design, identity), "backFields")
    assert back["support"]["value"] == "Пишіть нам"


@pytest.mark.parametrize(
    ("barcode_format", "apple_format"),
    [
        ("qr", "PKBarcodeFormatQR"),
        ("pdf417", "PKBarcodeFormatPDF417"),
        ("aztec", "PKBarcodeFormatAztec"),
        ("code128", "PKBarcodeFormatCode128"),
    ],
)
def test_barcode_formats_map_to_apples_names(
    card: PassCard,
    make_design: MakeDesign,
    identity: SigningIdentity,
    barcode_format: str,
    apple_format: str,
) -> None:
    document = build_pass_json(card, make_design(barcode_format=barcode_format), identity)
    assert document["barcodes"] == [
        {
            "format": apple_format,
            "message": "LP1:482100001234:sig",
            "messageEncoding": "iso-8859-1",
            "altText": "4821 0000 1234",
        }
    ]


def test_voided_card_says_so(
    make_card: MakeCard, design: PassDesign, identity: SigningIdentity
) -> None:
    assert build_pass_json(make_card(voided=True), design, identity)["voided"] is True


def test_at_most_ten_locations_with_relevant_text(
    card: PassCard, make_design: MakeDesign, identity: SigningIdentity
) -> None:
    places = tuple(PassLocation(50.0 + i / 100, 30.0, f"Shop {i}") for i in range(12))
    locations = build_pass_json(card, make_design(locations=places), identity)["locations"]
    assert len(locations) == 10
    assert locations[0] == {"latitude": 50.0, "longitude": 30.0, "relevantText": "Shop 0"}
    assert locations[-1]["relevantText"] == "Shop 9"


def test_location_without_text_gets_the_localized_default(
    card: PassCard, make_design: MakeDesign, identity: SigningIdentity
) -> None:
    design = make_design(locales=("uk", "en"), locations=(PassLocation(50.0, 30.0),))
    locations = build_pass_json(card, design, identity)["locations"]
    assert locations[0]["relevantText"] == "Покажіть картку на касі"


def test_no_locations_means_no_locations_key(
    card: PassCard, make_design: MakeDesign, identity: SigningIdentity
) -> None:
    assert "locations" not in build_pass_json(card, make_design(locations=()), identity)


def test_labels_are_in_the_primary_locale(
    card: PassCard, make_design: MakeDesign, identity: SigningIdentity
) -> None:
    document = build_pass_json(card, make_design(locales=("ru", "en")), identity)
    assert fields_of(document, "headerFields")["balance"]["label"] == "Баланс"
    assert fields_of(document, "secondaryFields")["tier"]["label"] == "Уровень"
    assert fields_of(document, "backFields")["how_it_works"]["value"] == "5% баллами"


@pytest.mark.parametrize(
    "changes",
    [
        {"authentication_token": "too-short"},
        {"balance": True},
        {"balance": "12"},
        {"stamps": 1.5},
        {"barcode_message": "Привіт"},
        {"serial_number": " "},
    ],
)
def test_bad_card_values_are_refused(make_card: MakeCard, changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        make_card(**changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"barcode_format": "ean13"},
        {"kind": "cashback"},
        {"kind": "stamps", "stamps_required": None},
        {"locales": ()},
        {"locales": ("en", "de")},
        {"locales": ("en", "en")},
        {"web_service_url": "https://loyalpass.example/passkit/v1"},
        {"web_service_url": "https://loyalpass.example/passkit/"},
        {"web_service_url": "ftp://loyalpass.example/passkit"},
        {"description": ""},
    ],
)
def test_bad_design_values_are_refused(make_design: MakeDesign, changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        make_design(**changes)


@pytest.mark.parametrize("color", ["red", "#FFF", "#GGGGGG", "rgb(1,2,3)", "#1234567"])
def test_colours_must_be_hex_triplets(color: str) -> None:
    with pytest.raises(ValueError, match="#RRGGBB"):
        Colors(background=color, foreground="#FFFFFF", label="#FFFFFF")


def test_design_texts_are_frozen_copies(make_design: MakeDesign) -> None:
    texts = {"terms": {"en": "Original"}}
    design = make_design(texts=texts)
    texts["terms"]["en"] = "Changed"
    assert design.texts["terms"]["en"] == "Original"
    with pytest.raises(TypeError):
        design.texts["terms"]["en"] = "Changed"  # type: ignore[index]


def test_designs_are_hashable_and_equal_by_value(make_design: MakeDesign) -> None:
    assert make_design() == make_design()
    assert hash(make_design()) == hash(make_design())
