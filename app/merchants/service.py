"""Use cases for merchants: sign-up, API keys, programs and locations.

Each public function takes the session first, commits at most once at its end, and
raises ``app.errors`` problems for anything the caller must hear about.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import phonenumbers
from babel.core import get_global
from slugify import slugify
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import rows
from app.cards.models import Card
from app.clock import utcnow
from app.errors import Conflict, Invalid, NotFound
from app.merchants.access import Principal, at_location
from app.merchants.accounts import Where, record_event
from app.merchants.models import (
    ROLES,
    ApiKey,
    ContactRule,
    Location,
    Merchant,
    Program,
    Staff,
)
from app.merchants.passwords import hash_password, password_fault
from app.merchants.schemas import (
    DEFAULT_COLORS,
    SLUG_PATTERN,
    LocationCreate,
    ProgramCreate,
    ProgramUpdate,
)
from app.outbox.messages import program_changed
from app.problem_codes import ProblemCode
from app.sql import SQL, Raw
from app.texts import is_per_locale, localized, program_text_faults

KEY_PREFIX = "lp_"
# Fields whose change alters what the pass looks like: bump the design and every pass.
DESIGN_FIELDS = frozenset(
    {"name", "kind", "currency", "earn_percent", "point_value", "tiers", "stamps_required",
     "reward_text", "colors", "locales", "barcode_format", "terms", "support_email",
     "support_phone", "website", "welcome_points", "triggers", "points_expire_days"}
)


@dataclass(frozen=True)
class NewMerchant:
    merchant: Merchant
    owner: Staff
    api_key: str


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_merchant(
    session: Session, *, name: str, email: str, password: str | None = None
) -> NewMerchant:
    name, email = name.strip(), email.strip().lower()
    if not name or "@" not in email:
        raise Invalid("A merchant needs a name and an owner's email address.")
    fault = password_fault(password) if password is not None else None
    if fault is not None:
        raise Invalid(f"password: {fault}", errors=[{"field": "password", "message": fault}])
    if session.scalar(select(Staff.id).where(Staff.email == email)) is not None:
        raise Conflict(f"{email} already belongs to a merchant.", code=ProblemCode.EMAIL_TAKEN)
    merchant = Merchant(name=name, email=email)
    owner = Staff(
        merchant=merchant, email=email, name=name, role="owner",
        password_hash=hash_password(password) if password else None,
    )
    session.add_all([merchant, owner])
    session.flush()
    issued = _new_api_key(session, merchant_id=merchant.id, role="owner", staff_id=owner.id,
                          name="owner")
    session.commit()
    return NewMerchant(merchant=merchant, owner=owner, api_key=issued.secret)


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str  # shown once; only its hash is stored


def create_api_key(
    session: Session, *, merchant_id: int, role: str, name: str = "",
    location_id: int | None = None,
) -> str:
    """A new key for the merchant, returned once; only its hash is kept."""
    return issue_api_key(session, merchant_id=merchant_id, role=role, name=name,
                         location_id=location_id).secret


def issue_api_key(
    session: Session, *, merchant_id: int, role: str, name: str = "",
    location_id: int | None = None, by: Principal | None = None, where: Where | None = None,
) -> IssuedKey:
    """A new key; with ``by`` (a staff member's key or session) the staff action log
    records who made it."""
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}.")
    if location_id is not None:
        location = session.get(Location, location_id)
        if location is None or location.merchant_id != merchant_id:
            raise NotFound("No such location.")
    issued = _new_api_key(session, merchant_id=merchant_id, role=role, name=name,
                          location_id=location_id)
    if by is not None:
        record_event(session, merchant_id=merchant_id, actor_staff_id=by.staff_id,
                     action="api_key.created", where=where or Where(), api_key=issued.key.id,
                     role=role, key_location=location_id)
    session.commit()
    return issued


def _new_api_key(session: Session, *, merchant_id: int, role: str, name: str,
                 staff_id: int | None = None, location_id: int | None = None) -> IssuedKey:
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(merchant_id=merchant_id, staff_id=staff_id, location_id=location_id,
                 role=role, name=name, prefix=prefix, secret_hash=_hash_secret(secret))
    session.add(key)
    session.flush()
    return IssuedKey(key=key, secret=f"{KEY_PREFIX}{prefix}_{secret}")


def list_api_keys(session: Session, *, merchant_id: int) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.merchant_id == merchant_id)
                                .order_by(ApiKey.id)))


def revoke_api_key(session: Session, *, merchant_id: int, key_id: int,
                   by: Principal | None = None, where: Where | None = None) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None or key.merchant_id != merchant_id:
        raise NotFound("No such API key.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        if by is not None:
            record_event(session, merchant_id=merchant_id, actor_staff_id=by.staff_id,
                         action="api_key.revoked", where=where or Where(), api_key=key.id)
        session.commit()
    return key


@dataclass(frozen=True)
class Caller:
    """Who an API key speaks for: read once per request, without the ORM."""

    id: int
    merchant_id: int
    staff_id: int | None
    location_id: int | None
    role: str
    touched: bool = False  # its last-used time was written by this request

    @property
    def principal(self) -> Principal:
        """Who the key speaks for, as the one authorization function reads it."""
        return Principal(merchant_id=self.merchant_id, role=self.role, staff_id=self.staff_id,
                         locations=at_location(self.location_id),
                         api_key_id=self.id)


@dataclass(frozen=True, slots=True)
class KeyRow:
    """An API key's row as the hand-written statements read it (``KEY_COLUMNS``)."""

    id: int
    merchant_id: int
    staff_id: int | None
    location_id: int | None
    role: str
    secret_hash: str
    last_used_at: Any  # a datetime; SQLite's text (``Raw.read_time``)
    revoked_at: Any

    @classmethod
    def of(cls, values: Sequence[Any] | None) -> KeyRow | None:
        """The values of ``KEY_COLUMNS`` by name; None when no key has the prefix."""
        row = rows.read(cls, values) if values is not None else None
        return row if row is not None and row.id is not None else None


# A key's columns, for the statement that reads it (also the counter's purchase, which
# reads the key with the card: ``app.ledger.purchase_rows``).
KEY_COLUMNS = rows.columns(KeyRow, "api_keys")
_FIND_KEY = SQL("SELECT " + KEY_COLUMNS + " FROM api_keys WHERE prefix = :prefix")  # noqa: S608
_TOUCH_KEY = SQL("UPDATE api_keys SET last_used_at = :now WHERE id = :key_id")
_PRESENTED = re.compile(r"lp_([0-9a-f]{12})_([A-Za-z0-9_-]{20,64})")
KEY_USE_PRECISION = timedelta(minutes=5)
_SLUG = re.compile(SLUG_PATTERN)


@dataclass(frozen=True)
class PresentedKey:
    """A key as presented: the prefix it is found by, the hash its secret must have."""

    prefix: str
    secret_hash: str

    @classmethod
    def parse(cls, presented: str) -> PresentedKey | None:
        match = _PRESENTED.fullmatch(presented)
        return cls(match.group(1), _hash_secret(match.group(2))) if match else None


def authenticate_api_key(session: Session, presented: str) -> Caller | None:
    """The live key matching ``presented``, or None.

    Read on every request with hand-written SQL, as a statement of its own on PostgreSQL
    (``Raw.one_without_begin``: no BEGIN and COMMIT round trips).
    """
    key = PresentedKey.parse(presented)
    if key is None:
        return None
    raw = Raw.of_session(session)
    row = raw.one_without_begin(_FIND_KEY, {"prefix": key.prefix})
    caller = live_key(raw, key, KeyRow.of(row))
    if caller is not None and caller.touched:
        session.commit()  # SQLite's: kept even if the request ends without a commit
    return caller


def live_key(raw: Raw, key: PresentedKey, row: KeyRow | None) -> Caller | None:
    """``row`` (None when no key has the prefix) as a caller, if it is the presented key,
    compared in constant time, and not revoked.

    Its last-used time is kept to within five minutes (``Caller.touched`` when it was
    written now, in the caller's transaction): a write per request would make every read
    a write.
    """
    if row is None or row.revoked_at is not None or not hmac.compare_digest(
            row.secret_hash, key.secret_hash):
        return None
    now = utcnow()
    last_used = row.last_used_at
    touched = last_used is None or now - raw.read_time(last_used) > KEY_USE_PRECISION
    if touched:
        raw.execute_without_begin(_TOUCH_KEY, {"key_id": row.id, "now": raw.time(now)})
    return Caller(id=row.id, merchant_id=row.merchant_id, staff_id=row.staff_id,
                  location_id=row.location_id, role=row.role, touched=touched)


def program_slug(name: str) -> str:
    # Transliterates Cyrillic (and the rest) so that Russian and Ukrainian names read well.
    return slugify(name, max_length=48, word_boundary=True) or "program"


def _unique_slug(session: Session, base: str) -> str:
    slug = base
    while session.scalar(select(Program.id).where(Program.slug == slug)) is not None:
        slug = f"{base[:48]}-{secrets.token_hex(2)}"
    return slug


def create_program(session: Session, *, merchant_id: int, data: ProgramCreate) -> Program:
    locales = data.locales or _DEFAULTS["locales"]
    if data.slug is not None:
        if session.scalar(select(Program.id).where(Program.slug == data.slug)) is not None:
            raise Conflict(f"The slug {data.slug!r} is taken.", code=ProblemCode.SLUG_TAKEN)
        slug = data.slug
    else:
        slug = _unique_slug(session, program_slug(localized(data.name, locales[0], locales)))
    program = Program(merchant_id=merchant_id, slug=slug)
    _apply(program, data, set(ProgramCreate.model_fields))
    if data.country is None:
        program.country = default_country(program.currency)
    _check_kind(program)
    session.add(program)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"The slug {slug!r} is taken.", code=ProblemCode.SLUG_TAKEN) from None
    # Its Google class is created now, not when the first customer is waiting for it.
    program_changed(session, merchant_id=merchant_id, program_id=program.id, reason="created")
    session.commit()
    return program


def _apply(program: Program, data: ProgramCreate | ProgramUpdate, fields: set[str]) -> None:
    """Set ``fields`` of ``program`` from ``data``, after checking its localized texts
    against the languages the program will have (nothing is set when one is refused)."""
    locales = _locales_after(program, data, fields)
    tiers = _checked_texts(data, fields, locales)
    # Nested values go through JSON mode so the JSON columns hold plain JSON (decimals as text).
    as_json = data.model_dump(mode="json", include=fields)
    for name in fields - {"slug"} - _TEXT_COLUMNS.keys():
        value = as_json[name] if name in _JSON_FIELDS else getattr(data, name)
        if value is None and name in _DEFAULTS:
            value = copy.deepcopy(_DEFAULTS[name])
        setattr(program, name, value)
    if tiers is not None:
        program.tiers = tiers
    for name in fields & _TEXT_COLUMNS.keys():
        value = getattr(data, name)
        column = _TEXT_COLUMNS[name]
        # Written only when it holds texts or held them: a program named with one string
        # for every language leaves the column out of its INSERT altogether.
        if is_per_locale(value) or getattr(program, column) is not None:
            setattr(program, column, value if is_per_locale(value) else None)
        setattr(program, name, value if isinstance(value, str) else "")
    # The plain columns hold the first language's text, whichever changed: texts or locales.
    for name, column in _TEXT_COLUMNS.items():
        texts = getattr(program, column)
        if texts is not None:
            setattr(program, name, localized(texts, locales[0], locales))


# A program's localized texts: the plain column and the one of its texts per language.
_TEXT_COLUMNS = {"name": "name_texts", "reward_text": "reward_texts", "terms": "terms_texts"}
# What a pass is drawn from: the design fields and the texts per language behind them.
_DESIGN_COLUMNS = sorted(DESIGN_FIELDS | {_TEXT_COLUMNS[name] for name in
                                          DESIGN_FIELDS & _TEXT_COLUMNS.keys()})
_JSON_FIELDS = frozenset({"tiers", "colors", "limits", "fraud", "website", "support_email",
                          "triggers", "terms_url", "privacy_url", "contact"})
_DEFAULTS: dict[str, Any] = {
    "kind": "points", "currency": "USD", "earn_percent": Decimal(0), "point_value": 100,
    "welcome_points": 0, "locales": ["en"], "barcode_format": "qr", "tiers": [],
    "limits": {}, "fraud": {}, "colors": DEFAULT_COLORS, "triggers": [],
    "max_redeem_percent": Decimal(100),
    "reward_budget_percent": Decimal(3),
    "contact": ContactRule.EITHER.value, "ask_birthday": False, "privacy": "",
}


def _locales_after(program: Program, data: ProgramCreate | ProgramUpdate,
                   fields: set[str]) -> list[str]:
    """The languages the program has once ``data`` is applied, first first."""
    if "locales" in fields:
        return list(data.locales or _DEFAULTS["locales"])
    return list(program.locales or _DEFAULTS["locales"])


def _checked_texts(data: ProgramCreate | ProgramUpdate, fields: set[str],
                   locales: list[str]) -> list[dict[str, Any]] | None:
    """Refuse texts the program's languages cannot carry (``name.de``, a missing first
    language) and tiers that would share a key or a name; return the tiers to store, each
    with its key (None when tiers do not change)."""
    faults: list[dict[str, str]] = []
    for name in sorted(fields & _TEXT_COLUMNS.keys()):
        faults += program_text_faults(name, getattr(data, name), locales)
    tiers = None
    if "tiers" in fields and data.tiers is not None:
        for index, tier in enumerate(data.tiers):
            faults += program_text_faults(f"tiers.{index}.name", tier.name, locales)
        if not faults:
            tiers = _keyed_tiers(data, locales)
            faults += _tier_clashes(tiers, locales)
    if faults:
        first = faults[0]
        raise Invalid(f"{first['field']}: {first['message']}.", errors=faults)
    return tiers


def _keyed_tiers(data: ProgramCreate | ProgramUpdate, locales: list[str]
                 ) -> list[dict[str, Any]]:
    """The tiers as stored: each with its key, given or made from its name.

    The key is a tier's identity: ``cards.tier`` stores it, offers target it, the API's
    cards and purchases show it; the name is what customers read, in their language. A
    key that is left out is the name, when one string names the tier for every language
    (so tiers named before names could be localized keep their identity), or its name in
    the program's first language. Renaming a tier that has no key of its own therefore
    changes its identity (cards move to it at their next purchase or at
    ``loyalpass ledger refresh-tiers``, as a renamed tier always did); give ``key`` to
    rename freely.
    """
    stored = data.model_dump(mode="json", include={"tiers"})["tiers"]
    for tier in stored:
        name = tier["name"]
        tier["key"] = tier["key"] or (name if isinstance(name, str) else name[locales[0]])
    return [{"key": tier.pop("key"), **tier} for tier in stored]


def _tier_clashes(tiers: list[dict[str, Any]], locales: list[str]) -> list[dict[str, str]]:
    """Two tiers with one key, or shown under one name in a language: which is which?"""
    faults = []
    keys = [str(tier["key"]).casefold() for tier in tiers]
    for index, key in enumerate(keys):
        if key in keys[:index]:
            faults.append({"field": f"tiers.{index}.key",
                           "message": "another tier has this key (or name): tiers need "
                                      "distinct ones"})
    for locale in locales:
        names = [localized(tier["name"], locale, locales).casefold() for tier in tiers]
        for index, name in enumerate(names):
            if name in names[:index]:
                faults.append({"field": f"tiers.{index}.name",
                               "message": f"another tier has this name in {locale}"})
    return faults


def default_country(currency: str) -> str | None:
    """The country whose phone numbers a new program's customers may type without the
    country code: the one country whose legal tender ``currency`` is today (UAH: UA),
    or None when several share it (USD, EUR, GBP) or none does, so that no customer's
    number is read as another country's (from CLDR, through Babel)."""
    countries = {
        territory for territory, periods in get_global("territory_currencies").items()
        if territory in phonenumbers.SUPPORTED_REGIONS
        and any(code == currency and end is None and tender
                for code, _start, end, tender in periods)
    }
    return countries.pop() if len(countries) == 1 else None


def _check_kind(program: Program) -> None:
    if program.kind == "stamps" and not program.stamps_required:
        raise Invalid(
            "stamps_required: a stamps program needs the number of stamps for a reward.",
            errors=[{"field": "stamps_required", "message": "required for kind 'stamps'"}],
        )


def _changed(program: Program, data: ProgramUpdate) -> set[str]:
    """Apply ``data`` to ``program`` (checked as a change must be: ``Invalid`` before
    anything is set when it is refused); the fields it names."""
    fields = set(data.model_fields_set) - {"slug"}
    if data.slug is not None and data.slug != program.slug:
        raise Invalid("slug: a program's slug cannot change; printed QR codes carry it.",
                      errors=[{"field": "slug", "message": "cannot change"}])
    if "name" in fields and data.name is None:
        raise Invalid("name: a program needs a name.",
                      errors=[{"field": "name", "message": "may not be null"}])
    _apply(program, data, fields)
    _check_kind(program)
    return fields


def update_program(session: Session, *, program: Program, data: ProgramUpdate) -> Program:
    fields = _changed(program, data)
    if fields & DESIGN_FIELDS:
        program.design_version += 1
        touch_program_passes(session, program=program)
    session.commit()
    return program


def program_draft(program: Program, data: ProgramUpdate) -> Program:
    """An unsaved copy of ``program`` with ``data`` applied, refused exactly as
    ``update_program`` would refuse it; nothing is written and ``program`` is untouched.
    What the dashboard's preview draws a pass of before anything is saved."""
    draft = Program()
    for column in Program.__table__.columns:
        setattr(draft, column.key, copy.deepcopy(getattr(program, column.key)))
    draft.merchant = program.merchant  # no relationship leads back: the draft stays out
    _changed(draft, data)
    return draft


def passes_changed_by(session: Session, *, program: Program, data: ProgramUpdate) -> int:
    """How many passes saving ``data`` would redraw (``touch_program_passes``): every card
    of the program when the change alters how a pass looks, none otherwise (``Invalid``
    when the change would be refused)."""
    draft = program_draft(program, data)
    if not any(getattr(draft, column) != getattr(program, column)
               for column in _DESIGN_COLUMNS):
        return 0
    return count_program_passes(session, program_id=program.id)


def touch_program_passes(session: Session, *, program: Program, reason: str = "design"
                         ) -> None:
    """Queue every pass of a program to be redrawn and pushed. The worker's
    fan-out bumps them (each card's Last-Modified rising) a few thousand cards a
    transaction, with their devices (``app.delivery.fanout``): bumping a pass locks its
    card, and a request bumping a million would hold every till selling to one, and run
    past its time. The new design shows at once to whoever fetches a pass."""
    program_changed(session, merchant_id=program.merchant_id, program_id=program.id,
                    reason=reason, bump=True)


def get_program(session: Session, *, merchant_id: int, program_id: int) -> Program:
    program = session.get(Program, program_id)
    if program is None or program.merchant_id != merchant_id:
        raise NotFound("No such program.")
    return program


def list_programs(session: Session, *, merchant_id: int) -> list[Program]:
    return list(session.scalars(
        select(Program).where(Program.merchant_id == merchant_id).order_by(Program.id)
    ))


def program_by_slug(session: Session, slug: str) -> Program:
    """The program a URL names; a slug that could not be one (NUL, any other text that
    is not a slug) is not looked for."""
    program = session.scalar(select(Program).where(Program.slug == slug)) if (
        _SLUG.fullmatch(slug)) else None
    if program is None:
        raise NotFound("No such program.")
    return program


def create_location(session: Session, *, program: Program, data: LocationCreate) -> Location:
    location = Location(merchant_id=program.merchant_id, program_id=program.id, name=data.name,
                        address=data.address, latitude=data.latitude, longitude=data.longitude)
    session.add(location)
    session.flush()
    if data.latitude is not None:
        # Locations are on the pass (relevance); the design changed.
        program.design_version += 1
        touch_program_passes(session, program=program)
    session.commit()
    return location


def program_location(session: Session, *, program: Program, location_id: int | None
                     ) -> Location | None:
    """The program's location with that id, or None (no id, another program's, none)."""
    location = session.get(Location, location_id) if location_id is not None else None
    return location if location is not None and location.program_id == program.id else None


def count_program_passes(session: Session, *, program_id: int) -> int:
    """How many passes a program has: one per card, the ones a design change redraws."""
    return int(session.scalar(select(func.count(Card.id))
                              .where(Card.program_id == program_id)) or 0)


def get_location(session: Session, *, merchant_id: int, location_id: int) -> Location:
    location = session.get(Location, location_id)
    if location is None or location.merchant_id != merchant_id:
        raise NotFound("No such location.")
    return location


def update_location(session: Session, *, location: Location, data: LocationCreate) -> Location:
    """Rename, re-address or move a location; its program's passes are redrawn when where
    it is on them (its name on the lock screen, its coordinates) changes."""
    on_passes = (location.latitude is not None or data.latitude is not None) and (
        (location.name, location.latitude, location.longitude)
        != (data.name, data.latitude, data.longitude))
    location.name, location.address = data.name, data.address
    location.latitude, location.longitude = data.latitude, data.longitude
    if on_passes:
        location.program.design_version += 1
        touch_program_passes(session, program=location.program)
    session.commit()
    return location
