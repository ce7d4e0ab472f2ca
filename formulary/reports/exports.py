"""Exports as HTTP responses, shared by the page and the API: audit the export, then
stream the workbook."""

from __future__ import annotations

from formulary import clock
from formulary.extensions import db
from formulary.reports import batch_log, services, stock_report
from formulary.reports.respond import workbook_response


def send_batch_log(q: batch_log.BatchLogQuery, actor):
    """Shared by the page and the API: audit the export, then stream the workbook."""
    tz = clock.clinic_tz()
    services.record_export(db.session, actor, "batch_log",
                           f"Batch log {q.start} to {q.end}",
                           {"from": q.start, "to": q.end, "cocktail_id": q.cocktail_id,
                            "patient_id": q.patient_id})
    return workbook_response(batch_log.batch_log_sheets(db.session, q, tz),
                             batch_log.filename(q), tz)


def send_stock_report(q: stock_report.StockReportQuery, actor):
    tz = clock.clinic_tz()
    services.record_export(db.session, actor, "stock", "Stock report",
                           {"expiring_within_days": q.expiring_within_days,
                            "from": q.movements_from, "to": q.movements_to})
    return workbook_response(stock_report.stock_report_sheets(db.session, q, tz),
                             stock_report.filename(q, tz), tz)
