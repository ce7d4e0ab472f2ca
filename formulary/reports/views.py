"""The reports page: batch log and stock report downloads, the delivery import and its
template, the audit log export. Thin: forms parse, the builders and services decide."""

from __future__ import annotations

import io

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from formulary import clock
from formulary.audit.views import filtered_entries
from formulary.auth.access import require
from formulary.auth.permissions import AUDIT, INVENTORY, REPORTS
from formulary.cocktails.models import Cocktail
from formulary.domain.errors import DomainError
from formulary.errors import form_errors
from formulary.extensions import db
from formulary.reports import batch_log, services, stock_report
from formulary.reports.delivery import DeliveryFileError, template_workbook
from formulary.reports.delivery_jobs import start_import
from formulary.reports.forms import BatchLogForm, DeliveryImportForm, StockReportForm
from formulary.reports.export_jobs import EXPORTS
from formulary.reports.exports import send_batch_log, send_export, send_stock_report
from formulary.reports.respond import file_response
from formulary.jobs.kinds import KINDS
from formulary.jobs.services import recent_jobs
from formulary.transaction import writes_on_read


def job_label(job) -> str:
    kind = KINDS.get(job.kind)
    if job.kind == "export":
        spec = EXPORTS.get(job.params.get("report"))
        return spec.label if spec else "Export"
    return kind.label if kind else job.kind


def job_downloadable(job) -> bool:
    kind = KINDS.get(job.kind)
    return bool(kind and kind.downloadable)

bp = Blueprint("reports", __name__, url_prefix="/reports")


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
    template_workbook(out)
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
            flash(f"Delivery of {rows} rows: received in the background; its progress is "
                  "shown below.", "info")
            return redirect(url_for("reports.index", job=job.id))
        lots = services.import_delivery(db.session, current_user, data,
                                        filename=upload.filename or "")
    except DeliveryFileError as exc:
        db.session.rollback()
        return _page(import_form=form, problems=exc.problems, status=422)
    flash(f"Delivery imported: {len(lots)} lot(s) received.", "success")
    return redirect(url_for("reports.index"))
