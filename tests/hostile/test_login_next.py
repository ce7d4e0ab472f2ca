"""Where a login sends the user next (``/login?next=``): a path of this site, else the
dashboard. A CR LF in it answered 500 (werkzeug refuses it in the Location header); a
backslash is read by browsers as a slash (``/\\evil.example`` is another site). Hostile
names and passwords on the login page and the token route: refused, never a 500."""

from __future__ import annotations

import pytest

from formulary.extensions import db

NEXT = [("/courses", "/courses"), ("/patients/1?tab=allergies", "/patients/1?tab=allergies"),
        ("//evil.example", "/dashboard"), ("http://evil.example/", "/dashboard"),
        ("/\\evil.example", "/dashboard"), ("\\\\evil.example", "/dashboard"),
        ("/%0d%0aSet-Cookie:x=1", "/dashboard"), ("/\tevil", "/dashboard"),
        ("/%C2%85x", "/x"),  # a NEL is removed with the invisible characters
        ("javascript:alert(1)", "/dashboard"),
        ("%C2%B2", "/dashboard"), ("", "/dashboard")]


@pytest.mark.parametrize("target,lands", NEXT, ids=[n[0][:20] or "empty" for n in NEXT])
def test_login_goes_next_only_to_a_path_of_this_site(app, client, make_user, target, lands):
    make_user("pharmacist", username="alice")
    r = client.post_form(f"/login?next={target}" if "%" in target else "/login",
                         {"username": "alice", "password": "correct horse battery"},
                         query_string=None if "%" in target else {"next": target},
                         form_url="/login")
    assert r.status_code == 302, r.status_code
    assert r.headers["Location"] == lands


@pytest.mark.parametrize("username", ["alice\x00", "²", "a" * 5000, "", "\u200b"])
@pytest.mark.parametrize("password", ["\x00", "x" * 100_000, ""])
def test_hostile_credentials_are_refused_not_500(app, client, make_user, username, password):
    app.config["PROPAGATE_UNEXPECTED"] = False
    make_user("pharmacist", username="alice")
    r = client.post_form("/login", {"username": username, "password": password},
                         form_url="/login")
    assert 400 <= r.status_code < 500, r.status_code
    r = client.post("/api/v1/tokens", json={"username": username, "password": password})
    assert 400 <= r.status_code < 500 and r.get_json()["error"]["code"], r.status_code
    db.session.rollback()
