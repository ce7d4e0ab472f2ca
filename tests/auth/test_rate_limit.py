"""Rate limits of the login page and of token creation: per client address and per
username, kept in the database (shared by every worker), 429 with Retry-After."""

from __future__ import annotations

from datetime import timedelta
from statistics import median
from time import perf_counter

import pytest
from sqlalchemy import func, select

from formulary.auth import ratelimit
from formulary.auth.models import LoginAttempt, User
from formulary.db import utcnow
from formulary.extensions import db
from tests.conftest import PASSWORD


@pytest.fixture
def limits(app):
    app.config.update(LOGIN_RATE_PER_IP=10, LOGIN_RATE_PER_USERNAME=5,
                      LOGIN_RATE_WINDOW_SECONDS=60, LOGIN_MAX_FAILURES=100)
    return app.config


def attempts() -> int:
    db.session.rollback()
    return db.session.execute(select(func.count()).select_from(LoginAttempt)).scalar_one()


def token(client, username, password="wrong password", addr="10.0.0.1"):
    return client.post("/api/v1/tokens", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": addr})


def test_five_attempts_per_username_then_429_with_retry_after(client, make_user, limits):
    user = make_user("pharmacist")
    for i in range(5):
        assert token(client, user.username, addr=f"10.0.0.{i}").status_code == 401
    r = token(client, user.username, PASSWORD, addr="10.0.0.99")  # even the right password
    assert r.status_code == 429
    assert r.get_json()["error"]["code"] == "too_many_requests"
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    # The username is refused from every address; another user is not.
    other = make_user("pharmacist")
    assert token(client, other.username, PASSWORD, addr="10.0.0.99").status_code == 201


def test_ten_attempts_per_address_then_429(client, limits):
    for i in range(10):
        assert token(client, f"ghost{i}").status_code == 401
    r = token(client, "ghost-new")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert token(client, "ghost-new", addr="10.0.0.2").status_code == 401  # another address


def test_failed_attempts_are_recorded_though_the_request_fails(client, make_user, limits):
    """The 401 rolls the request back, but the attempts (and the failed-login count) stay."""
    user = make_user("pharmacist")
    token(client, user.username)
    token(client, "ghost")
    assert attempts() == 4  # address + username, twice
    assert db.session.get(User, user.id).failed_logins == 1
    # A refused (429) attempt is not recorded: the window slides at the allowed pace.
    limits["LOGIN_RATE_PER_IP"] = 2
    assert token(client, "ghost").status_code == 429
    assert attempts() == 4


def test_the_window_slides_and_old_attempts_are_pruned(app, make_user, limits):
    now = utcnow()
    kw = dict(address="10.0.0.1", username="ana", per_ip=10, per_username=2, window_seconds=60)
    ratelimit.check_and_record(db.session, now=now - timedelta(seconds=50), **kw)
    ratelimit.check_and_record(db.session, now=now - timedelta(seconds=20), **kw)
    with pytest.raises(ratelimit.TooManyAttempts) as refused:
        ratelimit.check_and_record(db.session, now=now, **kw)
    assert refused.value.retry_after == 10  # the first attempt leaves the window in 10 s
    ratelimit.check_and_record(db.session, now=now + timedelta(seconds=11), **kw)
    # The attempt of 50 s ago was pruned: only the last two remain (address + username each).
    assert db.session.execute(select(func.count()).select_from(LoginAttempt)).scalar_one() == 4
    assert ratelimit.username_key("Ana ") == ratelimit.username_key("ana")
    assert "ana" not in ratelimit.username_key("ana")  # the typed name is not stored


def test_a_limit_of_zero_is_off(client, limits):
    limits["LOGIN_RATE_PER_IP"] = 0
    for i in range(12):
        assert token(client, f"ghost{i}").status_code == 401


def test_the_login_page_is_rate_limited_too(client, make_user, limits):
    user = make_user("pharmacist")
    for _ in range(5):
        r = client.post_form("/login", {"username": user.username, "password": "wrong"})
        assert r.status_code == 401
    r = client.post_form("/login", {"username": user.username, "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert "Too many login attempts" in r.get_data(as_text=True)
    assert client.get("/users").status_code == 302  # not logged in


def _strip(html: str, *words: str) -> str:
    import re

    html = re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "", html)
    for w in words:
        html = html.replace(w, "NAME")
    return html


def test_unknown_user_and_wrong_password_answer_alike(app, client, make_user, limits):
    """Same body, and about the same time: the unknown user pays a dummy hash check.

    The password hash is made slow here (as in production) so that a skipped check would
    show; medians of a few runs, with a generous tolerance."""
    limits["LOGIN_RATE_PER_IP"] = limits["LOGIN_RATE_PER_USERNAME"] = 0
    app.config["PASSWORD_HASH_METHOD"] = "pbkdf2:sha256:150000"
    user = make_user("pharmacist")
    known = token(client, user.username).get_json()
    unknown = token(client, "nobody-here").get_json()
    assert known == unknown == {"error": {"code": "unauthorized", "fields": {},
                                          "message": "Wrong username or password."}}
    page_known = client.post_form("/login", {"username": user.username, "password": "wrong"})
    page_unknown = client.post_form("/login", {"username": "nobody-here", "password": "wrong"})
    assert page_known.status_code == page_unknown.status_code == 401
    assert (_strip(page_known.get_data(as_text=True), user.username)
            == _strip(page_unknown.get_data(as_text=True), "nobody-here"))

    def timed(name):
        start = perf_counter()
        token(client, name)
        return perf_counter() - start

    runs = {"known": [], "unknown": []}
    for _ in range(7):
        runs["known"].append(timed(user.username))
        runs["unknown"].append(timed("nobody-here"))
    hash_time = min(runs["known"])  # a wrong password costs at least one hash
    known_m, unknown_m = median(runs["known"]), median(runs["unknown"])
    # A skipped hash would make the unknown user about ``hash_time`` faster.
    assert abs(known_m - unknown_m) < 0.5 * hash_time + 0.01, runs
