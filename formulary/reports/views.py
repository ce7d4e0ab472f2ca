"""The reports page: batch log and stock report downloads, the delivery import and its
template, the audit log export. Thin: forms parse, the builders and services decide."""

from __future__ import annotations

import io

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from formulary import clock
from formulary.audit.views import filtered_entries
from formulary.auth.access import require
from formulary.audit.services import record
from formulary.auth.permissions import AUDIT, COURSES_EXPORT, COURSES_VIEW, INVENTORY, REPORTS
from formulary.cocktails.models import Cocktail
from formulary.courses import event_report
from formulary.domain.errors import DomainError, ValidationError
from formulary.domain.messages import msg, quoted
from formulary.errors import form_errors, throw_away_changes
from formulary.extensions import db
from formulary.inventory.models import Ingredient, Lot
from formulary.reports import batch_log, services, stock_report
from formulary.reports.delivery import DeliveryFileError, template_workbook
from formulary.reports.delivery_jobs import start_import
from formulary.reports.forms import (AdverseEventFilterForm, BatchLogForm, DeliveryImportForm,
                                     StockReportForm)
from formulary.reports.export_jobs import EXPORTS
from formulary.reports.exports import (send_adverse_events, send_batch_log,
                                       send_export, send_stock_report, title_block)
from formulary.reports.respond import file_response
from formulary.jobs.kinds import KINDS
from formulary.jobs.services import recent_jobs
from formulary.transaction import writes_on_read

from formulary.i18n import _, _l, tr


def job_label(job) -> str:
    """A job's name in the reader's language (the registry's English, looked up here)."""
    kind = KINDS.get(job.kind)
    if job.kind == "export":
        spec = EXPORTS.get(job.params.get("report"))
        return tr(spec.label) if spec else _("Export")
    return tr(kind.label) if kind else job.kind


def job_downloadable(job) -> bool:
    kind = KINDS.get(job.kind)
    return bool(kind and kind.downloadable)

bp = Blueprint("reports", __name__, url_prefix="/reports")
PER_PAGE = 50


def _forms():
    """The download forms as the page first shows them: the last 30 days."""
    start, end = batch_log.default_range(clock.today())
    log_form = BatchLogForm(formdata=None, data={"start": start, "end": end})
    log_form.set_cocktails(db.session.execute(
        select(Cocktail).order_by(Cocktail.name_key)).scalars())
    stock_form = StockReportForm(formdata=None, data={"start": start, "end": end})
    return log_form, stock_form


def _page(log_form=None, stock_form=None, import_form=None, problems=None, status=200):
    default_log, default_stock = _forms()
    return render_template(
        "reports/index.html", log_form=log_form or default_log,
        stock_form=stock_form or default_stock,
        import_form=import_form or DeliveryImportForm(),
        may_import=current_user.may(INVENTORY), may_audit=current_user.may(AUDIT),
        problems=problems or [], jobs=recent_jobs(db.session, current_user),
        keep_hours=current_app.config["JOB_KEEP_HOURS"], job_label=job_label,
        job_downloadable=job_downloadable), status


@bp.get("/")
@require(REPORTS)
def index():
    return _page()


def _range(form, today):
    """The form's dates; none given: the last 30 days. One given: both are needed."""
    start, end = form.start.data, form.end.data
    if start is None and end is None and not request.args.get("from") and not request.args.get("to"):
        return batch_log.default_range(today)
    return batch_log.check_range(start, end)


@bp.get("/batch-log.xlsx")
@require(REPORTS)
@writes_on_read
def batch_log_download():
    form = BatchLogForm(formdata=request.args)
    form.set_cocktails(db.session.execute(select(Cocktail).order_by(Cocktail.name_key)).scalars())
    if not form.validate():
        return _page(log_form=form, status=422)
    try:
        start, end = _range(form, clock.today())
        cocktail_id, patient_id = batch_log.resolve_filters(
            db.session, cocktail_id=form.cocktail_id.data, patient_mrn=form.patient_mrn.data)
    except DomainError as exc:
        form_errors(form, _on_form(exc))
        return _page(log_form=form, status=exc.status if exc.status < 500 else 422)
    q = batch_log.BatchLogQuery(start, end, cocktail_id, patient_id)
    return send_batch_log(q, current_user)


def _on_form(exc: DomainError) -> DomainError:
    # the form's field names are the URL's: "from" and "to" are the fields start and end
    renamed = {{"from": "start", "to": "end"}.get(k, k): v for k, v in exc.fields.items()}
    exc.fields = renamed
    return exc


@bp.get("/stock.xlsx")
@require(REPORTS)
@writes_on_read
def stock_download():
    form = StockReportForm(formdata=request.args)
    if not form.validate():
        return _page(stock_form=form, status=422)
    try:
        start, end = _range(form, clock.today())
    except DomainError as exc:
        form_errors(form, _on_form(exc))
        return _page(stock_form=form, status=exc.status)
    q = stock_report.StockReportQuery(
        now=clock.now(), expiring_within_days=stock_report.check_expiring_days(
            form.expiring_within_days.data), movements_from=start, movements_to=end)
    return send_stock_report(q, current_user)


@bp.get("/audit.xlsx")
@require(AUDIT)
@writes_on_read
def audit_export():
    """The audit log with the audit page's filters (``?user=&object_type=&...``)."""
    filtered_entries()  # the filters checked as the audit page checks them
    spec = EXPORTS["audit"]
    return send_export("audit", spec.parse(db.session, request.args.to_dict()), current_user)


@bp.get("/delivery-template.xlsx")
@require(INVENTORY)
def delivery_template():
    out = io.BytesIO()
    template_workbook(out, title=title_block(_l("Delivery sheet to fill in"), None, current_user),
                      tz=clock.clinic_tz())
    out.seek(0)
    return file_response(out, "delivery-template.xlsx")


@bp.post("/delivery")
@require(INVENTORY)
def delivery_import():
    form = DeliveryImportForm()
    if not form.validate_on_submit():
        return _page(import_form=form, status=400 if form.csrf_token.errors else 422)
    upload = form.file.data
    try:
        data = services.read_upload(upload.stream)
        rows = services.count_rows(data)
        if rows > current_app.config["DELIVERY_INLINE_MAX_ROWS"]:
            job = start_import(db.session, current_user, data, upload.filename or "", rows)
            flash(_("Delivery of %(rows)s rows: received in the background; its progress is "
                    "shown below.", rows=rows), "info")
            return redirect(url_for("reports.index", job=job.id))
        lots = services.import_delivery(db.session, current_user, data,
                                        filename=upload.filename or "")
    except DeliveryFileError as exc:
        throw_away_changes()
        return _page(import_form=form, problems=exc.problems, status=422)
    flash(_("Delivery imported: %(count)s lot(s) received.", count=len(lots)), "success")
    return redirect(url_for("reports.index"))


# --- adverse events (SPEC §11): the listing per ingredient and per lot, and its export ---

def _event_filters():
    """The listing's form and its checked query from ``request.args`` (``lot_id`` from a
    lot's trace page, or a lot number typed in the form). A bad filter: form errors."""
    form = AdverseEventFilterForm(formdata=request.args)
    form.set_ingredients(db.session.execute(
        select(Ingredient).order_by(Ingredient.name_key)).scalars())
    if not form.validate():
        return form, None
    try:
        lot_id = arg_lot_id = _lot_id_arg()
        if form.lot.data and form.lot.data.strip():
            lot_id = _lot_by_number(form.lot.data.strip(), form.ingredient_id.data)
        if arg_lot_id is not None and lot_id != arg_lot_id:
            raise ValidationError("Give the lot once.", field="lot")
        q = event_report.check_query(
            db.session, start=form.start.data, end=form.end.data,
            ingredient_id=form.ingredient_id.data, lot_id=lot_id,
            severity=form.severity.data or None,
            serious=event_report.parse_serious(form.serious.data))
    except DomainError as exc:
        if exc.status == 404 and "lot_id" in exc.fields:
            exc.fields = {"lot": exc.fields["lot_id"]}
        form_errors(form, _on_form(exc))
        return form, None
    return form, q


def _lot_id_arg() -> int | None:
    raw = (request.args.get("lot_id") or "").strip()
    if not raw:
        return None
    if not raw.isdecimal() or len(raw) > 12:
        raise ValidationError("Choose a lot by its number.", field="lot")
    return int(raw)


def _lot_by_number(number: str, ingredient_id: int | None) -> int:
    stmt = select(Lot.id).where(Lot.lot_number == number).order_by(Lot.id).limit(2)
    if ingredient_id is not None:
        stmt = stmt.where(Lot.ingredient_id == ingredient_id)
    found = db.session.execute(stmt).scalars().all()
    if not found:
        raise ValidationError(msg("No lot has the number %(number)s for this ingredient.",
                                  number=quoted(number)) if ingredient_id else
                              msg("No lot has the number %(number)s.", number=quoted(number)),
                              field="lot")
    if len(found) > 1:
        raise ValidationError("Several ingredients have a lot with this number: choose the "
                              "ingredient too.", field="lot")
    return found[0]


@bp.get("/adverse-events")
@require(COURSES_VIEW)
@writes_on_read
def adverse_events():
    """The adverse events by ingredient, lot, onset, severity, seriousness; a page of 50.
    Audited as a read of every patient listed, as the API list is."""
    form, q = _event_filters()
    if q is None:
        return render_template("reports/adverse_events.html", form=form, events=[], total=0,
                               page=1, per_page=PER_PAGE, export_args=None), 422
    page = _page_number()
    stmt = event_report.events_statement(q)
    total = db.session.execute(
        select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    events = db.session.execute(
        stmt.limit(PER_PAGE).offset((page - 1) * PER_PAGE)).unique().scalars().all()
    for patient_id in sorted({e.patient_id for e in events}):
        record(db.session, current_user, "patient.view", "patient", patient_id,
               summary=f"Viewed the adverse events of patient #{patient_id} (page, list)")
    export_args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("reports/adverse_events.html", form=form, events=events,
                           total=total, page=page, per_page=PER_PAGE, export_args=export_args,
                           may_export=current_user.may(COURSES_EXPORT))


def _page_number() -> int:
    raw = request.args.get("page", "")
    return int(raw) if raw.isdecimal() and 0 < len(raw) < 7 and int(raw) > 0 else 1


@bp.get("/adverse-events.xlsx")
@require(COURSES_EXPORT)
@writes_on_read
def adverse_events_download():
    form, q = _event_filters()
    if q is None:
        return render_template("reports/adverse_events.html", form=form, events=[], total=0,
                               page=1, per_page=PER_PAGE, export_args=None), 422
    return send_adverse_events(q, current_user)
