"""Recall pages (SPEC §12): the list (open first), a recall's worklist with a form per
patient, and the worklist's Excel export. The list names no patient (the manager reads
it); the worklist shows patients, so each view is audited as a read of their data."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from formulary import clock
from formulary.auth.access import require
from formulary.auth.permissions import RECALLS, RECALLS_EXPORT, VIEW
from formulary.compounding.state import state_of
from formulary.domain.errors import DomainError
from formulary.display import code_word
from formulary.errors import form_errors, throw_away_changes
from formulary.i18n import _
from formulary.extensions import db
from formulary.recalls import export, services
from formulary.recalls.forms import PatientStatusForm
from formulary.transaction import writes_on_read

bp = Blueprint("recalls", __name__, url_prefix="/recalls")
PER_PAGE = 50


@bp.get("")
@require(VIEW)
def index():
    status = request.args.get("status") or None
    if status not in (None, "open", "closed"):
        status = None
    raw = request.args.get("page", "1")
    page = max(1, int(raw)) if raw.isdecimal() and len(raw) < 7 else 1
    stmt = services.recalls_statement(status=status)
    total = db.session.execute(
        db.select(db.func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    rows = list(db.session.execute(stmt.limit(PER_PAGE).offset((page - 1) * PER_PAGE))
                .unique().scalars())
    return render_template("recalls/index.html", recalls=rows, status=status, page=page,
                           total=total, per_page=PER_PAGE,
                           counts=services.counts_of(db.session, [r.id for r in rows]))


def _worklist_page(recall_id: int, *, failed: tuple[int, PatientStatusForm] | None = None,
                   code: int = 200):
    recall = services.get_recall(db.session, recall_id)
    wl = services.worklist(db.session, recall)
    services.record_worklist_view(db.session, current_user, wl, via="page")
    now = clock.now()
    forms = {}
    for p in wl.patients:
        if failed is not None and failed[0] == p.patient.id:
            forms[p.patient.id] = failed[1]
        else:
            forms[p.patient.id] = PatientStatusForm(formdata=None, status=p.row.status,
                                                    note=p.row.note)
    return render_template("recalls/worklist.html", wl=wl, recall=recall, forms=forms,
                           states={b.id: state_of(b, now) for b in wl.batches}), code


@bp.get("/<int:recall_id>")
@require(RECALLS)
@writes_on_read
def worklist(recall_id: int):
    return _worklist_page(recall_id)


@bp.post("/<int:recall_id>/patients/<int:patient_id>")
@require(RECALLS)
def set_patient_status(recall_id: int, patient_id: int):
    form = PatientStatusForm()
    if form.validate_on_submit():
        try:
            row = services.set_patient_status(db.session, current_user, recall_id, patient_id,
                                              status=form.status.data, note=form.note.data or "")
        except DomainError as exc:
            if exc.status == 404:
                raise
            form_errors(form, exc)
            return _worklist_page(recall_id, failed=(patient_id, form), code=exc.status)
        flash(_("Patient %(mrn)s: %(status)s.", mrn=row.patient.mrn, status=code_word(row.status)),
              "success")
        if row.recall.status == "closed":
            flash(_("Recall #%(id)s is closed: no patient is left to contact.", id=recall_id), "info")
        return redirect(url_for("recalls.worklist", recall_id=recall_id) + f"#patient-{patient_id}")
    throw_away_changes()
    return _worklist_page(recall_id, failed=(patient_id, form), code=422)


@bp.get("/<int:recall_id>/worklist.xlsx")
@require(RECALLS_EXPORT)
@writes_on_read
def worklist_export(recall_id: int):
    recall = services.get_recall(db.session, recall_id)
    wl = services.worklist(db.session, recall)
    return export.send_worklist(db.session, wl, current_user, clock.now(), clock.clinic_tz())
