"""Exports as jobs through the real queue (huey on its SQLite file, and on Redis): the API's
202, the progress, the file for the user who asked and admins only, the small export still
answered at once by the same writer, the cleanup and the reaper."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from formulary.db import utcnow
from formulary.extensions import db
from formulary.jobs import schedule
from formulary.jobs.models import Job
from formulary.jobs.queue import run_pending
from tests.jobs.helpers import add_audit_rows, read_whole, rows_of, user_api


def test_an_export_asked_as_a_job_runs_and_its_file_is_the_askers(jobs_app):
    app, _url, _config = jobs_app
    add_audit_rows(300)
    admin, _ = user_api(app, "admin", "boss")
    manager, _ = user_api(app, "manager", "mona")
    other, _ = user_api(app, "manager", "otto")

    r = manager.post("/api/v1/jobs/exports", json={"report": "audit"})
    assert r.status_code == 202, r.get_json()
    job = r.get_json()
    assert r.headers["Location"].endswith(f"/api/v1/jobs/{job['id']}")
    assert job["status"] == "queued" and job["progress"] == 0
    assert manager.get(f"/api/v1/jobs/{job['id']}/file").status_code == 404  # not ready

    assert run_pending(app) == 1  # huey's own dequeue and execute, as the worker does
    body = manager.get(f"/api/v1/jobs/{job['id']}").get_json()
    assert body["status"] == "done" and body["progress"] == 100
    assert body["rows_done"] >= 300 and body["expires_at"]
    got = manager.get(body["file"])
    assert got.status_code == 200 and got.headers["Cache-Control"] == "no-store"
    rows = rows_of(got.data, "Audit log")
    assert rows[0][0] == "Seq" and len(rows) - 1 == body["rows_done"]

    # another user is told there is no such job; an admin may have it
    assert other.get(f"/api/v1/jobs/{job['id']}").status_code == 404
    assert other.get(f"/api/v1/jobs/{job['id']}/file").status_code == 404
    assert admin.get(f"/api/v1/jobs/{job['id']}/file").status_code == 200


def test_a_job_says_it_is_saving_the_file_after_its_last_row_then_its_outcome(
        jobs_app, monkeypatch):
    """The rows all written, the workbook is compressed into its file (seconds for a
    million rows): the job's summary says so as the bytes grow, so the page sees it move;
    the outcome replaces it."""
    from formulary.jobs import runner

    app, _url, _config = jobs_app
    add_audit_rows(40)   # every row's progress is written (a commit each): few rows
    manager, _ = user_api(app, "manager", "mona")
    written: list[dict] = []
    real_write = runner._write
    monkeypatch.setattr(runner, "PROGRESS_EVERY", 0)
    monkeypatch.setattr(runner, "_write",
                        lambda values, *c, **kw: written.append(values) or real_write(values, *c, **kw))
    job_id = manager.post("/api/v1/jobs/exports", json={"report": "audit"}).get_json()["id"]
    assert run_pending(app) == 1
    body = manager.get(f"/api/v1/jobs/{job_id}").get_json()
    running = [v for v in written if "status" not in v]
    notes = [i for i, v in enumerate(running) if "summary" in v]
    assert notes and all(running[i]["summary"].startswith("Saving the file: ") for i in notes)
    # every row was written before the first note
    assert any(v.get("rows_done") == body["rows_done"] for v in running[:notes[0]])
    assert body["status"] == "done" and body["summary"] == f"Audit log: {body['rows_done']} rows"


def test_bad_requests_are_refused_and_nothing_is_queued(jobs_app):
    app, _url, _config = jobs_app
    manager, _ = user_api(app, "manager", "mona")
    practitioner, _ = user_api(app, "practitioner", "pia")
    assert manager.post("/api/v1/jobs/exports", json={"report": "nope"}).status_code == 422
    assert manager.post("/api/v1/jobs/exports",
                        json={"report": "batch_log", "from": "2026-13-01"}).status_code == 422
    assert manager.post("/api/v1/jobs/exports",
                        json={"report": "trace", "lot_id": 99}).status_code == 404
    assert practitioner.post("/api/v1/jobs/exports", json={"report": "stock"}).status_code == 403
    assert db.session.execute(select(Job)).first() is None
    assert run_pending(app) == 0


def test_the_old_url_answers_at_once_when_small_and_with_a_job_when_large(jobs_app):
    app, _url, _config = jobs_app
    add_audit_rows(50)
    admin, _ = user_api(app, "admin", "boss")
    small = admin.get("/api/v1/reports/stock.xlsx")
    assert small.status_code == 200 and small.mimetype.endswith("sheet")

    app.config["EXPORT_INLINE_MAX_ROWS"] = 10
    page = app.test_client()
    from tests.conftest import PASSWORD

    page.post("/login", data={"username": "boss", "password": PASSWORD,
                              "csrf_token": page.csrf_token()})
    r = page.get("/reports/audit.xlsx")
    assert r.status_code == 302 and "job=" in r.headers["Location"]
    job = db.session.execute(select(Job)).scalar_one()
    assert job.kind == "export" and job.params["report"] == "audit" and job.rows_total >= 50
    html = page.get(r.headers["Location"]).get_data(as_text=True)
    assert f'data-job-id="{job.id}"' in html and 'role="progressbar"' in html
    db.session.rollback()  # the test's session is the requests' (one app context)
    assert run_pending(app) == 1
    status = page.get(f"/jobs/{job.id}.json").get_json()
    assert status["status"] == "done" and status["file"] == f"/jobs/{job.id}/file"
    assert rows_of(read_whole(page.get(status["file"])).data, "Audit log")[0][0] == "Seq"


def test_the_cleanup_deletes_files_a_day_old(jobs_app):
    app, _url, _config = jobs_app
    add_audit_rows(20)
    manager, _ = user_api(app, "manager", "mona")
    job_id = manager.post("/api/v1/jobs/exports", json={"report": "audit"}).get_json()["id"]
    run_pending(app)
    path = db.session.get(Job, job_id).file_path
    db.session.rollback()
    assert schedule.cleanup(app) == 0
    db.session.execute(update(Job).where(Job.id == job_id)
                       .values(expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    assert schedule.cleanup(app) == 1
    import os

    assert not os.path.exists(path)
    assert manager.get(f"/api/v1/jobs/{job_id}/file").status_code == 404


def test_a_job_whose_worker_died_is_queued_again_then_failed_with_the_reason(jobs_app):
    app, _url, _config = jobs_app
    add_audit_rows(20)
    manager, _ = user_api(app, "manager", "mona")
    job_id = manager.post("/api/v1/jobs/exports", json={"report": "audit"}).get_json()["id"]
    app.extensions["huey"].flush()  # as if a worker had taken the message and died
    old = utcnow() - timedelta(seconds=app.config["JOB_STALE_SECONDS"] + 5)
    db.session.execute(update(Job).where(Job.id == job_id).values(
        status="running", attempts=1, heartbeat_at=old))
    db.session.commit()
    assert schedule.reap(app) == [job_id]
    job = db.session.get(Job, job_id)
    assert job.status == "queued" and "stopped" in job.error
    db.session.rollback()
    assert run_pending(app) == 1  # queued again: the next run finishes it
    assert db.session.get(Job, job_id).status == "done"
    db.session.rollback()

    # on its last attempt, a dead worker fails the job with the reason
    db.session.execute(update(Job).where(Job.id == job_id).values(
        status="running", attempts=app.config["JOB_MAX_ATTEMPTS"], heartbeat_at=old))
    db.session.commit()
    assert schedule.reap(app) == [job_id]
    job = db.session.get(Job, job_id)
    assert job.status == "failed" and "not tried again" in job.error


def test_a_job_carries_patient_sheets_only_for_a_role_that_reads_courses(jobs_app):
    """The batch log's and the recall list's Administrations sheet (patients of the courses)
    follow the role of who asks (set on the job from the asker, never from the request)."""
    app, _url, _config = jobs_app
    manager, _ = user_api(app, "manager", "mona")
    pharmacist, _ = user_api(app, "pharmacist", "phil")
    asked = {}
    for who, client in (("manager", manager), ("pharmacist", pharmacist)):
        r = client.post("/api/v1/jobs/exports", json={"report": "batch_log"})
        assert r.status_code == 202, r.get_json()
        asked[who] = r.get_json()["id"]
    assert db.session.get(Job, asked["manager"]).params["administrations"] is False
    assert db.session.get(Job, asked["pharmacist"]).params["administrations"] is True
    # nor can a request ask for the sheet itself
    assert manager.post("/api/v1/jobs/exports", json={"report": "batch_log",
                                                      "administrations": True}).status_code == 422
    assert run_pending(app) == 2
    from openpyxl import load_workbook
    import io

    names = {}
    for who, client in (("manager", manager), ("pharmacist", pharmacist)):
        body = client.get(f"/api/v1/jobs/{asked[who]}").get_json()
        assert body["status"] == "done", body
        names[who] = load_workbook(io.BytesIO(read_whole(client.get(body["file"])).data),
                                   read_only=True).sheetnames
    assert "Administrations" not in names["manager"]
    assert "Administrations" in names["pharmacist"]


def test_the_adverse_event_listing_runs_as_a_job_for_those_who_may_export_it(jobs_app):
    app, _url, _config = jobs_app
    manager, _ = user_api(app, "manager", "mona")
    pharmacist, _ = user_api(app, "pharmacist", "phil")
    # patient data: never the manager
    assert manager.post("/api/v1/jobs/exports", json={"report": "adverse_events"}).status_code == 403
    r = pharmacist.post("/api/v1/jobs/exports", json={"report": "adverse_events",
                                                      "severity": "severe"})
    assert r.status_code == 202, r.get_json()
    assert pharmacist.post("/api/v1/jobs/exports", json={"report": "adverse_events",
                                                         "severity": "awful"}).status_code == 422
    assert run_pending(app) == 1
    body = pharmacist.get(f"/api/v1/jobs/{r.get_json()['id']}").get_json()
    assert body["status"] == "done", body
    rows = rows_of(read_whole(pharmacist.get(body["file"])).data, "Adverse events")
    assert rows[0][0] and len(rows) == 1      # the header row: no event recorded
