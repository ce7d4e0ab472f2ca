"""API tokens: listed without their secret, revoked by their owner or an admin (another
user's token is not found), last use noted at most once a minute; the pages."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from formulary.audit.models import AuditEntry
from formulary.auth import services
from formulary.auth.models import ApiToken
from formulary.db import utcnow
from formulary.extensions import db
from tests.auth.test_api import assert_envelope


def token_row(user) -> ApiToken:
    db.session.rollback()
    return db.session.execute(select(ApiToken).where(ApiToken.user_id == user.id)
                              .order_by(ApiToken.id)).scalars().first()


def test_a_user_lists_only_their_tokens(api):
    me, other = api("practitioner"), api("pharmacist")
    body = me.get("tokens").get_json()
    assert body["total"] == 1 and body["items"][0]["user_id"] == me.user.id
    item = body["items"][0]
    assert item["state"] == "active" and item["last_used_at"] is not None
    assert "token" not in item and "token_hash" not in item
    assert_envelope(me.get(f"tokens?user_id={other.user.id}"), 403, "forbidden")
    assert me.get(f"tokens?user_id={me.user.id}").get_json()["total"] == 1


def test_an_admin_lists_everyones_or_one_users(api):
    admin, other = api("admin"), api("pharmacist")
    assert admin.get("tokens").get_json()["total"] == 2
    only = admin.get(f"tokens?user_id={other.user.id}").get_json()
    assert [t["username"] for t in only["items"]] == [other.user.username]


def test_the_owner_revokes_and_the_token_stops_working(api):
    me = api("pharmacist")
    row = token_row(me.user)
    r = me.delete(f"tokens/{row.id}")
    assert r.status_code == 200 and r.get_json()["state"] == "revoked"
    assert token_row(me.user).revoked_at is not None
    assert_envelope(me.get("tokens"), 401, "unauthorized")
    audit = db.session.execute(select(AuditEntry).where(AuditEntry.action == "token.revoke")).scalar_one()
    assert audit.object_id == str(row.id) and audit.user_id == me.user.id


def test_someone_elses_token_is_not_found_and_stays_active(api):
    me, other = api("pharmacist"), api("manager")
    row = token_row(other.user)
    assert_envelope(me.delete(f"tokens/{row.id}"), 404, "not_found")
    assert_envelope(me.delete("tokens/424242"), 404, "not_found")
    assert token_row(other.user).revoked_at is None
    assert other.get("tokens").status_code == 200


def test_an_admin_revokes_anyones_token(api):
    admin, other = api("admin"), api("manager")
    row = token_row(other.user)
    assert admin.delete(f"tokens/{row.id}").status_code == 200
    assert token_row(other.user).revoked_at is not None
    assert_envelope(other.get("tokens"), 401, "unauthorized")


def test_last_use_is_noted_at_most_once_a_minute(app, make_user):
    user = make_user("pharmacist")
    token, row = services.create_token(db.session, user, days=1)
    db.session.commit()
    now = utcnow()
    assert services.user_for_token(db.session, token, now=now) == user
    assert row.last_used_at == now
    services.user_for_token(db.session, token, now=now + timedelta(seconds=30))
    assert row.last_used_at == now  # not a write per request
    later = now + timedelta(seconds=61)
    services.user_for_token(db.session, token, now=later)
    assert row.last_used_at == later
    # An expired token opens nothing and notes nothing.
    assert services.user_for_token(db.session, token, now=now + timedelta(days=2)) is None
    assert row.last_used_at == later


def test_my_tokens_page_lists_and_revokes(client, login_as):
    me = login_as("practitioner")
    _, mine = services.create_token(db.session, me, days=1, label="laptop script")
    other = services.create_user(db.session, "test", username="bob", password="long enough pw",
                                 role="pharmacist")
    _, theirs = services.create_token(db.session, other, days=1, label="bob's")
    db.session.commit()
    html = client.get("/tokens").get_data(as_text=True)
    assert "laptop script" in html and "bob&#39;s" not in html and "bob's" not in html
    r = client.post_form(f"/tokens/{theirs.id}/revoke", form_url="/tokens")
    assert r.status_code == 404
    assert db.session.get(ApiToken, theirs.id).revoked_at is None
    r = client.post_form(f"/tokens/{mine.id}/revoke", form_url="/tokens")
    assert r.status_code == 302 and r.headers["Location"].endswith("/tokens")
    db.session.expire_all()
    assert db.session.get(ApiToken, mine.id).revoked_at is not None
    assert "revoked" in client.get("/tokens").get_data(as_text=True)


def test_an_admin_revokes_from_the_users_page(client, login_as, make_user):
    login_as("admin")
    user = make_user("pharmacist")
    _, row = services.create_token(db.session, user, days=1, label="bench pc")
    db.session.commit()
    page = f"/users/{user.id}"
    assert "bench pc" in client.get(page).get_data(as_text=True)
    r = client.post_form(f"/tokens/{row.id}/revoke", {"next": page}, form_url=page)
    assert r.status_code == 302 and r.headers["Location"].endswith(page)
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).revoked_at is not None
    n = db.session.execute(select(func.count()).select_from(AuditEntry)
                           .where(AuditEntry.action == "token.revoke")).scalar_one()
    assert n == 1


def test_revoke_redirect_stays_on_this_site(client, login_as):
    me = login_as("practitioner")
    _, row = services.create_token(db.session, me, days=1)
    db.session.commit()
    r = client.post_form(f"/tokens/{row.id}/revoke", {"next": "https://evil.example/"},
                         form_url="/tokens")
    assert r.status_code == 302 and "evil" not in r.headers["Location"]
