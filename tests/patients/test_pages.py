"""The patient pages, through forms with their CSRF token."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from formulary.audit.models import AuditEntry
from formulary.extensions import db
from formulary.patients.models import Allergy, Patient


def _fresh(patient_id: int) -> Patient:
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(Patient, patient_id)


def _views(patient_id: int) -> int:
    db.session.rollback()
    return db.session.execute(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "patient.view", AuditEntry.object_id == str(patient_id))).scalar_one()


def test_record_a_patient_then_see_allergies_not_yet_assessed(client, login_as):
    login_as("practitioner")
    r = client.post_form("/patients/new", {"mrn": "MRN-2001", "first_name": "Léa",
                                           "last_name": "Moreau", "date_of_birth": "1990-06-01",
                                           "conditions": ["breastfeeding"]})
    assert r.status_code == 302
    patient = db.session.execute(select(Patient).where(Patient.mrn == "MRN-2001")).scalar_one()
    assert [c.condition for c in patient.conditions] == ["breastfeeding"]
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Not yet assessed" in html and "Breastfeeding" in html


def test_new_patient_form_errors_land_on_the_fields(client, login_as, make_patient):
    make_patient("MRN-2002")
    login_as("practitioner")
    future = (date.today() + timedelta(days=3)).isoformat()
    r = client.post_form("/patients/new", {"mrn": "MRN-2002", "first_name": "A", "last_name": "B"})
    assert r.status_code == 422 and "Another patient has the medical record number" in r.get_data(as_text=True)
    r = client.post_form("/patients/new", {"mrn": "MRN-2003", "first_name": "", "last_name": "B",
                                           "date_of_birth": future}, form_url="/patients/new")
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert 'data-error-for="first_name"' in html and "cannot be in the future" in html
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(Patient)).scalar_one() == 1


def test_search_and_pages(client, login_as, make_patient):
    for i in range(30):
        make_patient(f"MRN-3{i:03d}", last_name=f"Name{i:02d}")
    make_patient("ZZ-1", first_name="Odile", last_name="Fontaine")
    login_as("pharmacist")
    html = client.get("/patients?q=fontaine").get_data(as_text=True)
    assert "ZZ-1" in html and "MRN-3000" not in html
    page2 = client.get("/patients?page=2").get_data(as_text=True)
    assert "Page 2 of 2" in page2


def test_the_record_page_view_is_audited(client, login_as, make_patient):
    patient = make_patient("MRN-2004")
    login_as("practitioner")
    assert client.get(f"/patients/{patient.id}").status_code == 200
    assert client.get(f"/patients/{patient.id}/formulations").status_code == 200
    assert _views(patient.id) == 2
    assert client.get("/patients/9999").status_code == 404


def test_add_allergies_of_each_kind_and_the_status_follows(client, login_as, make_patient, clinic):
    patient = make_patient("MRN-2005", allergy_status="unknown")
    login_as("practitioner")
    url = f"/patients/{patient.id}/allergies"
    form_url = f"/patients/{patient.id}"
    r = client.post_form(url, {"kind": "ingredient_id", "ingredient_id": str(clinic["lido_md"].id),
                               "severity": "severe", "reaction": "urticaria"}, form_url=form_url)
    assert r.status_code == 302
    r = client.post_form(url, {"kind": "allergen_group", "allergen_group": "cobalt",
                               "severity": "mild", "ingredient_id": str(clinic["biotin"].id)},
                         form_url=form_url)
    assert r.status_code == 302  # only the field the kind names counts
    r = client.post_form(url, {"kind": "substance", "substance": "latex", "severity": "moderate"},
                         form_url=form_url)
    assert r.status_code == 302
    p = _fresh(patient.id)
    assert p.allergy_status == "known"
    assert [(a.ingredient_id, a.allergen_group_id is not None, a.substance) for a in p.allergies] == [
        (clinic["lido_md"].id, False, None), (None, True, None), (None, False, "latex")]
    html = client.get(form_url).get_data(as_text=True)
    assert "Lidocaine 2% (multi-dose)" in html and "latex" in html and "urticaria" in html


def test_add_allergy_refused_keeps_the_form_and_changes_nothing(client, login_as, make_patient):
    patient = make_patient("MRN-2006", allergy_status="unknown")
    login_as("practitioner")
    r = client.post_form(f"/patients/{patient.id}/allergies",
                         {"kind": "substance", "substance": "", "severity": ""},
                         form_url=f"/patients/{patient.id}")
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert 'data-error-for="severity"' in html
    p = _fresh(patient.id)
    assert p.allergies == [] and p.allergy_status == "unknown"


def test_no_known_allergies_button_refused_while_an_allergy_is_active(client, login_as,
                                                                      make_patient):
    patient = make_patient("MRN-2007", allergies=[{"substance": "latex", "severity": "mild"}])
    login_as("practitioner")
    html = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Refused while an active allergy is on file" in html
    r = client.post_form(f"/patients/{patient.id}/no-known-allergies", {},
                         form_url=f"/patients/{patient.id}")
    assert r.status_code == 302
    assert _fresh(patient.id).allergy_status == "known"
    aid = _fresh(patient.id).allergies[0].id
    # Refuting it needs a reason; then "no known allergies" is accepted.
    client.post_form(f"/patients/{patient.id}/allergies/{aid}", {"status": "refuted"},
                     form_url=f"/patients/{patient.id}")
    assert db.session.get(Allergy, aid).status == "active"
    client.post_form(f"/patients/{patient.id}/allergies/{aid}",
                     {"status": "refuted", "reason": "tolerated latex gloves"},
                     form_url=f"/patients/{patient.id}")
    assert _fresh(patient.id).allergies[0].status == "refuted"
    client.post_form(f"/patients/{patient.id}/no-known-allergies", {},
                     form_url=f"/patients/{patient.id}")
    p = _fresh(patient.id)
    assert p.allergy_status == "none_known"
    html = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "No known allergies" in html


def test_edit_conditions(client, login_as, make_patient):
    patient = make_patient("MRN-2008", conditions=["diabetes"])
    login_as("pharmacist")
    r = client.post_form(f"/patients/{patient.id}/edit",
                         {"mrn": "MRN-2008", "first_name": "Ana", "last_name": "Test",
                          "date_of_birth": "1985-04-12", "conditions": ["anticoagulant_therapy"],
                          "reason": "started apixaban"})
    assert r.status_code == 302
    assert [c.condition for c in _fresh(patient.id).conditions] == ["anticoagulant_therapy"]


def test_picker_shows_verdicts_safe_first_with_findings(client, login_as, make_patient, clinic):
    patient = make_patient("MRN-2009", allergies=[{"group": "paraben", "severity": "severe"}])
    login_as("practitioner")
    html = client.get(f"/patients/{patient.id}/formulations?area=scalp").get_data(as_text=True)
    assert html.index('data-cocktail="Minoxidil scalp"') < html.index('data-cocktail="Hair vitality"')
    assert "<details" in html and "paraben, to which the patient had a severe reaction" in html
    # An unknown area falls back to all areas, with a message.
    html = client.get(f"/patients/{patient.id}/formulations?area=elbow").get_data(as_text=True)
    assert "Unknown area" in html and 'data-cocktail="Face glow"' in html


def test_picker_summarises_the_active_allergies_and_the_conditions_screened(
        client, login_as, make_patient, clinic):
    patient = make_patient("MRN-2012", conditions=["pregnant", "diabetes"], allergies=[
        {"ingredient": clinic["lido_md"], "severity": "severe"},
        {"group": "paraben", "severity": "mild", "status": "refuted"},
        {"substance": "latex", "severity": "anaphylaxis"}])
    login_as("practitioner")
    html = client.get(f"/patients/{patient.id}/formulations").get_data(as_text=True)
    summary = html[html.index('data-testid="patient-summary"'):]
    summary = " ".join(summary[:summary.index("</div>")].split())
    assert f"{clinic['lido_md'].name} (severe), latex (anaphylaxis)" in summary
    assert "paraben" not in summary  # refuted
    assert "Conditions:</strong> diabetes, pregnancy" in summary
    empty = make_patient("MRN-2013", allergy_status="unknown")
    html = client.get(f"/patients/{empty.id}/formulations").get_data(as_text=True)
    assert "not yet assessed" in html and "none recorded" in html


def test_manager_may_not_open_patient_pages(client, login_as, make_patient):
    patient = make_patient("MRN-2010")
    login_as("manager")
    assert client.get("/patients").status_code == 403
    assert client.get(f"/patients/{patient.id}").status_code == 403
    assert client.get(f"/patients/{patient.id}/formulations").status_code == 403
    assert _views(patient.id) == 0


def test_picker_pages_and_escapes_the_findings(client, login_as, make_patient, clinic,
                                               monkeypatch):
    from formulary.patients import views

    monkeypatch.setattr(views, "PICKER_PER_PAGE", 2)
    patient = make_patient("MRN-2011", allergies=[{"substance": "<b>latex</b> & co",
                                                   "severity": "mild"}])
    login_as("practitioner")
    first = client.get(f"/patients/{patient.id}/formulations").get_data(as_text=True)
    second = client.get(f"/patients/{patient.id}/formulations?page=2").get_data(as_text=True)
    names = [html.count('data-cocktail="') for html in (first, second)]
    assert names == [2, 2]
    assert 'data-cocktail="Body contour"' in first and 'data-cocktail="Hair vitality"' in second
    for html in (first, second):
        assert "4 active cocktails" in html
        assert "<b>latex" not in html
        assert "&#39;&lt;b&gt;latex&lt;/b&gt; &amp; co&#39;" in html
        assert html.count('<li data-kind="uncoded_allergy" data-level="warn">') == 2
