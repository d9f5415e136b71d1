"""Property tests of the parsers that meet text from outside first: the barcode and card
number reader, the card-link token reader, Apple's identifier checks, the tag and id
readers, the text check and the JSON body parser. Any text (NUL, control characters, lone
surrogates, thousands of digits) gets the documented outcome and nothing else; valid values
come back as they went in. Bounded and derandomized, so that CI sees the same examples."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.cards.numbers import (
    NUMBER_LENGTH,
    barcode_message,
    is_valid_number,
    luhn_check_digit,
    number_from_scan,
)
from app.clock import to_microseconds, utcnow
from app.config import Config
from app.devices.service import parse_tag
from app.errors import BadRequest
from app.validation import MAX_INT32, parse_id, text_fault
from app.wallet.identity import load_identity
from app.wallet.service import Wallet

# The identifier checks are the web service's own; they are what is under test here.
from app.web.apple_ws import _check_path
from app.web.jsonbody import MAX_NESTING, loads

FUZZ = settings(max_examples=300, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
SECRET = b"test-secret-key-0123456789abcdef"

SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=())
HOSTILE = st.sampled_from(["\x00", "\x1b", "\x7f", "\x85", "\t", "\n", "-", ".", " ", "0",
                           "9", "\u0663", "\uff11", "é", "😀"])
TEXT = st.one_of(
    st.text(st.characters(exclude_categories=())),
    st.text(st.one_of(HOSTILE, SURROGATES, st.characters(codec="ascii")), max_size=40),
    st.text("0123456789", min_size=1, max_size=6000),  # past int()'s 4,300 digits
    st.text("0123456789 -", max_size=40),
)


def _number(payload: int) -> str:
    text = str(payload)
    return text + luhn_check_digit(text)


NUMBERS = st.integers(10 ** (NUMBER_LENGTH - 2), 10 ** (NUMBER_LENGTH - 1) - 1).map(_number)


# --- barcodes and card numbers ----------------------------------------------------------------

@FUZZ
@given(scanned=TEXT)
def test_any_scan_gives_a_valid_number_or_none(scanned: str) -> None:
    number = number_from_scan(scanned, (SECRET,))
    assert number is None or is_valid_number(number)


@FUZZ
@given(number=NUMBERS)
def test_a_barcode_and_the_typed_number_both_give_the_number_back(number: str) -> None:
    assert number_from_scan(barcode_message(number, SECRET), (SECRET,)) == number
    typed = f" {number[:4]}-{number[4:8]} {number[8:]} "
    assert number_from_scan(typed, (SECRET,)) == number


@FUZZ
@given(number=NUMBERS, position=st.integers(0, NUMBER_LENGTH - 1), delta=st.integers(1, 9))
def test_a_mistyped_digit_or_a_forged_mac_gives_nothing(number: str, position: int,
                                                          delta: int) -> None:
    digits = list(number)
    digits[position] = str((int(digits[position]) + delta) % 10)
    assert number_from_scan("".join(digits), (SECRET,)) is None
    message = barcode_message(number, SECRET)
    forged = message[:-1] + str((int(message[-1]) + delta) % 10)
    assert number_from_scan(forged, (SECRET,)) is None


# --- card-link tokens -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def wallet(tmp_path_factory: pytest.TempPathFactory, certs_dir: Path) -> Wallet:
    config = Config(database_url="sqlite://", base_url="https://cards.example.test",
                    secret_key=SECRET.decode(), certs_dir=certs_dir,
                    instance_dir=tmp_path_factory.mktemp("instance"), development=False,
                    worker="external")
    return Wallet(config=config, identity=load_identity(config))


@FUZZ
@given(token=TEXT)
def test_any_token_opens_only_the_card_it_was_made_for_or_none(
        wallet: Wallet, token: str) -> None:
    serial = wallet.serial_in_token(token)
    if serial is not None and wallet.token_opens(_card(serial), token):
        assert wallet.card_token(_card(serial)) == token
    assert serial is None or (token.isascii() and token.isprintable())


@FUZZ
@given(serial=st.text("0123456789abcdef", min_size=32, max_size=32))
def test_a_card_token_gives_its_serial_back_and_a_changed_one_nothing(
        wallet: Wallet, serial: str) -> None:
    card = _card(serial)
    token = wallet.card_token(card)
    assert wallet.serial_in_token(token) == serial and wallet.token_opens(card, token)
    assert not wallet.token_opens(card, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert wallet.serial_in_token(token + "\x00") is None
    assert not wallet.token_opens(card, token + "\x00")
    assert not wallet.token_opens(_card(serial, link_version=1), token)  # reissued


def _card(serial: str, link_version: int = 0) -> Any:
    return SimpleNamespace(serial_number=serial, link_version=link_version)  # a token's parts


# --- Apple's identifiers ----------------------------------------------------------------------

IDENTIFIER = st.from_regex(r"\A[A-Za-z0-9._-]{1,64}\Z")


@FUZZ
@given(device=TEXT | st.none(), pass_type=TEXT, serial=TEXT | st.none())
def test_any_identifier_passes_or_is_400_malformed_identifier(
        device: str | None, pass_type: str, serial: str | None) -> None:
    try:
        _check_path(device, pass_type, serial)
    except BadRequest as refused:
        assert refused.code == "malformed_identifier" and refused.status == 400


@FUZZ
@given(device=IDENTIFIER, pass_type=IDENTIFIER, serial=IDENTIFIER)
def test_well_formed_identifiers_pass(device: str, pass_type: str, serial: str) -> None:
    _check_path(device, pass_type, serial)
    _check_path(None, pass_type, serial)


@FUZZ
@given(identifier=IDENTIFIER, bad=st.one_of(HOSTILE, SURROGATES).filter(
    lambda char: char not in "-.09"))
def test_one_foreign_character_makes_an_identifier_malformed(identifier: str,
                                                              bad: str) -> None:
    with pytest.raises(BadRequest):
        _check_path(None, identifier + bad, identifier)


# --- tags, ids, text, JSON --------------------------------------------------------------------

@FUZZ
@given(tag=TEXT | st.none())
def test_any_tag_is_a_past_moment_or_none(tag: str | None) -> None:
    now = utcnow()
    value = parse_tag(tag, now=now)
    assert value is None or 0 <= value <= to_microseconds(now)


@FUZZ
@given(moment=st.datetimes(min_value=datetime(1970, 1, 1), max_value=utcnow()))
def test_a_tag_we_issued_reads_back(moment: Any) -> None:
    tag = to_microseconds(moment)
    assert parse_tag(str(tag)) == tag


@FUZZ
@given(text=TEXT | st.none())
def test_any_id_text_is_a_database_id_or_none(text: str | None) -> None:
    value = parse_id(text)
    assert value is None or (1 <= value <= MAX_INT32 and text is not None
                             and int(text) == value)


@FUZZ
@given(value=st.integers(1, MAX_INT32))
def test_an_id_reads_back(value: int) -> None:
    assert parse_id(str(value)) == value


@FUZZ
@given(text=TEXT, multiline=st.booleans())
def test_text_that_passes_the_check_can_be_stored_as_utf8_without_controls(
        text: str, multiline: bool) -> None:
    if text_fault(text, multiline=multiline) is None:
        encoded = text.encode("utf-8")  # no lone surrogate: this cannot fail
        assert b"\x00" not in encoded
        allowed = "\t\n\r" if multiline else ""
        assert all(char in allowed or not (ord(char) < 32 or 127 <= ord(char) < 160)
                   for char in text)


# Without lone surrogates: JSON reads an escaped pair of them as the one character it makes.
JSON_TEXT = st.text(st.one_of(HOSTILE, st.characters()), max_size=40)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats(allow_nan=False)
    | JSON_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(JSON_TEXT, inner, max_size=3),
    max_leaves=20)


@FUZZ
@given(value=JSON_VALUES)
def test_json_within_the_bound_parses_back_to_itself(value: Any) -> None:
    assert loads(json.dumps(value)) == value


@FUZZ
@given(text=st.text(st.sampled_from('[]{}"\\:,1 a'), max_size=200) | TEXT,
       depth=st.integers(0, 3 * MAX_NESTING))
def test_any_text_parses_or_is_a_value_error_never_a_recursion_error(text: str,
                                                                     depth: int) -> None:
    for candidate in (text, "[" * depth + text + "]" * depth):
        with contextlib.suppress(ValueError):  # the documented refusal; anything else fails
            loads(candidate)
