"""Exports as HTTP responses, shared by the page and the API: audit the export, then
stream the workbook, or, when it is too large for a request
(``EXPORT_INLINE_MAX_ROWS``), start it as a job: the API answers 202 with the job, the
page shows its progress bar (:mod:`formulary.reports.export_jobs`, one writer for both).
Every export carries the audit chain's head in its footer (:func:`head_footer`, SPEC §2).
"""

from __future__ import annotations

from flask import current_app, flash, redirect, request, url_for

from formulary import clock

from formulary.audit.services import chain_head
from formulary.courses import event_report
from formulary.extensions import db
from formulary.i18n import _, format_qty_l, tr
from formulary.reports import batch_log, stock_report
from formulary.reports.export_jobs import EXPORTS, TraceQuery, deliver
from formulary.reports.workbook import TitleBlock


def head_footer() -> str:
    """The footer line of an export: the audit chain's head as committed when the export
    is made (the export's own entry is written after it, with the request's commit)."""
    return chain_head(db.session).label()


def title_block(report, range_text: str | None, actor) -> TitleBlock:
    """The printed title of an export: this clinic, ``report`` (its English name, or a
    lazy text: said in the reader's language), ``range_text`` (already in it), made now
    by ``actor`` (their full name; a job's printed title names who asked for it)."""
    return TitleBlock(clinic=current_app.config["CLINIC_NAME"], report=tr(report),
                      range=range_text, generated_at=clock.now(),
                      generated_by=actor.display_name if actor is not None else "Formulary")


def currency() -> str:
    return current_app.config["MONEY_CURRENCY"]


def print_options(report: str, range_text: str | None, actor) -> dict:
    """The keyword arguments every export gives ``write_workbook`` (or
    ``workbook_response``): the audit head footer, the title block and the currency."""
    return {"footer": head_footer(), "title": title_block(report, range_text, actor),
            "currency": currency()}


def send_export(report: str, query, actor):
    """The file at once, or the job: 202 for the API, the reports page with the job's
    progress bar for a page."""
    kind, value = deliver(EXPORTS[report], query, actor)
    if kind == "file":
        return value
    if request.blueprint == "api":
        from formulary.api.routes_jobs import accepted

        return accepted(value)
    flash(_("%(report)s: %(rows)s rows to write, in the background. The file is offered "
            "below when it is ready.", report=tr(EXPORTS[report].label),
            rows=format_qty_l(value.rows_total, places=0)), "info")
    return redirect(url_for("reports.index", job=value.id))


def send_batch_log(q: batch_log.BatchLogQuery, actor):
    """Shared by the page and the API."""
    return send_export("batch_log", q, actor)


def send_stock_report(q: stock_report.StockReportQuery, actor):
    return send_export("stock", q, actor)


def send_adverse_events(q: event_report.AdverseEventQuery, actor):
    """The adverse-event listing (SPEC §11)."""
    return send_export("adverse_events", q, actor)


def send_trace(lot, actor):
    """The recall trace of a lot (SPEC §7); its ``Administrations`` sheet only for a role
    that reads courses (the registry sets it from the actor)."""
    return send_export("trace", TraceQuery(lot.id, lot.lot_number), actor)
