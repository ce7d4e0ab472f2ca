"""A delivery sheet larger than DELIVERY_INLINE_MAX_ROWS is received by a job: 202, then
every lot (all or nothing, as inline); a bad sheet fails the job with the rows' reasons
and receives nothing."""

from __future__ import annotations

import io
from datetime import date, timedelta

from openpyxl import Workbook
from sqlalchemy import func, select

from formulary.extensions import db
from formulary.inventory.models import Ingredient, Lot
from formulary.jobs.models import Job
from formulary.jobs.queue import run_pending
from tests.jobs.helpers import user_api


def sheet(rows) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["Ingredient", "Lot", "Expiry", "Quantity", "Unit cost"])
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(api, data: bytes):
    return api.post("/api/v1/imports/delivery", data={"file": (io.BytesIO(data), "d.xlsx")},
                    content_type="multipart/form-data")


def test_a_large_delivery_is_received_by_a_job(jobs_app):
    app, _url, _config = jobs_app
    app.config["DELIVERY_INLINE_MAX_ROWS"] = 2
    db.session.add(Ingredient(name="Biotin", name_key="biotin", category="vitamin", unit="mL"))
    db.session.commit()
    pharmacist, _ = user_api(app, "pharmacist", "phil")
    later = date.today() + timedelta(days=300)

    r = upload(pharmacist, sheet([["Biotin", f"B-{i}", later, 10, 2] for i in range(5)]))
    assert r.status_code == 202, r.get_json()
    job_id = r.get_json()["id"]
    assert db.session.execute(select(func.count()).select_from(Lot)).scalar_one() == 0
    db.session.rollback()
    assert run_pending(app) == 1
    job = pharmacist.get(f"/api/v1/jobs/{job_id}").get_json()
    assert job["status"] == "done" and "5 lot(s) received" in job["summary"]
    assert "file" not in job  # nothing to download
    assert db.session.execute(select(func.count()).select_from(Lot)).scalar_one() == 5

    bad = sheet([["Biotin", "C-1", later, 10, 2], ["Unobtainium", "U-1", later, 1, 2],
                 ["Biotin", "C-2", later, 10, 2]])
    job_id = upload(pharmacist, bad).get_json()["id"]
    db.session.rollback()
    run_pending(app)
    db.session.rollback()
    job = db.session.get(Job, job_id)
    assert job.status == "failed" and "Row 3" in job.error and "Unobtainium" in job.error
    assert db.session.execute(select(func.count()).select_from(Lot)).scalar_one() == 5
    assert not list(__import__("pathlib").Path(app.config["JOB_FILES_DIR"]).glob("delivery-*"))
