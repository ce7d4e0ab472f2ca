"""Every route of the pages and the API, asked by every role and by nobody.

The expected permission of each endpoint is written in the areas' tables
(``tests/<area>/access.py``), from SPEC §2; the matrix of roles is
``formulary.auth.permissions``. A route that no table names fails the test, so a new
route cannot slip in unguarded.

- anonymous: a page redirects to the login page; an API route answers 401
- a role without the permission: 403
- a role with it: anything but 401, 403 or a redirect to the login page
"""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import tests
from formulary.auth.permissions import ROLES, role_may


def expected_table() -> dict:
    table: dict = {}
    for pkg in pkgutil.iter_modules(tests.__path__):
        if not pkg.ispkg:
            continue
        try:
            module = importlib.import_module(f"tests.{pkg.name}.access")
        except ModuleNotFoundError:
            continue
        overlap = set(table) & set(module.ROUTES)
        assert not overlap, f"endpoints named twice: {overlap}"
        table.update(module.ROUTES)
    return table


def _url(rule) -> str:
    return re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: "1" if m.group(1) == "int" else "x", rule.rule)


def _routes(app):
    # The logout goes last: it ends the session the other requests ride on.
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.endpoint == "auth.logout"):
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        for method in methods:
            yield rule, method


def test_every_route_is_in_a_table(app):
    table = expected_table()
    missing = sorted({r.endpoint for r, _ in _routes(app)} - set(table))
    assert not missing, f"routes with no expected permission: {missing}"
    stale = sorted(set(table) - {r.endpoint for r, _ in _routes(app)})
    assert not stale, f"table names routes that do not exist: {stale}"


def test_declared_permissions_match_the_tables(app):
    """The permission a view declares is the one the spec's table expects."""
    table = expected_table()
    for rule, _ in _routes(app):
        view = app.view_functions[rule.endpoint]
        declared = getattr(view, "page_permission", getattr(view, "api_permission", "undeclared"))
        if rule.endpoint in ("static", "bootstrap.static", "api.openapi_document"):
            continue
        assert declared == table[rule.endpoint], rule.endpoint


@pytest.mark.parametrize("who", ["anonymous", *ROLES])
def test_role_matrix(app, client, make_user, who):
    from formulary.auth import services
    from formulary.extensions import db

    table = expected_table()
    headers = {}
    if who != "anonymous":
        user = make_user(who)
        # Another user's token first, so that /tokens/1 (revoked by the matrix) is not
        # the token the matrix rides on.
        services.create_token(db.session, make_user("practitioner"), days=1)
        token, _ = services.create_token(db.session, user, days=1)
        db.session.commit()
        with client.session_transaction() as sess:
            sess["_user_id"] = user.get_id()
        headers = {"Authorization": f"Bearer {token}"}
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # the matrix asks about roles, not CSRF
    app.config["PROPAGATE_UNEXPECTED"] = True
    failures = []
    for rule, method in _routes(app):
        permission = table[rule.endpoint]
        url = _url(rule)
        is_api = url.startswith("/api/")
        kwargs = {"headers": headers if is_api else {}}
        if method in ("POST", "PUT", "PATCH") and is_api:
            kwargs["json"] = {}
        response = client.open(url, method=method, **kwargs)
        status = response.status_code
        to_login = status in (301, 302, 303) and "/login" in response.headers.get("Location", "")
        if permission is None:
            # public: its own answer (the login page, a redirect to it, 401 for bad
            # credentials), never a refusal for the role
            ok = status != 403 and status < 500
            want = "open to all"
        elif who == "anonymous":
            ok = status == 401 if is_api else to_login
            want = "401" if is_api else "redirect to login"
        elif role_may(who, permission):
            ok = status not in (401, 403) and not to_login and status < 500
            want = "allowed"
        else:
            ok = status == 403
            want = "403"
        if not ok:
            failures.append(f"{method} {url} as {who}: {status}, wanted {want}")
        db.session.rollback()
    assert not failures, "\n".join(failures)
