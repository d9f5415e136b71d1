"""pass.json, field by field, and the checks on the values it is built from."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_points_balance_is_the_primary_field_an_integer_with_a_change_message(
    card: PassCard, design: PassDesign, identity: SigningIdentity
) -> None:
    primary = fields_of(build_pass_json(card, design, identity), "primaryFields")
    assert list(primary) == ["balance"]
    balance = primary["balance"]
    assert balance["value"] == 120 and type(balance["value"]) is int
    assert balance["label"] == "Points"
    assert balance["changeMessage"] == "Points on your card: %@"


def test_stamps_are_the_primary_field_as_collected_of_required(
    make_card: MakeCard, make_design: MakeDesign, identity: SigningIdentity
) -> None:
    design = make_design(kind="stamps", stamps_required=8)
    primary = fields_of(build_pass_json(make_card(stamps=3), design, identity), "primaryFields")
    assert list(primary) == ["stamps"]
    assert primary["stamps"]["value"] == "3/8"
    assert primary["stamps"]["changeMessage"] == "Stamps collected: %@"


def test_stamps_falling_to_zero_are_not_announced(
    make_card: MakeCard, make_design: MakeDesign, identity: SigningIdentity
) -> None:
    """After the eighth stamp the card starts again at 0/8: the reward is the news."""
    design = make_design(kind="stamps", stamps_required=8)
    document = build_pass_json(make_card(stamps=0, rewards=1), design, identity)
    stamps = fields_of(document, "primaryFields")["stamps"]
    assert stamps["value"] == "0/8" and "changeMessage" not in stamps


def test_a_stamp_card_says_in_a_sentence_how_many_stamps_are_missing_without_announcing_it(
    make_card: MakeCard, make_design: MakeDesign, identity: SigningIdentity
) -> None:
    design = make_design(kind="stamps", stamps_required=8, reward_text="Free coffee")
    document = build_pass_json(make_card(stamps=3, tier=None), design, identity)
    reward = fields_of(document, "secondaryFields")["reward"]
    assert reward == {"key": "reward", "label": "Free coffee",  # the reward, named
                      "value": "5 more stamps to your reward"}
    unnamed = make_design(kind="stamps", stamps_required=8)
    assert fields_of(build_pass_json(make_card(stamps=3), unnamed, identity),
                     "secondaryFields")["reward"]["label"] == "Your reward"
    # A sentence has the row to itself: the offers are on the back, the name too.
    assert "auxiliaryFields" not in document["storeCard"]
    assert {"offers_now", "member"} <= set(fields_of(document, "backFields"))


def test_an_earned_reward_is_on_the_front_and_announced(
    make_card: MakeCard, make_design: MakeDesign, identity: SigningIdentity
) -> None:
    design = make_design(kind="stamps", stamps_required=8, reward_text="Free coffee")
    document = build_pass_json(make_card(stamps=0, rewards=1, tier=None), design, identity)
    reward = fields_of(document, "secondaryFields")["reward"]
    assert reward["label"] == "Your reward"
    assert reward["value"] == "Free coffee"
    assert reward["changeMessage"] == "Your reward is ready: %@"
    two = build_pass_json(make_card(stamps=2, rewards=2, tier=None), design, identity)
    assert fields_of(two, "secondaryFields")["reward"]["value"] == "Free coffee × 2"


def test_a_reward_without_a_text_is_called_a_reward_in_each_language(
    make_card: MakeCard, make_design: MakeDesign, identity: SigningIdentity
) -> None:
    design = make_design(kind="stamps", stamps_required=6, reward_text="", locales=("uk",))
    document = build_pass_json(make_card(stamps=0, rewards=1), design, identity)
    assert fields_of(document, "secondaryFields")["reward"]["value"] == "Подарунок"


def test_the_tier_is_in_the_header_when_it_fits_beside_the_name(
    card: PassCard, make_design: MakeDesign, identity: SigningIdentity
) -> None:
    design = make_design(tier_names=("Silver", "Gold", "Platinum"))
    document = build_pass_json(card, design, identity)
    header = fields_of(document, "headerFields")
    assert list(header) == ["tier"]
    assert header["tier"]["value"] == "Gold"
    assert header["tier"]["changeMessage"] == "You are now %@"


def test_a_long_name_keeps_its_width_and_the_tier_moves_under_the_strip(
    card: PassCard, make_design: MakeDesign, identity: SigningIdentity
) -> None:
    design = make_design(logo_text="Кавʼярня «Зерно на Подолі»",
                         tier_names=("Bronze", "Silver", "Platinum"))
    document = build_pass_json(card, design, identity)
    assert "headerFields" not in document["storeCard"]
    assert fields_of(document, "secondaryFields")["tier"]["changeMessage"] == "You are now %@"


def test_the_next_tier_is_said_under_the_strip_and_never_announced(
    make_card: MakeCard, make_design: MakeDesign, identity: SigningIdentity
) -> None:
    design = make_design(tier_names=("Silver", "Gold"))
    card = make_card(tier="Silver", offers=(), next_step="Spend 1,200 UAH more for Gold")
    row = fields_of(build_pass_json(card, design, identity), "secondaryFields")
    assert row["next"] == {"key": "next", "label": "Next tier",
                           "value": "Spend 1,200 UAH more for Gold"}


def test_the_holders_name_joins_the_row_only_beside_short_values(
    make_card: MakeCard, make_design: MakeDesign, identity: SigningIdentity
) -> None:
    design = make_design(tier_names=("Gold",))
    alone = build_pass_json(make_card(tier=None, offers=()), design, identity)
    assert fields_of(alone, "secondaryFields")["member"]["value"] == "Олена Петренко"
    stamps = make_design(kind="stamps", stamps_required=8)
    beside = build_pass_json(make_card(tier=None, offers=(), stamps=2, rewards=1), stamps,
                             identity)
    assert "auxiliaryFields" not in beside["storeCard"]  # "A reward" is not a short value
    assert fields_of(beside, "backFields")["member"]["value"] == "Олена Петренко"
    offers = build_pass_json(make_card(tier=None), design, identity)
    front = {**fields_of(offers, "secondaryFields"), **fields_of(offers, "auxiliaryFields")}
    assert list(front) == ["offers"]
    assert fields_of(offers, "backFields")["member"]["value"] == "Олена Петренко"


def test_no_tier_means_no_tier_field(
    make_card: MakeCard, make_design: MakeDesign, identity: SigningIdentity
) -> None:
    document = build_pass_json(make_card(tier=None), make_design(tier_names=("Gold",)),
                               identity)
    every = [field["key"] for group in document["storeCard"].values() for field in group]
    assert "tier" not in every


def test_at_most_two_fields_under_the_strip(
    make_card: MakeCard, make_design: MakeDesign, identity: SigningIdentity
) -> None:
    design = make_design(kind="stamps", stamps_required=8,
                         logo_text="Кавʼярня «Зерно на Подолі»", tier_names=("Platinum",))
    card = make_card(rewards=1, tier="Platinum", next_step="Spend more", stamps=1)
    document = build_pass_json(card, design, identity)
    front = [*fields_of(document, "secondaryFields"), *fields_of(document, "auxiliaryFields")]
    assert front == ["reward", "tier"]
    assert "offers_now" in fields_of(document, "backFields")


def test_offers_are_joined_in_one_auxiliary_field(
    make_card: MakeCard, design: PassDesign, identity: SigningIdentity
) -> None:
    document = build_pass_json(make_card(tier=None), design, identity)
    row = fields_of(document, "secondaryFields")
    assert row["offers"]["value"] == "Free coffee, −10% on cakes"
    assert "changeMessage" not in row["offers"]  # the back field announces them
    back = fields_of(document, "backFields")
    assert back["offers_now"]["value"] == "Free coffee\n−10% on cakes"
    assert back["offers_now"]["changeMessage"] == "%@"
    beside_tier = build_pass_json(make_card(), design, identity)
    assert fields_of(beside_tier, "auxiliaryFields")["offers"]["value"].startswith("Free")


def test_the_offers_field_is_on_the_back_before_any_offer_so_the_first_one_is_announced(
    make_card: MakeCard, design: PassDesign, identity: SigningIdentity
) -> None:
    document = build_pass_json(make_card(offers=()), design, identity)
    front = [field["key"] for group in ("secondaryFields", "auxiliaryFields")
             for field in document["storeCard"].get(group, [])]
    assert "offers" not in front
    back = fields_of(document, "backFields")
    assert back["offers_now"]["value"] == "No offers right now"
    assert back["offers_now"]["changeMessage"] == "%@"


def test_the_recent_movements_are_on_the_back_and_never_announced(
    make_card: MakeCard, design: PassDesign, identity: SigningIdentity
) -> None:
    lines = ("12 Mar · Purchase · +12", "1 Mar · Welcome bonus · +100")
    back = fields_of(build_pass_json(make_card(history=lines), design, identity),
                     "backFields")
    assert back["history"] == {"key": "history", "label": "Recent activity",
                               "value": "12 Mar · Purchase · +12\n1 Mar · Welcome bonus · +100"}
    assert list(back)[:2] == ["offers_now", "history"]
    assert "history" not in fields_of(build_pass_json(make_card(), design, identity),
                                      "backFields")


ANNOUNCED = {"balance", "stamps", "reward", "tier", "offers_now"}


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(["points", "stamps"]),
    stamps=st.integers(min_value=0, max_value=12),
    rewards=st.integers(min_value=0, max_value=3),
    tier=st.none() | st.sampled_from(["Silver", "Gold"]),
    offers=st.lists(st.sampled_from([{"en": "Free coffee"}, {"en": "−10%", "ru": "−10 %"}]),
                    max_size=2).map(tuple),
    next_step=st.sampled_from(["", "Spend 1,200 UAH more for Gold"]),
    history=st.lists(st.just("1 Mar · Purchase · +1"), max_size=3).map(tuple),
)
def test_only_what_a_customer_wants_to_hear_about_is_announced(
    make_card: MakeCard, make_design: MakeDesign, identity: SigningIdentity, kind: str,
    stamps: int, rewards: int, tier: str | None, offers: tuple[dict[str, str], ...],
    next_step: str,
    history: tuple[str, ...],
) -> None:
    design = make_design(kind=kind, stamps_required=8 if kind == "stamps" else None,
                         tier_names=("Silver", "Gold"))
    card = make_card(stamps=stamps, rewards=rewards, tier=tier, offers=offers,
                     next_step=next_step, history=history)
    document = build_pass_json(card, design, identity)
    announced = {field["key"] for group in document["storeCard"].values() for field in group
                 if "changeMessage" in field}
    assert announced <= ANNOUNCED
    assert all("%@" in field["changeMessage"] for group in document["storeCard"].values()
               for field in group if "changeMessage" in field)
    keys = [field["key"] for group in document["storeCard"].values() for field in group]
    assert len(keys) == len(set(keys))  # Wallet wants every key once
    front = len(document["storeCard"].get("secondaryFields", [])) + len(
        document["storeCard"].get("auxiliaryFields", []))
    assert front <= 2


def test_back_fields_in_order_with_a_link_to_the_customer_page(
    card: PassCard, design: PassDesign, identity: SigningIdentity
) -> None:
    back = fields_of(build_pass_json(card, design, identity), "backFields")
    assert list(back) == ["offers_now", "how_it_works", "member", "number", "customer_url",
                          "terms", "support"]
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
    assert list(back) == ["offers_now", "member", "number", "customer_url"]


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
    places = tuple(PassLocation(50.0 + i / 100, 30.0, {"en": f"Shop {i}"}) for i in range(12))
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
    assert fields_of(document, "primaryFields")["balance"]["label"] == "Баллы"
    assert fields_of(document, "secondaryFields")["tier"]["label"] == "Уровень"
    assert fields_of(document, "backFields")["how_it_works"]["value"] == "5% баллами"


@pytest.mark.parametrize(
    "changes",
    [
        {"authentication_token": "too-short"},
        {"balance": True},
        {"balance": "12"},
        {"stamps": 1.5},
        {"stamps": -1},
        {"rewards": -1},
        {"rewards": True},
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
        {"tier_names": ("Gold", " ")},
        {"reward_text": None},
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


def test_a_tier_and_next_step_that_miss_the_front_are_on_the_back(
    make_card: MakeCard, make_design: MakeDesign, identity: SigningIdentity
) -> None:
    design = make_design(kind="stamps", stamps_required=8, logo_text="Кавʼярня «Зерно на Подолі»",
                         tier_names=("Bronze", "Platinum"))
    card = make_card(stamps=3, tier="Bronze", next_step="Spend 1,200 UAH more for Platinum")
    document = build_pass_json(card, design, identity)
    front = [field["key"] for name in ("headerFields", "secondaryFields", "auxiliaryFields")
             for field in document["storeCard"].get(name, [])]
    assert front == ["reward"]
    back = fields_of(document, "backFields")
    assert back["tier"]["value"] == "Bronze"
    assert back["next"]["value"] == "Spend 1,200 UAH more for Platinum"
