"""Rate limits of the login page and of token creation, shared by every worker.

Each attempt is a row of ``login_attempt``; an attempt is refused when the client's
address or the username already made the allowed number of attempts within the window.
Refused attempts are not recorded (the window slides: a client keeps getting in at the
allowed pace, never faster). The caller keeps the rows even when the login then fails
(``keep_changes_on_error``).
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


def check_and_record(session: Session, *, address: str | None, username, per_ip: int,
                     per_username: int, window_seconds: int, now: datetime | None = None) -> None:
    """Record an attempt, or raise ``TooManyAttempts`` (with the seconds to wait) when
    the address or the username is over its limit. A limit of 0 is off."""
    now = now or utcnow()
    start = now - timedelta(seconds=window_seconds)
    session.execute(delete(LoginAttempt).where(LoginAttempt.at <= start))
    keys = [(ip_key(address), per_ip)]
    user_key = username_key(username)
    if user_key is not None:
        keys.append((user_key, per_username))
    wait = 0
    for key, limit in keys:
        if limit <= 0:
            continue
        count = session.execute(
            select(func.count()).select_from(LoginAttempt)
            .where(LoginAttempt.key == key, LoginAttempt.at > start)
        ).scalar_one()
        if count >= limit:
            # The oldest attempts leave the window first; wait until enough have left.
            ats = session.execute(
                select(LoginAttempt.at).where(LoginAttempt.key == key, LoginAttempt.at > start)
                .order_by(LoginAttempt.at).limit(count - limit + 1)
            ).scalars().all()
            free_at = ats[-1] + timedelta(seconds=window_seconds)
            wait = max(wait, math.ceil((free_at - now).total_seconds()), 1)
    if wait:
        raise TooManyAttempts(
            f"Too many login attempts: wait {wait} second(s) before trying again.", wait)
    session.add_all([LoginAttempt(key=key, at=now) for key, _ in keys])
    session.flush()
