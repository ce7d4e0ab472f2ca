"""Batch pages: the list, preparation with a preview, a batch's record, verify and discard,
the printable label, and the recall trace of a lot."""

from __future__ import annotations

import uuid

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from formulary import clock
from formulary.auth.access import require
from formulary.auth.permissions import BATCHES, COURSES_VIEW, PATIENTS, REPORTS, VIEW
from formulary.cocktails.models import Cocktail
from formulary.compounding import labels, services, tables
from formulary.compounding.queries import (BATCH_SORT, batch_count_statement, batch_list_page,
                                           patients_filter)
from formulary.compounding.rows import held_lots_of, read
from formulary.compounding.state import state_of, state_with_lots
from formulary.compounding.forms import ConfirmForm, DiscardForm, FilterForm, PreviewForm, VerifyForm
from formulary.domain.dates import check_date_range
from formulary.domain.errors import DomainError, SafetyBlock, ValidationError
from formulary.domain.messages import msg
from formulary.errors import form_errors, throw_away_changes
from formulary.extensions import db
from formulary.listing import page_sort
from formulary.patients import services as patient_services
from formulary.patients.models import Patient
from formulary.recalls import services as recall_services
from formulary.reports.exports import send_trace
from formulary.transaction import writes_on_read

from formulary.i18n import _, tr

bp = Blueprint("compounding", __name__)
PER_PAGE = 50


def _active_cocktails() -> list[Cocktail]:
    return list(db.session.execute(
        select(Cocktail).options(joinedload(Cocktail.active_version))
        .where(Cocktail.status == "active", Cocktail.active_version_id.is_not(None))
        .order_by(Cocktail.name)).scalars())


def _patient_by_mrn(mrn: str | None, field: str = "patient_mrn") -> Patient | None:
    mrn = (mrn or "").strip()
    if not mrn:
        return None
    patient = db.session.execute(
        select(Patient).where(func.lower(Patient.mrn) == mrn.casefold())).scalar_one_or_none()
    if patient is None:
        raise ValidationError(msg("No patient has the MRN %(mrn)s.", mrn=mrn), field=field)
    return patient


def _prefill(form: PreviewForm, args) -> None:
    """``?cocktail=ID&patient_mrn=MRN`` (the picker's "Prepare for this patient") fills
    the form without previewing: the pharmacist types the doses, then previews."""
    cocktail = (args.get("cocktail") or "").strip()
    if cocktail.isascii() and cocktail.isdecimal() and len(cocktail) < 10:
        if any(choice.value == int(cocktail) for choice in form.cocktail_id.choices):
            form.cocktail_id.data = int(cocktail)
    mrn = (args.get("patient_mrn") or "").strip()
    if mrn:
        form.patient_mrn.data = mrn[:40]
    if form.cocktail_id.data and form.patient_mrn.data:
        form.doses.render_kw = {**(form.doses.render_kw or {}), "autofocus": True}


def _policy():
    return services.policy_from_hours(current_app.config["BEYOND_USE_HOURS"])


@bp.get("/batches")
@require(VIEW)
def batches():
    form = FilterForm(request.args)
    # the filter's choices: ids and names only
    form.set_cocktails(db.session.execute(select(Cocktail.id, Cocktail.name).order_by(Cocktail.name)).all())
    page = request.args.get("page", "1")
    page = int(page) if page.isdecimal() and 0 < len(page) < 10 and int(page) > 0 else 1
    sort = page_sort(BATCH_SORT)
    items, total, patients, held = [], 0, None, {}
    valid = form.validate()
    if valid:
        try:  # the one range rule of lists and exports: "from" after "to" is an error
            check_date_range(form.date_from.data, form.date_to.data, start_field="date_from",
                             end_field="date_to")
        except ValidationError as exc:
            form_errors(form, exc)
            valid = False
    if form.patient_mrn.data:
        try:
            patients = patients_filter(db.session, form.patient_mrn.data,
                                       by_name=current_user.may(PATIENTS))
        except ValidationError as exc:
            form.patient_mrn.errors = list(form.patient_mrn.errors or []) + [exc.message]
            valid = False
    if valid:
        filters = dict(
            tz=clock.clinic_tz(), date_from=form.date_from.data, date_to=form.date_to.data,
            cocktail_id=form.cocktail_id.data, patients=patients,
            status=form.status.data or None, state=form.state.data or None, now=clock.now())
        total = db.session.execute(batch_count_statement(filters)).scalar_one()
        rows, page = batch_list_page(db.session, filters, sort, page, PER_PAGE, total)
        # the page shows no line: each batch's held lots, which alone (with its own
        # columns) decide its state, one statement more (almost always no row)
        held = held_lots_of(db.session, [r[0] for r in rows]) if rows else {}
        items = read(rows, None)
    now = clock.now()
    states = {b.id: state_with_lots(b, held.get(b.id, ()), now) for b in items}
    return render_template("compounding/batches.html", form=form, batches=items, total=total,
                           batch_rows=tables.batch_list_rows(items, states), page=page,
                           per_page=PER_PAGE, sort=sort), 200 if valid else 422


def _preview(form: PreviewForm):
    """The plan for the values of ``form`` (None when incomplete), or an error message."""
    cocktail = db.session.get(Cocktail, form.cocktail_id.data) if form.cocktail_id.data else None
    if cocktail is None:
        form.cocktail_id.errors = list(form.cocktail_id.errors or []) + ["Choose a cocktail."]
        return None, None
    patient = _patient_by_mrn(form.patient_mrn.data)
    plan = services.preview_batch(db.session, cocktail=cocktail, doses=form.doses.data,
                                  patient=patient, tz=clock.clinic_tz(), policy=_policy())
    return plan, patient


@bp.route("/batches/new", methods=["GET", "POST"])
@require(BATCHES)
@writes_on_read
def prepare():
    """The preview shows a patient's safety screen (their allergies and conditions as
    findings): each page that shows it is an audited view of the patient's record."""
    source = request.form if request.method == "POST" else request.args
    form = PreviewForm(formdata=source if ("cocktail_id" in source) else None)
    form.set_cocktails(_active_cocktails())
    if request.method == "GET" and "cocktail_id" not in source:
        _prefill(form, source)
    confirm = ConfirmForm()
    plan = patient = None
    status = 200
    if "cocktail_id" in source and form.validate():
        try:
            plan, patient = _preview(form)
        except DomainError as exc:
            form_errors(form, exc)
            status = exc.status
    elif "cocktail_id" in source:
        status = 422
    if request.method == "POST" and plan is not None and confirm.validate_on_submit():
        try:
            batch = services.prepare_batch(
                db.session, current_user, cocktail=plan.version.cocktail, doses=form.doses.data,
                patient=patient, override_reason=confirm.override_reason.data,
                idempotency_key=confirm.idempotency_key.data or None, tz=clock.clinic_tz(),
                policy=_policy())
        except DomainError as exc:
            status = exc.status
            if isinstance(exc, SafetyBlock):
                form_errors(confirm, exc)  # on the override reason field
            else:  # its fields are hidden ones: say it above the form
                throw_away_changes()
                flash(tr(exc.message), "danger")
            # the rolled-back session forgot the plan's rows: show a fresh preview
            try:
                plan, patient = _preview(form)
            except DomainError:
                plan = None
        else:
            flash(_("Batch %(number)s prepared.", number=batch.batch_number) if not batch.replayed
                  else _("Batch %(number)s was already prepared.", number=batch.batch_number), "success")
            return redirect(url_for("compounding.batch", batch_id=batch.id))
    elif request.method == "POST" and plan is not None and status == 200:
        status = 400
    if plan is not None:
        confirm.cocktail_id.data = form.cocktail_id.data
        confirm.doses.data = form.doses.data
        confirm.patient_mrn.data = form.patient_mrn.data or ""
        if not confirm.idempotency_key.data:
            confirm.idempotency_key.data = uuid.uuid4().hex
        if patient is not None:  # a refused POST (4xx) rolls this back with the rest
            patient_services.record_view(db.session, current_user, patient,
                                         what="safety screen (batch preparation)")
    return render_template("compounding/prepare.html", form=form, confirm=confirm, plan=plan,
                           patient=patient), status


def _batch_page(batch, **kw):
    return render_template("compounding/batch.html", batch=batch, state=state_of(batch, clock.now()),
                           recalls=recall_services.recalls_of_batch(db.session, batch.id), **kw)


@bp.get("/batches/<int:batch_id>")
@require(VIEW)
def batch(batch_id: int):
    b = services.get_batch(db.session, batch_id)
    return _batch_page(b, verify_form=VerifyForm(),
                           discard_form=DiscardForm())


@bp.post("/batches/<int:batch_id>/verify")
@require(BATCHES)
def verify(batch_id: int):
    b = services.get_batch(db.session, batch_id)
    form = VerifyForm()
    if form.validate_on_submit():
        try:
            services.verify_batch(db.session, current_user, b)
        except DomainError as exc:
            form_errors(form, exc)
            return _batch_page(services.get_batch(db.session, batch_id),
                                   verify_form=form, discard_form=DiscardForm()), exc.status
        flash(_("Batch %(number)s verified.", number=b.batch_number), "success")
    return redirect(url_for("compounding.batch", batch_id=batch_id))


@bp.post("/batches/<int:batch_id>/discard")
@require(BATCHES)
def discard(batch_id: int):
    b = services.get_batch(db.session, batch_id)
    form = DiscardForm()
    status = 422
    # a batch already discarded no longer shows the form: a second click (whatever its
    # reason) is told so by the service, not left with an error on a field not shown
    if form.validate_on_submit() or b.status == "discarded":
        try:
            services.discard_batch(db.session, current_user, b, form.reason.data)
        except DomainError as exc:
            form_errors(form, exc)
            status = exc.status
        else:
            flash(_("Batch %(number)s discarded.", number=b.batch_number), "warning")
            return redirect(url_for("compounding.batch", batch_id=batch_id))
    return _batch_page(services.get_batch(db.session, batch_id),
                           verify_form=VerifyForm(), discard_form=form, show_discard=True), status


@bp.get("/batches/<int:batch_id>/label")
@require(VIEW)
def label(batch_id: int):
    b = services.get_batch(db.session, batch_id)
    layout = request.args.get("layout", "small")
    if layout not in ("small", "a4"):
        layout = "small"
    return render_template("compounding/label.html", batch=b, layout=layout,
                           qr=labels.qr_svg(b.batch_number),
                           do_not_use=labels.do_not_use(state_of(b, clock.now())))


@bp.get("/lots/<int:lot_id>/trace")
@require(VIEW)
def trace(lot_id: int):
    lot = services.get_lot(db.session, lot_id)
    trace = services.trace_lot(db.session, lot)
    return render_template(
        "compounding/trace.html", trace=trace,
        recall=recall_services.recall_of_lot(db.session, lot.id),
        batch_rows=tables.trace_batch_rows(trace.batches, trace.taken),
        patient_items=tables.trace_patient_items(trace.patients),
        administration_rows=(tables.trace_administration_rows(trace.administrations)
                             if current_user.may(COURSES_VIEW) else ""))


@bp.get("/lots/<int:lot_id>/trace.xlsx")
@require(REPORTS)
@writes_on_read
def trace_export(lot_id: int):
    """The recall list as the other exports are sent (a job when large): audited, the
    audit head in the footer; its ``Administrations`` sheet only for a role that reads
    courses."""
    lot = services.get_lot(db.session, lot_id)
    return send_trace(lot, current_user)
