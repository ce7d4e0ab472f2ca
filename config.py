"""Configuration classes.

``DATABASE_URL`` overrides the database of every class. Development keeps a SQLite
file under ``instance/``; Production refuses to start without ``SECRET_KEY``.
"""

from __future__ import annotations

import os
import tempfile
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
    # Languages (SPEC §13): a user's choice in their profile, else the browser's
    # Accept-Language among LANGUAGES, else DEFAULT_LOCALE. Money is printed in MONEY_CURRENCY.
    LANGUAGES = ("en", "fr")
    DEFAULT_LOCALE = os.environ.get("DEFAULT_LOCALE", "en")
    MONEY_CURRENCY = os.environ.get("MONEY_CURRENCY", "EUR")
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")
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
    # The most a whole request may hold, in bytes (werkzeug's limit): a larger one is refused
    # with 413 before any of it is read or anything is changed (the API's envelope, code
    # "too_large"; a page's error message). The largest legitimate requests are uploads of
    # at most 10 MB (a signed consent scan, formulary/domain/scans.py; a delivery sheet,
    # formulary/reports/services.py) plus the form around them: 16 MB leaves room for that,
    # so a file just over 10 MB still gets its own, more precise, refusal.
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", str(16 * 2**20)))
    # Beyond-use policy in hours per storage (after USP <797> category 1).
    BEYOND_USE_HOURS = {"room": 12, "fridge": 24}
    EXPIRING_WITHIN_DAYS = 90
    # Four eyes on formulations (SPEC §12): a clinic with one pharmacist lets the writer of
    # a draft approve it by typing the cocktail's name; the audit entry says so.
    SINGLE_PHARMACIST_MODE = os.environ.get("SINGLE_PHARMACIST_MODE", "").lower() in ("1", "true", "yes")
    SQLITE_BUSY_TIMEOUT = 15  # seconds a request waits for another writer before failing clearly
    # /baseline, the benchmarks' reference page, exists only when this is on (or TESTING).
    BENCHMARK = os.environ.get("BENCHMARK", "").lower() in ("1", "true", "yes")
    TESTING = False

    # Background jobs (SPEC §14): huey's queue on a SQLite file under instance/ (one
    # workstation, no extra server), on Redis when REDIS_URL is set (several app servers).
    REDIS_URL = os.environ.get("REDIS_URL") or None
    JOB_QUEUE_PATH = os.environ.get("JOB_QUEUE_PATH") or str(INSTANCE_DIR / "job-queue.db")
    JOB_QUEUE_NAME = os.environ.get("JOB_QUEUE_NAME", "formulary")
    # Where finished files wait for their download (shared storage with several servers).
    JOB_FILES_DIR = os.environ.get("JOB_FILES_DIR") or str(INSTANCE_DIR / "job-files")
    JOB_KEEP_HOURS = 24          # a finished file is deleted this long after it was made
    JOB_WORKERS = int(os.environ.get("JOB_WORKERS", "2"))  # threads of one worker process
    # The worker's CPU priority: `nice` added when it starts (0: as the server's). Exports
    # and backups are long and can wait; the pages a person is waiting for come first.
    WORKER_NICE = int(os.environ.get("WORKER_NICE", "10"))
    JOB_HEARTBEAT_SECONDS = 5    # a running job's row is touched this often
    JOB_STALE_SECONDS = 60       # ... and without a touch for this long, its worker is dead
    JOB_MAX_ATTEMPTS = 2         # a job whose worker died is queued again, this many runs in all
    # Exports of at most this many rows are written inside the request; larger ones are jobs.
    EXPORT_INLINE_MAX_ROWS = int(os.environ.get("EXPORT_INLINE_MAX_ROWS", "20000"))
    # Delivery sheets of more rows than this are received by a job.
    DELIVERY_INLINE_MAX_ROWS = int(os.environ.get("DELIVERY_INLINE_MAX_ROWS", "200"))
    # The nightly backup: at BACKUP_AT clinic time, into BACKUP_DIR, kept BACKUP_KEEP_DAYS days.
    BACKUP_DIR = os.environ.get("BACKUP_DIR") or str(INSTANCE_DIR / "backups")
    BACKUP_AT = os.environ.get("BACKUP_AT", "02:00")
    BACKUP_KEEP_DAYS = int(os.environ.get("BACKUP_KEEP_DAYS", "14"))
    # The daily digest, at DIGEST_AT clinic time, by SMTP. No SMTP_HOST: no mail is sent.
    DIGEST_AT = os.environ.get("DIGEST_AT", "07:00")
    SMTP_HOST = os.environ.get("SMTP_HOST") or None
    SMTP_PORT = int(os.environ.get("SMTP_PORT", "25"))
    SMTP_USERNAME = os.environ.get("SMTP_USERNAME") or None
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD") or None
    SMTP_STARTTLS = os.environ.get("SMTP_STARTTLS", "").lower() in ("1", "true", "yes")
    SMTP_SSL = os.environ.get("SMTP_SSL", "").lower() in ("1", "true", "yes")
    MAIL_FROM = os.environ.get("MAIL_FROM", "formulary@localhost")


class DevelopmentConfig(Config):
    DEBUG = False
    SECRET_KEY = os.environ.get("SECRET_KEY") or "dev-only-not-secret"


# Each test process's own directory, under the run's (tests/conftest.py makes it and removes
# it when the run ends) or, outside pytest, under the system's temporary directory.
_TEST_DIR = (Path(os.environ.get("FORMULARY_TEST_TMP") or tempfile.gettempdir())
             / f"formulary-test-{os.getpid()}")


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
    # The queue and the files of jobs in a directory of this test process, never the
    # instance's; the jobs tests give each test its own (tests/jobs). Never Redis by accident.
    REDIS_URL = None
    JOB_QUEUE_PATH = str(_TEST_DIR / "job-queue.db")
    JOB_FILES_DIR = str(_TEST_DIR / "job-files")
    BACKUP_DIR = str(_TEST_DIR / "backups")
    SMTP_HOST = None


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
