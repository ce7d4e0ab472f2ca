"""The reports page: batch log and stock report downloads, the delivery import and its
template, the audit log export. Thin: forms parse, the builders and services decide."""

from __future__ import annotations

import io

from flask import Blueprint, flash, redirect, render_template, request, url_for
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
from formulary.reports.audit_log import audit_sheets
from formulary.reports.delivery import DeliveryFileError, template_workbook
from formulary.reports.forms import BatchLogForm, DeliveryImportForm, StockReportForm
from formulary.reports.exports import print_options, send_batch_log, send_stock_report, title_block
from formulary.reports.respond import file_response, workbook_response
from formulary.transaction import writes_on_read

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
        problems=problems or []), status


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
    stmt = filtered_entries()
    tz = clock.clinic_tz()
    services.record_export(db.session, current_user, "audit_log", "Audit log export",
                           request.args.to_dict())
    options = print_options("Audit log", _audit_range(), current_user)
    return workbook_response(audit_sheets(db.session, stmt), "audit-log.xlsx", tz, **options)


def _audit_range() -> str:
    """The audit page's filters as the export's printed title says them."""
    words = {"user": "user", "object_type": "object", "object_id": "id", "action": "action"}
    start, end = request.args.get("from"), request.args.get("to")
    parts = [f"{start or 'first entry'} to {end or 'last entry'}"]
    parts += [f"{label} {request.args[name]}" for name, label in words.items()
              if request.args.get(name)]
    return "; ".join(parts)


@bp.get("/delivery-template.xlsx")
@require(INVENTORY)
def delivery_template():
    out = io.BytesIO()
    template_workbook(out, title=title_block("Delivery sheet to fill in", None, current_user),
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
        lots = services.import_delivery(db.session, current_user,
                                        services.read_upload(upload.stream),
                                        filename=upload.filename or "")
    except DeliveryFileError as exc:
        db.session.rollback()
        return _page(import_form=form, problems=exc.problems, status=422)
    flash(f"Delivery imported: {len(lots)} lot(s) received.", "success")
    return redirect(url_for("reports.index"))
