"""SPEC §2: the chain alone cannot tell the removal of the newest entries from a shorter
log, so its head (number and hash) is recorded outside the log -- `audit head`, beside
every backup, in every export's footer -- and `audit verify --head` checks against it.

Tampering goes past the append-only triggers, as an attacker with the database's rights
would (``tests.tampering``)."""

from __future__ import annotations

import io
import json

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, text

from formulary.audit.models import AuditEntry
from formulary.audit.services import (GENESIS, ChainHead, chain_head, entry_hash, record,
                                      verify_chain)
from formulary.extensions import db
from tests.tampering import tamper


def write_entries(n: int) -> None:
    for i in range(n):
        record(db.session, "tester", "thing.change", "thing", i, after={"n": i})
    db.session.commit()


def verify(app, *args):
    return app.test_cli_runner().invoke(args=["audit", "verify", *args])


def test_the_head_is_the_newest_entrys_number_and_hash(app):
    assert chain_head(db.session) == ChainHead(0, GENESIS)
    write_entries(3)
    newest = db.session.execute(select(AuditEntry).where(AuditEntry.seq == 3)).scalar_one()
    head = chain_head(db.session)
    assert head == ChainHead(3, newest.hash)
    assert ChainHead.parse(str(head)) == head == ChainHead.parse(head.as_dict())
    out = app.test_cli_runner().invoke(args=["audit", "head"])
    assert out.exit_code == 0 and out.output.strip() == f"3:{newest.hash}"
    out = app.test_cli_runner().invoke(args=["audit", "head", "--json"])
    assert json.loads(out.output) == {"seq": 3, "hash": newest.hash}


def test_an_intact_log_reaches_its_head_and_a_later_one(app):
    write_entries(3)
    head = str(chain_head(db.session))
    write_entries(2)  # the log grows past a head recorded earlier: still fine
    for given in (head, str(chain_head(db.session))):
        out = verify(app, "--head", given)
        assert out.exit_code == 0, out.output
        assert "chain intact, reaches the recorded head" in out.output


@pytest.mark.parametrize("removed", [1, 50])
def test_removing_the_newest_entries_is_found_against_the_head(app, removed):
    write_entries(60)
    head = str(chain_head(db.session))
    tamper(text("DELETE FROM audit_entry WHERE seq > :keep").bindparams(keep=60 - removed))
    assert db.session.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == 60 - removed
    # The chain alone cannot see it ...
    assert verify_chain(db.session) == []
    assert verify(app).exit_code == 0
    # ... the recorded head does.
    out = verify(app, "--head", head)
    assert out.exit_code == 1
    assert f"the log ends at entry {60 - removed} but the recorded head is entry 60" in out.output
    assert f"{removed} newest entr" in out.output and "missing" in out.output


def test_a_log_cut_short_then_written_on_is_found(app):
    """Entries removed and new ones written since: the number is reached again, but the
    entry there has another hash."""
    write_entries(5)
    head = chain_head(db.session)
    tamper("DELETE FROM audit_entry WHERE seq > 2")
    write_entries(4)
    assert verify_chain(db.session) == []
    problems = verify_chain(db.session, head=head)
    assert [(p.seq, "does not match the recorded head" in p.problem) for p in problems] == [(5, True)]
    assert verify(app, "--head", str(head)).exit_code == 1


def test_a_changed_newest_entry_with_its_hash_recomputed_is_found(app):
    """An attacker edits the newest entry and recomputes its hash: the chain verifies
    (nothing follows it), the recorded head does not."""
    write_entries(3)
    head = str(chain_head(db.session))
    e = db.session.execute(select(AuditEntry).where(AuditEntry.seq == 3)).scalar_one()
    fields = {k: getattr(e, k) for k in ("at", "user_id", "username", "action", "object_type",
                                         "object_id", "summary", "before", "after", "reason")}
    forged = entry_hash(e.prev_hash, 3, dict(fields, summary="edited"))
    db.session.rollback()
    tamper(text("UPDATE audit_entry SET summary = 'edited', hash = :h WHERE seq = 3")
           .bindparams(h=forged))
    assert verify(app).exit_code == 0  # the chain alone is fooled
    out = verify(app, "--head", head)
    assert out.exit_code == 1 and "entry 3 does not match the recorded head" in out.output


def test_a_head_file_is_read_and_a_bad_head_is_a_usage_error(app, tmp_path):
    write_entries(2)
    file = tmp_path / "head.json"
    file.write_text(json.dumps(chain_head(db.session).as_dict()))
    assert verify(app, "--head-file", str(file)).exit_code == 0
    tamper("DELETE FROM audit_entry WHERE seq = 2")
    assert verify(app, "--head-file", str(file)).exit_code == 1
    for bad in ("3", "x:y", f"-1:{'a' * 64}", f"2:{'g' * 64}"):
        out = verify(app, "--head", bad)
        assert out.exit_code == 2 and "SEQ:HASH" in out.output and out.exception.__class__ is SystemExit
    file.write_text("[1, 2]")
    assert verify(app, "--head-file", str(file)).exit_code == 2


# --- the head in every export's footer --------------------------------------------------

@pytest.mark.parametrize("url", ["reports/batch-log.xlsx?from=2026-03-01&to=2026-03-31",
                                 "reports/stock.xlsx"])
def test_exports_carry_the_head_in_their_footer(api, url):
    client = api("manager")
    write_entries(3)
    head = chain_head(db.session)
    r = client.get(url)
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.properties.description == head.label()
    for ws in wb.worksheets:
        assert ws.oddFooter.left.text == head.label()
    given = head.label().split()[3]  # "Audit log head: SEQ:HASH (...)"
    assert ChainHead.parse(given) == head
    # the export's own entry came after the head: the log still reaches it
    assert verify_chain(db.session, head=head) == []
    assert chain_head(db.session).seq == head.seq + 1


def test_the_audit_export_carries_the_head(client, login_as):
    login_as("admin")
    head = chain_head(db.session)
    r = client.get("/reports/audit.xlsx")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.data))
    assert wb["Audit log"].oddFooter.left.text == head.label()
