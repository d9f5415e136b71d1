"""The POS and ledger endpoints: lookup, purchases, refunds, adjustments, blocking,
entries and alerts. Every write that moves points needs an ``Idempotency-Key``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from app.errors import BadRequest, NotFound
from app.ledger import alerts as fraud_alerts
from app.ledger import purchases
from app.ledger import service as ledger
from app.ledger.idempotency import Answer, check_key, request_hash
from app.ledger.models import Purchase
from app.ledger.receipts import purchase_json
from app.ledger.schemas import (
    AdjustmentInput,
    BlockInput,
    LookupInput,
    PurchaseInput,
    RefundInput,
)
from app.offers.service import current_offers, offer_json
from app.points.postings import Actor
from app.problem_codes import ProblemCode
from app.sql import Raw
from app.validation import MAX_INT32, parse
from app.web.auth import (
    COUNTER,
    READERS,
    WRITERS,
    admit,
    current_key,
    key_actor,
    presented_key,
    requires,
)
from app.web.context import db, json_response, runtime
from app.web.json_shapes import card_json
from app.web.openapi import REPLAYED, documented, query_parameter, response_doc
from app.web.query_args import int_arg

blueprint = Blueprint("pos", __name__)
# A key bound to a location changes the cards enrolled there only (``card_in_reach``).
OTHER_LOCATION = (ProblemCode.LOCATION_FORBIDDEN,
                  "a key bound to a location, for a card enrolled at another location or at "
                  "none (nothing changed)")
MAX_PAGE = 1000
CARD = response_doc("the card", "Card")



def _raw_body() -> Any:
    data = request.get_json(silent=True) if request.data else None
    if data is None:
        raise BadRequest("The request needs a JSON object as its body.",
                         code=ProblemCode.MALFORMED_BODY)
    return data


def _as_response(answer: Answer) -> Response:
    """A use case's answer (new or replayed under its Idempotency-Key) as the response."""
    headers = {"Idempotency-Replayed": "true"} if answer.replayed else None
    return json_response(answer.body, answer.status, headers)


def _keys() -> tuple[bytes, ...]:
    """The keys a barcode may be signed with: the current one first (``app.secret_keys``)."""
    return runtime().wallet.scan_keys


def _keyed(raw: Any) -> tuple[str, str]:
    key = check_key(request.headers.get("Idempotency-Key"))
    return key, request_hash(request.method, request.path, raw)


@blueprint.post("/v1/pos/lookup")
@documented("Find a card by its scanned barcode or typed number",
            {"200": response_doc("the card, redeemable points and open offers",
                                 "LookedUpCard")},
            body=LookupInput, refusals=(ProblemCode.UNKNOWN_BARCODE,))
@requires(*COUNTER, "analyst")
def lookup() -> Response:
    data = parse(LookupInput, _raw_body())
    found = ledger.lookup(db(), actor=key_actor(), barcode=data.barcode, amount=data.amount,
                          keys=_keys())
    program = found.card.program
    body = card_json(found.card, runtime().wallet)
    body.update({
        "redeemable_points": found.redeemable_points,
        "redeemable_value": found.redeemable_points * program.point_value,
        "offers": [offer_json(offer) for offer in current_offers(db(), card_id=found.card.id)],
        "coupons": [{"id": coupon.offer_id, "title": coupon.title, "points": coupon.points,
                     "text": coupon.text} for coupon in found.coupons],
        "program": {"id": program.id, "name": program.name, "kind": program.kind,
                    "currency": program.currency, "point_value": program.point_value,
                    "stamps_required": program.stamps_required},
    })
    return json_response(body)


@blueprint.post("/v1/pos/purchases")
@documented(
    "Record a purchase, earning and optionally redeeming points",
    {"201": response_doc("the purchase", "Purchase", headers=REPLAYED)}, body=PurchaseInput,
    keyed=True,
    refusals=(ProblemCode.UNKNOWN_BARCODE, ProblemCode.UNKNOWN_LOCATION,
              ProblemCode.INSUFFICIENT_POINTS, ProblemCode.REDEEM_NOT_ALLOWED,
              ProblemCode.REDEEM_LIMIT, ProblemCode.INSUFFICIENT_REWARDS,
              ProblemCode.CARD_BLOCKED, ProblemCode.IDEMPOTENCY_KEY_REUSED,
              ProblemCode.COUPON_UNAVAILABLE, ProblemCode.COUPON_USED,
              (ProblemCode.VELOCITY_LIMIT, "the program's purchase limits"),
              (ProblemCode.LOCATION_FORBIDDEN, "a cashier key bound to a location named "
                                               "another")),
    note=f"a cashier key bound to a location records purchases there only "
         f"({ProblemCode.LOCATION_FORBIDDEN.status} {ProblemCode.LOCATION_FORBIDDEN})")
@requires(*COUNTER, read_by_view=True)  # the key is read with the card: a round trip less
def purchase() -> Response:
    # What _raw_body reads, without werkzeug's form parsing first: the counter's hot path.
    raw = request.get_json(silent=True)
    if raw is None:
        raise BadRequest("The request needs a JSON object as its body.",
                         code=ProblemCode.MALFORMED_BODY)
    key, fingerprint = _keyed(raw)
    data = parse(PurchaseInput, raw)
    answer = purchases.record_purchase(db, lane=runtime().lane, presented=presented_key(),
                                       admit=_admitted, data=data, key=key,
                                       fingerprint=fingerprint, keys=_keys())
    if answer.text is None or answer.replayed:
        return _as_response(answer)
    return Response(answer.text, status=answer.status, mimetype="application/json")


def _admitted(raw: Raw, row: tuple[Any, ...] | None) -> Actor:
    admit(raw, row)
    return key_actor()


@blueprint.get("/v1/pos/purchases/<int:purchase_id>")
@documented("Get a purchase", {"200": response_doc("the purchase", "Purchase")})
@requires(*COUNTER, "analyst")
def get_purchase(purchase_id: int) -> Response:
    found = db().get(Purchase, purchase_id)
    if found is None or found.merchant_id != current_key().merchant_id:
        raise NotFound("No such purchase.")
    card = ledger.lookup_card(db(), card_id=found.card_id)
    return json_response(purchase_json(found, card))


@blueprint.post("/v1/pos/purchases/<int:purchase_id>/refund")
@documented(
    "Refund a purchase, whole (no body or no amount) or in part",
    {"201": response_doc("the refund", "Refund", headers=REPLAYED)}, body=RefundInput,
    body_optional=True, keyed=True,
    refusals=(ProblemCode.REFUND_EXCEEDS_PURCHASE, ProblemCode.IDEMPOTENCY_KEY_REUSED,
              (ProblemCode.LOCATION_FORBIDDEN,
               "a cashier key bound to a location, for a purchase made at another location "
               "or at none (nothing changed)")),
    note=f"a cashier key bound to a location refunds only purchases made at that location "
         f"({ProblemCode.LOCATION_FORBIDDEN.status} {ProblemCode.LOCATION_FORBIDDEN}, nothing "
         f"changed); owner and manager keys, and cashier keys bound to none, refund any of "
         f"the merchant's purchases")
@requires(*COUNTER)
def refund(purchase_id: int) -> Response:
    raw = _raw_body() if request.data else {}
    key, fingerprint = _keyed(raw)
    data = parse(RefundInput, raw)
    return _as_response(ledger.refund_purchase(db(), actor=key_actor(), purchase_id=purchase_id,
                                          data=data, key=key, fingerprint=fingerprint))


@blueprint.post("/v1/cards/<int:card_id>/adjustments")
@documented("Correct a balance with a reason",
            {"201": response_doc("the entry and the new balance", "Adjustment",
                                 headers=REPLAYED)},
            body=AdjustmentInput, keyed=True,
            refusals=(ProblemCode.INSUFFICIENT_POINTS, ProblemCode.IDEMPOTENCY_KEY_REUSED,
                      OTHER_LOCATION))
@requires(*WRITERS)
def adjust(card_id: int) -> Response:
    raw = _raw_body()
    key, fingerprint = _keyed(raw)
    data = parse(AdjustmentInput, raw)
    return _as_response(ledger.adjust(db(), actor=key_actor(), card_id=card_id, data=data, key=key,
                                 fingerprint=fingerprint))


def _set_blocked(card_id: int, blocked: bool) -> Response:
    data = parse(BlockInput, _raw_body() if request.data else {})
    card = ledger.set_blocked(db(), actor=key_actor(), card_id=card_id, blocked=blocked,
                              reason=data.reason)
    return json_response(card_json(card, runtime().wallet))


HOLDER_DELETED = ((ProblemCode.CARD_DELETED, "its holder deleted their data"),
                  OTHER_LOCATION)


@blueprint.post("/v1/cards/<int:card_id>/block")
@documented("Block a card: refused at the counter, its pass voided", {"200": CARD},
            body=BlockInput, body_optional=True, refusals=HOLDER_DELETED)
@requires(*WRITERS)
def block(card_id: int) -> Response:
    return _set_blocked(card_id, True)


@blueprint.post("/v1/cards/<int:card_id>/unblock")
@documented("Unblock a card", {"200": CARD}, body=BlockInput, body_optional=True,
            refusals=HOLDER_DELETED)
@requires(*WRITERS)
def unblock(card_id: int) -> Response:
    return _set_blocked(card_id, False)


@blueprint.get("/v1/cards/<int:card_id>/entries")
@documented("The card's ledger, newest first",
            {"200": response_doc("entries, and the next page's before", "Entries")},
            query=(query_parameter("limit", "page size (default 50)", 1, MAX_PAGE),
                   query_parameter("before", "the next of the previous page")))
@requires(*READERS, "cashier")
def entries(card_id: int) -> Response:
    limit = int_arg("limit", 50, 1, MAX_PAGE)
    before = int_arg("before", None, 1, MAX_INT32)
    rows, following = ledger.entries(db(), actor=key_actor(), card_id=card_id, limit=limit,
                                     before=before)
    return json_response({"entries": [ledger.entry_json(row) for row in rows],
                          "next": following})


@blueprint.get("/v1/alerts")
@documented("Fraud alerts, newest first (a key bound to a location: those raised there)",
            {"200": response_doc("alerts", "Alerts")},
            query=(query_parameter("limit", "how many (default 100)", 1, MAX_PAGE),
                   query_parameter("program", "only this program's alerts"),
                   query_parameter("before", "only alerts older than this alert id (the "
                                             "next page)")))
@requires(*READERS)
def alerts() -> Response:
    limit = int_arg("limit", 100, 1, MAX_PAGE)
    rows = fraud_alerts.list_alerts(db(), principal=key_actor().principal, limit=limit,
                                    program_id=int_arg("program", None, 1, MAX_INT32),
                                    before=int_arg("before", None, 1, MAX_INT32))
    return json_response({"alerts": [fraud_alerts.alert_json(alert) for alert in rows]})


@blueprint.post("/v1/alerts/<int:alert_id>/acknowledge")
@documented("Acknowledge an alert: marked seen, by this key, now (again: unchanged)",
            {"200": response_doc("the alert", "Alert")})
@requires(*WRITERS)
def acknowledge_alert(alert_id: int) -> Response:
    alert = fraud_alerts.acknowledge_alert(db(), principal=key_actor().principal,
                                           alert_id=alert_id)
    return json_response(fraud_alerts.alert_json(alert))
