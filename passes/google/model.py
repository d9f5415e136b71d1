"""The values a Google Wallet loyalty card is made from: a program, a card, its offers.

A :class:`GoogleProgram` becomes one LoyaltyClass, a :class:`GoogleCard` one
LoyaltyObject of that class. Both are frozen and checked on construction, so
a bad id, colour or balance fails here with a ValueError instead of as a 400
from Google in a background worker long after the request that caused it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from passes.labels import LabelSet, PassLabels, check_labels, check_reward_steps

BARCODE_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "qr": "QR_CODE",
        "pdf417": "PDF_417",
        "aztec": "AZTEC",
        "code128": "CODE_128",
    }
)
KINDS = ("points", "stamps")
SUPPORTED_LOCALES = ("en", "ru", "uk")
TEXT_IDS = ("how_it_works", "terms", "support")
MAX_BALANCE = 2**31 - 1  # LoyaltyPointsBalance.int is an int32

# Google: "alphanumeric characters, '.', '_', or '-'". Spelled out instead of
# \w, which in Python also matches non-ASCII letters Google refuses.
_ID_SUFFIX = re.compile(r"[A-Za-z0-9._-]+")
_ISSUER_ID = re.compile(r"[0-9]+")
GOOGLE_ID = re.compile(r"[0-9]+\.[A-Za-z0-9._-]+")
# Text module ids may not contain dots: template field paths use dots.
_MODULE_ID = re.compile(r"[A-Za-z0-9_-]+")
_HEX_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")
_COUNTRY_CODE = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True)
class GoogleProgram:
    """Everything about a card that is the same for every card of a program.

    ``program_name`` and ``issuer_name`` are in the primary (first) locale;
    their ``*_translations`` map other locales to their text. ``texts`` maps a
    text id (``how_it_works``, ``terms``, ``support``) to ``{locale: text}``;
    as on the Apple pass, a text missing in the primary locale borrows another
    locale's. Text in a supported locale the program does not list is kept
    but never sent. ``labels`` are the card's own words in each of ``locales``
    (:mod:`passes.labels`); ``reward_steps`` (stamp programs only) the sentence a card
    missing 1 to ``stamps_required`` stamps shows, by that number and locale, as on the
    Apple pass. Mappings are copied and frozen on construction.
    """

    issuer_id: str
    class_suffix: str
    issuer_name: str
    program_name: str
    logo_url: str
    background_color: str
    locales: tuple[str, ...]
    labels: LabelSet = field(hash=False)
    kind: str = "points"
    stamps_required: int | None = None
    barcode_format: str = "qr"
    hero_image_url: str | None = None
    callback_url: str | None = None
    country_code: str | None = None
    reward_text: str = ""
    program_name_translations: Mapping[str, str] = field(default_factory=dict, hash=False)
    issuer_name_translations: Mapping[str, str] = field(default_factory=dict, hash=False)
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict, hash=False)
    reward_steps: Mapping[int, Mapping[str, str]] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.issuer_id, str) or not _ISSUER_ID.fullmatch(self.issuer_id):
            raise ValueError(
                f"issuer_id must be Google's numeric issuer id, not {self.issuer_id!r}"
            )
        _require_id_suffix("class_suffix", self.class_suffix)
        _require_text("issuer_name", self.issuer_name)
        _require_text("program_name", self.program_name)
        _require_url("logo_url", self.logo_url)
        if self.hero_image_url is not None:
            _require_url("hero_image_url", self.hero_image_url)
        if self.callback_url is not None and not _is_url(self.callback_url, ("https://",)):
            raise ValueError("callback_url must be an https URL: Google calls back only over TLS")
        if not isinstance(self.background_color, str) or not _HEX_COLOR.fullmatch(
            self.background_color
        ):
            raise ValueError(
                f"background_color must look like #RRGGBB, not {self.background_color!r}"
            )
        if self.country_code is not None and not _COUNTRY_CODE.fullmatch(self.country_code):
            raise ValueError(f"country_code must be two capital letters, not {self.country_code!r}")
        self._check_kind()
        object.__setattr__(self, "locales", _check_locales(self.locales))
        self._freeze_texts()
        check_labels(self.labels, self.locales)
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))
        check_reward_steps(self.reward_steps, self.locales,
                           self.stamps_required if self.kind == "stamps" else None)
        object.__setattr__(self, "reward_steps", MappingProxyType(
            {missing: MappingProxyType(dict(texts))
             for missing, texts in self.reward_steps.items()}))

    def _check_kind(self) -> None:
        if self.barcode_format not in BARCODE_TYPES:
            raise ValueError(f"barcode_format must be one of {sorted(BARCODE_TYPES)}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {self.kind!r}")
        if self.stamps_required is not None:
            _require_int("stamps_required", self.stamps_required)
        if self.kind == "stamps" and (self.stamps_required is None or self.stamps_required < 1):
            raise ValueError("a stamps program needs stamps_required of at least 1")

    def _freeze_texts(self) -> None:
        for name in ("program_name_translations", "issuer_name_translations"):
            translations = dict(getattr(self, name))
            _check_translation_locales(name, translations)
            object.__setattr__(self, name, MappingProxyType(translations))
        frozen: dict[str, Mapping[str, str]] = {}
        for text_id, by_locale in self.texts.items():
            if text_id not in TEXT_IDS:
                raise ValueError(f"text id must be one of {TEXT_IDS}, not {text_id!r}")
            values = dict(by_locale)
            _check_translation_locales(f"texts[{text_id!r}]", values)
            frozen[text_id] = MappingProxyType(values)
        object.__setattr__(self, "texts", MappingProxyType(frozen))

    @property
    def primary_locale(self) -> str:
        return self.locales[0]

    def label(self, name: str, locale: str | None = None) -> str:
        """The label ``name`` (a ``PassLabels`` field) in ``locale`` (one of the
        program's), else in the primary locale."""
        labels: PassLabels = self.labels.get(locale or "", self.labels[self.primary_locale])
        text: str = getattr(labels, name)
        return text

    @property
    def class_id(self) -> str:
        """The LoyaltyClass id: ``<issuer id>.<class suffix>``."""
        return f"{self.issuer_id}.{self.class_suffix}"


@dataclass(frozen=True)
class GoogleOffer:
    """An offer shown on a card as one text module.

    ``id`` names the module across updates, so a PATCH that replaces the whole
    list keeps each offer in place; it may not contain dots (Google's rule).
    Without a ``title`` the header is the localized word "Offer". ``titles`` and
    ``bodies`` map locales to the text when it was written per language (the
    module then carries it as a LocalizedString; the program's primary locale
    must be among them); ``title`` and ``body`` are the holder's.
    """

    id: str
    title: str = ""
    body: str = ""
    titles: Mapping[str, str] = field(default_factory=dict, hash=False)
    bodies: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _MODULE_ID.fullmatch(self.id):
            raise ValueError(
                f"offer id may hold only letters, digits, '_' and '-', not {self.id!r}"
            )
        if not isinstance(self.title, str) or not isinstance(self.body, str):
            raise ValueError("offer title and body must be strings")
        if not self.title.strip() and not self.body.strip():
            raise ValueError("an offer needs a title or a body")
        for name in ("titles", "bodies"):
            translations = dict(getattr(self, name))
            _check_translation_locales(f"offer {name}", translations)
            object.__setattr__(self, name, MappingProxyType(translations))


@dataclass(frozen=True)
class GoogleCard:
    """One card as its Google Wallet object shows it, at one moment.

    ``object_suffix`` is the card's serial number (the same one the Apple pass
    carries); ``barcode_message`` is the Apple pass's barcode message too, so
    a scanner reads either wallet alike. ``locale`` is the holder's language,
    used for the plain (untranslated) text beside each localized one.
    ``rewards``, ``next_step`` and ``history`` are what the Apple pass shows of
    them: rewards earned and not used, what to do for the next tier (a sentence in
    the holder's language, empty when none) and the last movements, one line each.
    """

    object_suffix: str
    card_number: str
    barcode_message: str
    holder_name: str
    balance: int
    tier: str | None
    stamps: int
    blocked: bool
    customer_url: str
    offers: tuple[GoogleOffer, ...] = ()
    locale: str | None = None
    rewards: int = 0
    next_step: str = ""
    history: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require_id_suffix("object_suffix", self.object_suffix)
        _require_text("card_number", self.card_number)
        _require_text("barcode_message", self.barcode_message)
        if not isinstance(self.holder_name, str):
            raise ValueError("holder_name must be a string (empty when unknown)")
        for name in ("balance", "stamps", "rewards"):
            _require_int(name, getattr(self, name))
        if not 0 <= self.balance <= MAX_BALANCE:
            raise ValueError(f"balance must be between 0 and {MAX_BALANCE}, not {self.balance}")
        if self.stamps < 0 or self.rewards < 0:
            raise ValueError("stamps and rewards must not be negative")
        if self.tier is not None:
            _require_text("tier", self.tier)
        if not isinstance(self.blocked, bool):
            raise ValueError(f"blocked must be a bool, not {self.blocked!r}")
        _require_url("customer_url", self.customer_url)
        if self.locale is not None and self.locale not in SUPPORTED_LOCALES:
            raise ValueError(f"locale must be one of {SUPPORTED_LOCALES}, not {self.locale!r}")
        offers = tuple(self.offers)
        if any(not isinstance(offer, GoogleOffer) for offer in offers):
            raise ValueError("offers must be GoogleOffer values")
        if len({offer.id for offer in offers}) != len(offers):
            raise ValueError("offer ids must be unique on a card")
        object.__setattr__(self, "offers", offers)
        object.__setattr__(self, "history", tuple(self.history))


def check_google_id(name: str, value: str) -> str:
    """Return ``value`` if it is a Google object or class id, else raise ValueError."""
    if not isinstance(value, str) or not GOOGLE_ID.fullmatch(value):
        raise ValueError(f"{name} must look like <issuer id>.<[A-Za-z0-9._-]+>, not {value!r}")
    return value


def _require_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")


def _require_int(name: str, value: object) -> None:
    # bool is an int in Python; a True balance is a bug upstream.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, not {value!r}")


def _require_id_suffix(name: str, value: object) -> None:
    if not isinstance(value, str) or not _ID_SUFFIX.fullmatch(value):
        raise ValueError(f"{name} may hold only letters, digits, '.', '_' and '-', not {value!r}")


def _is_url(value: object, schemes: tuple[str, ...]) -> bool:
    if not isinstance(value, str) or not value.startswith(schemes):
        return False
    rest = value.split("://", 1)[1]
    return bool(rest) and not any(char.isspace() for char in value)


def _require_url(name: str, value: object) -> None:
    if not _is_url(value, ("https://", "http://")):
        raise ValueError(f"{name} must be an http(s) URL, not {value!r}")


def _check_locales(locales: tuple[str, ...]) -> tuple[str, ...]:
    locales = tuple(locales)
    if not locales:
        raise ValueError("a program needs at least one locale")
    unknown = [locale for locale in locales if locale not in SUPPORTED_LOCALES]
    if unknown or len(set(locales)) != len(locales):
        raise ValueError(f"locales must be distinct ones of {SUPPORTED_LOCALES}, not {locales}")
    return locales


def _check_translation_locales(name: str, values: Mapping[str, str]) -> None:
    # A supported locale the program does not use is kept and simply not sent,
    # so dropping a locale from a program never breaks its stored translations.
    for locale, text in values.items():
        if locale not in SUPPORTED_LOCALES:
            raise ValueError(f"{name} has locale {locale!r}, not one of {SUPPORTED_LOCALES}")
        if not isinstance(text, str):
            raise ValueError(f"{name}[{locale!r}] must be a string")
