"""The customer's forms, through Flask-WTF: the join form and the recovery link's button.

Flask-WTF gives each form the CSRF token of the browser's session (signed, valid for
``WTF_CSRF_TIME_LIMIT``, in the field ``csrf``); a form that comes back without a valid
one is ``expired`` and changes nothing. The rules belong to the use cases
(``app.cards.contacts``: which contact the program requires, what an email, a phone or
a birthday must be); a form reads the text, checks what only a form can get wrong (a
field too long, a date it cannot read), asks the same rules, and says every fault next
to its field in the page's language. Forms are built and validated inside the page's
``using_locale`` block, so that their labels and messages speak it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Flask-WTF ships no types; its FlaskForm is a WTForms Form
    from wtforms import Form as FlaskForm
else:
    from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, Field, HiddenField, StringField, TelField
from wtforms.form import BaseForm
from wtforms.validators import StopValidation
from wtforms.widgets import DateInput

from app.cards.contacts import (
    ContactInvalid,
    Fault,
    birthday_fault,
    phone_example,
    read_contact,
)
from app.cards.details import Detail, Offered
from app.cards.schemas import EnrolmentInput
from app.clock import utcnow
from app.errors import Invalid
from app.i18n import gettext, ngettext
from app.merchants.models import ContactRule, Program
from app.validation import parse, text_fault

CSRF_FIELD = "csrf"  # the field's name in every form (WTF_CSRF_FIELD_NAME)
# What a birthday field accepts: the date input's own format, and what people type where
# a browser shows a text box instead (17.05.1990, 17/05/1990).
DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y")


def csrf_settings() -> dict[str, Any]:
    """The app's Flask-WTF settings: the token in the field the pages always used."""
    return {"WTF_CSRF_FIELD_NAME": CSRF_FIELD, "WTF_CSRF_TIME_LIMIT": 3600,
            "WTF_I18N_ENABLED": False}


class TextLine:
    """A single line of text, as the use case stores it (stripped): at most ``limit``
    characters, no control characters, and, when ``missing`` says what to write, not
    empty; each refusal said in the page's language."""

    def __init__(self, limit: int, *, missing: Callable[[], str] | None = None) -> None:
        self.limit, self.missing = limit, missing

    def __call__(self, form: BaseForm, field: Field) -> None:
        value = (field.data or "").strip()
        if not value:
            if self.missing is not None:
                raise StopValidation(self.missing())
            return
        if len(value) > self.limit:
            raise StopValidation(ngettext("Write at most %(num)d character here.",
                                          "Write at most %(num)d characters here.",
                                          self.limit))
        if text_fault(value) is not None:
            raise StopValidation(gettext("Remove the special characters from this field."))


class BirthdayField(Field):
    """A date input (``type=date``), read as ISO or as people type dates by hand; empty is
    no birthday. What it cannot read stays in the box, with an error."""

    widget = DateInput()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.raw: str = ""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.raw = str(valuelist[0]).strip() if valuelist else ""
        self.data = None
        for pattern in DATE_FORMATS:
            try:
                self.data = datetime.strptime(self.raw, pattern).date()
                break
            except ValueError:
                continue

    def _value(self) -> str:
        return self.data.isoformat() if isinstance(self.data, date) else self.raw

    def pre_validate(self, form: BaseForm) -> None:
        if self.raw and self.data is None:
            raise StopValidation(fault_message(Fault.BIRTHDAY_INVALID, None))
        if isinstance(self.data, date):
            fault = birthday_fault(self.data, today=utcnow().date())
            if fault is not None:
                raise StopValidation(fault_message(fault, None))


def fault_message(fault: Fault, country: str | None, field: str = "") -> str:
    """What the page says of a fault the use case named, in the current language."""
    if fault is Fault.MISSING:
        return (gettext("Enter your email address.") if field == "email"
                else gettext("Enter your phone number."))
    messages = {
        Fault.CONTACT_MISSING: gettext("Enter an email address or a phone number."),
        Fault.EMAIL_INVALID: gettext(
            "Check the email address: it should look like name@example.com."),
        Fault.PHONE_INVALID: gettext("Check the phone number: write it like %(example)s.",
                                     example=phone_example(country)),
        Fault.BIRTHDAY_INVALID: gettext("Enter the date like %(example)s.",
                                        example="17.05.1990"),
        Fault.BIRTHDAY_IN_FUTURE: gettext("A birthday cannot be in the future."),
        Fault.BIRTHDAY_TOO_EARLY: gettext("Check the year of the birthday."),
    }
    return messages[fault]


class JoinForm(FlaskForm):
    """The join form of one program: the fields its settings ask for (``for_program``)."""

    name = StringField(validators=[TextLine(200, missing=lambda: gettext("Enter your name."))])
    email = EmailField(validators=[TextLine(320)])
    phone = TelField(validators=[TextLine(40)])
    birthday = BirthdayField()
    consent = BooleanField(default=False)
    location = HiddenField()

    program: Program

    @classmethod
    def for_program(cls, program: Program, **kwargs: Any) -> JoinForm:
        """The form with the program's fields, their labels in the current language."""
        form = cls(**kwargs)
        form.program = program
        rule = ContactRule(program.contact)
        form.name.label.text = gettext("Your name")
        form.email.label.text = gettext("Email")
        form.phone.label.text = gettext("Phone")
        form.birthday.label.text = gettext("Birthday, for a treat (optional)")
        if not rule.asks_email:
            del form.email
        if not rule.asks_phone:
            del form.phone
        if not program.ask_birthday:
            del form.birthday
        return form

    @property
    def expired(self) -> bool:
        """The form came back without this session's valid token."""
        return CSRF_FIELD in self.errors

    def validate(self, extra_validators: Any = None) -> bool:
        """Every field's own checks, then the program's contact rule: all faults at once."""
        valid: bool = super().validate(extra_validators)
        if self.expired:
            return False
        try:
            read_contact(self.program, email=self._text("email") or None,
                         phone=self._text("phone") or None)
        except ContactInvalid as invalid:
            self.show_faults(invalid)
            return False
        return valid

    def _text(self, name: str) -> str:
        field = self._fields.get(name)
        return (field.data or "").strip() if field is not None and not field.errors else ""

    def show_faults(self, invalid: ContactInvalid) -> None:
        for name, fault in invalid.faults.items():
            field = self._fields.get(name)
            if field is not None and not field.errors:
                field.errors = [fault_message(fault, self.program.country, name)]

    def show_problem(self, problem: Invalid) -> None:
        """A refusal the form's checks did not foresee: said at each field it names."""
        named = {str(item.get("field", "")) for item in problem.extra.get("errors", [])}
        for name in named & set(self._fields):
            self._fields[name].errors = [gettext("Check this field.")]
        if not named & set(self._fields):
            self.form_errors.append(gettext("Check this field."))

    def enrolment(self, locale: str) -> EnrolmentInput:
        """What the use case takes (``Invalid`` if the form's checks missed something)."""
        data: dict[str, Any] = {"name": self._text("name"), "locale": locale,
                                "marketing_consent": bool(self.consent.data)}
        for name in ("email", "phone"):
            if self._text(name):
                data[name] = self._text(name)
        birthday = self._fields.get("birthday")
        if birthday is not None and isinstance(birthday.data, date):
            data["birthday"] = birthday.data
        return parse(EnrolmentInput, data)

    @property
    def location_id(self) -> str | None:
        return self.location.data or None


def fields_in_error(form: FlaskForm) -> list[Field]:
    """The fields with an error, in the form's order (for the summary above the form)."""
    return [field for field in form if field.errors and field.name != CSRF_FIELD]


class OpenCardForm(FlaskForm):
    """The button behind a mailed link, with a box per detail the join form held that
    the customer's record lacks (``app.cards.details``): unticked, so that only what
    the mailbox's owner ticks is stored."""

    name = BooleanField(default=False)
    phone = BooleanField(default=False)
    email = BooleanField(default=False)
    birthday = BooleanField(default=False)
    consent = BooleanField(default=False)

    offered: list[Offered]

    @classmethod
    def for_offers(cls, offered: list[Offered], **kwargs: Any) -> OpenCardForm:
        form = cls(**kwargs)
        form.offered = offered
        kept = {item.detail.value for item in offered}
        for detail in Detail:
            if detail.value not in kept:
                delattr(form, detail.value)
        return form

    @property
    def expired(self) -> bool:
        return CSRF_FIELD in self.errors

    def accepted(self) -> frozenset[Detail]:
        return frozenset(item.detail for item in self.offered
                         if self._fields[item.detail.value].data)
