"""Configuration classes.

``DATABASE_URL`` overrides the database of every class. Development keeps a SQLite
file under ``instance/``; Production refuses to start without ``SECRET_KEY``.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def _database_url(default: str) -> str:
    url = os.environ.get("DATABASE_URL", default)
    # Heroku-style URLs name the dialect "postgres"; SQLAlchemy wants "postgresql".
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    return url


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = _database_url(f"sqlite:///{INSTANCE_DIR / 'formulary.db'}")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    SQLALCHEMY_RECORD_QUERIES = False
    BOOTSTRAP_SERVE_LOCAL = True  # clinics lose their internet: never a CDN
    BOOTSTRAP_BTN_SIZE = "md"
    WTF_CSRF_TIME_LIMIT = 8 * 3600  # a whole shift at the bench
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = 12 * 3600
    CLINIC_NAME = os.environ.get("CLINIC_NAME", "Formulary clinic")
    CLINIC_TIMEZONE = os.environ.get("CLINIC_TIMEZONE", "Europe/Paris")
    # The currency of unit costs and stock values, shown with every amount of money in
    # the exports (an ISO 4217 code).
    MONEY_CURRENCY = os.environ.get("MONEY_CURRENCY", "EUR")
    # Lock an account for LOGIN_LOCK_MINUTES after LOGIN_MAX_FAILURES failed logins in a row.
    LOGIN_MAX_FAILURES = 5
    LOGIN_LOCK_MINUTES = 15
    API_TOKEN_DAYS = 30
    # Rate limits of POST /login and POST /api/v1/tokens, shared by every worker (a table):
    # at most so many attempts per client IP and per username within the window; over it,
    # 429 with Retry-After. 0 turns a limit off (e.g. a load test logging in from loopback).
    LOGIN_RATE_WINDOW_SECONDS = 60
    LOGIN_RATE_PER_IP = int(os.environ.get("LOGIN_RATE_PER_IP", "10"))
    LOGIN_RATE_PER_USERNAME = int(os.environ.get("LOGIN_RATE_PER_USERNAME", "5"))
    # How many reverse proxies stand in front of the app. 0 (the default): the client's
    # address is the connection's, and X-Forwarded-For is ignored (anyone can send it, and
    # a client rotating it would dodge the per-address limit on failed logins). N > 0:
    # werkzeug's ProxyFix takes the address (and scheme) the N-th proxy from the app saw.
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
    API_MAX_PER_PAGE = 500
    # Beyond-use policy in hours per storage (after USP <797> category 1).
    BEYOND_USE_HOURS = {"room": 12, "fridge": 24}
    EXPIRING_WITHIN_DAYS = 90
    # Four eyes on formulations (SPEC §12): a clinic with one pharmacist lets the writer of
    # a draft approve it by typing the cocktail's name; the audit entry says so.
    SINGLE_PHARMACIST_MODE = os.environ.get("SINGLE_PHARMACIST_MODE", "").lower() in ("1", "true", "yes")
    SQLITE_BUSY_TIMEOUT = 15  # seconds a request waits for another writer before failing clearly
    TESTING = False


class DevelopmentConfig(Config):
    DEBUG = False
    SECRET_KEY = os.environ.get("SECRET_KEY") or "dev-only-not-secret"


class TestingConfig(Config):
    TESTING = True
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # fast; production keeps scrypt
    SECRET_KEY = "testing"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    WTF_CSRF_ENABLED = True
    SERVER_NAME = None
    # Tests log in many times from one address; the rate-limit tests set their own limits.
    LOGIN_RATE_PER_IP = 1000
    LOGIN_RATE_PER_USERNAME = 1000


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True

    @classmethod
    def check(cls) -> None:
        if not os.environ.get("SECRET_KEY"):
            raise RuntimeError(
                "SECRET_KEY is not set: Formulary refuses to start in production without it."
            )


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
