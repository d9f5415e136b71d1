"""Reading and saving a program's automatic offers: its settings and its four rules.

Invariants: a rule exists once it was given a title (its ``Offer`` holds the texts) and
is one row per program and kind; switching a rule on needs its title; saving is one
commit, and a refused request changes nothing. A rule's offer is published from the
start (``automatic``): it reaches cards one send at a time (``app.automations.sending``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.automations.models import RULE_KINDS, AutomationRule, AutomationSettings
from app.automations.schemas import RULE_DEFAULTS, VALID_DAYS, AutomationsInput, RuleInput
from app.clock import utcnow
from app.errors import Invalid
from app.merchants.models import Program
from app.offers.models import Offer
from app.texts import LocalizedValue, localized, program_text_faults

DEFAULT_WEEKLY_CAP = 2
RULE_FIELDS = ("enabled", "title", "body", "holdout_percent", "valid_days")


@dataclass(frozen=True)
class RuleView:
    kind: str
    enabled: bool = False
    title: LocalizedValue | None = None
    body: LocalizedValue | None = None
    holdout_percent: int = 0
    valid_days: int = VALID_DAYS
    settings: dict[str, Any] = field(default_factory=dict)
    offer_id: int | None = None


@dataclass(frozen=True)
class Automations:
    program_id: int
    weekly_cap: int
    pause_over_budget: bool
    rules: tuple[RuleView, ...]


def automations_of(session: Session, *, program: Program) -> Automations:
    """The program's settings and its rules (a rule never set reads as off, defaults)."""
    settings = session.get(AutomationSettings, program.id)
    rules = {rule.kind: rule for rule in session.scalars(
        select(AutomationRule).where(AutomationRule.program_id == program.id))}
    offers = {offer.id: offer for offer in session.scalars(select(Offer).where(
        Offer.id.in_([rule.offer_id for rule in rules.values()])))}
    return Automations(
        program_id=program.id,
        weekly_cap=settings.weekly_cap if settings else DEFAULT_WEEKLY_CAP,
        pause_over_budget=settings.pause_over_budget if settings else True,
        rules=tuple(_view(kind, rules.get(kind), offers) for kind in RULE_KINDS))


def _view(kind: str, rule: AutomationRule | None, offers: dict[int, Offer]) -> RuleView:
    if rule is None:
        return RuleView(kind, settings=dict(RULE_DEFAULTS[kind]))
    offer = offers[rule.offer_id]
    own = dict(rule.settings)
    return RuleView(kind, enabled=rule.enabled, title=offer.title_given,
                    body=offer.body_given or None, holdout_percent=rule.holdout_percent,
                    valid_days=int(own.pop("valid_days", VALID_DAYS)),
                    settings={**RULE_DEFAULTS[kind], **own}, offer_id=offer.id)


def save_automations(session: Session, *, program: Program, data: AutomationsInput
                     ) -> Automations:
    """Apply what was sent (a key left out keeps its value) and commit once."""
    locales = program.locales or ["en"]
    _check(data, locales)
    settings = session.get(AutomationSettings, program.id)
    if settings is None:
        settings = AutomationSettings(program_id=program.id, merchant_id=program.merchant_id,
                                      weekly_cap=DEFAULT_WEEKLY_CAP, pause_over_budget=True)
        session.add(settings)
    if data.weekly_cap is not None:
        settings.weekly_cap = data.weekly_cap
    if data.pause_over_budget is not None:
        settings.pause_over_budget = data.pause_over_budget
    settings.updated_at = utcnow()
    existing = {rule.kind: rule for rule in session.scalars(
        select(AutomationRule).where(AutomationRule.program_id == program.id))}
    for kind in RULE_KINDS:
        given: RuleInput | None = getattr(data.rules, kind)
        if given is not None:
            _save_rule(session, program, kind, given, existing.get(kind), locales)
    session.commit()
    return automations_of(session, program=program)


def _check(data: AutomationsInput, locales: list[str]) -> None:
    faults: list[dict[str, str]] = []
    for kind in RULE_KINDS:
        given: RuleInput | None = getattr(data.rules, kind)
        if given is None:
            continue
        faults += program_text_faults(f"rules.{kind}.title", given.title, locales)
        faults += program_text_faults(f"rules.{kind}.body", given.body, locales)
    if faults:
        raise Invalid(f"{faults[0]['field']}: {faults[0]['message']}.", errors=faults)


def _save_rule(session: Session, program: Program, kind: str, given: RuleInput,
               rule: AutomationRule | None, locales: list[str]) -> None:
    now = utcnow()
    if rule is None:
        if given.title is None:
            if given.enabled:
                raise Invalid(f"rules.{kind}.title: a rule needs its title to be switched on.",
                              errors=[{"field": f"rules.{kind}.title", "message": "required"}])
            return  # nothing to keep: an untitled rule that stays off
        created = Offer(merchant_id=program.merchant_id, program_id=program.id, title="",
                        starts_at=now, status="published", published_at=now, automatic=True,
                        promotional=True, audience={})
        session.add(created)
        session.flush()
        rule = AutomationRule(merchant_id=program.merchant_id, program_id=program.id,
                              kind=kind, enabled=False, offer_id=created.id, settings={},
                              holdout_percent=0, created_at=now)
        session.add(rule)
    offer = session.get(Offer, rule.offer_id)
    assert offer is not None  # a rule's offer is never deleted
    if given.title is not None:
        offer.title = localized(given.title, locales[0], locales)
        offer.title_texts = given.title if isinstance(given.title, dict) else None
    if given.body is not None:
        offer.body = localized(given.body, locales[0], locales)
        offer.body_texts = given.body if isinstance(given.body, dict) else None
    if given.enabled is not None:
        rule.enabled = given.enabled
    if given.holdout_percent is not None:
        rule.holdout_percent = given.holdout_percent
    own = given.model_dump(exclude_none=True, exclude=set(RULE_FIELDS) - {"valid_days"})
    rule.settings = {**rule.settings, **own}
    offer.audience = {"holdout_percent": rule.holdout_percent}
    rule.updated_at = now


def automations_json(automations: Automations) -> dict[str, Any]:
    return {
        "program_id": automations.program_id, "weekly_cap": automations.weekly_cap,
        "pause_over_budget": automations.pause_over_budget,
        "rules": {rule.kind: {
            "enabled": rule.enabled, "title": rule.title, "body": rule.body,
            "holdout_percent": rule.holdout_percent, "valid_days": rule.valid_days,
            "offer_id": rule.offer_id, **rule.settings} for rule in automations.rules},
    }
