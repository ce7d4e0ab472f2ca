"""Tokens and users."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from formulary.api import schema as S
from formulary.api.core import PAGE_QUERY, api_route, created, current_api_user, iso, json_body, only_fields, paginate
from formulary.auth import services
from formulary.auth.models import User
from formulary.auth.permissions import ADMIN, ROLES
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
           responses={201: S.obj(required=("token", "user", "expires_at"), token=S.string(),
                                 expires_at=S.string(fmt="date-time"),
                                 user=S.obj(username=S.string(), role=S.string(enum=ROLES)))})
def create_token():
    data = only_fields(json_body(), {"username", "password", "label"})
    cfg = current_app.config
    try:
        user = services.authenticate(db.session, data.get("username"), data.get("password"),
                                     max_failures=cfg["LOGIN_MAX_FAILURES"],
                                     lock_minutes=cfg["LOGIN_LOCK_MINUTES"])
    except services.LoginRefused:
        keep_changes_on_error()  # the failed-login count must survive the 401
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
