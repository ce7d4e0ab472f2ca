"""Login, logout and the administration of users."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select
from wtforms import SelectChoice

from formulary.auth import ratelimit, services
from formulary.auth.access import public, require
from formulary.auth.forms import LoginForm, PasswordResetForm, ProfileForm, UserCreateForm, UserEditForm
from formulary.auth.models import User
from formulary.auth.permissions import ADMIN, VIEW
from formulary.domain.errors import DomainError, NotFound
from formulary.domain.listing import clamp_page
from formulary.errors import form_errors
from formulary.extensions import db, login_manager
from formulary.transaction import keep_changes_on_error

from formulary.i18n import _, tr

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(session_id: str):
    user_id, _, version = session_id.partition(":")
    if not (user_id.isascii() and user_id.isdigit() and len(user_id) < 10
            and version.isascii() and version.isdigit() and len(version) < 10):
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


def _safe_next(target: str | None) -> str:
    """``next`` when it is a path of this site, else the dashboard. A control character
    (a CR LF would end the Location header: werkzeug refuses it, a 500) or a backslash
    (browsers read ``/\\evil.example`` as ``//evil.example``, another site) is not a path."""
    if target and not any(ch == "\\" or ord(ch) < 0x20 or 0x7f <= ord(ch) < 0xa0 for ch in target):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("main.dashboard")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.log_in(db.session, form.username.data, form.password.data,
                                   address=request.remote_addr, config=current_app.config)
        except ratelimit.TooManyAttempts as exc:
            flash(tr(exc.message), "danger")
            response = current_app.make_response(
                (render_template("auth/login.html", form=form), 429))
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        except services.LoginRefused as exc:
            keep_changes_on_error()  # the failure counts must survive the 401
            flash(tr(exc.message), "danger")
            status = 401
        else:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@public
def logout():
    # A POST carrying the CSRF token of the menu's form (checked by CSRFProtect), so a
    # link on another site cannot log the user out.
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.get("/users")
@require(ADMIN)
def users():
    rows = db.session.execute(select(User).order_by(User.active.desc(), User.username)).scalars().all()
    return render_template("auth/users.html", users=rows)


@bp.route("/users/new", methods=["GET", "POST"])
@require(ADMIN)
def user_new():
    form = UserCreateForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(db.session, current_user, username=form.username.data,
                                        password=form.password.data, role=form.role.data,
                                        full_name=form.full_name.data or "")
        except DomainError as exc:
            form_errors(form, exc)
        else:
            flash(_("User %(name)s created.", name=user.username), "success")
            return redirect(url_for("auth.users"))
    return render_template("auth/user_form.html", form=form, user=None), 422 if form.errors else 200


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@require(ADMIN)
def user_edit(user_id: int):
    user = _user_or_404(user_id)
    form = UserEditForm(obj=user)
    reset = PasswordResetForm(prefix="reset")
    if form.submit.data and form.validate_on_submit():
        try:
            services.update_user(db.session, current_user, user, role=form.role.data,
                                 active=bool(form.active.data), full_name=form.full_name.data or "",
                                 reason=form.reason.data or None)
        except DomainError as exc:
            form_errors(form, exc)
        else:
            flash(_("User %(name)s saved.", name=user.username), "success")
            return redirect(url_for("auth.users"))
    status = 422 if form.errors else 200
    tokens = db.session.execute(services.visible_tokens(db.session, current_user, user_id=user.id)
                                .limit(100)).scalars().all()
    return render_template("auth/user_form.html", form=form, user=user, reset=reset,
                           tokens=tokens, token_state=services.token_state), status


@bp.post("/users/<int:user_id>/password")
@require(ADMIN)
def user_reset_password(user_id: int):
    user = _user_or_404(user_id)
    reset = PasswordResetForm(prefix="reset")
    if reset.validate_on_submit():
        try:
            services.reset_password(db.session, current_user, user, reset.password.data)
        except DomainError as exc:
            form_errors(None, exc)
            return redirect(url_for("auth.user_edit", user_id=user.id))
        flash(_("Password of %(name)s reset; the account is unlocked.", name=user.username), "success")
        return redirect(url_for("auth.users"))
    flash("Give a new password.", "danger")
    return redirect(url_for("auth.user_edit", user_id=user.id))


@bp.get("/tokens")
@require(VIEW)
def my_tokens():
    stmt = services.visible_tokens(db.session, current_user, user_id=current_user.id)
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    total = db.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    # past the last page: the last (formulary.domain.listing)
    pagination = db.paginate(stmt, page=clamp_page(page, total, 50), per_page=50, error_out=False)
    return render_template("auth/tokens.html", pagination=pagination, tokens=pagination.items,
                           token_state=services.token_state)


@bp.post("/tokens/<int:token_id>/revoke")
@require(VIEW)
def token_revoke(token_id: int):
    """Revoke a token: its owner, or an admin (from the user's page). Anyone else is told
    the token does not exist."""
    row = services.get_token(db.session, current_user, token_id)
    services.revoke_token(db.session, current_user, row)
    flash(_("API token '%(label)s' revoked: it no longer opens the API.", label=row.label or row.id), "success")
    return redirect(_safe_next(request.form.get("next")) if request.form.get("next")
                    else url_for("auth.my_tokens"))


@bp.route("/profile", methods=["GET", "POST"])
@require(VIEW)
def profile():
    """The user's own settings: the daily digest (SPEC §14) and the language of their
    pages (SPEC §13). "The browser's language" leaves the choice to Accept-Language."""
    from formulary import i18n

    # a form sent without the language (an older page) keeps the one on file
    form = ProfileForm(obj=current_user if request.method == "GET" else None,
                       locale=current_user.locale or "")
    # each language named in itself, and marked so (a screen reader speaks "English" in
    # English on a French page: WCAG 3.1.2)
    form.locale.choices = [SelectChoice("", i18n._("The browser's language"))] + [
        SelectChoice(code, name, render_kw={"lang": code}) for code, name in i18n.language_choices()]
    status = 200
    if form.validate_on_submit():
        try:
            services.set_locale(db.session, current_user, form.locale.data or None)
            services.set_profile(db.session, current_user, current_user, email=form.email.data,
                                 digest_opt_in=form.digest_opt_in.data)
        except DomainError as exc:
            form_errors(form, exc)
            status = exc.status
        else:
            from flask_babel import refresh

            refresh()
            flash(i18n._("Your settings are saved."), "success")
            return redirect(url_for("auth.profile"))
    elif request.method == "POST":
        status = 400 if form.csrf_token.errors else 422
    return render_template("auth/profile.html", form=form,
                           smtp=bool(current_app.config.get("SMTP_HOST")),
                           digest_at=current_app.config["DIGEST_AT"]), status
