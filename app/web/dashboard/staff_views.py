"""The staff page (an owner's): members, invitations, roles and locations, removal (the
staff action log is ``activity_views``)."""

from __future__ import annotations

from flask import Response, redirect, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from app.errors import Conflict, Invalid
from app.merchants import staff as staff_service
from app.merchants.access import OWNERS
from app.merchants.staff import MemberChange
from app.problem_codes import ProblemCode
from app.web.context import db
from app.web.dashboard import blueprint, dashboard_locale, invalid_field, render
from app.web.dashboard.forms import InviteForm, MemberForm, lazy_gettext
from app.web.dashboard.signin import principal_now, staff_required, where


def _location_choices() -> list[tuple[int, str]]:
    return [(location.id, location.name) for location in staff_service.list_locations(
        db(), merchant_id=principal_now().merchant_id)]


def _staff_page(form: InviteForm, status: int = 200, notice: str | None = None) -> Response:
    principal = principal_now()
    members = staff_service.list_staff(db(), merchant_id=principal.merchant_id)
    names = dict(_location_choices())
    return render("dashboard/staff.html", status=status, form=form, members=members,
                  location_names=names, me=principal.staff_id, notice=notice)


def _change(form: MemberForm) -> MemberChange:
    return MemberChange(role=form.role.data or "",
                        location_ids=frozenset(form.locations.data or ()))


def _conflict_text(conflict: Conflict) -> str:
    if conflict.code == ProblemCode.LAST_OWNER:
        return lazy_gettext("The account needs an owner: make someone else an owner first.")
    return lazy_gettext("This email belongs to a staff member already.")


@blueprint.get("/staff")
@staff_required(*OWNERS)
def staff() -> Response:
    form = InviteForm(None, language=dashboard_locale())
    form.offer(_location_choices())
    return _staff_page(form, notice=request.args.get("done"))


@blueprint.post("/staff")
@staff_required(*OWNERS)
def invite() -> Response | WerkzeugResponse:
    form = InviteForm(request.form)
    form.offer(_location_choices())
    if not form.validate():
        return _staff_page(form, status=422)
    try:
        staff_service.invite_staff(db(), actor=principal_now(), email=form.email.data or "",
                                   name=form.name.data or "", change=_change(form),
                                   locale=form.language.data or dashboard_locale(),
                                   where=where())
    except Invalid as invalid:
        if invalid_field(invalid) != "email":
            raise
        form.email.errors = [lazy_gettext("This is not an email address.")]
        return _staff_page(form, status=422)
    except Conflict as conflict:
        form.email.errors = [_conflict_text(conflict)]
        return _staff_page(form, status=409)
    return redirect(url_for("dashboard.staff", done="invited"))


@blueprint.route("/staff/<int:staff_id>", methods=["GET", "POST"])
@staff_required(*OWNERS)
def member(staff_id: int) -> Response | WerkzeugResponse:
    member = staff_service.member(db(), actor=principal_now(), staff_id=staff_id)
    form = MemberForm(request.form if request.method == "POST" else None,
                      data={"role": member.role, "locations": sorted(member.location_ids)})
    form.offer(_location_choices())
    problem = None
    if request.method == "POST" and form.validate():
        try:
            staff_service.change_staff(db(), actor=principal_now(), staff_id=staff_id,
                                       change=_change(form), where=where())
        except Conflict as conflict:
            problem = _conflict_text(conflict)
        else:
            return redirect(url_for("dashboard.staff", done="changed"))
    return render("dashboard/member.html", member=member, form=form, problem=problem,
                  status=409 if problem else (422 if form.errors else 200))


@blueprint.post("/staff/<int:staff_id>/remove")
@staff_required(*OWNERS)
def remove(staff_id: int) -> Response | WerkzeugResponse:
    try:
        staff_service.remove_staff(db(), actor=principal_now(), staff_id=staff_id,
                                   where=where())
    except Conflict as conflict:
        member = staff_service.member(db(), actor=principal_now(), staff_id=staff_id)
        form = MemberForm(None, data={"role": member.role,
                                      "locations": sorted(member.location_ids)})
        form.offer(_location_choices())
        return render("dashboard/member.html", member=member, form=form,
                      problem=_conflict_text(conflict), status=409)
    return redirect(url_for("dashboard.staff", done="removed"))

