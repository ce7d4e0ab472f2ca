"""The session cookie of a logged-in administrator opens no API route: the API reads only
the bearer token, so another site cannot ride the cookie into the CSRF-exempt API."""

from __future__ import annotations

from tests.security.fixtures import seed_objects, table_counts, url_for_rule

PUBLIC = {"api.openapi_document", "api.create_token"}


def test_a_session_cookie_opens_no_api_route(app, client, login_as, request):
    seed_objects(request)
    login_as("admin")
    assert client.get("/users").status_code == 200  # the cookie does open the pages
    before = table_counts()
    failures, checked = [], 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint in PUBLIC:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            url = url_for_rule(rule, 1)
            kw = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            r = client.open(url, method=method, **kw)
            body = r.get_json(silent=True) or {}
            if r.status_code != 401 or body.get("error", {}).get("code") != "unauthorized":
                failures.append(f"{method} {url}: {r.status_code}")
            checked += 1
    assert not failures, "\n".join(failures)
    assert checked >= 40
    assert table_counts() == before
