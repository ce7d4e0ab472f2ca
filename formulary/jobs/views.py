"""The jobs' pages: a job as JSON for the progress bar (polled by the page every second),
and its file, for the user who asked and for admins only."""

from __future__ import annotations

from flask import Blueprint, jsonify, send_file
from flask_login import current_user

from formulary.auth.access import require
from formulary.auth.permissions import VIEW

from formulary.extensions import db
from formulary.jobs import services
from formulary.reports.respond import XLSX

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


@bp.get("/<int:job_id>.json")
@require(VIEW)
def job_status(job_id: int):
    job = services.get_job(db.session, current_user, job_id)
    body = services.job_json(job)
    if "file" in body:
        body["file"] = f"/jobs/{job.id}/file"
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<int:job_id>/file")
@require(VIEW)
def job_file(job_id: int):
    return send_job_file(services.get_job(db.session, current_user, job_id))


def send_job_file(job):
    path = services.job_file(job)
    response = send_file(path, mimetype=XLSX, as_attachment=True,
                         download_name=job.filename or f"job-{job.id}.xlsx", max_age=0)
    response.headers["Cache-Control"] = "no-store"  # patient data: never cached
    return response
