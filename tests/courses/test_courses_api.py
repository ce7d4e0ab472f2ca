"""Courses, sessions and consent through the API (SPEC §9, §11), on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from formulary import clock
from formulary.audit.models import AuditEntry
from formulary.courses.models import Course
from formulary.extensions import db
from tests.courses.conftest import audit_actions, counts


def test_a_course_is_created_with_its_sessions_planned(practitioner_api, clinic):
    today = clock.today()
    r = practitioner_api.post("courses", json={
        "patient_id": clinic["patient"].id, "cocktail_id": clinic["cocktail"].id,
        "planned_sessions": 3, "interval_days": 14, "start_date": today.isoformat()})
    assert r.status_code == 201, r.get_json()
    course = r.get_json()
    assert course["area"] == "scalp" and course["indication"] == "hair loss"  # from the cocktail
    assert course["status"] == "planned" and course["progress"] == {"given": 0, "planned": 3}
    assert course["practitioner"] == practitioner_api.user.username
    assert [s["planned_on"] for s in course["sessions"]] == [
        (today + timedelta(days=14 * k)).isoformat() for k in range(3)]
    assert [s["status"] for s in course["sessions"]] == ["planned"] * 3
    assert "course.create" in audit_actions()
    assert r.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("change, field, status", [
    ({"planned_sessions": 0}, "planned_sessions", 422),
    ({"planned_sessions": 25}, "planned_sessions", 422),
    ({"interval_days": 0}, "interval_days", 422),
    ({"interval_days": 366}, "interval_days", 422),
    ({"start_date": "2026-02-30"}, "start_date", 422),
    ({"area": "elbow"}, "area", 422),
    ({"practitioner": "nobody"}, "practitioner", 422),
    ({"patient_id": 999999}, "patient_id", 422),
    ({"cocktail_id": "1"}, "cocktail_id", 422),
])
def test_a_bad_course_is_refused_and_nothing_written(practitioner_api, clinic, change, field,
                                                     status):
    before = counts()
    body = {"patient_id": clinic["patient"].id, "cocktail_id": clinic["cocktail"].id,
            "planned_sessions": 3, "interval_days": 14,
            "start_date": clock.today().isoformat(), **change}
    r = practitioner_api.post("courses", json=body)
    assert r.status_code == status, r.get_json()
    assert field in r.get_json()["error"]["fields"]
    assert counts() == before


def test_a_course_of_a_cocktail_not_active_is_refused(practitioner_api, clinic, make_cocktail):
    draft = make_cocktail([(clinic["biotin"], "1", "mL")], status="draft")
    before = counts()
    r = practitioner_api.post("courses", json={
        "patient_id": clinic["patient"].id, "cocktail_id": draft.id, "planned_sessions": 3,
        "interval_days": 14, "start_date": clock.today().isoformat()})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "invalid_state"
    assert counts() == before


def test_a_pharmacist_cannot_be_in_charge(practitioner_api, clinic):
    r = practitioner_api.post("courses", json={
        "patient_id": clinic["patient"].id, "cocktail_id": clinic["cocktail"].id,
        "planned_sessions": 3, "interval_days": 14, "start_date": clock.today().isoformat(),
        "practitioner": clinic["preparer"].username})
    assert r.status_code == 422 and "practitioner" in r.get_json()["error"]["fields"]


def test_roles_record_read_or_get_403(api, start_course, clinic):
    course = start_course(consent=False)
    pharmacist, manager, admin = api("pharmacist"), api("manager"), api("admin")
    assert pharmacist.get(f"courses/{course['id']}").status_code == 200
    assert pharmacist.post("courses", json={}).status_code == 403
    for url in (f"courses/{course['id']}", "courses", "consent-texts"):
        assert manager.get(url).status_code == 403
    assert admin.patch(f"courses/{course['id']}",
                       json={"status": "stopped", "reason": "moved away"}).status_code == 200


def test_every_read_of_a_course_is_audited(api, start_course):
    course = start_course(consent=False)
    reader = api("pharmacist")
    r = reader.get(f"courses/{course['id']}")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    entry = db.session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc())).scalars().first()
    assert entry.action == "patient.view" and entry.username == reader.user.username
    assert f"course #{course['id']}" in entry.summary
    r = reader.get(f"courses?patient_id={course['patient_id']}")
    assert r.status_code == 200 and r.get_json()["total"] == 1
    assert audit_actions()[-1] == "patient.view"


def test_a_session_is_moved(practitioner_api, start_course):
    course = start_course(consent=False)
    second = course["sessions"][1]
    new = (clock.today() + timedelta(days=20)).isoformat()
    r = practitioner_api.patch(f"sessions/{second['id']}", json={"planned_on": new})
    assert r.status_code == 200, r.get_json()
    sessions = r.get_json()["sessions"]
    assert sessions[1]["planned_on"] == new
    assert sessions[2]["planned_on"] == course["sessions"][2]["planned_on"]  # the others stay
    assert audit_actions()[-1] == "session.move"


def test_a_past_session_reads_overdue_then_is_missed_with_a_reason(practitioner_api, start_course):
    course = start_course(consent=False,
                          start_date=(clock.today() - timedelta(days=3)).isoformat())
    first = course["sessions"][0]
    assert first["status"] == "overdue"
    for reason in ("", "   ", "\u200b", "...", None):
        before = counts()
        r = practitioner_api.patch(f"sessions/{first['id']}",
                                   json={"status": "missed", "reason": reason})
        assert r.status_code == 422 and "reason" in r.get_json()["error"]["fields"], reason
        assert counts() == before
    r = practitioner_api.patch(f"sessions/{first['id']}",
                               json={"status": "missed", "reason": "patient ill"})
    assert r.status_code == 200
    assert r.get_json()["sessions"][0] == dict(first, status="missed", reason="patient ill")
    assert r.get_json()["status"] == "planned"
    # missed twice, or moved once missed: refused
    r = practitioner_api.patch(f"sessions/{first['id']}",
                               json={"status": "cancelled", "reason": "again"})
    assert r.status_code == 409
    r = practitioner_api.patch(f"sessions/{first['id']}",
                               json={"planned_on": clock.today().isoformat()})
    assert r.status_code == 409


def test_a_future_session_cannot_be_missed_but_can_be_cancelled(practitioner_api, start_course):
    course = start_course(consent=False)
    last = course["sessions"][-1]
    r = practitioner_api.patch(f"sessions/{last['id']}", json={"status": "missed", "reason": "x"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "invalid_state"
    r = practitioner_api.patch(f"sessions/{last['id']}",
                               json={"status": "cancelled", "reason": "holiday"})
    assert r.status_code == 200 and r.get_json()["sessions"][-1]["status"] == "cancelled"


def test_a_session_patch_needs_one_thing_to_do(practitioner_api, start_course):
    course = start_course(consent=False)
    sid = course["sessions"][0]["id"]
    for body in ({}, {"planned_on": "2027-01-01", "status": "missed", "reason": "x"},
                 {"status": "given", "reason": "x"}):
        assert practitioner_api.patch(f"sessions/{sid}", json=body).status_code == 422
    assert practitioner_api.patch("sessions/999999", json={"planned_on": "2027-01-01"}).status_code == 404


def test_a_course_is_stopped_with_a_reason_once(practitioner_api, start_course):
    course = start_course(consent=False)
    url = f"courses/{course['id']}"
    assert practitioner_api.patch(url, json={"status": "stopped", "reason": " "}).status_code == 422
    assert practitioner_api.patch(url, json={"status": "active", "reason": "x"}).status_code == 422
    r = practitioner_api.patch(url, json={"status": "stopped", "reason": "moved away"})
    assert r.status_code == 200 and r.get_json()["status"] == "stopped"
    assert r.get_json()["stop_reason"] == "moved away"
    before = counts()
    r = practitioner_api.patch(url, json={"status": "stopped", "reason": "again"})
    assert r.status_code == 409 and counts() == before
    # a stopped course's sessions stay as they are
    sid = course["sessions"][1]["id"]
    assert practitioner_api.patch(f"sessions/{sid}", json={"planned_on": "2027-03-01"}).status_code == 409
    assert practitioner_api.get(f"courses?status=stopped").get_json()["total"] == 1


# --- consent -------------------------------------------------------------------------

def test_consent_texts_are_versioned_per_area(practitioner_api):
    first = practitioner_api.post("consent-texts", json={"area": "scalp", "title": "Scalp",
                                                         "body": "v1"})
    second = practitioner_api.post("consent-texts", json={"area": "scalp", "title": "Scalp",
                                                          "body": "v2"})
    face = practitioner_api.post("consent-texts", json={"area": "face", "title": "Face",
                                                        "body": "v1"})
    assert [r.status_code for r in (first, second, face)] == [201, 201, 201]
    assert (first.get_json()["version"], second.get_json()["version"],
            face.get_json()["version"]) == (1, 2, 1)
    listed = practitioner_api.get("consent-texts?area=scalp").get_json()
    assert [t["version"] for t in listed["items"]] == [2, 1]
    assert practitioner_api.post("consent-texts", json={"area": "scalp", "title": " ",
                                                        "body": "x"}).status_code == 422
    assert practitioner_api.post("consent-texts", json={"area": "knee", "title": "x",
                                                        "body": "x"}).status_code == 422


def test_consent_is_recorded_once_and_withdrawal_stops_the_course(practitioner_api,
                                                                  start_course):
    course = start_course(consent=False)
    url = f"courses/{course['id']}/consents"
    face = practitioner_api.post("consent-texts", json={"area": "face", "title": "F",
                                                        "body": "x"}).get_json()
    scalp = practitioner_api.post("consent-texts", json={"area": "scalp", "title": "S",
                                                         "body": "x"}).get_json()
    today = clock.today()
    r = practitioner_api.post(url, json={"consent_text_id": face["id"],
                                         "consented_on": today.isoformat()})
    assert r.status_code == 422 and "consent_text_id" in r.get_json()["error"]["fields"]
    r = practitioner_api.post(url, json={"consent_text_id": scalp["id"],
                                         "consented_on": (today + timedelta(days=1)).isoformat()})
    assert r.status_code == 422
    r = practitioner_api.post(url, json={"consent_text_id": scalp["id"],
                                         "consented_on": today.isoformat(), "note": "read aloud"})
    assert r.status_code == 201, r.get_json()
    consent = r.get_json()
    assert consent["version"] == 1 and consent["taken_by"] == practitioner_api.user.username
    assert consent["note"] == "read aloud" and consent["withdrawn_on"] is None
    assert practitioner_api.post(url, json={"consent_text_id": scalp["id"],
                                            "consented_on": today.isoformat()}).status_code == 409
    assert practitioner_api.get(f"courses/{course['id']}").get_json()["consent"]["id"] == consent["id"]
    r = practitioner_api.post(url, json={"withdrawn_on": today.isoformat(), "reason": " "})
    assert r.status_code == 422
    r = practitioner_api.post(url, json={"withdrawn_on": today.isoformat(),
                                         "reason": "changed her mind"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["withdrawn_on"] == today.isoformat()
    after = practitioner_api.get(f"courses/{course['id']}").get_json()
    assert after["status"] == "stopped" and after["consent"] is None
    assert {"consent.withdraw", "course.stop"} <= set(audit_actions())
    assert db.session.get(Course, course["id"]).stop_reason.startswith("Consent withdrawn")


def test_a_consent_body_mixing_record_and_withdraw_is_refused(practitioner_api, start_course):
    course = start_course(consent=False)
    r = practitioner_api.post(f"courses/{course['id']}/consents",
                              json={"consent_text_id": 1, "reason": "x"})
    assert r.status_code == 422
    r = practitioner_api.post(f"courses/{course['id']}/consents",
                              json={"withdrawn_on": clock.today().isoformat(), "reason": "x"})
    assert r.status_code == 409  # nothing to withdraw


def test_the_course_list_reads_a_fixed_number_of_statements(practitioner_api, start_course,
                                                            count_queries):
    counted = []
    for n in (1, 6):
        for _ in range(n):
            start_course(consent=False)
        practitioner_api.get("courses")
        with count_queries() as c:
            assert practitioner_api.get("courses").status_code == 200
        counted.append(c.count)
    assert counted[0] == counted[1], counted
