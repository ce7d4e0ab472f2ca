"""SPEC §2: a password reset or a deactivation ends the user's sessions and revokes their
API tokens. The user is logged in on a page (session cookie) and holds two API tokens
before an admin acts; afterwards the cookie is logged out and each token answers 401."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from formulary.auth import services
from formulary.auth.models import ApiToken, User
from formulary.extensions import db
from tests.conftest import PASSWORD


@pytest.fixture
def logged_in(app, make_user):
    """A pharmacist logged in on a page of their own client, with two API tokens."""
    user = make_user("pharmacist")
    own = app.test_client()
    r = own.post_form("/login", {"username": user.username, "password": PASSWORD})
    assert r.status_code == 302
    tokens = [services.create_token(db.session, user, days=1, label=f"t{i}")[0] for i in range(2)]
    db.session.commit()
    assert own.get("/dashboard").status_code == 200
    for token in tokens:
        assert api_status(own, token) == 200
    return user, own, tokens


def api_status(client, token: str) -> int:
    return client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {token}"}).status_code


def assert_shut_out(user, own, tokens):
    r = own.get("/dashboard")
    assert r.status_code == 302 and "/login" in r.headers["Location"]  # the cookie is dead
    for token in tokens:
        assert api_status(own, token) == 401
    db.session.expire_all()
    rows = db.session.execute(select(ApiToken).where(ApiToken.user_id == user.id)).scalars().all()
    assert len(rows) == 2 and all(row.revoked_at is not None for row in rows)


def test_an_admins_password_reset_on_the_page_ends_sessions_and_revokes_tokens(
        client, login_as, logged_in):
    user, own, tokens = logged_in
    login_as("admin")
    r = client.post_form(f"/users/{user.id}/password", {"reset-password": "a brand new password"},
                         form_url=f"/users/{user.id}")
    assert r.status_code == 302
    assert_shut_out(user, own, tokens)
    # The new password opens a new session and a new token, which work.
    r = own.post_form("/login", {"username": user.username, "password": "a brand new password"})
    assert r.status_code == 302 and own.get("/dashboard").status_code == 200
    r = own.post("/api/v1/tokens", json={"username": user.username,
                                         "password": "a brand new password"})
    assert r.status_code == 201 and api_status(own, r.get_json()["token"]) == 200


def test_the_reset_service_revokes_tokens_whoever_calls_it(app, logged_in):
    """The service itself (page, CLI and any future self-service change share it)."""
    user, own, tokens = logged_in
    services.reset_password(db.session, "test", db.session.get(User, user.id),
                            "another long password")
    db.session.commit()
    assert_shut_out(user, own, tokens)


def test_deactivation_on_the_page_ends_sessions_and_revokes_tokens(client, login_as, logged_in):
    user, own, tokens = logged_in
    login_as("admin")
    r = client.post_form(f"/users/{user.id}", {"role": "pharmacist", "submit": "1"})  # no 'active'
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).active is False
    assert_shut_out(user, own, tokens)
    # Reactivated, the old tokens stay revoked and the old cookie stays logged out.
    r = client.post_form(f"/users/{user.id}", {"role": "pharmacist", "active": "y", "submit": "1"})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).active is True
    assert_shut_out(user, own, tokens)


def test_a_refused_reset_changes_nothing(client, login_as, logged_in):
    user, own, tokens = logged_in
    login_as("admin")
    r = client.post_form(f"/users/{user.id}/password", {"reset-password": "short"},
                         form_url=f"/users/{user.id}")
    assert r.status_code == 302  # back to the user's page with the message
    assert own.get("/dashboard").status_code == 200
    for token in tokens:
        assert api_status(own, token) == 200
