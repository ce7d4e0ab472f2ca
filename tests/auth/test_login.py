"""Logging in and out, the lockout, CSRF on forms, sessions ended by an admin."""

from datetime import timedelta

from formulary.auth.models import User
from formulary.db import utcnow
from formulary.extensions import db
from tests.conftest import PASSWORD


def login(client, username, password=PASSWORD, **kw):
    return client.post_form("/login", {"username": username, "password": password}, **kw)


def test_login_then_dashboard_then_logout(client, make_user):
    user = make_user("pharmacist")
    r = login(client, user.username)
    assert r.status_code == 302 and r.headers["Location"].endswith("/dashboard")
    assert client.get("/dashboard").status_code == 200
    r = client.post_form("/logout", form_url="/dashboard")
    assert r.status_code == 302
    assert "/login" in client.get("/dashboard").headers["Location"]


def test_username_is_case_insensitive(client, make_user):
    user = make_user("manager", username="morgan")
    assert login(client, "  MORGAN ").status_code == 302


def test_wrong_password_and_unknown_user_get_the_same_message(client, make_user):
    user = make_user("pharmacist")
    wrong = login(client, user.username, "not the password")
    unknown = login(client, "nobody-here", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert b"Wrong username or password." in wrong.data
    assert b"Wrong username or password." in unknown.data


def test_repeated_failures_lock_the_account_for_a_while(app, client, make_user):
    user = make_user("pharmacist")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        login(client, user.username, "wrong password!")
    # even the right password is refused while locked, with a message that says why
    r = login(client, user.username)
    assert r.status_code == 401
    assert b"locked" in r.data
    db.session.expire_all()
    locked = db.session.get(User, user.id)
    assert locked.locked_until > utcnow() + timedelta(minutes=app.config["LOGIN_LOCK_MINUTES"] - 1)
    # the lock ends by itself
    locked.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert login(client, user.username).status_code == 302


def test_inactive_user_cannot_log_in(client, make_user):
    user = make_user("pharmacist")
    user.active = False
    db.session.commit()
    assert login(client, user.username).status_code == 401


def test_form_without_csrf_token_is_refused(client, make_user):
    user = make_user("pharmacist")
    r = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert r.status_code == 400
    r = client.post("/login", data={"username": user.username, "password": PASSWORD,
                                    "csrf_token": "forged"})
    assert r.status_code == 400
    assert "/login" in client.get("/dashboard").headers["Location"]


def test_next_parameter_cannot_send_the_user_elsewhere(client, make_user):
    user = make_user("pharmacist")
    r = client.post_form("/login?next=https://evil.example/x",
                         {"username": user.username, "password": PASSWORD})
    assert r.headers["Location"].endswith("/dashboard")
    client.post_form("/logout", form_url="/dashboard")
    r = client.post_form("/login?next=/audit/", {"username": user.username, "password": PASSWORD})
    assert r.headers["Location"].endswith("/audit/")


def test_password_reset_ends_the_users_sessions(client, app, make_user):
    from formulary.auth import services

    user = make_user("pharmacist")
    login(client, user.username)
    assert client.get("/dashboard").status_code == 200
    services.reset_password(db.session, "test", user, "another long password")
    db.session.commit()
    assert "/login" in client.get("/dashboard").headers["Location"]


def test_deactivation_ends_the_users_page_sessions(client, app, make_user):
    """SPEC §2: a deactivation ends the user's sessions. The user's logged-in browser is
    sent to the login page on its next request; reactivating the account does not bring
    that session back (they log in again)."""
    user = make_user("pharmacist")
    login(client, user.username)
    assert client.get("/dashboard").status_code == 200
    admin_client = app.test_client()
    admin = make_user("admin")
    assert login(admin_client, admin.username).status_code == 302
    page = f"/users/{user.id}"
    r = admin_client.post_form(page, {"full_name": "", "role": "pharmacist", "reason": "left",
                                      "submit": "1"})  # the "active" box not ticked
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).active is False
    r = client.get("/dashboard")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    r = admin_client.post_form(page, {"full_name": "", "role": "pharmacist", "active": "y",
                                      "reason": "back", "submit": "1"})
    assert r.status_code == 302
    r = client.get("/dashboard")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert login(client, user.username).status_code == 302
    assert client.get("/dashboard").status_code == 200
