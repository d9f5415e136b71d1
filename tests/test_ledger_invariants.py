"""The ledger's invariants under random sequences of counter operations, through HTTP on
SQLite and PostgreSQL: purchases with and without redeeming points or rewards, full and
partial refunds, manager adjustments, blocking, lookups and replayed idempotency keys.

A model of the card, computed independently in exact fractions from the program's rules,
says what every request should answer. After every step the card's balance, stamps and
rewards equal the sums of its ledger entries and the model's figures, and nothing is below
zero. Every refused request left every table as it was; every replay answered the first
body again and wrote nothing. No request is a 5xx.
"""

from __future__ import annotations

import itertools
import math
import uuid
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.cards.models import Card
from app.ledger.models import AuditRecord, IdempotencyRecord, LedgerEntry, Purchase, Refund
from app.merchants.service import create_merchant
from app.outbox.models import OutboxMessage
from tests.conftest import Api

SETTINGS = settings(max_examples=25, stateful_step_count=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
MERCHANT_TABLES = (LedgerEntry, Purchase, Refund, IdempotencyRecord, OutboxMessage,
                   AuditRecord)


@dataclass(frozen=True)
class Plan:
    """A program's rules as the model reads them, and the body that creates it."""

    kind: str
    earn_percent: Fraction
    point_value: int
    max_redeem_percent: Fraction
    welcome_points: int
    tiers: tuple[tuple[str, int, Fraction], ...]
    triggers: tuple[dict[str, Any], ...]
    stamps_required: int
    stamp_min_amount: int

    def body(self) -> dict[str, Any]:
        def percent(value: Fraction) -> float:
            return float(value)  # three decimals at most: the float's repr is exact

        body: dict[str, Any] = {
            "name": "Kava", "currency": "UAH", "kind": self.kind,
            "earn_percent": percent(self.earn_percent), "point_value": self.point_value,
            "max_redeem_percent": percent(self.max_redeem_percent),
            "welcome_points": self.welcome_points, "triggers": list(self.triggers),
            "tiers": [{"name": name, "min_spend": spend, "earn_percent": percent(rate)}
                      for name, spend, rate in self.tiers],
            "stamp_min_amount": self.stamp_min_amount,
        }
        if self.kind == "stamps":
            body["stamps_required"] = self.stamps_required
        return body

    def tier(self, spend: int) -> tuple[str, int, Fraction] | None:
        reached = [tier for tier in self.tiers if tier[1] <= spend]
        return max(reached, key=lambda tier: tier[1]) if reached else None

    def redeem_cap(self, amount: int) -> int:
        return math.floor(amount * self.max_redeem_percent / 100 / self.point_value)


def percents(high: int) -> st.SearchStrategy[Fraction]:
    return st.integers(0, high).map(lambda thousandths: Fraction(thousandths, 1000))


amounts = st.one_of(st.integers(500, 30_000), st.integers(1, 10**7))
triggers = st.one_of(
    st.builds(lambda every, points: {"kind": "nth_visit", "every": every, "points": points},
              st.integers(2, 4), st.integers(1, 50)),
    st.builds(lambda amount, points: {"kind": "min_amount", "amount": amount, "points": points},
              st.integers(1, 20_000), st.integers(1, 50)),
)


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    kind = draw(st.sampled_from(["points", "points", "stamps"]))
    tiers: tuple[tuple[str, int, Fraction], ...] = ()
    if kind == "points" and draw(st.booleans()):
        tiers = (("Silver", draw(st.integers(0, 5_000)), draw(percents(10_000))),
                 ("Gold", draw(st.integers(5_001, 40_000)), draw(percents(20_000))))
    return Plan(
        kind=kind,
        earn_percent=draw(st.one_of(percents(20_000), st.just(Fraction(5)))),
        point_value=draw(st.sampled_from([1, 10, 7, 100])),
        max_redeem_percent=draw(st.one_of(
            st.sampled_from([Fraction(50), Fraction(100), Fraction(0)]),
            st.integers(1_000, 100_000).map(lambda thousandths: Fraction(thousandths, 1000)))),
        welcome_points=draw(st.integers(0, 300)),
        tiers=tiers,
        triggers=tuple(draw(st.lists(triggers, max_size=2))),
        stamps_required=draw(st.integers(1, 4)),
        stamp_min_amount=draw(st.integers(0, 3_000)),
    )


@dataclass
class Bought:
    """One purchase as the model remembers it."""

    id: int
    amount: int
    paid: int
    earned: int
    bonus: int
    redeemed: int
    stamps_added: int
    rewards_redeemed: int
    refunded: int = 0
    refunded_paid: int = 0

    def reversal(self, refund: int) -> dict[str, int]:
        """What a refund of ``refund`` more takes back: each total pro rata, rounded down."""
        after = self.refunded + refund

        def step(total: int) -> int:
            return (math.floor(Fraction(total * after, self.amount))
                    - math.floor(Fraction(total * self.refunded, self.amount)))

        return {"taken": step(self.earned) + step(self.bonus),
                "returned": step(self.redeemed), "paid": step(self.paid)}


@dataclass(frozen=True)
class Sent:
    """A keyed request that succeeded, with its answer: what a replay must give back."""

    kind: str
    path: str
    body: dict[str, Any]
    key: str
    status: int
    answer: dict[str, Any]


class LedgerMachine(RuleBasedStateMachine):
    app: ClassVar[Flask]

    def __init__(self) -> None:
        super().__init__()
        self.client: FlaskClient = self.app.test_client()
        self.session: Session = self.app.extensions["loyalpass"].sessions()
        self.sent: list[Sent] = []
        self.bought: list[Bought] = []
        self.balance = self.stamps = self.rewards = 0
        self.status = "active"

    def teardown(self) -> None:
        self.session.close()

    # --- talking to the service ---------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None, key: str | None = None) -> Any:
        headers = {"Idempotency-Key": key} if key is not None else None
        if method == "get":
            response = self.api.get(path)
        else:
            response = self.api.post(path, body, headers=headers)
        assert response.status_code < 500, (path, body, response.get_json())
        return response

    def footprint(self) -> tuple[Any, ...]:
        """Every row this merchant's counter can write, and the card's figures."""
        counts = [select(func.count()).select_from(model)
                  .where(model.merchant_id == self.merchant_id).scalar_subquery()
                  for model in MERCHANT_TABLES]
        self.session.rollback()
        try:
            return tuple(self.session.execute(
                select(*counts, Card.balance, Card.stamps, Card.rewards, Card.status,
                       Card.visits, Card.pass_version).where(Card.id == self.card_id)).one())
        finally:
            self.session.rollback()

    def refused(self, response: Any, code: str, before: tuple[Any, ...]) -> None:
        problem = response.get_json()
        assert response.status_code == 409, problem
        assert problem["code"] == code, problem
        assert self.footprint() == before

    def remember(self, kind: str, path: str, body: dict[str, Any], key: str,
                 response: Any) -> None:
        self.sent.append(Sent(kind, path, body, key, response.status_code, response.get_json()))

    # --- what the model expects ---------------------------------------------------------------

    @property
    def spend(self) -> int:
        return sum(bought.paid - bought.refunded_paid for bought in self.bought)

    @property
    def tier_name(self) -> str | None:
        tier = self.plan.tier(self.spend)
        return tier[0] if tier is not None else None

    def purchase_refusal(self, amount: int, redeem: int, rewards: int) -> str | None:
        if self.status == "blocked":
            return "card_blocked"
        if redeem and self.plan.kind == "stamps":
            return "redeem_not_allowed"
        if redeem > self.balance:
            return "insufficient_points"
        if redeem * self.plan.point_value * 100 > amount * self.plan.max_redeem_percent:
            return "redeem_limit"
        if rewards > self.rewards:
            return "insufficient_rewards"
        return None

    def purchase_outcome(self, amount: int, redeem: int) -> dict[str, int]:
        plan = self.plan
        paid = amount - redeem * plan.point_value
        visit = len(self.bought) + 1
        earned = stamps = 0
        if plan.kind == "points":
            tier = plan.tier(self.spend)
            rate = tier[2] if tier is not None else plan.earn_percent
            earned = math.floor(paid * rate / 100 / plan.point_value)
        elif paid >= max(plan.stamp_min_amount, 1):
            stamps = 1
        bonus = sum(trigger["points"] for trigger in plan.triggers
                    if (trigger["kind"] == "nth_visit" and visit % trigger["every"] == 0)
                    or (trigger["kind"] == "min_amount" and paid >= trigger["amount"]))
        return {"paid": paid, "earned": earned, "bonus": bonus, "stamps": stamps}

    # --- the steps --------------------------------------------------------------------------

    @initialize(plan=plans())
    def open_a_shop_with_one_card(self, plan: Plan) -> None:
        self.plan = plan
        created = create_merchant(self.session, name="Kava Bar",
                                  email=f"{uuid.uuid4().hex[:10]}@kava.example")
        self.merchant_id = created.merchant.id
        self.session.rollback()
        self.api = Api(self.client, created.api_key)
        program = self.call("post", "/api/v1/programs", plan.body())
        assert program.status_code == 201, program.get_json()
        card = self.call("post", f"/api/v1/programs/{program.get_json()['id']}/cards",
                         {"name": "Olena", "email": "olena@example.com"})
        assert card.status_code == 201, card.get_json()
        self.card_id = card.get_json()["id"]
        self.barcode = card.get_json()["barcode"]["message"]
        self.balance = plan.welcome_points if plan.kind == "points" else 0
        assert card.get_json()["balance"] == self.balance

    @rule(amount=amounts)
    def buy(self, amount: int) -> None:
        self.purchase(amount, redeem=0, rewards=0)

    @rule(amount=st.integers(500, 50_000), data=st.data())
    def buy_paying_with_points_or_rewards(self, amount: int, data: st.DataObject) -> None:
        cap = self.plan.redeem_cap(amount)
        allowed = min(self.balance, cap)
        redeem = data.draw(st.one_of(
            st.integers(0, allowed), st.sampled_from([allowed, self.balance + 1, cap + 1]),
        ) if self.plan.kind == "points" else st.sampled_from([0, 0, 0, 1]), label="redeem")
        rewards = data.draw(st.integers(0, self.rewards + 1), label="redeem_rewards")
        self.purchase(amount, redeem=redeem, rewards=rewards)

    def purchase(self, amount: int, *, redeem: int, rewards: int) -> None:
        body = {"barcode": self.barcode, "amount": amount}
        body.update({"redeem_points": redeem} if redeem else {})
        body.update({"redeem_rewards": rewards} if rewards else {})
        refusal = self.purchase_refusal(amount, redeem, rewards)
        before = self.footprint() if refusal else ()
        key = uuid.uuid4().hex
        response = self.call("post", "/api/v1/pos/purchases", body, key)
        if refusal is not None:
            self.refused(response, refusal, before)
            return
        outcome = self.purchase_outcome(amount, redeem)
        assert response.status_code == 201, response.get_json()
        answer = response.get_json()
        self.bought.append(Bought(
            id=answer["id"], amount=amount, paid=outcome["paid"], earned=outcome["earned"],
            bonus=outcome["bonus"], redeemed=redeem, stamps_added=outcome["stamps"],
            rewards_redeemed=rewards))
        self.balance += outcome["earned"] + outcome["bonus"] - redeem
        full_cards, self.stamps = divmod(self.stamps + outcome["stamps"],
                                         self.plan.stamps_required)
        self.rewards += full_cards - rewards
        assert (answer["amount_paid"], answer["earned"], answer["bonus"], answer["redeemed"]) == (
            outcome["paid"], outcome["earned"], outcome["bonus"], redeem)
        assert (answer["balance"], answer["stamps"], answer["rewards"], answer["tier"]) == (
            self.balance, self.stamps, self.rewards, self.tier_name)
        self.remember("purchase", "/api/v1/pos/purchases", body, key, response)

    @precondition(lambda self: self.bought)
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        open_ones = [bought for bought in self.bought if bought.refunded < bought.amount]
        # Mostly a purchase with something left to refund; now and then any, refunded or not.
        any_one = data.draw(st.integers(0, 3), label="any purchase") == 0
        bought = data.draw(st.sampled_from(open_ones if open_ones and not any_one
                                           else self.bought), label="purchase")
        left = bought.amount - bought.refunded
        how = data.draw(st.sampled_from(["rest", "part", "too_much"] if left else
                                        ["rest", "too_much"]), label="refund")
        body: dict[str, Any] = {}
        if how == "part":
            body["amount"] = data.draw(st.one_of(st.integers(1, left),
                                                 st.integers(1, min(left, 50))), label="amount")
        elif how == "too_much":
            body["amount"] = left + data.draw(st.integers(1, 1_000), label="excess")
        self.give_back(bought, body)

    @precondition(lambda self: any(bought.refunded < bought.amount for bought in self.bought))
    @rule(data=st.data())
    def refund_in_parts(self, data: st.DataObject) -> None:
        bought = data.draw(st.sampled_from(
            [bought for bought in self.bought if bought.refunded < bought.amount]),
            label="purchase")
        left = bought.amount - bought.refunded
        cuts = data.draw(st.lists(st.integers(1, left), max_size=3, unique=True),
                         label="cuts")
        points = sorted({0, *cuts, left if data.draw(st.booleans(), label="to the end")
                         else max(cuts, default=left)})
        for start, end in itertools.pairwise(points):
            self.give_back(bought, {"amount": end - start})

    def give_back(self, bought: Bought, body: dict[str, Any]) -> None:
        left = bought.amount - bought.refunded
        amount = body.get("amount", left)
        path = f"/api/v1/pos/purchases/{bought.id}/refund"
        key = uuid.uuid4().hex
        if amount == 0 or amount > left:
            before = self.footprint()
            response = self.call("post", path, body, key)
            self.refused(response, "refund_exceeds_purchase", before)
            return
        response = self.call("post", path, body, key)
        assert response.status_code == 201, response.get_json()
        change = bought.reversal(amount)
        forgone = max(0, change["taken"] - change["returned"] - self.balance)
        self.balance += change["returned"] - change["taken"] + forgone
        bought.refunded += amount
        bought.refunded_paid += change["paid"]
        if bought.refunded == bought.amount:
            self.stamps -= min(bought.stamps_added, self.stamps)
            self.rewards += bought.rewards_redeemed
        answer = response.get_json()
        assert (answer["points_reversed"], answer["points_returned"],
                answer["points_forgone"]) == (change["taken"] - forgone, change["returned"],
                                              forgone)
        assert (answer["balance"], answer["stamps"], answer["tier"]) == (
            self.balance, self.stamps, self.tier_name)
        self.remember("refund", path, body, key, response)

    @rule(data=st.data())
    def adjust(self, data: st.DataObject) -> None:
        everything = [-self.balance] if self.balance else []
        points = data.draw(st.one_of(st.integers(1, 500), st.integers(-(self.balance + 2), -1),
                                     st.sampled_from([-self.balance - 1, *everything])),
                           label="points")
        body = {"points": points, "reason": "goodwill" if points > 0 else "correction"}
        path = f"/api/v1/cards/{self.card_id}/adjustments"
        key = uuid.uuid4().hex
        if self.balance + points < 0:
            before = self.footprint()
            self.refused(self.call("post", path, body, key), "insufficient_points", before)
            return
        response = self.call("post", path, body, key)
        assert response.status_code == 201, response.get_json()
        self.balance += points
        assert response.get_json()["balance"] == self.balance
        self.remember("adjustment", path, body, key, response)

    def set_status(self, action: str) -> None:
        response = self.call("post", f"/api/v1/cards/{self.card_id}/{action}",
                             {"reason": "checking"})
        assert response.status_code == 200, response.get_json()
        self.status = "blocked" if action == "block" else "active"
        assert response.get_json()["status"] == self.status

    @precondition(lambda self: self.status == "active")
    @rule(data=st.data())
    def block_for_a_while(self, data: st.DataObject) -> None:
        self.set_status("block")
        # Mostly a short block: the purchase tried at once is refused, then the card is back.
        self.buy(data.draw(amounts, label="amount while blocked"))
        if data.draw(st.integers(0, 2), label="stay blocked") == 0:
            return
        self.set_status("unblock")

    @precondition(lambda self: self.status == "blocked")
    @rule()
    def unblock(self) -> None:
        self.set_status("unblock")

    @rule(amount=st.integers(1, 100_000))
    def look_up(self, amount: int) -> None:
        response = self.call("post", "/api/v1/pos/lookup",
                             {"barcode": self.barcode, "amount": amount})
        assert response.status_code == 200, response.get_json()
        redeemable = 0
        if self.status == "active" and self.plan.kind == "points":
            redeemable = min(self.balance, self.plan.redeem_cap(amount))
        assert response.get_json()["redeemable_points"] == redeemable

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        sent = data.draw(st.sampled_from(self.sent), label="replayed")
        before = self.footprint()
        response = self.call("post", sent.path, sent.body, sent.key)
        assert response.status_code == sent.status
        assert response.headers.get("Idempotency-Replayed") == "true"
        assert response.get_json() == sent.answer
        assert self.footprint() == before

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def reuse_a_key_for_another_request(self, data: st.DataObject) -> None:
        sent = data.draw(st.sampled_from(self.sent), label="reused")
        body = dict(sent.body)
        if sent.kind == "purchase":
            body["amount"] += 1
        else:
            body["reason"] = "another reason"
        before = self.footprint()
        response = self.call("post", sent.path, body, sent.key)
        self.refused(response, "idempotency_key_reused", before)

    # --- after every step -------------------------------------------------------------------

    @invariant()
    def the_card_equals_its_ledger_and_the_model(self) -> None:
        sums = [select(func.coalesce(func.sum(column), 0))
                .where(LedgerEntry.card_id == self.card_id).scalar_subquery()
                for column in (LedgerEntry.points, LedgerEntry.stamps, LedgerEntry.rewards)]
        self.session.rollback()
        try:
            row = self.session.execute(
                select(Card.balance, Card.stamps, Card.rewards, *sums)
                .where(Card.id == self.card_id)).one()
        finally:
            self.session.rollback()
        card, ledger = tuple(row[:3]), tuple(int(total) for total in row[3:])
        assert card == ledger
        assert min(card) >= 0
        shown = self.call("get", f"/api/v1/cards/{self.card_id}").get_json()
        assert (shown["balance"], shown["stamps"], shown["rewards"]) == (
            self.balance, self.stamps, self.rewards)
        assert (shown["status"], shown["tier"], shown["visits"], shown["lifetime_spend"]) == (
            self.status, self.tier_name, len(self.bought), self.spend)


def test_the_ledger_keeps_its_invariants_under_random_counter_operations(app: Flask) -> None:
    machine = type("LedgerOnThisDatabase", (LedgerMachine,), {"app": app})
    run_state_machine_as_test(machine, settings=SETTINGS)
