"""``flask backup PATH`` / ``flask restore PATH`` round-trip a database (SQLite: the online
backup API; PostgreSQL: pg_dump / pg_restore): after the data is changed or destroyed and
the backup restored, every table holds what it held, every lot's ledger balances and the
audit hash chain verifies. A restore over data refuses to run without ``--yes``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update

from formulary.audit.models import AuditEntry
from formulary.audit.services import verify_chain
from formulary.cli import load_demo
from formulary.extensions import db
from formulary.inventory.ledger import check_books
from formulary.inventory.models import Lot
from tests.conftest import PG_URL, make_app
from tests.faults.conftest import ROOT, book_problems, seed
from tests.rows import count_every_table
from tests.tampering import tamper

@pytest.fixture(params=["sqlite", "postgresql"])
def own_app(request, tmp_path):
    """An app on a database of its own with fresh tables: a SQLite file, or the PostgreSQL
    test database (its tables dropped and made again, and left empty after, as the other
    tests expect them). A throwaway database per test would cost a CREATE and a DROP
    DATABASE, each a checkpoint of the whole shared server."""
    if request.param == "postgresql":
        if not PG_URL:
            pytest.skip("needs TEST_DATABASE_URL (PostgreSQL)")
        url = PG_URL
    else:
        url = f"sqlite:///{tmp_path / 'clinic.db'}"
    app = make_app(url)
    with app.app_context():
        db.drop_all()
        db.create_all()
        try:
            yield app
        finally:
            db.session.remove()
            db.drop_all()
            db.create_all()
            db.engine.dispose()


def table_counts() -> dict[str, int]:
    result = count_every_table()
    db.session.rollback()
    return result


@pytest.mark.slow
def test_backup_then_restore_brings_back_every_ledger_and_the_audit_chain(own_app, tmp_path):
    app = own_app
    load_demo(db.session)
    db.session.commit()
    runner = app.test_cli_runner()
    saved = table_counts()
    assert saved["lot"] and saved["batch"] and saved["audit_entry"] and saved["movement"]
    assert book_problems() == []
    path = tmp_path / "clinic.backup"

    result = runner.invoke(args=["backup", str(path)])
    assert result.exit_code == 0, result.output
    assert path.stat().st_size > 0

    # The data changes after the backup: a lot is emptied behind the ledger's back, the
    # newest audit entries are removed.
    # (past the append-only triggers, as an attacker with the database's rights would)
    db.session.execute(update(Lot).where(Lot.id == 1).values(quantity_on_hand=0, supplier="changed"))
    newest = db.session.execute(select(func.max(AuditEntry.seq))).scalar_one()
    tamper(delete(AuditEntry).where(AuditEntry.seq > newest - 3))
    changed = table_counts()
    assert changed != saved

    # Over a database that holds data, restore refuses without --yes (the prompt answers no).
    result = runner.invoke(args=["restore", str(path)], input="n\n")
    assert result.exit_code != 0
    assert table_counts() == changed

    result = runner.invoke(args=["restore", str(path), "--yes"])
    assert result.exit_code == 0, result.output
    assert "Stock ledger and audit chain verified" in result.output
    assert table_counts() == saved
    assert db.session.get(Lot, 1).supplier != "changed"
    assert check_books(db.session) == [] and verify_chain(db.session) == []
    assert book_problems() == []

    # Destroyed: every table dropped. An empty database is restored without a question.
    db.session.remove()
    db.drop_all()
    result = runner.invoke(args=["restore", str(path)])
    assert result.exit_code == 0, result.output
    assert table_counts() == saved
    assert book_problems() == []


def test_the_backup_records_the_audit_head_and_the_restore_checks_it(own_app, tmp_path):
    """SPEC §2: the chain's head goes beside every backup; the live log cut short after the
    backup is found against it, and the restored log is checked against it."""
    from formulary.audit.services import ChainHead, chain_head, record

    seed()
    for i in range(5):
        record(db.session, "tester", "thing.change", "thing", i)
    db.session.commit()
    head = chain_head(db.session)
    db.session.rollback()  # no transaction left open (on SQLite it would hold the lock)
    path = tmp_path / "clinic.backup"
    runner = own_app.test_cli_runner()
    result = runner.invoke(args=["backup", str(path)])
    assert result.exit_code == 0, result.output
    head_file = tmp_path / "clinic.backup.head.json"
    assert ChainHead.parse(json.loads(head_file.read_text())) == head
    assert str(head) in result.output

    # The newest entries removed behind the application's back: the head file finds it.
    tamper(delete(AuditEntry).where(AuditEntry.seq > head.seq - 2))
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    out = runner.invoke(args=["audit", "verify", "--head-file", str(head_file)])
    assert out.exit_code == 1 and "2 newest entries are missing" in out.output

    result = runner.invoke(args=["restore", str(path), "--yes"])
    assert result.exit_code == 0, result.output
    assert f"the log reaches the recorded head {head.seq}" in result.output
    assert runner.invoke(args=["audit", "verify", "--head-file", str(head_file)]).exit_code == 0

    # A backup whose recorded head its log does not reach is reported after the restore.
    head_file.write_text(json.dumps({"seq": head.seq + 3, "hash": head.hash}))
    result = runner.invoke(args=["restore", str(path), "--yes"])
    assert result.exit_code != 0 and "1 audit chain problem" in result.output
    # A head file that is not a head: refused before anything is touched.
    head_file.write_text("not json")
    saved = table_counts()
    result = runner.invoke(args=["restore", str(path), "--yes"])
    assert result.exit_code != 0 and "is not an audit chain head" in result.output
    assert table_counts() == saved


def test_restore_refuses_what_is_not_a_backup(own_app, tmp_path):
    seed()
    bogus = tmp_path / "not-a-backup"
    bogus.write_bytes(b"certainly not a database" * 100)
    saved = table_counts()
    result = own_app.test_cli_runner().invoke(args=["restore", str(bogus), "--yes"])
    assert result.exit_code != 0
    assert table_counts() == saved  # checked before anything was touched
    assert book_problems() == []


def test_backup_command_through_flask_cli(tmp_path):
    """``flask --app wsgi backup PATH`` as an operator runs it, on the DATABASE_URL database."""
    source = tmp_path / "live.db"
    app = make_app(f"sqlite:///{source}")
    with app.app_context():
        db.create_all()
        seed()
        saved = table_counts()
        db.engine.dispose()
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{source}", FORMULARY_CONFIG="development")
    env.pop("TEST_DATABASE_URL", None)
    flask = Path(sys.executable).with_name("flask")
    out = subprocess.run([str(flask), "--app", "wsgi", "backup", str(tmp_path / "copy.db")], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    copy = make_app(f"sqlite:///{tmp_path / 'copy.db'}")
    with copy.app_context():
        assert table_counts() == saved
        assert book_problems() == []
        db.engine.dispose()
