"""The adverse-event listing per ingredient and per lot (SPEC §11): the API list with its
filters, the page, the Excel export (typed cells, inert text, audited), and a statement
count that does not grow with the events listed."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from openpyxl import load_workbook
from sqlalchemy import select

from formulary import clock
from formulary.audit.models import AuditEntry
from formulary.extensions import db
from tests.courses.conftest import counts

GIVE = {"doses": 1, "sites": "crown", "technique": "papules"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def give_sessions(client, course, batch, n):
    """Give one dose of ``batch`` at each of the first ``n`` sessions of ``course``."""
    made = []
    for s in course["sessions"][:n]:
        r = client.post(f"sessions/{s['id']}/administrations",
                        json={**GIVE, "batch_id": batch.id})
        assert r.status_code == 201, r.get_json()
        made.append(r.get_json())
    return made


def event(client, adm_id, **fields):
    body = {"onset": clock.today().isoformat(), "kind": "bruising", "severity": "mild",
            "serious": False, **fields}
    r = client.post(f"administrations/{adm_id}/adverse-events", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _events(practitioner_api, start_course, make_batch, n=2):
    course = start_course()
    adms = give_sessions(practitioner_api, course, make_batch(n), n)
    made = [event(practitioner_api, adms[0]["id"], outcome="=HYPERLINK(\"x\")",
                  action="+cold pack")]
    if n > 1:
        made.append(event(practitioner_api, adms[1]["id"], kind="allergic_reaction",
                          severity="severe", serious=True))
    return course, adms, made


def test_the_api_lists_events_with_the_administration_and_every_lot_given(
        practitioner_api, api, start_course, make_batch, clinic):
    _, adms, (bruise, reaction) = _events(practitioner_api, start_course, make_batch)
    body = api("pharmacist").get("adverse-events").get_json()
    assert body["total"] == 2 and [e["id"] for e in body["items"]] == [reaction["id"], bruise["id"]]
    item = body["items"][1]
    assert item["patient_mrn"] == clinic["patient"].mrn
    assert item["administration_id"] == adms[0]["id"] and item["session_number"] == 1
    assert item["batch_number"] == adms[0]["batch_number"]
    assert item["cocktail_name"] == "Scalp mix" and item["given_by"] == adms[0]["given_by"]
    assert sorted((ln["lot_number"], ln["quantity"]) for ln in item["lines"]) == [
        ("BIO-1", "1"), ("LID-1", "2")]


def test_the_api_filters_by_severity_seriousness_ingredient_lot_and_onset(
        practitioner_api, api, start_course, make_batch, clinic, make_ingredient):
    _, _, (bruise, reaction) = _events(practitioner_api, start_course, make_batch)
    reader = api("pharmacist")
    today = clock.today().isoformat()
    other = make_ingredient("Not given")
    for query, ids in [("severity=severe", [reaction["id"]]),
                       ("severity=mild", [bruise["id"]]),
                       ("serious=true", [reaction["id"]]), ("serious=no", [bruise["id"]]),
                       (f"lot_id={clinic['lido_lot'].id}&serious=1", [reaction["id"]]),
                       (f"ingredient_id={other.id}", []),
                       (f"from={today}&to={today}&severity=mild", [bruise["id"]])]:
        r = reader.get(f"adverse-events?{query}")
        assert r.status_code == 200, (query, r.get_json())
        assert [e["id"] for e in r.get_json()["items"]] == ids, query


def test_bad_filters_are_4xx_never_500(practitioner_api, api, start_course, make_batch):
    _events(practitioner_api, start_course, make_batch, n=1)
    reader = api("pharmacist")
    for query, status, field in [("severity=fatal", 422, "severity"),
                                 ("serious=maybe", 422, "serious"),
                                 ("from=2026-03-10&to=2026-03-01", 422, "to"),
                                 ("from=2026-02-30", 422, "from"),
                                 ("ingredient_id=999999", 404, "ingredient_id"),
                                 ("lot_id=999999", 404, "lot_id"),
                                 ("lot_id=abc", 422, "lot_id")]:
        for url in (f"adverse-events?{query}", f"reports/adverse-events.xlsx?{query}"):
            r = reader.get(url)
            assert r.status_code == status, (url, r.get_data(as_text=True)[:300])
            assert field in r.get_json()["error"]["fields"], url


def test_the_export_has_one_row_per_event_and_one_per_lot_typed_and_inert(
        practitioner_api, api, start_course, make_batch, clinic):
    _, adms, (bruise, reaction) = _events(practitioner_api, start_course, make_batch)
    r = api("pharmacist").get(f"reports/adverse-events.xlsx?lot_id={clinic['biotin_lot'].id}")
    assert r.status_code == 200 and r.mimetype == XLSX
    assert r.headers["Cache-Control"] == "no-store"
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["Adverse events", "By ingredient and lot"]
    ws = wb["Adverse events"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:5] == ("Event", "Onset", "Kind", "Severity", "Serious")
    assert [row[0] for row in rows[1:]] == [bruise["id"], reaction["id"]]  # oldest first
    first = rows[1]
    assert first[1] == datetime.combine(clock.today(), datetime.min.time())  # a real date
    assert first[4] == "no" and rows[2][4] == "yes"
    assert first[5] == '=HYPERLINK("x")' and first[6] == "+cold pack"
    assert ws["F2"].data_type == "s" and ws["F2"].quotePrefix  # never a formula
    assert ws["G2"].quotePrefix
    assert first[7] == clinic["patient"].mrn and isinstance(first[8], datetime)
    assert first[13:15] == (adms[0]["course_id"], 1)
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref
    lines = list(wb["By ingredient and lot"].iter_rows(values_only=True))
    assert sorted((row[0], row[7], row[9]) for row in lines[1:]) == sorted([
        (bruise["id"], "BIO-1", 1), (bruise["id"], "LID-1", 2),
        (reaction["id"], "BIO-1", 1), (reaction["id"], "LID-1", 2)])
    assert wb.properties.description  # the audit chain's head, as every export
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "report.export")
                               .order_by(AuditEntry.seq.desc())).scalars().first()
    assert entry.object_id == "adverse_events"


def test_the_export_of_a_range_without_events_has_only_headers(practitioner_api, api,
                                                                start_course, make_batch):
    _events(practitioner_api, start_course, make_batch, n=1)
    old = (clock.today() - timedelta(days=400)).isoformat()
    r = api("admin").get(f"reports/adverse-events.xlsx?from={old}&to={old}")
    wb = load_workbook(io.BytesIO(r.data))
    assert [len(list(wb[s].iter_rows())) for s in wb.sheetnames] == [1, 1]


def test_the_page_lists_filters_and_exports(client, login_as, practitioner_api, start_course,
                                            make_batch, clinic):
    _, adms, (bruise, reaction) = _events(practitioner_api, start_course, make_batch)
    login_as("pharmacist")
    html = client.get("/reports/adverse-events").get_data(as_text=True)
    assert f'data-event="{bruise["id"]}"' in html and f'data-event="{reaction["id"]}"' in html
    assert adms[0]["batch_number"] in html and "LID-1" in html
    html = client.get("/reports/adverse-events?severity=severe").get_data(as_text=True)
    assert f'data-event="{reaction["id"]}"' in html and f'data-event="{bruise["id"]}"' not in html
    html = client.get("/reports/adverse-events?lot=BIO-1&serious=no").get_data(as_text=True)
    assert f'data-event="{bruise["id"]}"' in html and f'data-event="{reaction["id"]}"' not in html
    assert 'data-testid="export"' in html
    r = client.get("/reports/adverse-events.xlsx?lot=BIO-1&serious=no")
    assert r.status_code == 200 and r.mimetype == XLSX
    rows = list(load_workbook(io.BytesIO(r.data))["Adverse events"].iter_rows(values_only=True))
    assert [row[0] for row in rows[1:]] == [bruise["id"]]


def test_the_page_answers_bad_filters_with_form_errors(client, login_as, practitioner_api,
                                                       start_course, make_batch):
    _events(practitioner_api, start_course, make_batch, n=1)
    login_as("practitioner")
    before = counts()
    for query in ("lot=NOPE", "from=2026-03-10&to=2026-03-01", "severity=fatal",
                  "lot_id=999999", "lot_id=x1", "ingredient_id=999999"):
        r = client.get(f"/reports/adverse-events?{query}")
        assert r.status_code == 422, query
        assert "is-invalid" in r.get_data(as_text=True), query
    assert counts() == before
    # a practitioner reads the listing but exports nothing (SPEC §2)
    html = client.get("/reports/adverse-events").get_data(as_text=True)
    assert 'data-testid="export"' not in html
    assert client.get("/reports/adverse-events.xlsx").status_code == 403


def test_listing_statements_do_not_grow_with_the_events(client, login_as, api, count_queries,
                                                        practitioner_api, start_course,
                                                        make_batch, make_patient):
    """Two patients listed both times (each read is audited once per patient listed, by
    design: that is one entry per patient, not per event); more events, administrations,
    batches and lots the second time."""
    reader = api("pharmacist")
    login_as("pharmacist")
    course, adms, _ = _events(practitioner_api, start_course, make_batch, n=1)
    other = start_course(patient_id=make_patient().id)
    more = give_sessions(practitioner_api, other, make_batch(3, patient=None), 3)
    event(practitioner_api, more[0]["id"])

    def measure():
        out = []
        for get in (lambda: reader.get("adverse-events"),
                    lambda: client.get("/reports/adverse-events")):
            get()
            with count_queries() as n:
                assert get().status_code == 200
            out.append(n.count)
        return out

    few = measure()
    for adm in [*more[1:], adms[0], more[0]]:
        event(practitioner_api, adm["id"], kind="swelling")
    assert reader.get("adverse-events").get_json()["total"] == 6
    assert measure() == few


def _listed_as_objects(event) -> dict:
    """An event as the API listed it when it was read as ORM objects (before the plain
    rows of ``event_report.listed_events_statement``)."""
    from formulary.api.core import dec, iso

    adm = event.administration
    return {"id": event.id, "administration_id": event.administration_id,
            "patient_id": event.patient_id, "onset": iso(event.onset), "kind": event.kind,
            "severity": event.severity, "serious": event.serious, "outcome": event.outcome,
            "action": event.action, "recorded_by": event.recorded_by.username,
            "recorded_at": iso(event.recorded_at), "patient_mrn": adm.course.patient.mrn,
            "given_at": iso(adm.given_at.astimezone(clock.clinic_tz())),
            "given_by": adm.given_by.username, "batch_id": adm.batch_id,
            "batch_number": adm.batch.batch_number, "cocktail_name": adm.batch.cocktail.name,
            "cocktail_version": adm.batch.version.number, "course_id": adm.course_id,
            "session_number": adm.session.number,
            "lines": [{"ingredient_id": ln.ingredient_id, "ingredient_name": ln.ingredient.name,
                       "lot_id": ln.lot_id, "lot_number": ln.lot.lot_number,
                       "quantity": dec(ln.quantity), "unit": ln.unit} for ln in adm.lines]}


def test_the_listed_rows_answer_what_the_objects_gave(app, practitioner_api, api, start_course,
                                                       make_batch, make_patient, clinic):
    from formulary.courses import event_report

    _events(practitioner_api, start_course, make_batch)
    other = start_course(patient_id=make_patient(first_name="Oda").id)
    more = give_sessions(practitioner_api, other, make_batch(3, patient=None), 3)
    event(practitioner_api, more[2]["id"], kind="swelling", severity="moderate")
    event(practitioner_api, more[0]["id"], outcome="resolved")
    reader = api("pharmacist")
    for query in ("", "?per_page=2&page=2", "?severity=mild",
                  f"?lot_id={clinic['lido_lot'].id}"):
        body = reader.get("adverse-events" + query).get_json()
        with app.test_request_context("/"):
            q = event_report.AdverseEventQuery()
            objects = {e.id: _listed_as_objects(e) for e in
                       db.session.execute(event_report.events_statement(q)).unique().scalars()}
        assert body["items"] and body["items"] == [objects[e["id"]] for e in body["items"]], query
    assert reader.get("adverse-events").get_json()["total"] == 4


def test_the_export_names_who_gave_and_who_recorded_by_full_name(
        api, start_course, make_batch):
    """As every export does (``batch_log.person_name``): the full name, or the username of
    a user who has none."""
    giver = api("practitioner", full_name="Dr Claire Martin")
    recorder = api("practitioner")  # no full name: the username stands for it
    course = start_course(client=giver)
    (adm,) = give_sessions(giver, course, make_batch(1), 1)
    event(recorder, adm["id"])
    r = api("pharmacist").get("reports/adverse-events.xlsx")
    assert r.status_code == 200
    rows = list(load_workbook(io.BytesIO(r.data))["Adverse events"].iter_rows(values_only=True))
    header, (row,) = rows[0], rows[1:]
    named = dict(zip(header, row))
    assert named["Given by"] == "Dr Claire Martin"
    assert named["Recorded by"] == recorder.user.username
    assert recorder.user.full_name in (None, "")
