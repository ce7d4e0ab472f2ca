"""The course pages through the test client, CSRF on, on both databases: each action
done, each refusal shown with the service's own message and nothing written."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from formulary import clock
from formulary.courses.models import (Administration, AdverseEvent, Consent, ConsentScan,
                                      ConsentText, Course, CourseSession)
from formulary.extensions import db
from formulary.patients.models import Allergy
from tests.courses.conftest import audit_actions, counts
from tests.courses.scanfiles import pdf, png


def post(client, url: str, data: dict, **kw):
    """Post a form with the session's CSRF token, read from a page that writes nothing
    (the patient pages are audited views: reading the token there would write)."""
    kw.pop("form_url", None)
    return client.post_form(url, data, form_url="/consent-texts", **kw)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", html)


@pytest.fixture
def practitioner(login_as):
    return login_as("practitioner")


@pytest.fixture
def course_form(client, clinic, practitioner):
    """``course_form(**fields)``: post the course form of the clinic's patient and cocktail."""
    url = f"/courses/new?patient_id={clinic['patient'].id}&cocktail_id={clinic['cocktail'].id}"

    def send(**fields):
        data = {"area": "scalp", "indication": "hair loss", "planned_sessions": "6",
                "interval_days": "14", "start_date": clock.today().isoformat(),
                "practitioner": practitioner.username, "submit": "1", **fields}
        return post(client, url, data)

    return send


@pytest.fixture
def course(course_form):
    r = course_form()
    assert r.status_code == 302, r.get_data(as_text=True)
    return db.session.execute(select(Course)).scalar_one()


@pytest.fixture
def text(app, practitioner):
    from formulary.courses import consent

    t = consent.create_text(db.session, practitioner, area="scalp", title="Scalp mesotherapy",
                            body="I agree to the treatment.")
    db.session.commit()
    return t


def _consent(client, course, text, **extra):
    """Post the consent form as multipart, encoded here into bytes: the test client
    would spool a large body to a temporary file it never closes."""
    data = {"consent_text_id": str(text.id), "consented_on": clock.today().isoformat(),
            "submit": "1", "csrf_token": client.csrf_token("/consent-texts"), **extra}
    data = {k: FileStorage(v[0], filename=v[1]) if isinstance(v, tuple) else v
            for k, v in data.items()}
    boundary, body = encode_multipart(data)
    return client.post(f"/courses/{course.id}/consent", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def _give(client, session_id, batch, **extra):
    data = {"batch_id": str(batch.id) if batch else "", "doses": "1", "site_area": "scalp",
            "site_description": "vertex and crown, 60 points", "technique": "nappage",
            "submit": "1", **extra}
    return post(client, f"/sessions/{session_id}/give", data)


def _sessions(course) -> list[CourseSession]:
    db.session.expire_all()
    return list(db.session.execute(select(CourseSession).where(
        CourseSession.course_id == course.id).order_by(CourseSession.number)).scalars())


# --- the picker and the course form ----------------------------------------------------

def test_the_picker_offers_a_course_on_safe_and_caution_cocktails_only(
        client, clinic, practitioner, make_cocktail, make_ingredient):
    peanut = make_ingredient("Peanut extract")
    blocked = make_cocktail([(peanut, "1", "mL")], name="Blocked mix", area="scalp")
    from formulary.patients.models import Patient

    patient = db.session.get(Patient, clinic["patient"].id)
    patient.allergies.append(Allergy(ingredient_id=peanut.id, severity="severe",
                                     status="active"))
    patient.allergy_status = "known"
    db.session.commit()
    html = client.get(f"/patients/{patient.id}/formulations").get_data(as_text=True)
    start = re.findall(r'href="/courses/new\?patient_id=\d+&amp;cocktail_id=(\d+)"', html)
    assert start == [str(clinic["cocktail"].id)] and str(blocked.id) not in start


def test_a_pharmacist_reads_the_picker_without_the_course_action(client, clinic, login_as):
    login_as("pharmacist")
    html = client.get(f"/patients/{clinic['patient'].id}/formulations").get_data(as_text=True)
    assert 'data-testid="start-course"' not in html


def test_the_course_form_is_prefilled_and_starts_a_course(client, clinic, practitioner,
                                                          course_form):
    url = f"/courses/new?patient_id={clinic['patient'].id}&cocktail_id={clinic['cocktail'].id}"
    html = client.get(url).get_data(as_text=True)
    assert 'value="hair loss"' in html and f'value="{clock.today().isoformat()}"' in html
    assert f'<option selected value="{practitioner.username}"' in html
    r = course_form(planned_sessions="3", interval_days="7")
    course = db.session.execute(select(Course)).scalar_one()
    assert r.headers["Location"].endswith(f"/courses/{course.id}")
    assert [s.planned_on for s in _sessions(course)] == [
        clock.today() + timedelta(days=7 * k) for k in range(3)]
    page = _text(client.get(f"/courses/{course.id}").get_data(as_text=True))
    assert "0 of 3</strong> sessions given" in page and 'data-status="missing"' in page


@pytest.mark.parametrize("fields, message", [
    ({"planned_sessions": "30"}, "Planned sessions must be from 1 to 24."),
    ({"planned_sessions": "six"}, "Planned sessions must be a whole number."),
    ({"interval_days": "0"}, "The interval in days must be from 1 to 365."),
    ({"start_date": "31/12/2026"}, ""),
    ({"area": "knee"}, "Use one of: scalp, face, neck, body, hands."),
    ({"practitioner": "nobody"}, "There is no user &#39;nobody&#39;."),
])
def test_a_refused_course_shows_why_and_writes_nothing(course_form, fields, message):
    before = counts()
    r = course_form(**fields)
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert 'class="invalid-feedback d-block"' in html and message in html
    assert counts() == before


def test_a_pharmacist_cannot_start_a_course(client, clinic, login_as):
    login_as("pharmacist")
    url = f"/courses/new?patient_id={clinic['patient'].id}&cocktail_id={clinic['cocktail'].id}"
    assert client.get(url).status_code == 403


def test_an_unknown_patient_or_cocktail_is_a_404_not_a_500(client, clinic, practitioner):
    assert client.get(f"/courses/new?patient_id=999&cocktail_id={clinic['cocktail'].id}"
                      ).status_code == 404
    assert client.get(f"/courses/new?patient_id={clinic['patient'].id}&cocktail_id=x"
                      ).status_code == 404


# --- consent ---------------------------------------------------------------------------

def test_consent_is_recorded_with_a_checked_scan_and_downloaded(client, course, text, login_as):
    r = _consent(client, course, text, scan=(io.BytesIO(png()), "signed form.png"))
    assert r.status_code == 302, _text(r.get_data(as_text=True))
    scan = db.session.execute(select(ConsentScan)).scalar_one()
    assert (scan.content_type, scan.filename, scan.size) == ("image/png", "signed form.png",
                                                             len(png()))
    page = client.get(f"/courses/{course.id}").get_data(as_text=True)
    assert 'data-status="given"' in page and 'data-testid="scan-link"' in page
    got = client.get(f"/consents/{scan.consent_id}/scan")
    assert got.status_code == 200 and got.data == png() and got.mimetype == "image/png"
    assert got.headers["Cache-Control"] == "no-store"
    assert {"consent.record", "consent.scan"} <= set(audit_actions())
    login_as("pharmacist")  # reads the patient: may see the form
    assert client.get(f"/consents/{scan.consent_id}/scan").status_code == 200
    login_as("manager")
    assert client.get(f"/consents/{scan.consent_id}/scan").status_code == 403


@pytest.mark.parametrize("content, message", [
    (b"just words, named like a PDF", "not a PDF, PNG or JPEG"),
    (pdf()[:-30], "The PDF file is cut short"),
    (b"%PDF-1.4" + b"\x00" * (10 * 2**20), "at most 10 MB"),
    (b"", "The file is empty."),
])
def test_a_bad_scan_refuses_the_consent_with_the_reason(client, course, text, content, message):
    before = counts()
    r = _consent(client, course, text, scan=(io.BytesIO(content), "form.pdf"))
    assert r.status_code == 422
    assert message in r.get_data(as_text=True)
    assert counts() == before
    assert db.session.execute(select(ConsentScan)).first() is None


def test_a_scan_can_be_attached_later_once(client, course, text):
    assert _consent(client, course, text).status_code == 302
    consent = db.session.execute(select(Consent)).scalar_one()
    url = f"/consents/{consent.id}/scan"
    data = {"scan": (io.BytesIO(pdf()), "x.pdf"), "submit": "1"}
    r = post(client, url, data, form_url=f"/courses/{course.id}",
                         content_type="multipart/form-data")
    assert r.status_code == 302
    again = post(client, url, {"scan": (io.BytesIO(pdf()), "x.pdf"), "submit": "1"},
                             form_url=f"/courses/{course.id}",
                             content_type="multipart/form-data")
    assert again.status_code == 409 and "already has its signed form" in again.get_data(
        as_text=True)


def test_consent_refusals_are_shown(client, course, text):
    before = counts()
    r = _consent(client, course, text,
                 consented_on=(clock.today() + timedelta(days=1)).isoformat())
    assert r.status_code == 422 and "Consent cannot be dated in the future." in r.get_data(
        as_text=True)
    r = _consent(client, course, text, consent_text_id="")
    assert r.status_code == 422 and "Choose a consent text by its id." in r.get_data(
        as_text=True)
    assert counts() == before


def test_withdrawing_consent_stops_the_course(client, course, text):
    assert _consent(client, course, text).status_code == 302
    url = f"/courses/{course.id}/consent/withdraw"
    r = post(client, url, {"withdrawn_on": clock.today().isoformat(), "reason": "",
                               "submit": "1"}, form_url=f"/courses/{course.id}")
    assert r.status_code == 422 and "A reason is required." in r.get_data(as_text=True)
    r = post(client, url, {"withdrawn_on": clock.today().isoformat(),
                               "reason": "changed her mind", "submit": "1"},
                         form_url=f"/courses/{course.id}")
    assert r.status_code == 302
    page = _text(client.get(f"/courses/{course.id}").get_data(as_text=True))
    assert 'data-status="stopped"' in page and 'data-status="withdrawn"' in page
    assert "Consent withdrawn: changed her mind" in page


def test_consent_texts_page_writes_the_next_version(client, practitioner, login_as):
    data = {"area": "face", "title": "Face", "body": "I agree.", "submit": "1"}
    assert post(client, "/consent-texts", data, form_url="/consent-texts").status_code == 302
    assert post(client, "/consent-texts", dict(data, body="I agree, v2."),
                            form_url="/consent-texts").status_code == 302
    r = post(client, "/consent-texts", dict(data, title=""), form_url="/consent-texts")
    assert r.status_code == 422 and "The title is required." in r.get_data(as_text=True)
    versions = db.session.execute(select(ConsentText.version).order_by(ConsentText.id)).scalars()
    assert list(versions) == [1, 2]
    login_as("pharmacist")
    html = client.get("/consent-texts").get_data(as_text=True)
    assert 'data-area="face"' in html and 'data-testid="consent-text-form"' not in html


# --- sessions and the course ------------------------------------------------------------

def test_sessions_are_moved_marked_and_the_course_stopped(client, course, time_machine,
                                                          login_as):
    first, second = _sessions(course)[:2]
    url = f"/courses/{course.id}"
    r = post(client, f"/sessions/{second.id}/mark",
                         {"status": "missed", "reason": "did not come"}, form_url=url)
    assert r.status_code == 409 and "it cannot be missed before its date" in r.get_data(
        as_text=True)
    r = post(client, f"/sessions/{second.id}/mark", {"status": "cancelled", "reason": ""},
                         form_url=url)
    assert r.status_code == 422 and "A reason is required." in r.get_data(as_text=True)
    r = post(client, f"/sessions/{second.id}/move", {"planned_on": "tomorrow"},
                         form_url=url)
    assert r.status_code == 422
    assert _sessions(course)[1].status == "planned"
    new_date = (clock.today() + timedelta(days=20)).isoformat()
    assert post(client, f"/sessions/{second.id}/move", {"planned_on": new_date},
                            form_url=url).status_code == 302
    assert _sessions(course)[1].planned_on.isoformat() == new_date
    # the first session's date passes: overdue on the page, then missed
    time_machine.move_to(clock.now() + timedelta(days=2))
    login_as("practitioner")  # the session of two days ago has expired
    page = client.get(url).get_data(as_text=True)
    assert re.search(r'data-session="1"[^>]*data-state="overdue"', page)
    assert post(client, f"/sessions/{first.id}/mark",
                            {"status": "missed", "reason": "did not come"},
                            form_url=url).status_code == 302
    page = _text(client.get(url).get_data(as_text=True))
    assert re.search(r'data-session="1"[^>]*data-state="missed"', page) and "did not come" in page
    r = post(client, f"/courses/{course.id}/stop", {"reason": "", "submit": "1"},
                         form_url=url)
    assert r.status_code == 422 and "A reason is required." in r.get_data(as_text=True)
    assert post(client, f"/courses/{course.id}/stop",
                            {"reason": "moved abroad", "submit": "1"},
                            form_url=url).status_code == 302
    db.session.expire_all()
    assert db.session.get(Course, course.id).status == "stopped"


# --- giving a session -------------------------------------------------------------------

def test_giving_a_session_lists_the_batches_and_records_it(client, course, text, make_batch,
                                                           clinic, make_patient):
    _consent(client, course, text)
    mine, anyone = make_batch(3), make_batch(2, patient=None)
    other = make_batch(2, patient=make_patient())
    unverified = make_batch(2, verify=False)
    first = _sessions(course)[0]
    html = client.get(f"/sessions/{first.id}/give").get_data(as_text=True)
    offered = re.findall(r'data-batch="([^"]+)"', html)
    assert offered == [mine.batch_number, anyone.batch_number]
    assert other.batch_number not in html and unverified.batch_number not in html
    r = _give(client, first.id, mine, doses="2", depth_mm="1.5", needle="32G 4 mm")
    adm = db.session.execute(select(Administration)).scalar_one()
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/administrations/{adm.id}")
    assert adm.sites == "scalp: vertex and crown, 60 points" and adm.doses == 2
    second = _sessions(course)[1]
    html = client.get(f"/sessions/{second.id}/give").get_data(as_text=True)
    assert re.search(rf'data-batch="{mine.batch_number}">.*?<strong data-testid="doses-left">1<',
                     html, re.S)


@pytest.mark.parametrize("case, status, message", [
    ("no_consent", 409, "No consent is recorded for this course"),
    ("not_verified", 409, "is not verified yet"),
    ("other_patient", 409, "was made for another patient"),
    ("too_many", 409, "dose(s) left; 5 were asked"),
    ("session_maximum", 409, "would be over its maximum dose per session (100 mg)"),
    ("no_sites", 422, "The injection sites is required."),
    ("no_batch", 422, "Choose a batch by its id."),
    ("safety_block", 409, "Give an override reason to give it anyway."),
])
def test_every_refusal_is_shown_and_nothing_written(client, course, text, make_batch, clinic,
                                                    make_patient, case, status, message):
    if case != "no_consent":
        _consent(client, course, text)
    batch = make_batch(3)
    extra = {}
    if case == "not_verified":
        batch = make_batch(3, verify=False)
    elif case == "other_patient":
        batch = make_batch(3, patient=make_patient())
    elif case == "too_many":
        extra = {"doses": "5"}
    elif case == "session_maximum":
        extra = {"doses": "3"}
    elif case == "no_sites":
        extra = {"site_description": ""}
    elif case == "no_batch":
        batch = None
    elif case == "safety_block":
        from formulary.patients.models import Patient

        patient = db.session.get(Patient, clinic["patient"].id)
        patient.allergies.append(Allergy(ingredient_id=clinic["lido"].id, severity="severe",
                                         status="active"))
        patient.allergy_status = "known"
        db.session.commit()
    before = counts()
    r = _give(client, _sessions(course)[0].id, batch, **extra)
    html = _text(r.get_data(as_text=True))
    assert r.status_code == status, html[:3000]
    assert message in html
    assert counts() == before
    if case == "safety_block":
        assert 'name="override_reason"' in html and 'data-error-for="override_reason"' in html
        r = _give(client, _sessions(course)[0].id, batch,
                  override_reason="patch test negative last week")
        assert r.status_code == 302
        adm = db.session.execute(select(Administration)).scalar_one()
        assert adm.override_reason == "patch test negative last week"


# --- adverse events, the allergy, the sheet and the timeline ---------------------------

def test_an_allergic_reaction_becomes_an_allergy_that_blocks_the_next_session(
        client, course, text, make_batch, clinic):
    _consent(client, course, text)
    batch = make_batch(3)
    sessions = _sessions(course)
    _give(client, sessions[0].id, batch)
    adm = db.session.execute(select(Administration)).scalar_one()
    url = f"/administrations/{adm.id}"
    event = {"onset": clock.today().isoformat(), "kind": "bruising", "severity": "mild",
             "outcome": "resolved", "submit": "1"}
    r = post(client, f"{url}/adverse-events", dict(event, onset="2000-01-01"), form_url=url)
    assert r.status_code == 422 and "The onset cannot be before the administration" in \
        r.get_data(as_text=True)
    assert post(client, f"{url}/adverse-events", event, form_url=url).status_code == 302
    html = client.get(url).get_data(as_text=True)
    assert 'data-event="bruising"' in html and 'data-testid="record-allergy"' not in html
    assert post(client, f"{url}/adverse-events",
                            dict(event, kind="allergic_reaction", severity="moderate"),
                            form_url=url).status_code == 302
    reaction = db.session.execute(select(AdverseEvent).where(
        AdverseEvent.kind == "allergic_reaction")).scalar_one()
    r = post(client, f"/adverse-events/{reaction.id}/allergies", {"submit": "1"},
                         form_url=url)
    assert r.status_code == 302
    allergies = db.session.execute(select(Allergy.ingredient_id, Allergy.severity)).all()
    assert sorted(allergies) == sorted([(clinic["biotin"].id, "moderate"),
                                        (clinic["lido"].id, "moderate")])
    assert "adverse_event.allergy" in audit_actions()
    again = post(client, f"/adverse-events/{reaction.id}/allergies", {"submit": "1"},
                             form_url=url)
    assert again.status_code == 409 and "already on file" in again.get_data(as_text=True)
    before = counts()
    r = _give(client, sessions[1].id, batch)
    assert r.status_code == 409 and "The safety screen blocks this cocktail" in r.get_data(
        as_text=True)
    assert counts() == before


def test_the_sheet_says_what_was_given_in_plain_words(client, course, text, make_batch,
                                                      clinic, practitioner):
    _consent(client, course, text)
    batch = make_batch(3)
    _give(client, _sessions(course)[0].id, batch, doses="2")
    adm = db.session.execute(select(Administration)).scalar_one()
    r = client.get(f"/administrations/{adm.id}/sheet")
    assert r.status_code == 200
    html = _text(r.get_data(as_text=True))
    assert "@media print" in html and 'class="tools no-print"' in html
    # 2 doses: biotin 1 mL a dose, lidocaine 2 mL (40 mg) a dose
    assert re.search(r'data-ingredient="Biotin 5 mg/mL"> <td>Biotin 5 mg/mL</td> <td>2 mL'
                     r'</td> <td>BIO-1 \(', html)
    assert re.search(r'data-ingredient="Lidocaine 2%"> <td>Lidocaine 2%</td> <td>4 mL', html)
    assert "Scalp mix" in html and practitioner.display_name in html
    assert clinic["patient"].mrn in html
    assert audit_actions()[-1] == "patient.view"
    # the patient's language may differ from the user's: chosen per sheet
    french = client.get(f"/administrations/{adm.id}/sheet?lang=fr").get_data(as_text=True)
    assert '<html lang="fr"' in french and '<html lang="en"' in html
    assert "Patient" in french and "What you received" not in french
    assert 'hreflang="en"' in french and 'hreflang="fr"' in french
    # an unknown language is the user's own, not an error
    other = client.get(f"/administrations/{adm.id}/sheet?lang=xx")
    assert other.status_code == 200 and '<html lang="en"' in other.get_data(as_text=True)


def test_the_timeline_and_record_show_the_courses(client, course, text, make_batch, clinic,
                                                  login_as):
    _consent(client, course, text)
    _give(client, _sessions(course)[0].id, make_batch(3))
    record = client.get(f"/patients/{clinic['patient'].id}").get_data(as_text=True)
    assert f'data-course="{course.id}"' in record and "1 of 6 sessions given" in _text(record)
    r = client.get(f"/patients/{clinic['patient'].id}/timeline")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    kinds = re.findall(r'<tr data-kind="(\w+)"', html)
    assert {"course", "session", "administration", "batch"} <= set(kinds)
    assert audit_actions()[-1] == "patient.view"
    login_as("manager")
    assert client.get(f"/patients/{clinic['patient'].id}/timeline").status_code == 403
    assert client.get(f"/courses/{course.id}").status_code == 403


def test_the_dashboard_rows_link_to_the_session(client, course, time_machine, login_as):
    time_machine.move_to(clock.now() + timedelta(days=1))
    login_as("practitioner")
    html = client.get("/dashboard").get_data(as_text=True)
    assert f'href="/courses/{course.id}#session-1" data-testid="due-session-link"' in html


# --- statements that do not grow with the history -------------------------------------

def _history(client, course, text, make_batch, sessions: int) -> None:
    """Consent and ``sessions`` sessions given, each with an adverse event."""
    _consent(client, course, text)
    for row in _sessions(course)[:sessions]:
        batch = make_batch(1)
        assert _give(client, row.id, batch).status_code == 302
    for adm in db.session.execute(select(Administration)).scalars():
        post(client, f"/administrations/{adm.id}/adverse-events",
                         {"onset": clock.today().isoformat(), "kind": "bruising",
                          "severity": "mild", "submit": "1"},
                         form_url=f"/administrations/{adm.id}")


@pytest.mark.parametrize("page", ["course", "timeline"])
def test_the_course_and_timeline_pages_read_a_fixed_number_of_statements(
        client, clinic, practitioner, make_batch, make_patient, count_queries, text, page):
    counted = []
    for sessions in (1, 12):
        clinic["patient"] = make_patient()
        url = f"/courses/new?patient_id={clinic['patient'].id}&cocktail_id={clinic['cocktail'].id}"
        post(client, url, {"area": "scalp", "planned_sessions": "12", "interval_days": "1",
                               "start_date": clock.today().isoformat(),
                               "practitioner": practitioner.username, "submit": "1"})
        course = db.session.execute(select(Course).where(
            Course.patient_id == clinic["patient"].id)).scalar_one()
        _history(client, course, text, make_batch, sessions)
        target = (f"/courses/{course.id}" if page == "course"
                  else f"/patients/{clinic['patient'].id}/timeline")
        client.get(target)
        with count_queries() as n:
            r = client.get(target)
        assert r.status_code == 200
        counted.append(n.statements)
    assert len(counted[0]) == len(counted[1]), "\n".join(
        f"{a!r:.90} | {b!r:.90}" for a, b in zip(counted[0], counted[1]))


def test_the_course_form_warns_when_the_screen_blocks(client, clinic, practitioner):
    from formulary.patients.models import Patient

    patient = db.session.get(Patient, clinic["patient"].id)
    patient.allergies.append(Allergy(ingredient_id=clinic["lido"].id, severity="severe",
                                     status="active"))
    patient.allergy_status = "known"
    db.session.commit()
    url = f"/courses/new?patient_id={patient.id}&cocktail_id={clinic['cocktail'].id}"
    html = _text(client.get(url).get_data(as_text=True))
    assert 'data-verdict="blocked"' in html
    assert "No session can be given without an override reason." in html


def test_a_pharmacist_reads_a_course_without_its_forms(client, course, login_as):
    login_as("pharmacist")
    r = client.get(f"/courses/{course.id}")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'data-testid="sessions"' in html
    for form in ("stop-form", "mark-form", "consent-form", "give-session"):
        assert f'data-testid="{form}"' not in html
