"""A large delivery sheet received by a job (SPEC §14): the upload is kept in the jobs'
directory, the worker receives it with :func:`services.import_delivery` (the same service
as the page and the API, all or nothing, with a progress callback), and the file is
deleted when the job ends. Sheets of at most ``DELIVERY_INLINE_MAX_ROWS`` rows are
received inside the request as before."""

from __future__ import annotations

import os
import secrets
from typing import BinaryIO

from formulary.domain.errors import ValidationError
from formulary.extensions import db
from formulary.jobs.kinds import JobKind, Outcome, register
from formulary.jobs.services import create_job
from formulary.reports import services
from formulary.domain.messages import msg
from formulary.i18n import _
from formulary.reports.delivery import DeliveryFileError, problem_sentence


def start_import(session, actor, data: BinaryIO, filename: str, rows: int):
    from formulary.reports.export_jobs import files_dir

    path = files_dir() / f"delivery-{secrets.token_hex(8)}.xlsx"
    with open(path, "wb") as out:
        out.write(data.read())
    return create_job(session, actor, "delivery_import",
                      {"upload": str(path), "filename": filename}, rows_total=rows)


def run_delivery_job(run) -> Outcome:
    path = run.params["upload"]
    try:
        with open(path, "rb") as f:
            try:
                lots = services.import_delivery(db.session, run.user, f,
                                                filename=run.params.get("filename") or "",
                                                progress=run.progress)
            except DeliveryFileError as exc:
                db.session.rollback()
                raise ValidationError(msg("Nothing was received. %(problems)s", problems=tuple(
                    problem_sentence(row, reason) for row, reason in exc.problems))) from None
        run.progress(len(lots), force=False)
        db.session.commit()
    finally:
        if os.path.exists(path):
            os.unlink(path)
    run.rows_done = len(lots)
    return Outcome(summary=_("Delivery %(file)s: %(count)s lot(s) received",
                             file=run.params.get("filename") or "", count=len(lots)))


register(JobKind("delivery_import", "Delivery import", run_delivery_job, downloadable=False))
