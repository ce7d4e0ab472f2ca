"""Recalls (SPEC §12, §9): the list, one recall with its worklist, a patient's status on
it, and the worklist as an Excel workbook. Every answer names patients (ids at least), so
each is ``Cache-Control: no-store`` and every patient it shows is audited as a read
(``patient.view``), as a patient's record is."""

from __future__ import annotations

from flask import jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from formulary import clock
from formulary.api import schema as S
from formulary.api.core import (PAGE_QUERY, api_route, arg_int, current_api_user, iso,
                                json_body, only_fields, paginate, want_type)
from formulary.audit.services import record
from formulary.auth.permissions import RECALLS, RECALLS_EXPORT
from formulary.domain.errors import ValidationError
from formulary.domain.recalls import PATIENT_STATUSES, RECALL_STATUSES
from formulary.extensions import db
from formulary.recalls import export, services
from formulary.recalls.models import RecallBatch, RecallPatient
from formulary.reports.respond import XLSX
from formulary.transaction import writes_on_read

TAG = "recalls"

RECALL_PATIENT = S.component("RecallPatient", S.obj(
    required=("patient_id", "status", "note", "set_by", "set_at"),
    patient_id=S.integer(), mrn=S.string(), first_name=S.string(), last_name=S.string(),
    status=S.string(enum=PATIENT_STATUSES), note=S.string(),
    set_by=S.string(null=True), set_at=S.string(fmt="date-time", null=True)))

RECALL_ADMINISTRATION = S.obj(
    required=("id", "batch_id", "patient_id", "doses", "given_at"),
    id=S.integer(), batch_id=S.integer(), patient_id=S.integer(), doses=S.integer(minimum=1),
    given_at=S.string(fmt="date-time"))

RECALL = S.component("Recall", S.obj(
    required=("id", "lot_id", "opened_at", "status", "batches", "patients"),
    id=S.integer(), lot_id=S.integer(), lot_number=S.string(), ingredient_name=S.string(),
    reason=S.string(), opened_at=S.string(fmt="date-time"), opened_by=S.string(null=True),
    status=S.string(enum=RECALL_STATUSES, description="open while a patient is to_contact"),
    closed_at=S.string(fmt="date-time", null=True),
    batches=S.array(S.integer(), description="ids of the batches that used the lot"),
    administrations=S.array(RECALL_ADMINISTRATION,
                            description="every administration of those batches (the read "
                                        "of one recall only)"),
    patients=S.array(RECALL_PATIENT)))

STATUS_IN = {"status": S.string(enum=PATIENT_STATUSES), "note": S.string(max_length=1000)}


def _patient_json(row: RecallPatient, tz) -> dict:
    return {"patient_id": row.patient_id, "mrn": row.patient.mrn,
            "first_name": row.patient.first_name, "last_name": row.patient.last_name,
            "status": row.status, "note": row.note,
            "set_by": row.set_by.username if row.set_by else None,
            "set_at": iso(row.set_at.astimezone(tz)) if row.set_at else None}


def _recall_json(recall, batch_ids: list[int], patients: list[RecallPatient], tz) -> dict:
    return {"id": recall.id, "lot_id": recall.lot_id, "lot_number": recall.lot.lot_number,
            "ingredient_name": recall.lot.ingredient.name, "reason": recall.reason,
            "opened_at": iso(recall.opened_at.astimezone(tz)),
            "opened_by": recall.opened_by.username if recall.opened_by else None,
            "status": recall.status,
            "closed_at": iso(recall.closed_at.astimezone(tz)) if recall.closed_at else None,
            "batches": batch_ids, "patients": [_patient_json(p, tz) for p in patients]}


def _audit_patients(actor, recall_id: int, patients, via: str) -> None:
    for p in patients:
        record(db.session, actor, "patient.view", "patient", p.patient_id,
               summary=f"Viewed patient {p.patient.mrn} on the worklist of recall #{recall_id} "
                       f"({via})")


def _no_store(body: dict):
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@api_route("/recalls", summary="Recalls, open first", tag=TAG, permission=RECALLS,
           query=(("status", S.string(enum=RECALL_STATUSES), "only open or closed recalls"),
                  ("lot_id", S.integer(minimum=1), "the recall of this lot"),
                  ("patient_id", S.integer(minimum=1), "only recalls reaching this patient"),
                  *PAGE_QUERY),
           responses={200: S.page_of(RECALL)})
@writes_on_read
def list_recalls():
    status = request.args.get("status") or None
    if status is not None and status not in RECALL_STATUSES:
        raise ValidationError("Choose a status: open, closed.", field="status")
    stmt = services.recalls_statement(status=status, lot_id=arg_int("lot_id", minimum=1),
                                      patient_id=arg_int("patient_id", minimum=1))
    body = paginate(stmt, lambda r: r)
    recalls = body["items"]
    ids = [r.id for r in recalls]
    batches: dict[int, list[int]] = {i: [] for i in ids}
    patients: dict[int, list[RecallPatient]] = {i: [] for i in ids}
    if ids:
        for rid, bid in db.session.execute(
                select(RecallBatch.recall_id, RecallBatch.batch_id)
                .where(RecallBatch.recall_id.in_(ids)).order_by(RecallBatch.batch_id)):
            batches[rid].append(bid)
        for row in db.session.execute(
                select(RecallPatient).options(joinedload(RecallPatient.patient),
                                                 joinedload(RecallPatient.set_by))
                .where(RecallPatient.recall_id.in_(ids)).order_by(RecallPatient.id)).scalars():
            patients[row.recall_id].append(row)
    actor = current_api_user()
    tz = clock.clinic_tz()
    for r in recalls:
        _audit_patients(actor, r.id, patients[r.id], "api, recall list")
    body["items"] = [_recall_json(r, batches[r.id], patients[r.id], tz) for r in recalls]
    return _no_store(body)


@api_route("/recalls/<int:recall_id>", summary="A recall: its batches, administrations and "
           "worklist", tag=TAG, permission=RECALLS, responses={200: RECALL})
@writes_on_read
def get_recall(recall_id: int):
    recall = services.get_recall(db.session, recall_id)
    wl = services.worklist(db.session, recall)
    tz = clock.clinic_tz()
    rows = [p.row for p in wl.patients]
    _audit_patients(current_api_user(), recall.id, rows, "api")
    body = _recall_json(recall, sorted(b.id for b in wl.batches), rows, tz)
    body["administrations"] = [
        {"id": a.id, "batch_id": a.batch_id, "patient_id": a.patient_id, "doses": a.doses,
         "given_at": iso(a.given_at.astimezone(tz))} for a in wl.administrations]
    return _no_store(body)


@api_route("/recalls/<int:recall_id>/patients/<int:patient_id>", ["PATCH"],
           summary="Set where a patient of the worklist stands", tag=TAG, permission=RECALLS,
           body=S.obj(required=("status",), **STATUS_IN),
           responses={200: S.obj(required=("recall_id", "recall_status", "patient"),
                                 recall_id=S.integer(),
                                 recall_status=S.string(enum=RECALL_STATUSES),
                                 patient=RECALL_PATIENT)},
           description="The recall closes when no patient is left `to_contact` and opens "
                       "again when one is set back. A note given replaces the note kept; "
                       "without one the note stays.")
def set_recall_patient(recall_id: int, patient_id: int):
    services.worklist_entry(db.session, recall_id, patient_id)  # 404 before the body
    data = only_fields(json_body(), STATUS_IN)
    status = want_type(data, "status", str, "a status", required=True)
    note = want_type(data, "note", str, "text")
    row = services.set_patient_status(db.session, current_api_user(), recall_id, patient_id,
                                      status=status, note=note)
    return _no_store({"recall_id": recall_id, "recall_status": row.recall.status,
                      "patient": _patient_json(row, clock.clinic_tz())})


@api_route("/recalls/<int:recall_id>/worklist.xlsx", summary="A recall's worklist as an "
           "Excel workbook", tag=TAG, permission=RECALLS_EXPORT, responses={200: XLSX},
           description="Sheets `Patients` (status, note, who set it and when, how the lot "
                       "reached them), `Batches` and `Administrations`. Audited as an export.")
@writes_on_read
def recall_worklist_xlsx(recall_id: int):
    recall = services.get_recall(db.session, recall_id)
    wl = services.worklist(db.session, recall)
    return export.send_worklist(db.session, wl, current_api_user(), clock.now(),
                                clock.clinic_tz())
