"""The dashboard's forms (WTForms through Flask-WTF). Their CSRF token is checked once for
every POST of the blueprint (``app.web.dashboard``), so the forms themselves do not; each
label and message is said in the page's language."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:  # Flask-WTF ships no types; its FlaskForm is a WTForms Form
    from wtforms import Form as FlaskForm
else:
    from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from app.i18n import LOCALES
from app.i18n import lazy_gettext as _lazy_gettext
from app.i18n import lazy_ngettext as _lazy_ngettext
from app.merchants.access import ANALYST, CASHIER, MANAGER, OWNER
from app.merchants.models import ROLES
from app.merchants.passwords import MAX_LENGTH, MIN_LENGTH

# WTForms takes labels and messages as text: a lazy text is one, said in the language of
# the page as it renders (these are made once, at import).
lazy_gettext = cast("Callable[..., str]", _lazy_gettext)
lazy_ngettext = cast("Callable[..., str]", _lazy_ngettext)
# Each language's name in itself.
LANGUAGE_NAMES = {"en": "English", "ru": "Русский", "uk": "Українська"}
ROLE_NAMES = {OWNER: lazy_gettext("Owner"), MANAGER: lazy_gettext("Manager"),
              CASHIER: lazy_gettext("Cashier"), ANALYST: lazy_gettext("Analyst")}
REQUIRED = InputRequired(message=lazy_gettext("Fill in this field."))
NEW_PASSWORD = [REQUIRED, Length(min=MIN_LENGTH, max=MAX_LENGTH, message=lazy_ngettext(
    "A password needs at least %(num)d character.",
    "A password needs at least %(num)d characters.", MIN_LENGTH))]
SAME_PASSWORD = EqualTo("password", message=lazy_gettext("The two passwords differ."))


class _Form(FlaskForm):
    class Meta:
        csrf = False  # checked for the whole blueprint before any view runs


class LoginForm(_Form):
    email = EmailField(lazy_gettext("Email"), [REQUIRED, Length(max=320)])
    password = PasswordField(lazy_gettext("Password"), [REQUIRED, Length(max=MAX_LENGTH)])


class ForgotForm(_Form):
    email = EmailField(lazy_gettext("Email"), [REQUIRED, Length(max=320)])


class SetPasswordForm(_Form):
    password = PasswordField(lazy_gettext("New password"), NEW_PASSWORD)
    confirm = PasswordField(lazy_gettext("The new password again"), [REQUIRED, SAME_PASSWORD])


class ChangePasswordForm(_Form):
    current_password = PasswordField(lazy_gettext("Current password"), [REQUIRED])
    password = PasswordField(lazy_gettext("New password"), NEW_PASSWORD)
    confirm = PasswordField(lazy_gettext("The new password again"), [REQUIRED, SAME_PASSWORD])


def _role_choices() -> list[tuple[str, str]]:
    # The names stay lazy: the page says them in its language as it renders.
    return [(role, ROLE_NAMES[role]) for role in ROLES]


class MemberForm(_Form):
    # The least a new member may need at first; an owner is made on purpose.
    role = SelectField(lazy_gettext("Role"), [REQUIRED], default=CASHIER)
    locations = SelectMultipleField(lazy_gettext("Locations"), coerce=int)

    def offer(self, locations: list[tuple[int, str]]) -> None:
        """The choices, in the page's language and the merchant's locations."""
        self.role.choices = _role_choices()
        self.locations.choices = locations


class InviteForm(MemberForm):
    email = EmailField(lazy_gettext("Email"), [REQUIRED, Length(max=320)])
    name = StringField(lazy_gettext("Name"), [Length(max=200)])
    # The invitation mail's language, and the one they will see first.
    language = SelectField(lazy_gettext("Language of the invitation"), [REQUIRED],
                           choices=[(code, LANGUAGE_NAMES[code]) for code in LOCALES])


class ApiKeyForm(_Form):
    name = StringField(lazy_gettext("Name"), [Length(max=200)])
    role = SelectField(lazy_gettext("Role"), [REQUIRED], default=CASHIER)
    location = SelectField(lazy_gettext("Location"), coerce=int)

    def offer(self, locations: list[tuple[int, str]]) -> None:
        self.role.choices = _role_choices()
        self.location.choices = [(0, lazy_gettext("Any location")), *locations]
