"""What became of the pushes: per card and device, and the merchant's counts."""

from __future__ import annotations

from flask import Blueprint, Response

from app.cards.service import get_card
from app.delivery import deliveries as pushes
from app.delivery.mail import card_mails
from app.google_wallet import service as google
from app.web.auth import READERS, WRITERS, merchant_id, requires
from app.web.context import db, json_response

blueprint = Blueprint("pushes", __name__)


@blueprint.get("/v1/cards/<int:card_id>/deliveries")
@requires(*READERS)
def card_deliveries(card_id: int) -> Response:
    card = get_card(db(), merchant_id=merchant_id(), card_id=card_id)
    return json_response({"card_id": card.id, "pass_version": card.pass_version,
                          "deliveries": pushes.card_deliveries(db(), card=card),
                          "google": google.object_state(db(), card_id=card.id),
                          "mails": card_mails(db(), customer_id=card.customer_id)})


@blueprint.post("/v1/cards/<int:card_id>/deliveries/retry")
@requires(*WRITERS)
def retry_card_deliveries(card_id: int) -> Response:
    card = get_card(db(), merchant_id=merchant_id(), card_id=card_id)
    return json_response({"requeued": pushes.retry_failed(db(), card=card)})


@blueprint.get("/v1/pushes")
@requires(*READERS)
def push_counts() -> Response:
    return json_response(pushes.merchant_push_counts(db(), merchant_id=merchant_id()))
