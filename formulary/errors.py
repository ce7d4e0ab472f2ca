"""One mapping from errors to what a person or a program sees.

- Domain errors (``formulary.domain.errors``) carry a code and an HTTP status.
- Under ``/api/`` every error, including 404, 405 and malformed JSON, is the envelope
  ``{"error": {"code", "message", "fields"}}``.
- On pages, a domain error a view did not catch becomes an error page with its message;
  views with a form catch it and call ``form_errors()`` to put messages on the fields.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, flash, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy import inspect
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from formulary.domain.errors import DomainError
from formulary.domain.messages import msg
from formulary.extensions import db
from formulary.i18n import _l, tr

log = logging.getLogger(__name__)

HTTP_CODES = {400: "malformed", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "too_large",
              415: "unsupported_media_type", 422: "invalid", 429: "too_many_requests",
              503: "unavailable"}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def envelope(code: str, message: str, status: int, fields: dict | None = None, **extra):
    from formulary.i18n import tr, tr_fields  # the code stays English; the text follows Accept-Language

    body = {"error": {"code": code, "message": tr(message), "fields": tr_fields(fields or {})}}
    body["error"].update(extra)
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="formulary"'
    return response


def domain_extra(exc: DomainError) -> dict:
    """Details a program needs beyond the message (shortfalls, safety findings)."""
    from formulary.domain.units import to_api  # local: units is a leaf module
    from formulary.i18n import tr

    extra = {}
    shortfalls = getattr(exc, "shortfalls", None)
    if shortfalls:
        extra["shortfalls"] = [{"ingredient_id": k, "quantity": to_api(v)} for k, v in shortfalls.items()]
    findings = getattr(exc, "findings", None)
    if findings:
        extra["findings"] = [{"level": f.level, "kind": f.kind, "ingredient_id": f.ingredient_id,
                              "message": tr(f.message)} for f in findings]
    return extra


def form_errors(form, exc: DomainError) -> None:
    """Throw away what the refused action may have flushed (``throw_away_changes``), then
    put the error's messages on the form's fields; the rest become a flash."""
    from formulary.i18n import tr

    throw_away_changes()
    unplaced = []
    for name, messages in exc.fields.items():
        field = getattr(form, name.split(".")[0], None) if form is not None else None
        if field is not None and hasattr(field, "errors"):
            errors = list(field.errors or [])
            errors.extend(tr(m) for m in messages)
            field.errors = errors
        else:
            unplaced.extend(tr(m) for m in messages)
    if not exc.fields or unplaced:
        flash(tr(exc.message) if not unplaced else f"{tr(exc.message)} {' '.join(unplaced)}", "danger")


UNAVAILABLE = _l("The database is busy or cannot be reached. Nothing was changed; try again in a moment.")
CONFLICT = _l("Someone changed the same record at the same time. Nothing was changed; try again.")


def _page_or_json(code: str, message: str, status: int):
    if wants_json():
        return envelope(code, message, status)
    return current_app.make_response(
        (render_template("errors/error.html", status=status, message=tr(message)), status))


def unavailable_response():
    if not wants_json() and not _user_at_hand():
        # The error page must not reach for the database again: loading the logged-in
        # user for the menu is what just failed, or the user's row went with a dropped
        # connection. It shows as to a visitor.
        from formulary.extensions import login_manager

        g._login_user = login_manager.anonymous_user()
    response = _page_or_json("unavailable", UNAVAILABLE, 503)
    response.headers["Retry-After"] = "5"
    return response


def _user_at_hand() -> bool:
    """Whether the request's user was loaded and is still held by the session (a
    connection dropped by ``discard_changes`` lets go of every row, the user's too)."""
    user = g.get("_login_user")
    if user is None:
        return False
    state = inspect(user, raiseerr=False)
    return state is None or not state.detached  # None: the anonymous user, no row


def conflict_response():
    return _page_or_json("conflict", CONFLICT, 409)


def discard_changes() -> bool:
    """Roll the request's transaction back. A connection that cannot even roll back (the
    server killed it, or killed it in the middle of a pipelined statement: psycopg's
    "cannot exit pipeline mode while busy") is invalidated, so the pool never hands it out
    again; nothing was committed either way.

    Answers whether the connection had to be dropped: then the session has let go of
    every row it held (the logged-in user's too), and the request answers 503
    (``unavailable_response``) rather than a page drawn from them."""
    try:
        db.session.rollback()
    except DBAPIError as exc:
        log.warning("rollback failed, connection dropped: %s", exc)
        db.session().invalidate()  # the Session itself: scoped_session does not pass it on
        return True
    return False


class ConnectionDropped(Exception):
    """The request's changes were thrown away with its connection (``throw_away_changes``):
    the request answers 503, nothing was committed."""


def throw_away_changes() -> None:
    """Throw away this request's changes, for a view that answers a refusal itself (a form
    shown again with its errors, an API refusal): what the refused action flushed is
    rolled back, and the view goes on to draw its answer. When the connection had to be
    dropped to do it, ``ConnectionDropped`` is raised instead, and the request answers 503.
    (CLI commands and jobs roll back on their own: they have no request to answer.)"""
    if discard_changes():
        raise ConnectionDropped()


def _rollback() -> bool:
    """Undo the failed request's changes, unless the view asked to keep them (a failed
    login still counts towards the lockout). Answers whether the connection was dropped."""
    return not g.get("keep_changes_on_error") and discard_changes()


def too_large_message():
    """Why a request was refused with 413: the whole of it over ``MAX_CONTENT_LENGTH``, or
    one field of a form over werkzeug's own limits (``MAX_FORM_MEMORY_SIZE``, ``MAX_FORM_PARTS``)."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and (request.content_length is None or request.content_length > limit):
        return msg("The request is larger than %(megabytes)s MB, the most this application "
                   "accepts (a scan or a delivery sheet is at most 10 MB). Nothing was "
                   "changed; send a smaller file.", megabytes=limit // 2**20)
    return _l("A field of the form is larger than this application accepts. Nothing was "
              "changed; shorten it and try again.")


def refuse_too_large_early() -> None:
    """Before any other hook (the token's check, the session's user, the CSRF check):
    a request whose announced size is over ``MAX_CONTENT_LENGTH`` is refused unread.
    A body sent without a length is cut off by werkzeug where it passes the limit."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge):
        if discard_changes():
            return unavailable_response()
        return _page_or_json("too_large", too_large_message(), 413)

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        if _rollback():
            return unavailable_response()
        if wants_json():
            return envelope(exc.code, exc.message, exc.status, exc.fields, **domain_extra(exc))
        return render_template("errors/error.html", status=exc.status, message=tr(exc.message)), exc.status

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        if discard_changes():
            return unavailable_response()
        if wants_json():
            return envelope("csrf", exc.description, 400)
        return render_template("errors/error.html", status=400,
                               message=tr(_l("The form expired or was not sent from this application. "
                                             "Go back, reload the page and try again."))), 400

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if discard_changes():
            return unavailable_response()
        status = exc.code or 500
        if wants_json():
            response = envelope(HTTP_CODES.get(status, "error"), exc.description or exc.name, status)
            if status == 405 and getattr(exc, "valid_methods", None):
                response.headers["Allow"] = ", ".join(exc.valid_methods)
            return response
        return render_template("errors/error.html", status=status, message=tr(exc.description)), status

    @app.errorhandler(OperationalError)
    def _db_down(exc: OperationalError):
        discard_changes()
        log.warning("database unavailable: %s", exc)
        return unavailable_response()

    @app.errorhandler(ConnectionDropped)
    def _dropped(exc: ConnectionDropped):
        return unavailable_response()

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        dropped = discard_changes()
        if dropped or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
            # The connection died under the request (e.g. the driver's InterfaceError on a
            # closed connection), or could not even roll back after it: the pool has
            # dropped it; nothing was committed. An error of the code itself keeps its
            # stack in the log.
            log.warning("database connection lost: %s", exc, exc_info=not isinstance(exc, DBAPIError))
            return unavailable_response()
        if isinstance(exc, DBAPIError):
            log.exception("database error")
        else:
            log.exception("unexpected error")
        if app.config.get("PROPAGATE_UNEXPECTED"):
            raise exc
        message = tr(_l("Something went wrong on our side. Nothing was changed."))
        if wants_json():
            return envelope("internal", message, 500)
        return render_template("errors/error.html", status=500, message=message), 500
