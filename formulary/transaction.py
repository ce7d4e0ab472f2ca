"""One transaction per request (and per CLI command).

Services flush; nothing below a view commits. After the view, a successful answer
(status < 400) commits and anything else rolls back, so a refused or failed request
leaves nothing behind. A view that must keep its changes even though it answers with an
error (a failed login counts towards the lockout) says so with ``keep_changes_on_error``.
"""

from __future__ import annotations

import logging

from flask import Flask, g, request
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from formulary.db import write_intent
from formulary.errors import conflict_response, discard_changes, unavailable_response
from formulary.extensions import db

log = logging.getLogger(__name__)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def keep_changes_on_error() -> None:
    g.keep_changes_on_error = True


def writes_on_read(view):
    """Mark a GET view that writes (e.g. an audited read of a patient's record), so that
    on SQLite its transaction takes the write lock from the start."""
    view.writes_on_read = True
    return view


def install(app: Flask) -> None:
    @app.before_request
    def _begin():
        view = app.view_functions.get(request.endpoint) if request.endpoint else None
        writes = request.method not in READ_METHODS or getattr(view, "writes_on_read", False)
        g._write_token = write_intent.set(writes)

    @app.after_request
    def _finish(response):
        try:
            if response.status_code < 400 or g.pop("keep_changes_on_error", False):
                db.session.commit()
            else:
                discard_changes()
        except IntegrityError as exc:
            discard_changes()
            log.warning("commit refused by a constraint: %s", exc)
            return conflict_response()
        except (OperationalError, DBAPIError):
            discard_changes()
            log.exception("commit failed")
            return unavailable_response()
        return response

    @app.teardown_request
    def _end(_exc):
        token = g.pop("_write_token", None)
        if token is not None:
            write_intent.reset(token)
