"""The audit log is append-only and hash-chained: any later change or removal is found."""

from sqlalchemy import select, text

from formulary.audit.models import AuditEntry
from formulary.audit.services import GENESIS, record, verify_chain
from formulary.extensions import db
from tests.tampering import tamper


def write_entries(n=3):
    for i in range(n):
        record(db.session, "tester", "thing.change", "thing", i, summary=f"change {i}",
               before={"qty": i}, after={"qty": i + 1}, reason="because")
        db.session.commit()
    return db.session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()


def test_entries_are_chained_in_order(app):
    entries = write_entries(3)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS
    assert entries[1].prev_hash == entries[0].hash and entries[2].prev_hash == entries[1].hash
    assert verify_chain(db.session) == []


def test_a_rolled_back_change_leaves_no_entry(app):
    write_entries(1)
    record(db.session, "tester", "thing.change", "thing", 9)
    db.session.rollback()
    db.session.commit()
    assert db.session.execute(select(AuditEntry)).scalars().all()[-1].seq == 1


def test_a_changed_entry_is_found(app):
    write_entries(3)
    tamper(text("UPDATE audit_entry SET after = :v WHERE seq = 2").bindparams(v='{"qty":99}'))
    problems = verify_chain(db.session)
    assert [(p.seq, p.problem) for p in problems] == [(2, "content was changed after it was written")]


def test_a_removed_entry_is_found(app):
    write_entries(3)
    tamper("DELETE FROM audit_entry WHERE seq = 2")
    problems = verify_chain(db.session)
    assert {p.seq for p in problems} == {3}
    assert any("missing" in p.problem for p in problems)
    assert any("broken" in p.problem for p in problems)


def test_cli_verify(app):
    write_entries(2)
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0 and "2 entries, chain intact" in ok.output
    tamper("UPDATE audit_entry SET username = 'mallory' WHERE seq = 1")
    bad = runner.invoke(args=["audit", "verify"])
    assert bad.exit_code == 1 and "entry 1" in bad.output


def test_changes_through_pages_are_audited_with_who(client, login_as):
    admin = login_as("admin")
    client.post_form("/users/new", {"username": "newbie", "role": "manager", "password": "long enough pw"})
    entry = db.session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc())).scalars().first()
    assert entry.user_id == admin.id and entry.username == admin.username
    assert entry.action == "user.create"


def test_audit_page_filters(client, login_as):
    write_entries(3)
    record(db.session, "someone", "other.change", "other", 7)
    db.session.commit()
    login_as("manager")
    page = client.get("/audit/?object_type=other").get_data(as_text=True)
    assert "other.change" in page and "thing.change" not in page
    page = client.get("/audit/?user=tester").get_data(as_text=True)
    assert "thing.change" in page and "other.change" not in page
    assert client.get("/audit/?from=2026-02-30").status_code == 422
