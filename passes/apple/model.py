"""The values a pass is made from: a per-program design and a per-card view.

Both are frozen and checked on construction, so everything downstream may
assume well-formed input: a bad colour, barcode format or token fails here
with a ValueError rather than producing a pass Wallet refuses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from passes.labels import LabelSet, PassLabels, check_labels, check_reward_steps

BARCODE_FORMATS: Mapping[str, str] = MappingProxyType(
    {
        "qr": "PKBarcodeFormatQR",
        "pdf417": "PKBarcodeFormatPDF417",
        "aztec": "PKBarcodeFormatAztec",
        "code128": "PKBarcodeFormatCode128",
    }
)
KINDS = ("points", "stamps")
SUPPORTED_LOCALES = ("en", "ru", "uk")
TEXT_IDS = ("how_it_works", "terms", "support")
MIN_AUTHENTICATION_TOKEN_LENGTH = 16  # Apple's minimum
MAX_LOCATIONS = 10  # Wallet uses at most ten; the rest are dropped

_HEX_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")


@dataclass(frozen=True)
class Colors:
    """Pass colours as ``#RRGGBB``; Wallet wants them as ``rgb(r,g,b)``."""

    background: str
    foreground: str
    label: str

    def __post_init__(self) -> None:
        for name in ("background", "foreground", "label"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _HEX_COLOR.fullmatch(value):
                raise ValueError(f"{name} colour must look like #RRGGBB, not {value!r}")


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    """``#1A2B3C`` -> ``(26, 43, 60)``; the colour must already be validated."""
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def css_rgb(color: str) -> str:
    """``#1A2B3C`` -> ``rgb(26,43,60)``, the form pass.json takes."""
    red, green, blue = hex_to_rgb(color)
    return f"rgb({red},{green},{blue})"


@dataclass(frozen=True)
class PassLocation:
    """A place near which Wallet offers the pass on the lock screen, with what the lock
    screen says there per language (``{locale: text}``; none: the labels' default)."""

    latitude: float
    longitude: float
    relevant_texts: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not -90.0 <= self.latitude <= 90.0 or not -180.0 <= self.longitude <= 180.0:
            raise ValueError(f"location ({self.latitude}, {self.longitude}) is not on Earth")
        object.__setattr__(self, "relevant_texts", _frozen_texts("relevant_texts",
                                                                 self.relevant_texts))


@dataclass(frozen=True)
class PassDesign:
    """Everything about a pass that is the same for every card of a program.

    ``design_key`` names this exact design; the app changes it whenever any
    field changes. ``texts`` maps a text id (``how_it_works``, ``terms``,
    ``support``) to ``{locale: text}``; it is copied and frozen on construction.
    ``names`` maps an id to ``{locale: text}`` for the other texts the merchant
    wrote per language that pass.json carries in the primary locale (the
    program's name as ``logo_text``, the ``description``, tier names as a card's
    ``tier``): each locale's pass.strings turns the primary text into its own.
    ``tier_names`` are the program's tiers as cards show them (the header is planned
    for the widest); ``reward_text`` is what a completed stamp card earns ("Free
    coffee"; empty: the labels' word for a reward). ``labels`` are the pass's own words
    in each of ``locales`` (:mod:`passes.labels`). ``reward_steps`` (stamp designs only)
    maps each number of stamps a card can miss, 1 to ``stamps_required``, to the sentence
    the card then shows in each language ("3 more stamps to your reward"; the reward's
    name is the field's label), plurals and all, as the caller's catalogs write them.
    ``logo``, ``strip`` (a photo behind the primary field) and ``stamp_icon`` (drawn in
    each stamp) are PNG or JPEG bytes as uploaded, or None for the drawn defaults.
    """

    design_key: str
    organization_name: str
    description: str
    logo_text: str
    colors: Colors
    barcode_format: str
    kind: str
    stamps_required: int | None
    locales: tuple[str, ...]
    web_service_url: str
    labels: LabelSet = field(hash=False)
    locations: tuple[PassLocation, ...] = ()
    logo: bytes | None = None
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict, hash=False)
    names: Mapping[str, Mapping[str, str]] = field(default_factory=dict, hash=False)
    tier_names: tuple[str, ...] = ()
    reward_text: str = ""
    strip: bytes | None = None
    stamp_icon: bytes | None = None
    reward_steps: Mapping[int, Mapping[str, str]] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _require_text("design_key", self.design_key)
        _require_text("organization_name", self.organization_name)
        _require_text("description", self.description)
        if self.barcode_format not in BARCODE_FORMATS:
            raise ValueError(f"barcode_format must be one of {sorted(BARCODE_FORMATS)}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {self.kind!r}")
        if self.kind == "stamps" and (self.stamps_required is None or self.stamps_required < 1):
            raise ValueError("a stamps design needs stamps_required of at least 1")
        _check_locales(self.locales)
        _check_web_service_url(self.web_service_url)
        object.__setattr__(self, "locales", tuple(self.locales))
        object.__setattr__(self, "locations", tuple(self.locations))
        object.__setattr__(self, "tier_names", tuple(self.tier_names))
        if not all(isinstance(name, str) and name.strip() for name in self.tier_names):
            raise ValueError("tier_names must be non-empty strings")
        if not isinstance(self.reward_text, str):
            raise ValueError("reward_text must be a string (empty for the default)")
        for name in ("texts", "names"):
            frozen = {key: MappingProxyType(dict(value))
                      for key, value in getattr(self, name).items()}
            object.__setattr__(self, name, MappingProxyType(frozen))
        check_labels(self.labels, self.locales)
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))
        check_reward_steps(self.reward_steps, self.locales,
                           self.stamps_required if self.kind == "stamps" else None)
        object.__setattr__(self, "reward_steps", MappingProxyType(
            {missing: MappingProxyType(dict(texts))
             for missing, texts in self.reward_steps.items()}))

    @property
    def primary_locale(self) -> str:
        return self.locales[0]

    @property
    def primary_labels(self) -> PassLabels:
        return self.labels[self.locales[0]]


@dataclass(frozen=True)
class PassCard:
    """One card as its pass shows it, at one moment.

    ``rewards`` is how many rewards the holder has earned and not used yet (a completed
    stamp card is one). ``next_step`` and ``history`` are sentences the app wrote in the
    holder's language: what to do for the next tier ("Spend 1,200 UAH more for Gold";
    empty when there is none) and the last few movements of the card's ledger, newest
    first, one line each. ``offers`` are the titles of the offers the card shows, each
    ``{locale: title}`` in as many of the design's languages as it was written in (the
    pass shows the primary's, or the first there is, and each phone its own language's).
    """

    serial_number: str
    authentication_token: str
    card_number: str
    barcode_message: str
    holder_name: str
    balance: int
    tier: str | None
    stamps: int
    voided: bool
    customer_url: str
    offers: tuple[Mapping[str, str], ...] = ()
    rewards: int = 0
    next_step: str = ""
    history: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require_text("serial_number", self.serial_number)
        if len(self.authentication_token) < MIN_AUTHENTICATION_TOKEN_LENGTH:
            raise ValueError("authentication_token must be at least 16 characters (Apple's rule)")
        for name in ("balance", "stamps", "rewards"):
            value = getattr(self, name)
            # bool is an int in Python; a True balance is a bug upstream.
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be an integer, not {value!r}")
        try:
            self.barcode_message.encode("iso-8859-1")
        except UnicodeEncodeError:
            raise ValueError(
                "barcode_message must be ISO-8859-1 text (its messageEncoding)"
            ) from None
        if self.stamps < 0 or self.rewards < 0:
            raise ValueError("stamps and rewards cannot be negative")
        object.__setattr__(self, "offers", tuple(_frozen_texts("offer", offer)
                                                 for offer in self.offers))
        object.__setattr__(self, "history", tuple(self.history))


def _frozen_texts(name: str, texts: Mapping[str, str]) -> Mapping[str, str]:
    """A frozen copy of ``{locale: text}``; ValueError for another shape or language."""
    if not isinstance(texts, Mapping):
        raise ValueError(f"{name} must map language codes to texts, not {texts!r}")
    for locale, text in texts.items():
        if locale not in SUPPORTED_LOCALES or not isinstance(text, str):
            raise ValueError(f"{name} must map languages of {SUPPORTED_LOCALES} to texts, "
                             f"not {locale!r}: {text!r}")
    return MappingProxyType(dict(texts))


def _require_text(name: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")


def _check_locales(locales: tuple[str, ...]) -> None:
    if not locales:
        raise ValueError("a design needs at least one locale")
    unknown = [locale for locale in locales if locale not in SUPPORTED_LOCALES]
    if unknown or len(set(locales)) != len(locales):
        raise ValueError(f"locales must be distinct ones of {SUPPORTED_LOCALES}, not {locales}")


def _check_web_service_url(url: str) -> None:
    if not url.startswith(("https://", "http://")):
        raise ValueError("web_service_url must be an http(s) URL")
    # The device appends "/v1/..." itself.
    if url.endswith("/") or url.endswith("/v1"):
        raise ValueError("web_service_url must not end with '/' or '/v1' (the device adds /v1)")
