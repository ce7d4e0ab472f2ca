"""User accounts, logins and API tokens: one function per action, actor passed in."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, joinedload

from formulary.audit.services import record
from formulary.auth import ratelimit
from formulary.auth.models import ApiToken, User
from formulary.auth.permissions import ROLES
from formulary.db import utcnow
from formulary.domain.errors import Duplicate, Forbidden, NotFound, ValidationError
from formulary.domain.messages import msg
from formulary.domain.text import check_text, has_visible

MIN_PASSWORD = 10
# Hashes to check against when the user does not exist, so that an unknown username
# takes as long as a wrong password (no user enumeration by timing); one per hash method.
_DUMMIES: dict[str, str] = {}


def _dummy_check(password: str) -> None:
    from werkzeug.security import check_password_hash, generate_password_hash

    from formulary.auth.models import password_method

    method = password_method()
    if method not in _DUMMIES:
        _DUMMIES[method] = generate_password_hash(secrets.token_urlsafe(16), method=method)
    check_password_hash(_DUMMIES[method], password)


class LoginRefused(ValidationError):
    code = "unauthorized"
    status = 401


def _clean_username(username) -> str:
    if not isinstance(username, str) or not username.strip():
        raise ValidationError("Username is required.", field="username")
    name = username.strip().lower()
    if len(name) > 80 or not all(c.isalnum() or c in "._-" for c in name) or not has_visible(name):
        raise ValidationError("Use letters, digits, '.', '_' or '-' (at most 80).", field="username")
    return name


def _check_role(role) -> str:
    if role not in ROLES:
        raise ValidationError(msg("Role must be one of: %(choices)s.",
                                  choices=', '.join(ROLES)), field="role")
    return role


def _check_password(password) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValidationError(msg("Password must have at least %(minimum)s characters.",
                                  minimum=MIN_PASSWORD),
                              field="password")
    if len(password) > 200:
        raise ValidationError("Password is too long (at most 200 characters).", field="password")
    return password


def user_snapshot(user: User) -> dict:
    return {"username": user.username, "full_name": user.full_name, "role": user.role,
            "active": user.active}


def get_user(session: Session, user_id) -> User:
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None:
        raise NotFound("No such user.")
    return user


def find_user(session: Session, username: str) -> User | None:
    return session.execute(
        select(User).where(User.username == username.strip().lower())
    ).scalar_one_or_none()


def create_user(session: Session, actor, *, username, password, role, full_name="") -> User:
    errors: dict[str, list[str]] = {}
    name = role_ = None
    for field, check, value in (("username", _clean_username, username),
                                ("role", _check_role, role),
                                ("password", _check_password, password)):
        try:
            result = check(value)
        except ValidationError as exc:
            for k, msgs in exc.fields.items():
                errors.setdefault(k, []).extend(msgs)
            continue
        if field == "username":
            name = result
        elif field == "role":
            role_ = result
    try:  # a name holds a visible letter or digit (SPEC §3)
        full_name = check_text(full_name, "full_name", msg("Full name"), max_length=120)
    except ValidationError as exc:
        errors.setdefault("full_name", []).append(exc.message)
    if errors:
        raise ValidationError("The user could not be created.", fields=errors)
    if session.execute(select(func.count()).select_from(User).where(User.username == name)).scalar():
        raise Duplicate(msg("The username '%(name)s' is already taken.",
                            name=name), field="username")
    user = User(username=name, role=role_, full_name=full_name, active=True,
                failed_logins=0, session_version=1)
    user.set_password(password)
    session.add(user)
    session.flush()
    record(session, actor, "user.create", "user", user.id, summary=f"Created user {name} ({role_})",
           after=user_snapshot(user))
    return user


def update_user(session: Session, actor, user: User, *, role=None, active=None, full_name=None,
                reason: str | None = None) -> User:
    before = user_snapshot(user)
    if role is not None:
        user.role = _check_role(role)
    if full_name is not None:
        user.full_name = str(full_name).strip()[:120]
    if active is not None:
        if not isinstance(active, bool):
            raise ValidationError("Active must be true or false.", field="active")
        if getattr(actor, "id", None) == user.id and not active:
            raise ValidationError("You cannot deactivate your own account.", field="active")
        if not active and user.active:
            end_sessions(user)
        user.active = active
    if getattr(actor, "id", None) == user.id and role is not None and role != before["role"]:
        raise ValidationError("You cannot change your own role.", field="role")
    after = user_snapshot(user)
    if after != before:
        session.flush()
        record(session, actor, "user.update", "user", user.id,
               summary=f"Changed user {user.username}", before=before, after=after, reason=reason)
    return user


def set_locale(session: Session, user: User, locale: str | None) -> None:
    """The language of the user's pages; None leaves it to the browser. Only the
    application's languages (``LANGUAGES``)."""
    from flask import current_app

    if locale is not None and locale not in current_app.config.get("LANGUAGES", ("en", "fr")):
        raise ValidationError("Choose one of the application's languages.", field="locale")
    user.locale = locale
    session.flush()


def end_sessions(user: User, now: datetime | None = None) -> int:
    """End everything that lets ``user`` in without the password: their page sessions
    (the session cookie names ``session_version``, which moves on) and their API tokens
    (revoked). Called on a password reset and on a deactivation (SPEC §2). Answers the
    number of tokens revoked."""
    now = now or utcnow()
    user.session_version = (user.session_version or 0) + 1
    revoked = 0
    for token in user.tokens:
        if token.revoked_at is None:
            token.revoked_at = now
            revoked += 1
    return revoked


def reset_password(session: Session, actor, user: User, password) -> None:
    """Set a new password (an admin's reset, or the user's own change): the account is
    unlocked, and the user's sessions end and their API tokens are revoked."""
    _check_password(password)
    user.set_password(password)
    revoked = end_sessions(user)
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    record(session, actor, "user.reset_password", "user", user.id,
           summary=f"Reset the password of {user.username}"
                   + (f"; {revoked} API token(s) revoked" if revoked else ""))


def authenticate(session: Session, username, password, *, max_failures: int,
                 lock_minutes: int, now: datetime | None = None) -> User:
    """Check a login. Repeated failures lock the account for a while.

    An unknown user, a wrong password and an inactive account give the same message
    and (through a dummy hash check) the same time. A locked account says so, since
    the user must know to wait or ask an admin.
    """
    now = now or utcnow()
    refused = LoginRefused("Wrong username or password.")
    if not isinstance(username, str) or not isinstance(password, str) or not username.strip():
        _dummy_check("x")
        raise refused
    user = find_user(session, username)
    if user is None:
        _dummy_check(password)
        raise refused
    if user.locked_until is not None and user.locked_until > now:
        _dummy_check(password)
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        raise LoginRefused(msg("Too many failed logins: this account is locked for "
                               "%(minutes)s more minute(s). An administrator can unlock it "
                               "by resetting the password.",
                               minutes=minutes))
    if not user.check_password(password) or not user.active:
        if user.active:
            user.failed_logins = (user.failed_logins or 0) + 1
            if user.failed_logins >= max_failures:
                user.locked_until = now + timedelta(minutes=lock_minutes)
                user.failed_logins = 0
                record(session, user, "user.locked", "user", user.id,
                       summary=f"Locked {user.username} after {max_failures} failed logins")
        session.flush()
        raise refused
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.flush()
    return user


def log_in(session: Session, username, password, *, address: str | None, config) -> User:
    """One login attempt, page or API: the limits on failed attempts (``ratelimit``), then
    :func:`authenticate`. A failure is counted against the address and the username and
    re-raised (the caller keeps the count though it answers with an error); a success is
    never counted and clears the username's failures. ``config`` holds the ``LOGIN_*``
    settings. Raises ``ratelimit.TooManyAttempts`` (429) or :class:`LoginRefused` (401)."""
    ratelimit.check(session, address=address, username=username,
                    per_ip=config["LOGIN_RATE_PER_IP"], per_username=config["LOGIN_RATE_PER_USERNAME"],
                    window_seconds=config["LOGIN_RATE_WINDOW_SECONDS"])
    try:
        user = authenticate(session, username, password, max_failures=config["LOGIN_MAX_FAILURES"],
                            lock_minutes=config["LOGIN_LOCK_MINUTES"])
    except LoginRefused:
        ratelimit.record_failure(session, address=address, username=username)
        raise
    ratelimit.record_success(session, username=username)
    return user


def create_token(session: Session, user: User, *, days: int, label: str = "") -> tuple[str, ApiToken]:
    """Return the token (shown once) and its stored record (only the hash is kept)."""
    token = secrets.token_urlsafe(32)
    row = ApiToken(user=user, token_hash=ApiToken.digest(token), label=label[:120],
                   expires_at=utcnow() + timedelta(days=days))
    session.add(row)
    session.flush()
    record(session, user, "token.create", "api_token", row.id, summary=f"API token for {user.username}")
    return token, row


def user_for_token(session: Session, token: str, now: datetime | None = None) -> User | None:
    now = now or utcnow()
    if not token or len(token) > 200:
        return None
    digest = ApiToken.digest(token)
    # the token's user in the same statement: one round trip per API request, not two
    row = session.execute(select(ApiToken).options(joinedload(ApiToken.user))
                          .where(ApiToken.token_hash == digest)).scalar_one_or_none()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    if row.revoked_at is not None or row.expires_at <= now or not row.user.active:
        return None
    _touch(session, row, now)
    return row.user


LAST_USED_EVERY = timedelta(minutes=1)


def _touch(session: Session, row: ApiToken, now: datetime) -> None:
    """Note when a token was last used, at most once a minute (not a write per request).

    A read request's transaction may not get the write lock (SQLite: another writer
    committed since it began); then the note is skipped: it is only a hint, and this runs
    before the request did anything else, so rolling back loses nothing.
    """
    if row.last_used_at is not None and now - row.last_used_at < LAST_USED_EVERY:
        return
    row.last_used_at = now
    try:
        session.flush()
    except OperationalError:
        session.rollback()


def visible_tokens(session: Session, actor, *, user_id: int | None = None):
    """A select of the tokens ``actor`` may see: their own; an admin's: anyone's
    (``user_id`` narrows to one user)."""
    stmt = select(ApiToken).options(joinedload(ApiToken.user)).order_by(ApiToken.created_at.desc(),
                                                                       ApiToken.id.desc())
    if not actor.may("admin"):
        if user_id is not None and user_id != actor.id:
            raise Forbidden("You may list only your own tokens.", field="user_id")
        return stmt.where(ApiToken.user_id == actor.id)
    if user_id is not None:
        return stmt.where(ApiToken.user_id == user_id)
    return stmt


def get_token(session: Session, actor, token_id) -> ApiToken:
    """A token its owner or an admin may see; anyone else is told it does not exist."""
    row = session.get(ApiToken, token_id) if isinstance(token_id, int) else None
    if row is None or (row.user_id != getattr(actor, "id", None) and not actor.may("admin")):
        raise NotFound("No such API token.")
    return row


def token_state(row: ApiToken, now: datetime | None = None) -> str:
    now = now or utcnow()
    if row.revoked_at is not None:
        return "revoked"
    return "expired" if row.expires_at <= now else "active"


def revoke_token(session: Session, actor, token: ApiToken) -> None:
    if token.user_id != getattr(actor, "id", None) and not actor.may("admin"):
        raise Forbidden("You may revoke only your own tokens.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
        record(session, actor, "token.revoke", "api_token", token.id,
               summary=f"Revoked an API token of {token.user.username}")


def set_profile(session, actor, user, *, email: str, digest_opt_in: bool) -> None:
    """The user's own settings: the digest's address and whether they want it. An
    address is checked for its shape only (one @, a dot in the domain, no spaces)."""
    from formulary.audit.services import record
    from formulary.domain.errors import ValidationError

    email = (email or "").strip()
    if email:
        local, at, domain = email.rpartition("@")
        if not at or not local or "." not in domain.strip(".") or any(c.isspace() for c in email):
            raise ValidationError("Give an email address such as name@clinic.fr.", field="email")
    if digest_opt_in and not email:
        raise ValidationError("The digest needs an email address.", field="email")
    before = {"email": user.email, "digest_opt_in": user.digest_opt_in}
    user.email, user.digest_opt_in = email, bool(digest_opt_in)
    record(session, actor, "user.profile", "user", user.id, summary=f"Profile of {user.username}",
           before=before, after={"email": email, "digest_opt_in": bool(digest_opt_in)})
    session.flush()
