"""The staff action log (an owner's): who did what, to whom, when and from where, the
newest first, filtered by member, location and days (a GET form: the filter is in the
link, and works without JavaScript)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Response, request
from wtforms import DateField, SelectField
from wtforms.validators import Optional

from app.merchants import staff as staff_service
from app.merchants.access import OWNERS
from app.merchants.staff import EventFilter
from app.web.context import db
from app.web.dashboard import blueprint, render
from app.web.dashboard.forms import lazy_gettext
from app.web.dashboard.signin import principal_now, staff_required

if TYPE_CHECKING:
    from wtforms import Form as FlaskForm
else:
    from flask_wtf import FlaskForm

SHOWN = 200
ACTION_NAMES = {
    "login": lazy_gettext("logged in"),
    "login.failed": lazy_gettext("a wrong password was typed for"),
    "password.changed": lazy_gettext("changed their password"),
    "password.reset_requested": lazy_gettext("a password reset was asked for"),
    "password.reset": lazy_gettext("set a new password by a mailed link"),
    "invitation.accepted": lazy_gettext("accepted the invitation"),
    "staff.invited": lazy_gettext("invited"),
    "staff.changed": lazy_gettext("changed the role or locations of"),
    "staff.removed": lazy_gettext("removed"),
    "api_key.created": lazy_gettext("created an API key"),
    "api_key.revoked": lazy_gettext("revoked an API key"),
    "offer.created": lazy_gettext("wrote an offer"),
    "offer.published": lazy_gettext("published an offer"),
    "alert.acknowledged": lazy_gettext("acknowledged an alert"),
}


class ActivityFilter(FlaskForm):
    class Meta:
        csrf = False  # a GET form: it reads, never changes

    member = SelectField(lazy_gettext("Member"), coerce=int, validators=[Optional()])
    location = SelectField(lazy_gettext("Location"), coerce=int, validators=[Optional()])
    since = DateField(lazy_gettext("From (UTC)"), validators=[Optional()])
    until = DateField(lazy_gettext("To, this day included (UTC)"), validators=[Optional()])

    def chosen(self) -> EventFilter:
        """What the form asks for; a field it could not read asks for nothing."""
        self.validate()

        def read(field: Any) -> Any:
            return None if field.errors else (field.data or None)

        return EventFilter(staff_id=read(self.member), location_id=read(self.location),
                           since=read(self.since), until=read(self.until))


@blueprint.get("/activity")
@staff_required(*OWNERS)
def activity() -> Response:
    merchant_id = principal_now().merchant_id
    names = staff_service.staff_names(db(), merchant_id=merchant_id)
    locations = {location.id: location.name for location in staff_service.list_locations(
        db(), merchant_id=merchant_id)}
    form = ActivityFilter(request.args)
    form.member.choices = [(0, lazy_gettext("Everyone")), *sorted(
        names.items(), key=lambda item: item[1])]
    form.location.choices = [(0, lazy_gettext("Every location")), *locations.items()]
    events = staff_service.staff_events(db(), merchant_id=merchant_id, limit=SHOWN,
                                        only=form.chosen())
    return render("dashboard/activity.html", events=events, names=names, form=form,
                  location_names=locations, action_names=ACTION_NAMES)
