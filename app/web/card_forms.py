"""The forms of the customer's card page (``app.web.card_page``), through Flask-WTF as
the join form is (``app.web.forms``): their contact details, their marketing consent, the
download of their data and the confirmation of its deletion.

Every form carries the session's CSRF token (field ``csrf``); one that comes back
without a valid token is ``expired`` and changes nothing. The details form checks each
field with WTForms validators whose messages are lazy texts, so they read in the page's
language wherever the form is rendered; the use case checks again
(``app.cards.account.change_contact``) and what only it can know (an email or phone
another customer holds) is shown at the field it names, with the same messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self, cast

if TYPE_CHECKING:  # Flask-WTF ships no types; its FlaskForm is a WTForms Form
    from wtforms import Form as FlaskForm
else:
    from flask_wtf import FlaskForm
from wtforms import EmailField, Field, HiddenField, StringField, TelField
from wtforms.form import BaseForm
from wtforms.validators import AnyOf, DataRequired, Length, Optional, StopValidation

from app.cards.account import (
    MAX_EMAIL,
    MAX_NAME,
    MAX_PHONE_TYPED,
    ContactInput,
    ContactProblem,
)
from app.cards.contacts import ContactInvalid, normalize_email, normalize_phone
from app.cards.models import Card
from app.i18n import LazyText, lazy_gettext
from app.validation import text_fault
from app.web.forms import CSRF_FIELD


def message(text: LazyText) -> str:
    """A lazy text where WTForms takes a message (typed ``str``): it is put into words,
    in the page's language, each time the page shows it."""
    return cast(str, text)


# What the page says of each refusal, in its language: the validators' messages, and
# those of the use case's refusals.
PROBLEMS: dict[ContactProblem, str] = {
    ContactProblem.NAME_MISSING: message(lazy_gettext("Please write your name.")),
    ContactProblem.NAME_TOO_LONG: message(lazy_gettext(
        "Please shorten the name to 200 characters.")),
    ContactProblem.TEXT_CHARACTERS: message(lazy_gettext(
        "Please remove the special characters from this field.")),
    ContactProblem.EMAIL_INVALID: message(lazy_gettext(
        "This does not look like an email address.")),
    ContactProblem.PHONE_INVALID: message(lazy_gettext(
        "This does not look like a phone number: write it with the country code, like "
        "+380 44 123 4567.")),
    ContactProblem.UNREACHABLE: message(lazy_gettext(
        "Keep an email address or a phone number, so that we can find your card.")),
    ContactProblem.EMAIL_TAKEN: message(lazy_gettext(
        "This email address belongs to another customer's card. If it is yours, please "
        "ask at the counter.")),
    ContactProblem.PHONE_TAKEN: message(lazy_gettext(
        "This phone number belongs to another customer's card. If it is yours, please ask "
        "at the counter.")),
}
NOTHING_CHANGED = message(lazy_gettext("Nothing was changed: please check the form."))


class PlainText:
    """No control characters (a line of text, as the use case stores it)."""

    def __call__(self, form: BaseForm, field: Field) -> None:
        if text_fault(field.data or "") is not None:
            raise StopValidation(PROBLEMS[ContactProblem.TEXT_CHARACTERS])


class ContactDetail:
    """An email address or a phone number the use case can store (``normalize``, which
    reads a phone with the program's country: the form's ``country``)."""

    def __init__(self, normalize: Callable[[str, str | None], str | None],
                 problem: ContactProblem) -> None:
        self.normalize, self.problem = normalize, problem

    def __call__(self, form: BaseForm, field: Field) -> None:
        try:
            self.normalize((field.data or "").strip(), getattr(form, "country", None))
        except ContactInvalid:
            raise StopValidation(PROBLEMS[self.problem]) from None


def _email(value: str, _country: str | None) -> str | None:
    return normalize_email(value)


class CardForm(FlaskForm):
    """A form of the card page: its token, and whether it came back without it."""

    @classmethod
    def for_card(cls, card: Card, *, stored: bool = False) -> Self:
        """The form as sent (``request.form``), or, ``stored``, as the page shows it."""
        return cls(formdata=None) if stored else cls()

    @property
    def expired(self) -> bool:
        return CSRF_FIELD in self.errors


class DetailsForm(CardForm):
    """The holder's name, email and phone: at least one of the two contacts."""

    name = StringField(message(lazy_gettext("Name")), validators=[
        DataRequired(PROBLEMS[ContactProblem.NAME_MISSING]),
        Length(max=MAX_NAME, message=PROBLEMS[ContactProblem.NAME_TOO_LONG]), PlainText()])
    email = EmailField(message(lazy_gettext("Email")), validators=[
        PlainText(), Optional(),
        Length(max=MAX_EMAIL, message=PROBLEMS[ContactProblem.EMAIL_INVALID]),
        ContactDetail(_email, ContactProblem.EMAIL_INVALID)])
    phone = TelField(message(lazy_gettext("Phone")), validators=[
        PlainText(), Optional(),
        Length(max=MAX_PHONE_TYPED, message=PROBLEMS[ContactProblem.PHONE_INVALID]),
        ContactDetail(normalize_phone, ContactProblem.PHONE_INVALID)])

    country: str | None = None

    @classmethod
    def for_card(cls, card: Card, *, stored: bool = False) -> Self:
        """The form of ``card``'s holder: as sent (``request.form``; a field left out is
        empty), or, ``stored``, holding their details as stored."""
        if stored:
            customer = card.customer
            form = cls(formdata=None, data={"name": customer.name,
                                            "email": customer.email or "",
                                            "phone": customer.phone or ""})
        else:
            form = cls()
        form.country = card.program.country
        return form

    def validate(self, extra_validators: Any = None) -> bool:
        """Each field's checks, then: an email address or a phone number is kept."""
        valid: bool = super().validate(extra_validators)
        if not self.expired and not self._typed("email") and not self._typed("phone"):
            self.email.errors = [PROBLEMS[ContactProblem.UNREACHABLE]]
            return False
        return valid

    def _typed(self, name: str) -> str:
        return str(self._fields[name].data or "").strip()

    def contact(self) -> ContactInput:
        return ContactInput(name=self._typed("name"), email=self._typed("email"),
                            phone=self._typed("phone"))

    def show_problems(self, problems: dict[str, ContactProblem]) -> None:
        """The use case's refusals (``ContactRefused.problems``, ``taken_contacts``), at
        each field they name that has no fault of its own already."""
        for name, problem in problems.items():
            field = self._fields.get(name)
            if field is not None and not field.errors:
                field.errors = [PROBLEMS[problem]]


class ConsentForm(CardForm):
    """Give (``yes``) or withdraw (``no``) consent to offers and news."""

    consent = HiddenField(id="consent-choice",
                          validators=[AnyOf(("yes", "no"), message=NOTHING_CHANGED)])

    @property
    def given(self) -> bool:
        return self.consent.data == "yes"


class ExportForm(CardForm):
    """The download of everything held about the holder: the token alone."""


class DeleteForm(CardForm):
    """The second step of deleting the holder's data: its button sends ``confirm=yes``."""

    confirm = HiddenField(validators=[AnyOf(("yes",), message=NOTHING_CHANGED)])
