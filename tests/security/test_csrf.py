"""Every form of the application refuses a POST with no CSRF token or a forged one
(400), and nothing changes: the row count of every table is the same after."""

from __future__ import annotations

import itertools
import re

from tests.conftest import _CSRF_RE
from tests.security.fixtures import seed_objects, table_counts, url_for_rule


def page_post_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/", "/static")) or "static" in rule.endpoint:
            continue
        if "POST" in rule.methods:
            yield rule


def test_there_are_forms_to_check(app):
    assert len(list(page_post_rules(app))) >= 15


def test_every_form_refuses_a_missing_or_forged_csrf_token(app, client, login_as, request):
    seed_objects(request)
    admin = login_as("admin")  # every page opens: only the token can refuse
    # A genuine token, but of another session: it must not open this one.
    other = app.test_client()
    other_token = _CSRF_RE.search(other.get("/login").get_data(as_text=True))
    other_token = other_token.group(1) or other_token.group(2)
    forged = {
        "missing": None,
        "empty": "",
        "garbage": "forged-token",
        "well-formed, wrong signature": "ImFiY2RlZiI.ZZZZZZ.0123456789abcdefghijklmnopq",
        "another session's": other_token,
    }
    before = table_counts()
    failures = []
    rules = sorted(page_post_rules(app), key=lambda r: r.endpoint == "auth.logout")
    for rule, (what, token) in itertools.product(rules, forged.items()):
        url = url_for_rule(rule, 1)
        data = {"name": "changed", "reason": "csrf test", "quantity": "1", "doses": "1",
                "password": "correct horse battery", "username": admin.username}
        if token is not None:
            data["csrf_token"] = token
        response = client.post(url, data=data)
        if response.status_code != 400 or "reload the page" not in response.get_data(as_text=True):
            failures.append(f"POST {url} with {what} token: {response.status_code}")
    assert not failures, "\n".join(failures)
    assert table_counts() == before
    # The refused logout did not log the admin out.
    assert client.get("/users").status_code == 200


def test_the_forms_carry_a_token(app, client, login_as):
    """The other side: a page with a form renders the token the check wants."""
    login_as("admin")
    html = client.get("/users/new").get_data(as_text=True)
    assert re.search(r'name="csrf_token"', html)
