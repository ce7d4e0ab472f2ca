"""Exports as HTTP responses, shared by the page and the API: audit the export, then
stream the workbook. Every export carries the audit chain's head in its footer
(:func:`head_footer`, SPEC §2)."""

from __future__ import annotations

from flask import current_app

from formulary import clock
from formulary.audit.services import chain_head
from formulary.extensions import db
from formulary.reports import batch_log, services, stock_report
from formulary.reports.respond import workbook_response
from formulary.reports.workbook import TitleBlock


def head_footer() -> str:
    """The footer line of an export: the audit chain's head as committed when the export
    is made (the export's own entry is written after it, with the request's commit)."""
    return chain_head(db.session).label()


def title_block(report: str, range_text: str | None, actor) -> TitleBlock:
    """The printed title of an export: this clinic, ``report``, ``range_text``, made now
    by ``actor`` (their full name)."""
    return TitleBlock(clinic=current_app.config["CLINIC_NAME"], report=report,
                      range=range_text, generated_at=clock.now(),
                      generated_by=actor.display_name)


def currency() -> str:
    return current_app.config["MONEY_CURRENCY"]


def print_options(report: str, range_text: str | None, actor) -> dict:
    """The keyword arguments every export gives ``write_workbook`` (or
    ``workbook_response``): the audit head footer, the title block and the currency."""
    return {"footer": head_footer(), "title": title_block(report, range_text, actor),
            "currency": currency()}


def send_batch_log(q: batch_log.BatchLogQuery, actor):
    """Shared by the page and the API: audit the export, then stream the workbook."""
    tz = clock.clinic_tz()
    services.record_export(db.session, actor, "batch_log",
                           f"Batch log {q.start} to {q.end}",
                           {"from": q.start, "to": q.end, "cocktail_id": q.cocktail_id,
                            "patient_id": q.patient_id})
    options = print_options("Batch log", f"Prepared {q.start} to {q.end}", actor)
    return workbook_response(batch_log.batch_log_sheets(db.session, q, tz),
                             batch_log.filename(q), tz, **options)


def send_stock_report(q: stock_report.StockReportQuery, actor):
    tz = clock.clinic_tz()
    services.record_export(db.session, actor, "stock", "Stock report",
                           {"expiring_within_days": q.expiring_within_days,
                            "from": q.movements_from, "to": q.movements_to})
    at = q.now.astimezone(tz)
    range_text = f"Stock at {at:%Y-%m-%d %H:%M}"
    if q.movements_from is not None and q.movements_to is not None:
        range_text += f"; movements {q.movements_from} to {q.movements_to}"
    options = print_options("Stock report", range_text, actor)
    return workbook_response(stock_report.stock_report_sheets(db.session, q, tz),
                             stock_report.filename(q, tz), tz, **options)
