"""Tokens and users."""

from __future__ import annotations

from flask import current_app, request
from sqlalchemy import select

from formulary.api import schema as S
from formulary.api.core import (PAGE_QUERY, api_route, arg_int, created, current_api_user, iso,
                                json_body, only_fields, paginate)
from formulary.auth import ratelimit, services
from formulary.auth.models import ApiToken, User
from formulary.auth.permissions import ADMIN, ROLES, VIEW
from formulary.errors import envelope
from formulary.extensions import db
from formulary.transaction import keep_changes_on_error

USER = S.component("User", S.obj(
    required=("id", "username", "role", "active"),
    id=S.integer(), username=S.string(), full_name=S.string(), role=S.string(enum=ROLES),
    active=S.boolean(), created_at=S.string(fmt="date-time"),
    last_login_at=S.string(fmt="date-time", null=True),
))


def user_json(user: User) -> dict:
    return {"id": user.id, "username": user.username, "full_name": user.full_name,
            "role": user.role, "active": user.active, "created_at": iso(user.created_at),
            "last_login_at": iso(user.last_login_at)}


@api_route("/tokens", ["POST"], summary="Log in: exchange a username and password for a token",
           tag="auth", auth=False,
           body=S.obj(required=("username", "password"), username=S.string(), password=S.string(),
                      label=S.string(max_length=120)),
           description="Failed attempts are limited per client address and per username "
                       "(429 with Retry-After); a successful login is never limited. An "
                       "unknown user and a wrong password get the same answer.",
           responses={201: S.obj(required=("token", "user", "expires_at"), token=S.string(),
                                 expires_at=S.string(fmt="date-time"),
                                 user=S.obj(username=S.string(), role=S.string(enum=ROLES))),
                      401: S.ERROR, 429: S.ERROR})
def create_token():
    data = only_fields(json_body(), {"username", "password", "label"})
    cfg = current_app.config
    try:
        user = services.log_in(db.session, data.get("username"), data.get("password"),
                               address=request.remote_addr, config=cfg)
    except ratelimit.TooManyAttempts as exc:
        response = envelope(exc.code, exc.message, 429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except services.LoginRefused:
        keep_changes_on_error()  # the failure counts must survive the 401
        raise
    label = data.get("label") if isinstance(data.get("label"), str) else "api"
    token, row = services.create_token(db.session, user, days=cfg["API_TOKEN_DAYS"], label=label)
    return created({"token": token, "expires_at": iso(row.expires_at),
                    "user": {"username": user.username, "role": user.role}})


@api_route("/users", ["GET"], summary="List users", tag="users", permission=ADMIN,
           query=PAGE_QUERY,
           responses={200: S.page_of(USER)})
def list_users():
    return paginate(select(User).order_by(User.username), user_json)


@api_route("/users", ["POST"], summary="Create a user", tag="users", permission=ADMIN,
           body=S.obj(required=("username", "password", "role"), username=S.string(),
                      password=S.string(), role=S.string(enum=ROLES), full_name=S.string()),
           responses={201: USER})
def create_user():
    data = only_fields(json_body(), {"username", "password", "role", "full_name"})
    user = services.create_user(db.session, current_api_user(), username=data.get("username"),
                                password=data.get("password"), role=data.get("role"),
                                full_name=data.get("full_name") or "")
    return created(user_json(user))


TOKEN = S.component("ApiToken", S.obj(
    required=("id", "user_id", "username", "label", "state", "created_at", "expires_at",
              "revoked_at", "last_used_at"),
    id=S.integer(), user_id=S.integer(), username=S.string(), label=S.string(),
    state=S.string(enum=("active", "expired", "revoked")),
    created_at=S.string(fmt="date-time"), expires_at=S.string(fmt="date-time"),
    revoked_at=S.string(fmt="date-time", null=True),
    last_used_at=S.string(fmt="date-time", null=True, description="to the minute"),
))


def token_json(row: ApiToken) -> dict:
    return {"id": row.id, "user_id": row.user_id, "username": row.user.username,
            "label": row.label, "state": services.token_state(row),
            "created_at": iso(row.created_at), "expires_at": iso(row.expires_at),
            "revoked_at": iso(row.revoked_at), "last_used_at": iso(row.last_used_at)}


@api_route("/tokens", ["GET"], summary="List API tokens (never the token itself)", tag="auth",
           permission=VIEW,
           description="Your own tokens; an administrator sees everyone's, or one user's "
                       "with user_id.",
           query=PAGE_QUERY + (("user_id", S.integer(minimum=1), "only this user's tokens "
                                "(others than yours: administrators only)"),),
           responses={200: S.page_of(TOKEN)})
def list_tokens():
    stmt = services.visible_tokens(db.session, current_api_user(),
                                   user_id=arg_int("user_id", minimum=1))
    return paginate(stmt, token_json)


@api_route("/tokens/<int:token_id>", ["DELETE"], summary="Revoke an API token", tag="auth",
           permission=VIEW,
           description="The owner or an administrator; another user's token is not found.",
           responses={200: TOKEN})
def revoke_token(token_id: int):
    actor = current_api_user()
    row = services.get_token(db.session, actor, token_id)
    services.revoke_token(db.session, actor, row)
    return token_json(row)
