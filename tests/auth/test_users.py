"""Administration of users: pages, API and the shell."""

from sqlalchemy import func, select

from formulary.audit.models import AuditEntry
from formulary.auth.models import User
from formulary.extensions import db


def count_users():
    return db.session.execute(select(func.count()).select_from(User)).scalar_one()


def test_admin_creates_a_user_on_the_page(client, login_as):
    login_as("admin")
    r = client.post_form("/users/new", {"username": "nina", "full_name": "Nina N",
                                        "role": "practitioner", "password": "long enough pw"})
    assert r.status_code == 302
    nina = db.session.execute(select(User).where(User.username == "nina")).scalar_one()
    assert nina.role == "practitioner" and nina.check_password("long enough pw")
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "user.create")
                               .order_by(AuditEntry.seq.desc())).scalars().first()
    assert entry.object_id == str(nina.id) and '"role":"practitioner"' in entry.after


def test_short_password_is_refused_on_the_field_and_nothing_is_created(client, login_as):
    login_as("admin")
    before = count_users()
    r = client.post_form("/users/new", {"username": "nina", "role": "practitioner", "password": "short"})
    assert r.status_code == 422
    assert b"at least 10 characters" in r.data
    assert count_users() == before


def test_taken_username_is_refused(client, login_as, make_user):
    make_user("manager", username="taken")
    login_as("admin")
    r = client.post_form("/users/new", {"username": "TAKEN", "role": "manager", "password": "long enough pw"})
    assert r.status_code == 422 and b"already taken" in r.data


def test_admin_changes_role_and_deactivates(client, login_as, make_user):
    login_as("admin")
    user = make_user("practitioner")
    r = client.post_form(f"/users/{user.id}", {"full_name": "X", "role": "pharmacist", "reason": "promoted",
                                               "submit": "1"})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).role == "pharmacist"
    assert db.session.get(User, user.id).active is False  # the checkbox was not sent
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "user.update")).scalars().one()
    assert entry.reason == "promoted" and '"role":"practitioner"' in entry.before


def test_admin_cannot_deactivate_themselves(client, login_as):
    admin = login_as("admin")
    r = client.post_form(f"/users/{admin.id}", {"role": "admin", "submit": "1"})
    assert r.status_code == 422
    db.session.expire_all()
    assert db.session.get(User, admin.id).active


def test_admin_resets_a_password_and_unlocks(client, login_as, make_user):
    from formulary.db import utcnow

    login_as("admin")
    user = make_user("pharmacist")
    user.locked_until = utcnow().replace(year=2100)
    db.session.commit()
    r = client.post_form(f"/users/{user.id}/password", {"reset-password": "a brand new password"},
                         form_url=f"/users/{user.id}")
    assert r.status_code == 302
    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert user.check_password("a brand new password") and user.locked_until is None


def test_cli_create_user(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "carla", "--role", "manager", "--password", "long enough pw"])
    assert result.exit_code == 0, result.output
    assert "Created manager carla" in result.output
    result = runner.invoke(args=["create-user", "carla", "--role", "manager", "--password", "long enough pw"])
    assert result.exit_code != 0 and "already taken" in result.output
    result = runner.invoke(args=["create-user", "dan", "--role", "manager", "--password", "short"])
    assert result.exit_code != 0 and "at least 10" in result.output
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "user.create")).scalars().one()
    assert entry.username == "cli"


def test_cli_prompts_for_the_password(app):
    result = app.test_cli_runner().invoke(args=["create-user", "erin", "--role", "practitioner"],
                                          input="long enough pw\nlong enough pw\n")
    assert result.exit_code == 0, result.output
    assert db.session.execute(select(User).where(User.username == "erin")).scalar_one().check_password("long enough pw")
