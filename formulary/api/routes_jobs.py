"""Jobs (SPEC §9, §14): an export asked for as a job (202), a job read, its file."""

from __future__ import annotations

from flask import url_for

from formulary.api import schema as S
from formulary.api.core import api_route, current_api_user, json_body, only_fields
from formulary.auth.permissions import VIEW
from formulary.domain.errors import Forbidden
from formulary.extensions import db
from formulary.jobs import services
from formulary.reports.respond import XLSX

TAG = "jobs"

JOB = S.obj(required=("id", "kind", "status", "progress"),
            id=S.integer(), kind=S.string(), label=S.string(), params=S.obj(),
            status=S.string(enum=("queued", "running", "done", "failed")),
            progress=S.integer(minimum=0, description="0-100"),
            rows_done=S.integer(minimum=0), rows_total=S.integer(null=True),
            created_at=S.string(fmt="date-time"),
            started_at=S.string(fmt="date-time", null=True),
            finished_at=S.string(fmt="date-time", null=True),
            expires_at=S.string(fmt="date-time", null=True),
            summary=S.string(null=True), filename=S.string(null=True),
            error=S.string(description="why it failed"),
            file=S.string(description="where to download the file once done"))

EXPORT_FIELDS = ("report", "from", "to", "cocktail_id", "patient_id", "lot_id",
                 "expiring_within_days", "user", "object_type", "object_id", "action",
                 "ingredient_id", "severity", "serious")


def accepted(job):
    body = services.job_json(job)
    return body, 202, {"Location": url_for("api.get_job", job_id=job.id)}


@api_route("/jobs/exports", ["POST"], summary="Start an export as a background job", tag=TAG,
           permission=VIEW,
           body=S.obj(required=("report",),
                      report=S.string(description="batch_log, stock, trace, audit or "
                                                  "adverse_events"),
                      **{"from": S.string(fmt="date"), "to": S.string(fmt="date")},
                      cocktail_id=S.integer(minimum=1), patient_id=S.integer(minimum=1),
                      lot_id=S.integer(minimum=1, description="trace: the lot"),
                      expiring_within_days=S.integer(minimum=0),
                      ingredient_id=S.integer(minimum=1, description="adverse_events"),
                      severity=S.string(description="adverse_events: mild, moderate, severe"),
                      serious=S.boolean()),
           responses={202: JOB},
           description="Answers 202 with the job and `Location: /api/v1/jobs/{id}`; poll it "
                       "until `status` is `done`, then GET its `file` (kept 24 h, for the "
                       "user who asked and admins). The export is audited when asked for.")
def start_export():
    from formulary.reports.export_jobs import get_spec, start_job

    data = only_fields(json_body(), set(EXPORT_FIELDS))
    spec = get_spec(data.get("report"))
    user = current_api_user()
    if not user.may(spec.permission):
        raise Forbidden("Your role may not take this export.")
    query = spec.parse(db.session, data)
    return accepted(start_job(spec, query, user))


@api_route("/jobs/<int:job_id>", summary="A job: its status and progress", tag=TAG,
           permission=VIEW,
           responses={200: JOB},
           description="404 for a job of another user (admins see every job).")
def get_job(job_id: int):
    return services.job_json(services.get_job(db.session, current_api_user(), job_id))


@api_route("/jobs/<int:job_id>/file", summary="The file of a finished job", tag=TAG,
           permission=VIEW,
           responses={200: XLSX},
           description="404 before the job is done, once the file has expired, and for "
                       "other users.")
def get_job_file(job_id: int):
    from formulary.jobs.views import send_job_file

    return send_job_file(services.get_job(db.session, current_api_user(), job_id))
