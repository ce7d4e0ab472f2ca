"""Limits on failed logins (the login page and token creation), shared by every worker.

SPEC §2: only FAILED attempts count; a successful login is never throttled and never
counted (a clinic behind one address logs in all morning). Each failed attempt is a row
of ``login_attempt`` per key: the client's address, and the typed username. Before the
password is checked, :func:`check` refuses (429 with the seconds to wait) a client whose
address, or a username, already failed the allowed number of times within the window;
the password is then not even looked at, so a guesser learns nothing from a refused try.
:func:`record_failure` writes the failure (the caller keeps it although the answer is an
error: ``keep_changes_on_error``); :func:`record_success` forgets the username's failures
(the limit counts failures in a row), never the address's (others share it).

The per-account lockout (``LOGIN_MAX_FAILURES`` in a row locks the account) is kept on the
user's row (``auth.services.authenticate``); these limits also cover unknown usernames and
many accounts tried from one address. The address is ``request.remote_addr``: behind a
reverse proxy it is read from ``X-Forwarded-For`` only when ``TRUSTED_PROXIES`` says how
many proxies to trust (``formulary.create_app`` installs ``ProxyFix`` then).
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from formulary.auth.models import LoginAttempt
from formulary.db import utcnow
from formulary.domain.errors import DomainError
from formulary.domain.messages import msg


class TooManyAttempts(DomainError):
    code = "too_many_requests"
    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def ip_key(address: str | None) -> str:
    return f"ip:{(address or 'unknown')[:70]}"


def username_key(username) -> str | None:
    if not isinstance(username, str) or not username.strip():
        return None
    digest = hashlib.sha256(username.strip().lower().encode("utf-8")).hexdigest()
    return f"user:{digest}"


def _keys(address: str | None, username) -> list[str]:
    keys = [ip_key(address)]
    user_key = username_key(username)
    if user_key is not None:
        keys.append(user_key)
    return keys


def check(session: Session, *, address: str | None, username, per_ip: int, per_username: int,
          window_seconds: int, now: datetime | None = None) -> None:
    """Raise ``TooManyAttempts`` (with the seconds to wait) when the address or the
    username already failed ``per_ip`` / ``per_username`` times within the window. A limit
    of 0 is off. Failures older than the window are pruned here."""
    now = now or utcnow()
    start = now - timedelta(seconds=window_seconds)
    session.execute(delete(LoginAttempt).where(LoginAttempt.at <= start))
    wait = 0
    for key, limit in zip(_keys(address, username), (per_ip, per_username)):
        if limit <= 0:
            continue
        count = session.execute(
            select(func.count()).select_from(LoginAttempt)
            .where(LoginAttempt.key == key, LoginAttempt.at > start)
        ).scalar_one()
        if count >= limit:
            # The oldest failures leave the window first; wait until enough have left.
            ats = session.execute(
                select(LoginAttempt.at).where(LoginAttempt.key == key, LoginAttempt.at > start)
                .order_by(LoginAttempt.at).limit(count - limit + 1)
            ).scalars().all()
            free_at = ats[-1] + timedelta(seconds=window_seconds)
            wait = max(wait, math.ceil((free_at - now).total_seconds()), 1)
    if wait:
        raise TooManyAttempts(
            msg("Too many failed login attempts: wait %(wait)s second(s) before trying again.",
                wait=wait), wait)


def record_failure(session: Session, *, address: str | None, username,
                   now: datetime | None = None) -> None:
    """Count one failed attempt against the address and the typed username."""
    now = now or utcnow()
    session.add_all([LoginAttempt(key=key, at=now) for key in _keys(address, username)])
    session.flush()


def record_success(session: Session, *, username) -> None:
    """A successful login: the username's failures no longer count (failures in a row).
    The address's failures stay (other people share the address)."""
    key = username_key(username)
    if key is not None:
        session.execute(delete(LoginAttempt).where(LoginAttempt.key == key))
