"""The role matrix over the cocktail routes alone (the whole-app matrix lives in
tests/test_role_matrix.py and reads tests/cocktails/access.py)."""

from __future__ import annotations

import pytest

from formulary.auth.permissions import ROLES, role_may
from tests.cocktails.access import ROUTES
from tests.test_role_matrix import _routes, _url


@pytest.mark.parametrize("who", ["anonymous", *ROLES])
def test_cocktail_routes_by_role(app, client, make_user, who):
    from formulary.auth import services
    from formulary.extensions import db

    headers = {}
    if who != "anonymous":
        user = make_user(who)
        token, _ = services.create_token(db.session, user, days=1)
        db.session.commit()
        with client.session_transaction() as sess:
            sess["_user_id"] = user.get_id()
        headers = {"Authorization": f"Bearer {token}"}
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    failures = []
    seen = set()
    for rule, method in _routes(app):
        if rule.endpoint not in ROUTES:
            continue
        seen.add(rule.endpoint)
        permission, url = ROUTES[rule.endpoint], _url(rule)
        is_api = url.startswith("/api/")
        kwargs = {"headers": headers if is_api else {}}
        if method in ("POST", "PUT", "PATCH") and is_api:
            kwargs["json"] = {}
        response = client.open(url, method=method, **kwargs)
        status = response.status_code
        to_login = status in (301, 302, 303) and "/login" in response.headers.get("Location", "")
        if who == "anonymous":
            ok = status == 401 if is_api else to_login
        elif role_may(who, permission):
            ok = status not in (401, 403) and not to_login and status < 500
        else:
            ok = status == 403
        if not ok:
            failures.append(f"{method} {url} as {who}: {status}")
        db.session.rollback()
    assert seen == set(ROUTES)
    assert not failures, "\n".join(failures)
