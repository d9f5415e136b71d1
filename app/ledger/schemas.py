"""What the POS and the merchant send to the ledger."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from app.validation import LINE, MAX_INT, MAX_INT32, WHOLE, Body

Barcode = Annotated[str, Field(min_length=1, max_length=64), LINE]
Amount = Annotated[int, Field(ge=1, le=MAX_INT), WHOLE]
Points = Annotated[int, Field(ge=0, le=MAX_INT), WHOLE]
Identifier = Annotated[int, Field(ge=1, le=MAX_INT32), WHOLE]


class LookupInput(Body):
    barcode: Barcode
    amount: Amount | None = None


class PurchaseInput(Body):
    barcode: Barcode
    amount: Amount
    redeem_points: Points = 0
    redeem_rewards: Annotated[int, Field(ge=0, le=100), WHOLE] = 0
    location_id: Identifier | None = None
    external_id: Annotated[str, Field(min_length=1, max_length=128), LINE] | None = None
    # A coupon the card was given (an offer whose mechanic is a coupon: its id), used now.
    coupon: Identifier | None = None


Reason = Annotated[str, Field(max_length=500), LINE]


class RefundInput(Body):
    amount: Amount | None = None
    reason: Reason = ""


class AdjustmentInput(Body):
    points: Annotated[int, Field(ge=-MAX_INT, le=MAX_INT), WHOLE]
    reason: Annotated[str, Field(min_length=1, max_length=500), LINE]


class BlockInput(Body):
    reason: Reason = ""
