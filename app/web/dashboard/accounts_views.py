"""Signing in and out, the password page, and the mailed links that set a password
(a reset asked for on the login page, an owner's invitation)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as WerkzeugResponse

from app.errors import Invalid
from app.merchants import accounts
from app.merchants.links import link_id_of
from app.merchants.models import StaffLinkPurpose
from app.web.context import db, runtime
from app.web.dashboard import (
    EVERYONE,
    blueprint,
    dashboard_locale,
    error_page,
    invalid_field,
    render,
)
from app.web.dashboard.forms import (
    ChangePasswordForm,
    ForgotForm,
    LoginForm,
    SetPasswordForm,
    lazy_gettext,
)
from app.web.dashboard.signin import (
    keep_session,
    principal_now,
    public,
    sign_in,
    sign_out,
    staff_required,
    where,
)
from app.web.limits import LimitName, rate_limits

RESET_MINUTES = int(accounts.RESET_LIFETIME.total_seconds() // 60)


def _next_page() -> str:
    """Where to go after signing in: a dashboard path the login was asked from, else home
    (never another site)."""
    asked = request.args.get("next", "")
    parts = urlsplit(asked)
    if asked.startswith("/dashboard") and not parts.scheme and not parts.netloc:
        return asked
    return url_for("dashboard.home")


@blueprint.route("/login", methods=["GET", "POST"])
@public
def login() -> Response | WerkzeugResponse:
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("dashboard.home"))
    form = LoginForm(request.form if request.method == "POST" else None)
    failed = False
    if request.method == "POST" and form.validate():
        rate_limits().check(LimitName.LOGIN_PER_ADDRESS, LimitName.LOGIN_PER_ACCOUNT)
        staff = accounts.log_in(db(), email=form.email.data or "",
                                password=form.password.data or "", where=where())
        if staff is not None:
            principal = accounts.session_principal(
                db(), staff_id=staff.id, session_version=staff.session_version)
            if principal is not None:
                sign_in(principal, staff.session_version)
                return redirect(_next_page())
        failed = True
    status = 401 if failed else 200
    return render("dashboard/login.html", status=status, form=form, failed=failed)


@blueprint.post("/logout")
@public
def logout() -> WerkzeugResponse:
    sign_out()
    return redirect(url_for("dashboard.login"))


@blueprint.route("/password", methods=["GET", "POST"])
@staff_required(*EVERYONE)
def password() -> Response | WerkzeugResponse:
    form = ChangePasswordForm(request.form if request.method == "POST" else None)
    if request.method == "POST" and form.validate():
        try:
            version = accounts.change_password(
                db(), staff_id=principal_now().staff_id or 0,
                current=form.current_password.data or "", new=form.password.data or "",
                where=where())
        except Invalid as invalid:
            if invalid_field(invalid) != "current_password":
                raise
            form.current_password.errors = [lazy_gettext("This is not your current password.")]
        else:
            keep_session(version)
            return render("dashboard/password.html", form=ChangePasswordForm(None), saved=True)
    return render("dashboard/password.html", form=form, saved=False,
                  status=422 if form.errors else 200)


@blueprint.route("/forgot", methods=["GET", "POST"])
@public
def forgot() -> Response:
    form = ForgotForm(request.form if request.method == "POST" else None)
    if request.method == "POST" and form.validate():
        rate_limits().check(LimitName.LOGIN_PER_ADDRESS)
        accounts.request_password_reset(db(), email=form.email.data or "",
                                        locale=dashboard_locale(), where=where())
        return render("dashboard/forgot.html", form=form, sent=True, minutes=RESET_MINUTES)
    return render("dashboard/forgot.html", form=form, sent=False)


@blueprint.route("/link/<token>", methods=["GET", "POST"])
@public
def link(token: str) -> Response | WerkzeugResponse:
    """A mailed link: choose a password (first or new), then sign in with it."""
    link_id = link_id_of(runtime().config.secret_keys.verifying, token)
    if link_id is None:
        return error_page(404)
    staff_link = accounts.open_link(db(), link_id=link_id)
    form = SetPasswordForm(request.form if request.method == "POST" else None)
    if request.method == "POST" and form.validate():
        accounts.set_password_by_link(db(), link_id=link_id, password=form.password.data or "",
                                      where=where())
        sign_out()
        return redirect(url_for("dashboard.login", done="password"))
    invite = staff_link.purpose == StaffLinkPurpose.INVITE.value
    return render("dashboard/link.html", form=form, invite=invite,
                  email=staff_link.staff.email, status=422 if form.errors else 200)
