"""Limits on failed logins, page and token creation (SPEC §2): only FAILED attempts count,
per client address and per username, kept in the database (shared by every worker), 429
with Retry-After; a successful login is never throttled nor counted. X-Forwarded-For is
read only behind configured proxies (``TRUSTED_PROXIES``)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.middleware.proxy_fix import ProxyFix

from formulary import trust_proxies
from formulary.auth import ratelimit
from formulary.auth.models import LoginAttempt, User
from formulary.db import utcnow
from formulary.extensions import db
from tests.conftest import PASSWORD, make_app


@pytest.fixture
def limits(app):
    app.config.update(LOGIN_RATE_PER_IP=10, LOGIN_RATE_PER_USERNAME=5,
                      LOGIN_RATE_WINDOW_SECONDS=60, LOGIN_MAX_FAILURES=100)
    return app.config


def attempts() -> int:
    db.session.rollback()
    return db.session.execute(select(func.count()).select_from(LoginAttempt)).scalar_one()


def token(client, username, password="wrong password", addr="10.0.0.1", headers=None):
    return client.post("/api/v1/tokens", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": addr}, headers=headers or {})


def test_five_failures_per_username_then_429_with_retry_after(client, make_user, limits):
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


def test_ten_failures_per_address_then_429(client, limits):
    for i in range(10):
        assert token(client, f"ghost{i}").status_code == 401
    r = token(client, "ghost-new")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert token(client, "ghost-new", addr="10.0.0.2").status_code == 401  # another address


def test_successful_logins_are_never_throttled(client, make_user, limits):
    """A clinic behind one address logs in all morning: 20 token requests in a row of one
    user, then of several users, from one address, all 201 (limits are 10 and 5)."""
    user = make_user("pharmacist")
    for _ in range(20):
        assert token(client, user.username, PASSWORD).status_code == 201
    users = [make_user("practitioner") for _ in range(4)]
    for i in range(20):
        assert token(client, users[i % 4].username, PASSWORD).status_code == 201
    for _ in range(12):  # the page too
        r = client.post_form("/login", {"username": user.username, "password": PASSWORD})
        assert r.status_code == 302
        client.post_form("/logout", form_url="/dashboard")
    assert attempts() == 0  # nothing was counted


def test_failures_are_still_limited_after_successes(client, make_user, limits):
    user = make_user("pharmacist")
    for _ in range(15):
        assert token(client, user.username, PASSWORD).status_code == 201
    for i in range(10):
        assert token(client, f"ghost{i}").status_code == 401
    assert token(client, "ghost-new").status_code == 429
    # The address is over its failure limit: no login is even tried from it, not even a
    # correct one (a guesser would otherwise learn from a 201 that a guess was right).
    assert token(client, user.username, PASSWORD).status_code == 429
    assert token(client, user.username, PASSWORD, addr="10.0.0.2").status_code == 201


def test_a_success_clears_the_usernames_failures_not_the_addresss(client, make_user, limits):
    user = make_user("pharmacist")
    for _ in range(4):
        assert token(client, user.username).status_code == 401
    assert token(client, user.username, PASSWORD).status_code == 201
    for _ in range(4):  # four more in a row: under the username's limit of five
        assert token(client, user.username).status_code == 401
    assert token(client, user.username, PASSWORD).status_code == 201
    # The address keeps its 8 failures: two more, and it is refused.
    for i in range(2):
        assert token(client, f"ghost{i}").status_code == 401
    assert token(client, "ghost-new").status_code == 429


def test_failed_attempts_are_recorded_though_the_request_fails(client, make_user, limits):
    """The 401 rolls the request back, but the failures (and the failed-login count) stay."""
    user = make_user("pharmacist")
    token(client, user.username)
    token(client, "ghost")
    assert attempts() == 4  # address + username, twice
    assert db.session.get(User, user.id).failed_logins == 1
    # A refused (429) attempt is not recorded: the window slides at the allowed pace.
    limits["LOGIN_RATE_PER_IP"] = 2
    assert token(client, "ghost").status_code == 429
    assert attempts() == 4


def test_the_window_slides_and_old_failures_are_pruned(app, make_user, limits):
    now = utcnow()
    who = dict(address="10.0.0.1", username="ana")
    kw = dict(who, per_ip=10, per_username=2, window_seconds=60)
    ratelimit.record_failure(db.session, now=now - timedelta(seconds=50), **who)
    ratelimit.record_failure(db.session, now=now - timedelta(seconds=20), **who)
    with pytest.raises(ratelimit.TooManyAttempts) as refused:
        ratelimit.check(db.session, now=now, **kw)
    assert refused.value.retry_after == 10  # the first failure leaves the window in 10 s
    ratelimit.check(db.session, now=now + timedelta(seconds=11), **kw)
    # The failure of 50 s ago was pruned: only the last one remains (address + username).
    assert db.session.execute(select(func.count()).select_from(LoginAttempt)).scalar_one() == 2
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
    assert "Too many failed login attempts" in r.get_data(as_text=True)
    assert client.get("/users").status_code == 302  # not logged in


# --- the client's address behind a proxy ---------------------------------------------------

def test_x_forwarded_for_is_ignored_by_default(client, limits):
    """A client rotating the header cannot dodge the per-address limit."""
    assert not isinstance(client.application.wsgi_app, ProxyFix)
    for i in range(10):
        r = token(client, f"ghost{i}", headers={"X-Forwarded-For": f"192.0.2.{i}"})
        assert r.status_code == 401
    r = token(client, "ghost-new", headers={"X-Forwarded-For": "192.0.2.200"})
    assert r.status_code == 429
    keys = db.session.execute(select(LoginAttempt.key).distinct()).scalars().all()
    assert "ip:10.0.0.1" in keys and not any(k.startswith("ip:192.") for k in keys)


@pytest.fixture
def behind_one_proxy(app):
    """The shared app as ``create_app`` makes it with ``TRUSTED_PROXIES = 1``."""
    original = app.wsgi_app
    app.config["TRUSTED_PROXIES"] = 1
    trust_proxies(app)
    try:
        yield
    finally:
        app.wsgi_app = original


def test_x_forwarded_for_is_honoured_behind_a_configured_proxy(client, limits, behind_one_proxy):
    proxy = "10.0.0.1"
    for i in range(10):
        r = token(client, f"ghost{i}", addr=proxy, headers={"X-Forwarded-For": "198.51.100.7"})
        assert r.status_code == 401
    assert token(client, "ghost-new", addr=proxy,
                 headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 429
    # Another client behind the same proxy is not blocked by the first one's failures.
    assert token(client, "ghost-new", addr=proxy,
                 headers={"X-Forwarded-For": "198.51.100.8"}).status_code == 401
    # A client prepending an address of its choice is still the address the proxy saw.
    r = token(client, "ghost-new", addr=proxy,
              headers={"X-Forwarded-For": "203.0.113.1, 198.51.100.7"})
    assert r.status_code == 429
    keys = set(db.session.execute(select(LoginAttempt.key)).scalars())
    assert {"ip:198.51.100.7", "ip:198.51.100.8"} <= keys and "ip:10.0.0.1" not in keys


def test_create_app_trusts_proxies_only_when_configured():
    assert not isinstance(make_app("sqlite://").wsgi_app, ProxyFix)
    fixed = make_app("sqlite://", TRUSTED_PROXIES=2).wsgi_app
    assert isinstance(fixed, ProxyFix) and fixed.x_for == 2 and fixed.x_host == 0


# --- an unknown user and a wrong password: same answer, same work ----------------------------

@pytest.fixture
def hash_work(monkeypatch):
    """The password hashes computed, with their cost parameters: hashlib's key
    derivations wrapped with a recorder (werkzeug calls them through the module)."""
    calls: list[tuple] = []
    pbkdf2, scrypt = hashlib.pbkdf2_hmac, hashlib.scrypt

    def counted_pbkdf2(name, password, salt, iterations, *args, **kw):
        calls.append(("pbkdf2", name, iterations))
        return pbkdf2(name, password, salt, iterations, *args, **kw)

    def counted_scrypt(password, *, salt, n, r, p, **kw):
        calls.append(("scrypt", n, r, p))
        return scrypt(password, salt=salt, n=n, r=r, p=p, **kw)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counted_pbkdf2)
    monkeypatch.setattr(hashlib, "scrypt", counted_scrypt)
    return calls


def _strip(html: str, *words: str) -> str:
    import re

    html = re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "", html)
    for w in words:
        html = html.replace(w, "NAME")
    return html


@pytest.mark.parametrize("method", ["pbkdf2:sha256:1234", "scrypt:1024:8:1"])
def test_unknown_user_and_wrong_password_do_the_same_work(app, client, make_user, limits,
                                                          hash_work, method):
    """Same body, and the same hashing (one hash of the same method and cost): the unknown
    user, the locked and the inactive account pay a dummy check. Counted, not timed."""
    limits["LOGIN_RATE_PER_IP"] = limits["LOGIN_RATE_PER_USERNAME"] = 0
    app.config["PASSWORD_HASH_METHOD"] = method
    user = make_user("pharmacist")
    locked = make_user("pharmacist")
    inactive = make_user("pharmacist")
    locked.locked_until = utcnow() + timedelta(minutes=10)
    inactive.active = False
    db.session.commit()
    token(client, "warm-up")  # the dummy hash is made once per method
    work = {}
    for name in (user.username, "nobody-here", locked.username, inactive.username):
        hash_work.clear()
        r = token(client, name)
        assert r.status_code == 401
        work[name] = list(hash_work)
    expected = [("pbkdf2", "sha256", 1234)] if method.startswith("pbkdf2") else [("scrypt", 1024, 8, 1)]
    assert work == {name: expected for name in work}

    known = token(client, user.username).get_json()
    unknown = token(client, "nobody-here").get_json()
    assert known == unknown == {"error": {"code": "unauthorized", "fields": {},
                                          "message": "Wrong username or password."}}
    hash_work.clear()
    page_known = client.post_form("/login", {"username": user.username, "password": "wrong"})
    known_work = list(hash_work)
    hash_work.clear()
    page_unknown = client.post_form("/login", {"username": "nobody-here", "password": "wrong"})
    assert known_work == list(hash_work) == expected
    assert page_known.status_code == page_unknown.status_code == 401
    assert (_strip(page_known.get_data(as_text=True), user.username)
            == _strip(page_unknown.get_data(as_text=True), "nobody-here"))


def test_a_refused_attempt_does_no_hashing(client, make_user, limits, hash_work):
    user = make_user("pharmacist")
    for _ in range(5):
        token(client, user.username)
    hash_work.clear()
    assert token(client, user.username, PASSWORD).status_code == 429
    assert hash_work == []
