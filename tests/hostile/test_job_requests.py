"""Hostile requests to the jobs API (SPEC §9, §14): every export's parameters of the wrong
type, out of range or impossible; a job and its file asked for by another user, by id
overflow, before it is done. A 4xx with the envelope, no job queued, no audit written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from formulary.audit.models import AuditEntry
from formulary.extensions import db
from formulary.jobs.models import Job
from formulary.jobs.queue import run_pending
from tests.hostile.conftest import assert_refused
from tests.jobs.conftest import jobs_app  # noqa: F401
from tests.jobs.helpers import user_api

DATES = ["2026-02-30", "0000-01-01", "0001-01-01", "9999-12-31", "20260101", "2026-W01-1",
         "yesterday", 20260101, ["2026-01-01"], {"d": 1}, True, "2026-01-01\x00"]
IDS = ["x", -1, 0, 10**30, 1.5, True, [1], {"id": 1}, "²", "1_000", 999_999]

BODIES = [{"report": r} for r in ("nope", "", None, 5, ["stock"], {"r": 1}, "STOCK", "stock\x00")]
for report in ("batch_log", "stock", "audit", "adverse_events"):
    BODIES += [{"report": report, "from": d} for d in DATES]
    BODIES += [{"report": report, "to": d} for d in DATES]
    BODIES.append({"report": report, "from": "2026-12-31", "to": "2026-01-01"})
BODIES += [{"report": "batch_log", name: v} for name in ("cocktail_id", "patient_id") for v in IDS]
BODIES += [{"report": "trace", "lot_id": v} for v in [*IDS, None]]
BODIES += [{"report": "adverse_events", name: v} for name in ("ingredient_id", "lot_id")
           for v in IDS]
BODIES += [{"report": "adverse_events", "severity": v} for v in ("deadly", 1, ["mild"])]
BODIES += [{"report": "adverse_events", "serious": v} for v in ("maybe", 2, ["true"])]
BODIES += [{"report": "stock", "expiring_within_days": v}
           for v in ("x", -1, 10**30, 99_999_999, 1.5, [1])]
BODIES += [{"report": "stock", "now": "2020-01-01T00:00:00+00:00"}, {"report": "stock", "x": 1}]


@pytest.mark.parametrize("storage", ["sqlite"])
def test_hostile_export_requests_queue_nothing(jobs_app, storage):  # noqa: F811
    app, _url, _config = jobs_app
    app.config["PROPAGATE_UNEXPECTED"] = False  # collect every finding, then fail once
    admin, _ = user_api(app, "admin", "boss")
    audit = db.session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    failures = []
    for body in BODIES:
        r = admin.post("/api/v1/jobs/exports", json=body)
        try:
            assert_refused(r, what=repr(body)[:120])
        except AssertionError as exc:
            failures.append(str(exc).splitlines()[0][:250])
    for raw, ctype in ((b"", "application/json"), (b"{", "application/json"),
                       (b'{"report": "stock"}', "text/plain"), (b"[1]", "application/json"),
                       (b'{"report": NaN}', "application/json"), (b"\xff\xfe", "application/json")):
        r = admin.client.post("/api/v1/jobs/exports", data=raw, content_type=ctype,
                              headers=admin.headers)
        if raw == b'{"report": "stock"}':
            continue  # the body is read as JSON whatever the type says (SPEC §9: JSON in)
        try:
            assert_refused(r, 400, "malformed", what=repr(raw))
        except AssertionError as exc:
            failures.append(str(exc).splitlines()[0][:250])
    assert not failures, "\n".join(failures)
    db.session.expire_all()
    jobs = db.session.execute(select(func.count()).select_from(Job)).scalar_one()
    assert jobs <= 1  # the text/plain one, if taken
    assert db.session.execute(select(func.count()).select_from(AuditEntry)).scalar_one() \
        == audit + jobs


@pytest.mark.parametrize("storage", ["sqlite"])
def test_a_job_and_its_file_are_only_the_askers(jobs_app, storage):  # noqa: F811
    app, _url, _config = jobs_app
    mona, _ = user_api(app, "manager", "mona")
    otto, _ = user_api(app, "pharmacist", "otto")
    pia, _ = user_api(app, "practitioner", "pia")
    r = mona.post("/api/v1/jobs/exports", json={"report": "stock"})
    assert r.status_code == 202, r.get_json()
    job = r.get_json()
    assert_refused(mona.get(f"/api/v1/jobs/{job['id']}/file"), 404, "not_found", "before done")
    assert run_pending(app) == 1
    assert mona.get(f"/api/v1/jobs/{job['id']}/file").status_code == 200
    for who in (otto, pia):
        assert_refused(who.get(f"/api/v1/jobs/{job['id']}"), 404, "not_found", "another user")
        assert_refused(who.get(f"/api/v1/jobs/{job['id']}/file"), 404, "not_found", "another user")
    for bad in (10**30, 0, 999_999):
        assert_refused(mona.get(f"/api/v1/jobs/{bad}"), 404, "not_found", str(bad))
        assert_refused(mona.get(f"/api/v1/jobs/{bad}/file"), 404, "not_found", str(bad))
    for url in ("/api/v1/jobs/-1", "/api/v1/jobs/x/file"):
        assert_refused(mona.get(url), 404, what=url)
    # no token, a bad token
    r = mona.client.get(f"/api/v1/jobs/{job['id']}/file")
    assert_refused(r, 401, "unauthorized", "no token")
    r = mona.client.get(f"/api/v1/jobs/{job['id']}/file",
                        headers={"Authorization": "Bearer nope"})
    assert_refused(r, 401, "unauthorized", "bad token")
    # the page's download, by another logged-in user: not theirs either
    with otto.client.session_transaction() as sess:
        from formulary.auth.models import User

        sess["_user_id"] = db.session.execute(select(User).where(User.username == "otto")
                                              ).scalar_one().get_id()
        sess["_fresh"] = True
    page = otto.client.get(f"/jobs/{job['id']}/file")
    assert page.status_code == 404
