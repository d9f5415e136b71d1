"""The dashboard's forms (WTForms through Flask-WTF). Their CSRF token is checked once for
every POST of the blueprint (``app.web.dashboard``), so the forms themselves do not; each
label and message is said in the page's language."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:  # Flask-WTF ships no types; its FlaskForm is a WTForms Form
    from wtforms import Form as FlaskForm
else:
    from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from app.i18n import lazy_gettext as _lazy
from app.merchants.access import ANALYST, CASHIER, MANAGER, OWNER
from app.merchants.models import ROLES
from app.merchants.passwords import MAX_LENGTH, MIN_LENGTH


def _text(msgid: str, **values: object) -> str:
    """A text said in the language of the page that shows it (a lazy text: WTForms keeps
    labels and messages made at import, and turns them into text as it renders)."""
    return cast(str, _lazy(msgid, **values))


ROLE_NAMES = {OWNER: _text("Owner"), MANAGER: _text("Manager"),
              CASHIER: _text("Cashier"), ANALYST: _text("Analyst")}
REQUIRED = InputRequired(message=_text("Fill in this field."))
NEW_PASSWORD = [REQUIRED, Length(min=MIN_LENGTH, max=MAX_LENGTH, message=_text(
    "A password needs at least %(min)d characters.", min=MIN_LENGTH))]
SAME_PASSWORD = EqualTo("password", message=_text("The two passwords differ."))


class _Form(FlaskForm):
    class Meta:
        csrf = False  # checked for the whole blueprint before any view runs


class LoginForm(_Form):
    email = EmailField(_text("Email"), [REQUIRED, Length(max=320)])
    password = PasswordField(_text("Password"), [REQUIRED, Length(max=MAX_LENGTH)])


class ForgotForm(_Form):
    email = EmailField(_text("Email"), [REQUIRED, Length(max=320)])


class SetPasswordForm(_Form):
    password = PasswordField(_text("New password"), NEW_PASSWORD)
    confirm = PasswordField(_text("The new password again"), [REQUIRED, SAME_PASSWORD])


class ChangePasswordForm(_Form):
    current_password = PasswordField(_text("Current password"), [REQUIRED])
    password = PasswordField(_text("New password"), NEW_PASSWORD)
    confirm = PasswordField(_text("The new password again"), [REQUIRED, SAME_PASSWORD])


def _role_choices() -> list[tuple[str, str]]:
    return [(role, str(ROLE_NAMES[role])) for role in ROLES]


class MemberForm(_Form):
    role = SelectField(_text("Role"), [REQUIRED])
    locations = SelectMultipleField(_text("Locations"), coerce=int)

    def offer(self, locations: list[tuple[int, str]]) -> None:
        """The choices, in the page's language and the merchant's locations."""
        self.role.choices = _role_choices()
        self.locations.choices = locations


class InviteForm(MemberForm):
    email = EmailField(_text("Email"), [REQUIRED, Length(max=320)])
    name = StringField(_text("Name"), [Length(max=200)])


class ApiKeyForm(_Form):
    name = StringField(_text("Name"), [Length(max=200)])
    role = SelectField(_text("Role"), [REQUIRED])
    location = SelectField(_text("Location"), coerce=int)

    def offer(self, locations: list[tuple[int, str]]) -> None:
        self.role.choices = _role_choices()
        self.location.choices = [(0, str(_text("Any location"))), *locations]
