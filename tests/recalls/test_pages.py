"""Recall pages (SPEC §12, §10): the list (open first), the worklist with a form per
patient, its Excel export read back, the dashboard panel while a recall is open, and the
links among the recall, lot, batch and patient pages."""

from __future__ import annotations

import io
import re
from datetime import datetime

from openpyxl import load_workbook
from sqlalchemy import select

from formulary.audit.models import AuditEntry
from formulary.extensions import db
from formulary.patients.models import Patient
from formulary.recalls.models import Recall, RecallPatient


def _status_of(recall_id, patient_id) -> str:
    db.session.expire_all()
    return db.session.execute(select(RecallPatient.status).where(
        RecallPatient.recall_id == recall_id, RecallPatient.patient_id == patient_id)).scalar_one()


def test_worklist_page_shows_batches_administrations_and_patients(client, login_as, reached, recall_lot):
    recall_id = recall_lot(reached["lot"])
    login_as("practitioner")
    html = client.get(f"/recalls/{recall_id}").get_data(as_text=True)
    for name in ("b1", "b2", "b3", "b4"):
        assert f'data-batch="{reached[name].batch_number}"' in html
        assert f'href="/batches/{reached[name].id}"' in html
    assert reached["b5"].batch_number not in html
    for who in ("ana", "bea", "cal"):
        assert f'data-mrn="{reached[who].mrn}"' in html
        assert f'href="/patients/{reached[who].id}"' in html
    assert html.count('data-administration="') == 2
    assert f'href="/lots/{reached["lot"].id}"' in html
    assert 'data-testid="export-worklist"' not in html          # practitioners do not export
    # Each patient shown is a read of their data, audited.
    views = db.session.execute(select(AuditEntry.object_id).where(
        AuditEntry.action == "patient.view")).scalars().all()
    assert sorted(views) == sorted(str(reached[w].id) for w in ("ana", "bea", "cal"))


def test_setting_a_status_on_the_page(client, login_as, reached, recall_lot):
    recall_id = recall_lot(reached["lot"])
    user = login_as("pharmacist")
    url = f"/recalls/{recall_id}"
    ana = reached["ana"].id
    r = client.post_form(f"{url}/patients/{ana}", {"status": "contacted", "note": "Called at 10:05"},
                         form_url=url)
    assert r.status_code == 302 and r.headers["Location"].endswith(f"{url}#patient-{ana}")
    row = db.session.execute(select(RecallPatient).where(RecallPatient.patient_id == ana)).scalar_one()
    assert (row.status, row.note, row.set_by_id) == ("contacted", "Called at 10:05", user.id)
    html = client.get(url).get_data(as_text=True)
    assert "Called at 10:05" in html and user.display_name in html
    # A bad status: 422 with the error by the patient's form, nothing written.
    r = client.post_form(f"{url}/patients/{reached['bea'].id}", {"status": "gone"}, form_url=url)
    assert r.status_code == 422 and "Choose a status" in r.get_data(as_text=True)
    assert _status_of(recall_id, reached["bea"].id) == "to_contact"
    # A patient not on the worklist: 404.
    r = client.post_form(f"{url}/patients/999999", {"status": "contacted"}, form_url=url)
    assert r.status_code == 404


def test_the_last_patient_dealt_with_closes_the_recall_and_the_dashboard_panel(
        client, login_as, reached, recall_lot):
    recall_id = recall_lot(reached["lot"])
    login_as("pharmacist")
    dash = client.get("/dashboard").get_data(as_text=True)
    assert 'data-panel="recalls"' in dash and f'data-recall="{recall_id}"' in dash
    url = f"/recalls/{recall_id}"
    for who in ("ana", "bea", "cal"):
        r = client.post_form(f"{url}/patients/{reached[who].id}", {"status": "not_needed"}, form_url=url)
        assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(Recall, recall_id).status == "closed"
    assert 'data-panel="recalls"' not in client.get("/dashboard").get_data(as_text=True)
    # Set back: open again, on the dashboard again.
    client.post_form(f"{url}/patients/{reached['cal'].id}", {"status": "to_contact"}, form_url=url)
    db.session.expire_all()
    assert db.session.get(Recall, recall_id).status == "open"
    assert 'data-panel="recalls"' in client.get("/dashboard").get_data(as_text=True)


def test_manager_reads_the_list_and_the_panel_without_patients(client, login_as, reached, recall_lot):
    recall_id = recall_lot(reached["lot"])
    login_as("manager")
    html = client.get("/recalls").get_data(as_text=True)
    assert f'data-recall="{recall_id}"' in html and f"/recalls/{recall_id}\"" not in html
    dash = client.get("/dashboard").get_data(as_text=True)
    assert 'data-panel="recalls"' in dash
    for who in ("ana", "bea", "cal"):
        assert reached[who].mrn not in html and reached[who].mrn not in dash
    assert client.get(f"/recalls/{recall_id}").status_code == 403
    assert client.get(f"/recalls/{recall_id}/worklist.xlsx").status_code == 403


def test_list_puts_open_recalls_first_and_filters(client, login_as, reached, recall_lot, clinic, api):
    first = recall_lot(reached["lot"])
    second = recall_lot(clinic["biotin_lot"])
    login_as("pharmacist")
    html = client.get("/recalls").get_data(as_text=True)
    # Both open: the newest first.
    assert re.findall(r'data-recall="(\d+)"', html) == [str(second), str(first)]
    pharm = api("pharmacist")
    for p in db.session.execute(select(RecallPatient.patient_id).where(
            RecallPatient.recall_id == second)).scalars().all():
        pharm.patch(f"recalls/{second}/patients/{p}", json={"status": "contacted"})
    # The newer one closed: the open one comes first.
    html = client.get("/recalls").get_data(as_text=True)
    assert re.findall(r'data-recall="(\d+)"', html) == [str(first), str(second)]
    closed = client.get("/recalls?status=closed").get_data(as_text=True)
    assert re.findall(r'data-recall="(\d+)"', closed) == [str(second)]


def test_lot_batch_and_patient_pages_link_to_the_recall(client, login_as, reached, recall_lot):
    recall_id = recall_lot(reached["lot"])
    login_as("pharmacist")
    link = f'href="/recalls/{recall_id}'
    lot_html = client.get(f"/lots/{reached['lot'].id}").get_data(as_text=True)
    assert 'data-testid="lot-recall"' in lot_html and link in lot_html
    batch_html = client.get(f"/batches/{reached['b2'].id}").get_data(as_text=True)
    assert 'data-testid="batch-recall"' in batch_html and link in batch_html
    assert 'data-testid="batch-recall"' not in client.get(f"/batches/{reached['b5'].id}").get_data(as_text=True)
    trace_html = client.get(f"/lots/{reached['lot'].id}/trace").get_data(as_text=True)
    assert 'data-testid="trace-recall"' in trace_html and link in trace_html
    patient_html = client.get(f"/patients/{reached['cal'].id}").get_data(as_text=True)
    assert 'data-testid="patient-recalls"' in patient_html and link in patient_html


def test_worklist_export_reads_back(client, login_as, reached, recall_lot, api):
    recall_id = recall_lot(reached["lot"])
    note = '=HYPERLINK("http://evil.example","click")'
    pharm = api("pharmacist")
    assert pharm.patch(f"recalls/{recall_id}/patients/{reached['ana'].id}",
                       json={"status": "contacted", "note": note}).status_code == 200
    db.session.execute(db.update(Patient).where(Patient.id == reached["bea"].id)
                       .values(last_name="+Bravo"))
    db.session.commit()
    for fetch in (lambda: pharm.get(f"recalls/{recall_id}/worklist.xlsx"),
                  lambda: (login_as("pharmacist"), client.get(f"/recalls/{recall_id}/worklist.xlsx"))[1]):
        r = fetch()
        assert r.status_code == 200, r.get_data(as_text=True)[:300]
        assert r.headers["Cache-Control"] == "no-store"
        assert f"recall-{recall_id}-worklist.xlsx" in r.headers["Content-Disposition"]
        wb = load_workbook(io.BytesIO(r.data))
        assert wb.sheetnames == ["Patients", "Batches", "Administrations"]
        rows = list(wb["Patients"].iter_rows(values_only=True))
        assert rows[0][:5] == ("MRN", "Last name", "First name", "Date of birth", "Status")
        by_mrn = {row[0]: row for row in rows[1:]}
        assert set(by_mrn) == {reached[w].mrn for w in ("ana", "bea", "cal")}
        ana = by_mrn[reached["ana"].mrn]
        assert ana[3] == datetime(1985, 4, 12) and ana[4] == "contacted" and ana[5] == note
        assert isinstance(ana[7], datetime)                    # set at: a real date and time
        cells = {c.value: c for c in wb["Patients"][2] + wb["Patients"][3] + wb["Patients"][4]}
        assert cells[note].data_type == "s"                     # inert text, not a formula
        assert cells["+Bravo"].data_type == "s" and cells["+Bravo"].quotePrefix
        batches = list(wb["Batches"].iter_rows(values_only=True))[1:]
        assert {row[0] for row in batches} == {reached[b].batch_number for b in ("b1", "b2", "b3", "b4")}
        assert {row[6] for row in batches} == {"on hold"} and all(isinstance(row[1], datetime) for row in batches)
        admins = list(wb["Administrations"].iter_rows(values_only=True))[1:]
        assert len(admins) == 2 and all(isinstance(row[0], datetime) for row in admins)
        assert "Audit log head:" in (wb.properties.description or "")
    exports = db.session.execute(select(AuditEntry).where(AuditEntry.action == "report.export",
                                                          AuditEntry.object_id == "recall_worklist")).scalars().all()
    assert len(exports) == 2


def test_list_ignores_a_bad_page_or_status(client, login_as, reached, recall_lot):
    recall_lot(reached["lot"])
    login_as("manager")
    for query in ("page=x", "page=" + "9" * 30, "page=-1", "status=nonsense"):
        r = client.get(f"/recalls?{query}")
        assert r.status_code == 200, query
