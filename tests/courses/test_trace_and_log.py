"""The recall trace reaches administrations (SPEC §7, §11): patient, date, practitioner
and sites on the trace page, in the API and in the trace export, for the roles that read
courses (the manager gets counts, never the patients' courses); the batch log's
``Administrations`` sheet under the same rule. A trace costs the same statements
whatever the number of administrations."""

from __future__ import annotations

import io
from datetime import datetime

from openpyxl import load_workbook
from sqlalchemy import select

from formulary.audit.models import AuditEntry
from formulary.extensions import db
from tests.courses.test_event_listing import give_sessions


def _given(practitioner_api, start_course, make_batch, make_patient, n=2):
    """``n`` doses of one batch (made for no patient) given at the first sessions of one
    patient's course, and one dose of another batch to a second patient."""
    course = start_course()
    batch = make_batch(3, patient=None)
    adms = give_sessions(practitioner_api, course, batch, n)
    other = make_patient("MRN-OTHER", first_name="Zoe", last_name="Other")
    course2 = start_course(patient_id=other.id)
    adms += give_sessions(practitioner_api, course2, batch, 1)
    return adms, batch


def test_the_trace_api_lists_every_administration_for_the_clinical_roles(
        practitioner_api, api, start_course, make_batch, make_patient, clinic):
    adms, batch = _given(practitioner_api, start_course, make_batch, make_patient)
    lot = clinic["lido_lot"]
    body = api("pharmacist").get(f"lots/{lot.id}/trace").get_json()
    assert [b["id"] for b in body["batches"]] == [batch.id]
    assert body["administration_count"] == 3
    listed = body["administrations"]
    assert sorted(a["id"] for a in listed) == sorted(a["id"] for a in adms)
    one = next(a for a in listed if a["id"] == adms[0]["id"])
    assert one["patient"]["mrn"] == clinic["patient"].mrn
    assert one["practitioner"] and one["sites"] == "crown" and one["technique"] == "papules"
    assert one["quantity"] == "2" and one["unit"] == "mL"  # 2 mL of lidocaine a dose
    assert one["session_number"] == 1 and one["batch_number"] == batch.batch_number
    assert datetime.fromisoformat(one["given_at"]).utcoffset() is not None
    # every patient reached, though the batch was made for nobody
    assert {p["mrn"] for p in body["patients"]} == {clinic["patient"].mrn, "MRN-OTHER"}
    manager = api("manager").get(f"lots/{lot.id}/trace").get_json()
    assert manager["administration_count"] == 3 and "administrations" not in manager


def test_the_trace_page_shows_administrations_and_counts_for_the_manager(
        client, login_as, practitioner_api, start_course, make_batch, make_patient, clinic):
    adms, _ = _given(practitioner_api, start_course, make_batch, make_patient)
    lot = clinic["biotin_lot"]
    login_as("pharmacist")
    html = client.get(f"/lots/{lot.id}/trace").get_data(as_text=True)
    assert all(f'data-administration="{a["id"]}"' in html for a in adms)
    assert "MRN-OTHER" in html and "crown" in html and 'data-testid="trace-events"' in html
    login_as("manager")
    html = client.get(f"/lots/{lot.id}/trace").get_data(as_text=True)
    assert 'data-testid="trace-administrations-count"' in html
    assert 'data-administration=' not in html and "crown" not in html


def test_the_trace_export_has_an_administrations_sheet_for_the_clinical_roles(
        client, login_as, practitioner_api, start_course, make_batch, make_patient, clinic):
    adms, batch = _given(practitioner_api, start_course, make_batch, make_patient)
    lot = clinic["lido_lot"]
    login_as("pharmacist")
    r = client.get(f"/lots/{lot.id}/trace.xlsx")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["Batches", "Patients", "Administrations"]
    rows = list(wb["Administrations"].iter_rows(values_only=True))
    assert rows[0][:5] == ("Given at", "Patient MRN", "Patient", "Practitioner", "Batch number")
    assert len(rows) == 4 and {r[1] for r in rows[1:]} == {clinic["patient"].mrn, "MRN-OTHER"}
    assert isinstance(rows[1][0], datetime) and rows[1][6] == 2 and rows[1][8] == "crown"
    assert wb.properties.description  # the audit head, as every export
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "report.export")
                               .order_by(AuditEntry.seq.desc())).scalars().first()
    assert entry.object_id == "trace"
    login_as("manager")
    wb = load_workbook(io.BytesIO(client.get(f"/lots/{lot.id}/trace.xlsx").data))
    assert wb.sheetnames == ["Batches", "Patients"]


def test_trace_statements_do_not_grow_with_the_administrations(
        client, login_as, api, count_queries, practitioner_api, start_course, make_batch,
        make_patient, clinic):
    reader = api("pharmacist")
    login_as("pharmacist")
    lot = clinic["lido_lot"]
    course = start_course()
    give_sessions(practitioner_api, course, make_batch(1, patient=None), 1)

    def measure():
        out = []
        for get in (lambda: reader.get(f"lots/{lot.id}/trace"),
                    lambda: client.get(f"/lots/{lot.id}/trace"),
                    lambda: client.get(f"/lots/{lot.id}/trace.xlsx")):
            get()
            with count_queries() as n:
                assert get().status_code == 200
            out.append(n.count)
        return out

    few = measure()
    _given(practitioner_api, start_course, make_batch, make_patient, n=1)
    other = start_course(patient_id=make_patient().id)
    give_sessions(practitioner_api, other, make_batch(3, patient=None), 3)
    assert reader.get(f"lots/{lot.id}/trace").get_json()["administration_count"] == 6
    assert measure() == few


def test_the_batch_log_has_an_administrations_sheet_for_the_clinical_roles(
        api, practitioner_api, start_course, make_batch, make_patient, clinic):
    adms, batch = _given(practitioner_api, start_course, make_batch, make_patient)
    url = "reports/batch-log.xlsx"
    wb = load_workbook(io.BytesIO(api("pharmacist").get(url).data))
    assert wb.sheetnames == ["Batches", "Components", "Administrations"]
    batches = list(wb["Batches"].iter_rows(values_only=True))
    assert batches[0][-2:] == ("Doses given", "Doses left")
    assert batches[1][0] == batch.batch_number and batches[1][-2:] == (3, 0)
    rows = list(wb["Administrations"].iter_rows(values_only=True))
    assert rows[0] == ("Batch number", "Given at", "Patient MRN", "Practitioner", "Doses",
                       "Sites", "Technique", "Course", "Session")
    assert len(rows) == 4
    first = rows[1]
    assert first[0] == batch.batch_number and isinstance(first[1], datetime)
    assert first[2] == clinic["patient"].mrn and first[4:7] == (1, "crown", "papules")
    assert first[7:] == (adms[0]["course_id"], 1)
    manager = load_workbook(io.BytesIO(api("manager").get(url).data))
    assert manager.sheetnames == ["Batches", "Components"]
