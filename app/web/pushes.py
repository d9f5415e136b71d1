"""What became of the pushes: per card and device, and the merchant's counts."""

from __future__ import annotations

from flask import Blueprint, Response

from app.cards.service import get_card
from app.delivery import deliveries as pushes
from app.delivery.mail import card_mails
from app.google_wallet import service as google
from app.web.auth import READERS, WRITERS, merchant_id, requires
from app.web.context import db, json_response
from app.web.openapi import documented, response_doc

blueprint = Blueprint("pushes", __name__)


@blueprint.get("/v1/cards/<int:card_id>/deliveries")
@documented(
    "What became of the card's updates: per Apple device, its Google object (null while "
    "Google Wallet is off or before the object exists), and the mails sent to its holder "
    "(card recovery links), newest first",
    {"200": response_doc("deliveries", "Deliveries")})
@requires(*READERS)
def card_deliveries(card_id: int) -> Response:
    card = get_card(db(), merchant_id=merchant_id(), card_id=card_id)
    return json_response({"card_id": card.id, "pass_version": card.pass_version,
                          "deliveries": pushes.card_deliveries(db(), card=card),
                          "google": google.object_state(db(), card_id=card.id),
                          "mails": card_mails(db(), customer_id=card.customer_id)})


@blueprint.post("/v1/cards/<int:card_id>/deliveries/retry")
@documented(
    "Requeue the card's parked pushes, Google updates and the mails to its holder whose "
    "links are still open",
    {"200": response_doc("how many were requeued", "Requeued")})
@requires(*WRITERS)
def retry_card_deliveries(card_id: int) -> Response:
    card = get_card(db(), merchant_id=merchant_id(), card_id=card_id)
    return json_response({"requeued": pushes.retry_failed(db(), card=card)})


@blueprint.get("/v1/pushes")
@documented("The merchant's push counts",
            {"200": response_doc("pending, failed, delivered, devices", "PushCounts")})
@requires(*READERS)
def push_counts() -> Response:
    return json_response(pushes.merchant_push_counts(db(), merchant_id=merchant_id()))
