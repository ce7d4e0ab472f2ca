"""The batch pages, through the test client with CSRF on."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook
from sqlalchemy import select

from formulary.audit.models import AuditEntry
from formulary.compounding.models import Batch
from formulary.db import utcnow
from formulary.extensions import db
from tests.compounding.conftest import TODAY, D, counts, on_hand


def _new_url(stocked, doses=2, mrn=""):
    return f"/batches/new?cocktail_id={stocked['cocktail'].id}&doses={doses}&patient_mrn={mrn}"


def _key(html: str) -> str:
    return re.search(r'name="idempotency_key"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="idempotency_key"',
                     html).group(1) or ""


def _confirm(client, stocked, doses=2, mrn="", **extra):
    url = _new_url(stocked, doses, mrn)
    html = client.get(url).get_data(as_text=True)
    data = {"cocktail_id": stocked["cocktail"].id, "doses": doses, "patient_mrn": mrn,
            "idempotency_key": _key(html) if 'name="idempotency_key"' in html else "", **extra}
    return client.post_form("/batches/new", data, form_url=url), data


def test_preview_shows_lots_first_expiry_first_and_the_beyond_use(client, login_as, stocked):
    login_as("pharmacist")
    r = client.get(_new_url(stocked, doses=5))
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert html.index('data-lot="BIO-SOON"') < html.index('data-lot="BIO-LATE"')
    assert 'data-testid="beyond-use"' in html and 'data-testid="confirm"' in html
    assert counts()[0] == 0


def test_preview_of_a_shortfall_offers_no_confirmation(client, login_as, stocked):
    login_as("pharmacist")
    html = client.get(_new_url(stocked, doses=14)).get_data(as_text=True)
    assert "Biotin 5 mg/mL short by 1 mL" in html and 'data-testid="confirm"' not in html


def test_confirm_prepares_and_a_double_submit_makes_one_batch(client, login_as, stocked):
    login_as("pharmacist")
    r, data = _confirm(client, stocked)
    assert r.status_code == 302
    batch = db.session.execute(select(Batch)).scalar_one()
    assert r.headers["Location"].endswith(f"/batches/{batch.id}")
    again = client.post_form("/batches/new", data, form_url=_new_url(stocked))
    assert again.status_code == 302 and again.headers["Location"].endswith(f"/batches/{batch.id}")
    assert counts()[0] == 1 and on_hand(stocked["sooner"]) == D(1)
    html = client.get(f"/batches/{batch.id}").get_data(as_text=True)
    assert batch.batch_number in html and "BIO-SOON" in html


def test_blocked_patient_needs_an_override_reason(client, login_as, stocked, make_patient):
    login_as("pharmacist")
    make_patient(mrn="MRN-PREG", conditions=("pregnant",))
    html = client.get(_new_url(stocked, mrn="MRN-PREG")).get_data(as_text=True)
    assert 'data-status="blocked"' in html and 'name="override_reason"' in html
    r, data = _confirm(client, stocked, mrn="MRN-PREG")
    assert r.status_code == 409 and counts()[0] == 0
    r, data = _confirm(client, stocked, mrn="mrn-preg", override_reason="Cleared by obstetrician")
    assert r.status_code == 302
    batch = db.session.execute(select(Batch)).scalar_one()
    assert batch.override_reason == "Cleared by obstetrician"
    page = client.get(f"/batches/{batch.id}").get_data(as_text=True)
    assert 'data-testid="override"' in page and "Cleared by obstetrician" in page


def _patient_views() -> list[AuditEntry]:
    db.session.rollback()
    return db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "patient.view").order_by(AuditEntry.seq)).scalars().all()


def test_preparing_for_a_patient_is_an_audited_view_of_their_record(client, login_as, stocked,
                                                                   make_patient):
    """The preview shows the patient's allergies and conditions (the screen's findings):
    SPEC §2, every read of a patient's record is audited, once per page shown."""
    user = login_as("pharmacist")
    patient = make_patient(mrn="MRN-SEEN", conditions=("pregnant",))
    r = client.get(_new_url(stocked, mrn="MRN-SEEN"))
    assert r.status_code == 200 and 'data-testid="safety"' in r.get_data(as_text=True)
    views = _patient_views()
    assert len(views) == 1
    assert views[0].object_type == "patient" and views[0].object_id == str(patient.id)
    assert views[0].user_id == user.id and "MRN-SEEN" in views[0].summary
    # a preview without a patient shows no record and writes no entry
    assert client.get(_new_url(stocked)).status_code == 200
    assert len(_patient_views()) == 1
    # a second page shown is a second view
    assert client.get(_new_url(stocked, mrn="mrn-seen")).status_code == 200
    assert [v.object_id for v in _patient_views()] == [str(patient.id)] * 2


def test_a_refused_preparation_for_a_patient_writes_no_view(client, login_as, stocked, make_patient):
    """A refused request changes nothing, the audit log included: the unknown MRN and the
    blocked confirmation without a reason write no entry (and no batch)."""
    login_as("pharmacist")
    make_patient(mrn="MRN-PREG", conditions=("pregnant",))
    assert client.get(_new_url(stocked, mrn="NOPE")).status_code == 422
    assert _patient_views() == []
    url = _new_url(stocked, mrn="MRN-PREG")
    html = client.get(url).get_data(as_text=True)
    assert len(_patient_views()) == 1  # the page that asks for the reason
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    r = client.post("/batches/new", data={  # the token of that page: no second GET
        "csrf_token": token, "cocktail_id": stocked["cocktail"].id, "doses": 2,
        "patient_mrn": "MRN-PREG", "idempotency_key": _key(html)})
    assert r.status_code == 409 and counts()[0] == 0
    assert 'name="override_reason"' in r.get_data(as_text=True)
    assert len(_patient_views()) == 1


def test_the_override_reason_is_on_the_batch_page_and_its_label(client, login_as, stocked,
                                                               make_patient):
    """README: a blocked screen overridden by the pharmacist keeps the reason on the batch,
    shown on its page and printed on its label (both layouts)."""
    login_as("pharmacist")
    make_patient(mrn="MRN-PREG", conditions=("pregnant",))
    reason = "Cleared by obstetrician <Dr Roux> & team"
    r, _ = _confirm(client, stocked, mrn="MRN-PREG", override_reason=reason)
    assert r.status_code == 302
    batch = db.session.execute(select(Batch)).scalar_one()
    assert batch.override_reason == reason and batch.safety_verdict == "blocked"
    escaped = "Cleared by obstetrician &lt;Dr Roux&gt; &amp; team"
    page = client.get(f"/batches/{batch.id}").get_data(as_text=True)
    assert 'data-testid="override"' in page and escaped in page
    for layout in ("small", "a4"):
        label = client.get(f"/batches/{batch.id}/label?layout={layout}")
        html = label.get_data(as_text=True)
        assert label.status_code == 200 and f'data-layout="{layout}"' in html
        assert f"Safety override: {escaped}" in html


def test_unknown_mrn_and_bad_doses_are_shown_on_the_form(client, login_as, stocked):
    login_as("pharmacist")
    r = client.get(_new_url(stocked, mrn="NOPE"))
    assert r.status_code == 422 and "No patient has the MRN NOPE" in r.get_data(as_text=True)
    r = client.get(_new_url(stocked, doses=0))
    assert r.status_code == 422 and "positive whole number" in r.get_data(as_text=True)


def test_verify_and_discard_pages(client, login_as, stocked, prepare, make_user):
    preparer = make_user("pharmacist")
    batch = prepare(preparer, stocked["cocktail"], 1, now=utcnow())  # in date: verifiable
    login_as("pharmacist")
    url = f"/batches/{batch.id}"
    r = client.post_form(f"{url}/verify", {}, form_url=url)
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(Batch, batch.id).status == "verified"
    r = client.post_form(f"{url}/discard", {"reason": ""}, form_url=url)
    assert r.status_code == 422 and db.session.get(Batch, batch.id).status == "verified"
    r = client.post_form(f"{url}/discard", {"reason": "Vial cracked"}, form_url=url)
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(Batch, batch.id).status == "discarded"


def test_preparer_cannot_verify_own_batch_on_the_page(client, login_as, stocked, prepare):
    me = login_as("pharmacist")
    batch = prepare(me, stocked["cocktail"], 1)
    url = f"/batches/{batch.id}"
    r = client.post_form(f"{url}/verify", {}, form_url=url)
    assert r.status_code == 409 and "second pharmacist" in r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Batch, batch.id).status == "prepared"


def test_label_has_the_qr_code_and_the_record(client, login_as, stocked, prepare, make_patient):
    patient = make_patient(mrn="MRN-LBL")
    user = login_as("pharmacist")
    batch = prepare(user, stocked["cocktail"], 3, patient=patient)
    for layout in ("small", "a4"):
        html = client.get(f"/batches/{batch.id}/label?layout={layout}").get_data(as_text=True)
        assert "<svg" in html and batch.batch_number in html and "MRN-LBL" in html
        assert "Scalp biotin" in html and "Refrigerate" in html and f'data-layout="{layout}"' in html


def test_list_filters(client, login_as, stocked, prepare, make_patient, make_user):
    login_as("manager")
    p = make_patient(mrn="MRN-LIST")
    prep_user = make_user("pharmacist")
    b1 = prepare(prep_user, stocked["cocktail"], 1)
    b2 = prepare(prep_user, stocked["cocktail"], 1, patient=p)
    html = client.get("/batches").get_data(as_text=True)
    assert b1.batch_number in html and b2.batch_number in html
    html = client.get("/batches?patient_mrn=MRN-LIST").get_data(as_text=True)
    assert b2.batch_number in html and b1.batch_number not in html
    html = client.get(f"/batches?date_from={TODAY.isoformat()}&date_to={TODAY.isoformat()}").get_data(as_text=True)
    assert b1.batch_number in html
    assert client.get("/batches?patient_mrn=NOPE").status_code == 422


def test_trace_page_and_excel_export(client, login_as, stocked, prepare, make_patient):
    user = login_as("pharmacist")
    patient = make_patient(mrn="=HYPERLINK(1)")
    batch = prepare(user, stocked["cocktail"], 2, patient=patient)
    lot = stocked["sooner"]
    html = client.get(f"/lots/{lot.id}/trace").get_data(as_text=True)
    assert batch.batch_number in html and "=HYPERLINK(1)" in html
    r = client.get(f"/lots/{lot.id}/trace.xlsx")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    wb = load_workbook(io.BytesIO(r.data), read_only=True)
    rows = list(wb["Batches"].iter_rows(values_only=True))
    assert rows[1][0] == batch.batch_number and rows[1][8] == 2
    assert list(wb["Patients"].iter_rows(values_only=True))[1][0] == "=HYPERLINK(1)"


def test_dashboard_panel(client, login_as, stocked, make_user):
    from formulary.compounding import services
    from formulary import clock

    user = login_as("practitioner")
    p = make_user("pharmacist")
    services.prepare_batch(db.session, p, cocktail=stocked["cocktail"], doses=1, tz=clock.clinic_tz())
    db.session.commit()
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'data-testid="batches-today">1<' in html and "1 awaiting verification" in html


def test_stock_gone_between_preview_and_confirm(client, login_as, stocked, prepare, make_user):
    login_as("pharmacist")
    url = _new_url(stocked, doses=10)
    html = client.get(url).get_data(as_text=True)
    data = {"cocktail_id": stocked["cocktail"].id, "doses": 10, "patient_mrn": "",
            "idempotency_key": _key(html)}
    prepare(make_user("pharmacist"), stocked["cocktail"], 5)  # a colleague takes biotin meanwhile
    r = client.post_form("/batches/new", data, form_url=url)
    assert r.status_code == 409
    assert "Biotin 5 mg/mL short by 2 mL" in r.get_data(as_text=True)
    assert counts()[0] == 1


def test_batch_list_query_count_is_constant(client, login_as, stocked, prepare, make_patient,
                                            count_queries):
    user = login_as("pharmacist")
    prepare(user, stocked["cocktail"], 1, patient=make_patient())
    with count_queries() as few:
        client.get("/batches")
    for _ in range(6):
        prepare(user, stocked["cocktail"], 1, patient=make_patient())
    with count_queries() as many:
        client.get("/batches")
    assert many.count == few.count
