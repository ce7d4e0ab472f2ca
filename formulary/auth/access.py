"""Page access: ``@require(permission)`` on every view that is not public."""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required


def require(permission: str):
    """Anonymous: redirect to the login page. Logged in without the permission: 403."""

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.may(permission):
                abort(403, "Your role may not open this page.")
            return view(*args, **kwargs)

        wrapped.page_permission = permission  # read by the role-matrix test
        return wrapped

    return decorate


def public(view):
    """Mark a page that needs no login (the login page, static files)."""
    view.page_permission = None
    return view
