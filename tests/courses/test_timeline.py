"""The patient's timeline (SPEC §11): every kind of item, newest first, audited, and a
number of statements that does not grow with the patient's history."""

from __future__ import annotations

from datetime import timedelta

from formulary import clock
from formulary.courses import services
from formulary.extensions import db
from tests.courses.conftest import audit_actions

GIVE = {"doses": 1, "sites": "crown", "technique": "papules"}


def test_the_timeline_holds_every_kind_newest_first(practitioner_api, api, start_course,
                                                    make_batch, clinic):
    course = start_course(start_date=(clock.today() - timedelta(days=1)).isoformat())
    batch = make_batch(3)
    adm = practitioner_api.post(f"sessions/{course['sessions'][1]['id']}/administrations",
                                json={**GIVE, "batch_id": batch.id}).get_json()
    practitioner_api.post(f"administrations/{adm['id']}/adverse-events", json={
        "onset": clock.today().isoformat(), "kind": "allergic_reaction", "severity": "mild",
        "serious": False})
    r = api("pharmacist").get(f"patients/{clinic['patient'].id}/timeline")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    body = r.get_json()
    kinds = {i["kind"] for i in body["items"]}
    assert kinds == {"course", "session", "administration", "batch", "adverse_event"}
    assert body["total"] == len(body["items"]) == 1 + 6 + 1 + 1 + 1
    course_item = next(i for i in body["items"] if i["kind"] == "course")
    assert course_item["progress"] == {"given": 1, "planned": 6}
    assert "1 of 6" in course_item["summary"]
    overdue = [i for i in body["items"] if i["kind"] == "session" and i["status"] == "overdue"]
    assert [i["number"] for i in overdue] == [1]
    # newest first: the last planned session heads the list, the overdue one is near the end
    assert body["items"][0]["kind"] == "session" and body["items"][0]["number"] == 6
    assert audit_actions()[-1] == "patient.view"
    assert api("manager").get(f"patients/{clinic['patient'].id}/timeline").status_code == 403
    assert api("pharmacist").get("patients/999999/timeline").status_code == 404


def _history(practitioner, clinic, sessions: int) -> None:
    left = sessions
    while left:
        n = min(left, 24)
        services.create_course(db.session, practitioner, patient=clinic["patient"],
                               cocktail=clinic["cocktail"], planned_sessions=n, interval_days=7,
                               start_date=clock.today() - timedelta(days=200))
        left -= n
    db.session.commit()


def test_the_timeline_reads_a_fixed_number_of_statements(practitioner_api, clinic, make_batch,
                                                         count_queries, make_patient):
    """3 sessions or 40 (two courses), with batches and allergies: the same count."""
    counted = []
    for sessions in (3, 40):
        clinic["patient"] = make_patient()
        _history(practitioner_api.user, clinic, sessions)
        for _ in range(sessions // 10 + 1):
            make_batch(1)
        practitioner_api.get("consent-texts")  # the token's last use is written once a while
        with count_queries() as n:
            r = practitioner_api.get(f"patients/{clinic['patient'].id}/timeline")
        assert r.status_code == 200 and r.get_json()["total"] >= sessions
        counted.append(n.statements)
    assert len(counted[0]) == len(counted[1]), "\n".join(
        f"{a!r:.90} | {b!r:.90}" for a, b in zip(counted[0], counted[1]))
