"""Roles that may not record courses (SPEC §2, §11: practitioners and admins record;
pharmacists read; managers see no patient data) sending valid requests about real objects:
403 with the envelope, and nothing changes (the world's rows and audit)."""

from __future__ import annotations

import pytest

from formulary import clock
from tests.hostile.conftest import GIVE, assert_refused, table_counts

TODAY = lambda: clock.today().isoformat()  # noqa: E731

WRITES = [
    ("post", lambda w: "courses", lambda w: {
        "patient_id": w["ana"].id, "cocktail_id": w["clinic"]["cocktail"].id,
        "planned_sessions": 3, "interval_days": 14, "start_date": TODAY()}),
    ("patch", lambda w: f"courses/{w['course']['id']}", lambda w: {"status": "stopped", "reason": "x1"}),
    ("patch", lambda w: f"sessions/{w['session']['id']}", lambda w: {"planned_on": TODAY()}),
    ("patch", lambda w: f"sessions/{w['session']['id']}", lambda w: {"status": "cancelled", "reason": "ill"}),
    ("post", lambda w: "consent-texts", lambda w: {"area": "face", "title": "Face", "body": "I agree."}),
    ("post", lambda w: f"courses/{w['course']['id']}/consents",
     lambda w: {"withdrawn_on": TODAY(), "reason": "changed her mind"}),
    ("post", lambda w: f"sessions/{w['session']['id']}/administrations",
     lambda w: {**GIVE, "batch_id": w["batch"].id}),
    ("post", lambda w: f"administrations/{w['adm']['id']}/adverse-events",
     lambda w: {"onset": TODAY(), "kind": "pain", "severity": "mild", "serious": False}),
]
READS = ["courses", "courses/{course}", "administrations/{adm}", "adverse-events",
         "patients/{ana}/timeline", "consent-texts"]


@pytest.mark.parametrize("role", ["manager", "pharmacist"])
def test_a_role_that_may_not_record_changes_nothing(world, api, role):
    w = world
    client = api(role)
    before = table_counts()
    for method, url, body in WRITES:
        assert_refused(getattr(client, method)(url(w), json=body(w)), 403, "forbidden",
                       f"{role} {method} {url(w)}")
    assert table_counts() == before


def test_a_manager_reads_no_course(world, api):
    w = world
    manager = api("manager")
    before = table_counts()
    for url in READS:
        url = url.format(course=w["course"]["id"], adm=w["adm"]["id"], ana=w["ana"].id)
        assert_refused(manager.get(url), 403, "forbidden", url)
    assert table_counts() == before  # not even the audit of a read


def test_course_pages_refuse_a_manager(world, client, login_as):
    w = world
    login_as("manager")
    before = table_counts()
    for url in (f"/courses/{w['course']['id']}", f"/administrations/{w['adm']['id']}",
                f"/patients/{w['ana'].id}/timeline", f"/sessions/{w['session']['id']}/give",
                f"/administrations/{w['adm']['id']}/sheet"):
        assert client.get(url).status_code == 403, url
    token = client.csrf_token("/profile")
    r = client.post(f"/courses/{w['course']['id']}/stop", data={"reason": "x1", "csrf_token": token})
    assert r.status_code == 403
    assert table_counts() == before
