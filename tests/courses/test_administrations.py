"""Giving a batch at a session (SPEC §11): the record, and every refusal with its own code,
nothing written; on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from formulary import clock
from formulary.compounding import dashboard as batch_dashboard
from formulary.compounding.models import Batch
from formulary.courses.models import Course, CourseSession
from formulary.db import utcnow
from formulary.extensions import db
from formulary.inventory.models import Lot
from formulary.patients.models import Allergy
from tests.courses.conftest import audit_actions, counts

BODY = {"doses": 1, "sites": "vertex and crown, 60 points", "technique": "nappage"}


def give(client, session_id, batch, **fields):
    return client.post(f"sessions/{session_id}/administrations",
                       json={**BODY, "batch_id": batch.id, **fields})


def test_an_administration_is_recorded_with_its_lines_scaled(practitioner_api, start_course,
                                                              make_batch, clinic):
    course = start_course()
    batch = make_batch(3)
    first = course["sessions"][0]
    r = give(practitioner_api, first["id"], batch, depth_mm="1.5", needle="32G 4 mm",
             notes="well tolerated")
    assert r.status_code == 201, r.get_json()
    adm = r.get_json()
    assert r.headers["Cache-Control"] == "no-store"
    assert (adm["session_id"], adm["course_id"], adm["patient_id"], adm["batch_id"]) == (
        first["id"], course["id"], clinic["patient"].id, batch.id)
    assert adm["doses"] == 1 and adm["given_by"] == practitioner_api.user.username
    assert adm["sites"] == BODY["sites"] and adm["technique"] == "nappage"
    assert adm["depth_mm"] == "1.5" and adm["needle"] == "32G 4 mm"
    # a third of the batch: 3 mL of biotin -> 1 mL, 6 mL of lidocaine -> 2 mL
    assert sorted((ln["lot_id"], ln["quantity"], ln["unit"]) for ln in adm["lines"]) == sorted(
        [(clinic["biotin_lot"].id, "1", "mL"), (clinic["lido_lot"].id, "2", "mL")])
    after = practitioner_api.get(f"courses/{course['id']}").get_json()
    assert after["status"] == "active" and after["progress"] == {"given": 1, "planned": 6}
    assert after["sessions"][0]["status"] == "given"
    assert after["sessions"][0]["administrations"] == [adm["id"]]
    assert "administration.create" in audit_actions()
    read = practitioner_api.get(f"administrations/{adm['id']}")
    assert read.status_code == 200 and read.get_json() == adm
    assert audit_actions()[-1] == "patient.view"


def test_the_last_session_given_completes_the_course(practitioner_api, start_course, make_batch):
    course = start_course(planned_sessions=1)
    r = give(practitioner_api, course["sessions"][0]["id"], make_batch(1))
    assert r.status_code == 201
    assert practitioner_api.get(f"courses/{course['id']}").get_json()["status"] == "completed"


def _refused(client, session_id, batch, code, status=409, **fields):
    before = counts()
    r = give(client, session_id, batch, **fields)
    assert r.status_code == status, r.get_json()
    assert r.get_json()["error"]["code"] == code, r.get_json()
    assert counts() == before
    return r.get_json()["error"]


def test_no_consent_no_administration(practitioner_api, start_course, make_batch):
    course = start_course(consent=False)
    error = _refused(practitioner_api, course["sessions"][0]["id"], make_batch(), "consent_missing")
    assert "consent" in error["message"]


def test_withdrawn_consent_refuses(practitioner_api, start_course, make_batch):
    course = start_course()
    r = practitioner_api.post(f"courses/{course['id']}/consents", json={
        "withdrawn_on": clock.today().isoformat(), "reason": "changed her mind"})
    assert r.status_code == 200
    _refused(practitioner_api, course["sessions"][0]["id"], make_batch(), "consent_withdrawn")


def test_a_batch_not_verified_is_refused(practitioner_api, start_course, make_batch):
    course = start_course()
    _refused(practitioner_api, course["sessions"][0]["id"], make_batch(verify=False),
             "batch_not_verified")


def test_a_discarded_batch_is_refused(practitioner_api, start_course, make_batch, clinic):
    from formulary.compounding import services

    course = start_course()
    batch = make_batch()
    services.discard_batch(db.session, clinic["preparer"], batch, "dropped")
    db.session.commit()
    _refused(practitioner_api, course["sessions"][0]["id"], batch, "batch_discarded")


def test_a_batch_past_its_beyond_use_date_is_refused(practitioner_api, start_course, make_batch):
    course = start_course()
    batch = make_batch()
    batch.beyond_use_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    _refused(practitioner_api, course["sessions"][0]["id"], batch, "batch_expired")


@pytest.mark.parametrize("status", ["quarantined", "recalled"])
def test_a_batch_on_hold_is_refused(practitioner_api, start_course, make_batch, clinic, status):
    course = start_course()
    batch = make_batch()
    db.session.get(Lot, clinic["lido_lot"].id).status = status
    db.session.commit()
    error = _refused(practitioner_api, course["sessions"][0]["id"], batch, "batch_on_hold")
    assert "LID-1" in error["message"] and status in error["message"]


def test_a_batch_made_for_another_patient_is_refused(practitioner_api, start_course, make_batch,
                                                    make_patient):
    course = start_course()
    batch = make_batch(patient=make_patient())
    _refused(practitioner_api, course["sessions"][0]["id"], batch, "batch_other_patient")


def test_a_batch_for_no_one_may_be_given(practitioner_api, start_course, make_batch):
    course = start_course()
    assert give(practitioner_api, course["sessions"][0]["id"], make_batch(patient=None)).status_code == 201


def test_a_batch_of_another_cocktail_is_refused(practitioner_api, start_course, make_batch,
                                               make_cocktail, clinic):
    course = start_course()
    other = make_cocktail([(clinic["biotin"], "1", "mL")], name="Biotin only")
    _refused(practitioner_api, course["sessions"][0]["id"], make_batch(cocktail=other),
             "batch_other_cocktail")


def test_doses_beyond_what_is_left_then_a_used_up_batch(practitioner_api, start_course,
                                                       make_batch):
    course = start_course()
    batch = make_batch(2)
    s1, s2, s3 = (s["id"] for s in course["sessions"][:3])
    _refused(practitioner_api, s1, batch, "insufficient_doses", doses=3)
    assert give(practitioner_api, s1, batch, doses=1).status_code == 201
    error = _refused(practitioner_api, s2, batch, "insufficient_doses", doses=2)
    assert "1 dose(s) left" in error["message"]
    assert give(practitioner_api, s2, batch, doses=1).status_code == 201
    _refused(practitioner_api, s3, batch, "batch_used_up")


def test_the_screen_runs_again_now(practitioner_api, start_course, make_batch, clinic):
    course = start_course()
    batch = make_batch()  # made while the patient was safe
    patient = db.session.get(type(clinic["patient"]), clinic["patient"].id)
    patient.allergies.append(Allergy(ingredient_id=clinic["lido"].id, severity="severe",
                                     status="active"))
    patient.allergy_status = "known"
    db.session.commit()
    sid = course["sessions"][0]["id"]
    error = _refused(practitioner_api, sid, batch, "safety_block")
    assert error["findings"] and error["findings"][0]["kind"] == "allergy"
    r = give(practitioner_api, sid, batch, override_reason="skin test negative, consultant agreed")
    assert r.status_code == 201
    assert r.get_json()["override_reason"] == "skin test negative, consultant agreed"
    assert r.get_json()["safety_verdict"] == "blocked"


def test_the_session_maximum_is_summed_over_every_batch(practitioner_api, start_course,
                                                        make_batch):
    """40 mg of lidocaine a dose, at most 100 mg a session: 3 doses of one batch are refused;
    2 doses of one batch and then 1 of another in the same session are refused too."""
    course = start_course()
    sid = course["sessions"][0]["id"]
    error = _refused(practitioner_api, sid, make_batch(3), "session_maximum", doses=3)
    assert "Lidocaine 2%" in error["message"]
    assert give(practitioner_api, sid, make_batch(2), doses=2).status_code == 201
    _refused(practitioner_api, sid, make_batch(1), "session_maximum", doses=1)
    # the next session starts from nothing
    assert give(practitioner_api, course["sessions"][1]["id"], make_batch(2), doses=2).status_code == 201


def test_a_missed_session_or_a_stopped_course_takes_nothing(practitioner_api, start_course,
                                                           make_batch):
    course = start_course()
    last = course["sessions"][-1]["id"]
    practitioner_api.patch(f"sessions/{last}", json={"status": "cancelled", "reason": "holiday"})
    _refused(practitioner_api, last, make_batch(), "invalid_state")
    practitioner_api.patch(f"courses/{course['id']}", json={"status": "stopped", "reason": "x"})
    _refused(practitioner_api, course["sessions"][0]["id"], make_batch(), "invalid_state")


@pytest.mark.parametrize("change, field", [
    ({"technique": "laser"}, "technique"),
    ({"sites": "  "}, "sites"),
    ({"sites": "\u200b"}, "sites"),
    ({"doses": 0}, "doses"),
    ({"doses": "1"}, "doses"),
    ({"given_at": "2026-12-01T10:00:00"}, "given_at"),  # no offset
    ({"given_at": "soon"}, "given_at"),
    ({"depth_mm": "-1"}, "depth_mm"),
    ({"batch_id": 999999}, "batch_id"),
])
def test_bad_fields_are_refused(practitioner_api, start_course, make_batch, change, field):
    course = start_course()
    batch = make_batch()
    before = counts()
    r = practitioner_api.post(f"sessions/{course['sessions'][0]['id']}/administrations",
                              json={**BODY, "batch_id": batch.id, **change})
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["error"]["fields"]
    assert counts() == before


def test_a_given_time_in_the_future_is_refused(practitioner_api, start_course, make_batch):
    course = start_course()
    later = (utcnow() + timedelta(hours=2)).isoformat()
    _refused(practitioner_api, course["sessions"][0]["id"], make_batch(), "invalid", 422,
             given_at=later)


def test_a_pharmacist_reads_but_does_not_give(api, start_course, make_batch):
    course = start_course()
    batch = make_batch()
    pharmacist = api("pharmacist")
    assert give(pharmacist, course["sessions"][0]["id"], batch).status_code == 403
    assert give(api("manager"), course["sessions"][0]["id"], batch).status_code == 403


def test_the_batch_reads_partly_given_then_given_with_its_doses_left(practitioner_api, api,
                                                                     start_course, make_batch):
    """SPEC §12: the batch's state and doses left follow its administrations, in a read,
    in the list's state filter, and at the next administration."""
    course = start_course()
    batch = make_batch(2)
    pharmacist = api("pharmacist")

    def read():
        body = pharmacist.get(f"batches/{batch.id}").get_json()
        return body["state"], body["doses_left"]

    def listed(state):
        r = pharmacist.get(f"batches?state={state}")
        assert r.status_code == 200, r.get_json()
        return [b["id"] for b in r.get_json()["items"]]

    assert read() == ("verified", 2) and listed("verified") == [batch.id]
    assert give(practitioner_api, course["sessions"][0]["id"], batch).status_code == 201
    assert read() == ("partly_given", 1)
    assert listed("partly_given") == [batch.id] and listed("verified") == []
    # past its beyond-use instant, a batch with a dose left is expired on the dashboard
    later = db.session.get(Batch, batch.id).beyond_use_at + timedelta(hours=1)
    assert batch_dashboard.held_and_expired(db.session, later) == (0, 1)
    assert give(practitioner_api, course["sessions"][1]["id"], batch).status_code == 201
    assert read() == ("given", 0)
    assert listed("given") == [batch.id] and listed("partly_given") == []
    db.session.expire_all()
    assert batch_dashboard.held_and_expired(db.session, later) == (0, 0)  # given: not expired
    _refused(practitioner_api, course["sessions"][2]["id"], batch, "batch_used_up")
