"""The forms of the customer pages: a card's adjustment and the customer import. Their
labels and messages are said in the page's language (see ``forms``)."""

from __future__ import annotations

import uuid

from wtforms import BooleanField, FileField, HiddenField, IntegerField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, ValidationError

from app.validation import MAX_INT
from app.web.dashboard.forms import REQUIRED, _Form, lazy_gettext

REASON_MAX_LENGTH = 500  # as the API's AdjustmentInput
NUMBER = lazy_gettext("Write a whole number, like 50 or -20.")


class AdjustForm(_Form):
    points = IntegerField(lazy_gettext("Points to add (a minus takes them away)"), [
        InputRequired(message=NUMBER), NumberRange(min=-MAX_INT, max=MAX_INT, message=NUMBER)])
    reason = StringField(lazy_gettext("Reason"), [REQUIRED, Length(max=REASON_MAX_LENGTH)])
    # One attempt's idempotency key: a form sent twice adjusts the balance once.
    attempt = HiddenField(default=lambda: uuid.uuid4().hex)

    def validate_points(self, field: IntegerField) -> None:
        if field.data == 0:
            raise ValidationError(lazy_gettext("Zero changes nothing: write how many points."))


class ImportForm(_Form):
    file = FileField(lazy_gettext("CSV file of customers"))
    skip_invalid = BooleanField(lazy_gettext("Leave out the rows with problems and import "
                                             "the others"))
    welcome = BooleanField(lazy_gettext("Give each new card the program's welcome points "
                                        "too"))
