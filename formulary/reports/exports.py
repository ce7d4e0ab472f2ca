"""Exports as HTTP responses, shared by the page and the API: audit the export, then
stream the workbook. Every export carries the audit chain's head in its footer
(:func:`head_footer`, SPEC §2)."""

from __future__ import annotations

from dataclasses import replace

from formulary import clock
from formulary.auth.permissions import COURSES_VIEW
from formulary.audit.services import chain_head
from formulary.extensions import db
from formulary.compounding.labels import trace_sheets
from formulary.courses import event_report
from formulary.reports import batch_log, services, stock_report
from formulary.reports.respond import workbook_response


def head_footer() -> str:
    """The footer line of an export: the audit chain's head as committed when the export
    is made (the export's own entry is written after it, with the request's commit)."""
    return chain_head(db.session).label()


def send_batch_log(q: batch_log.BatchLogQuery, actor):
    """Shared by the page and the API: audit the export, then stream the workbook. The
    ``Administrations`` sheet (patients of the courses) only for a role that reads them."""
    tz = clock.clinic_tz()
    q = replace(q, administrations=actor.may(COURSES_VIEW))
    services.record_export(db.session, actor, "batch_log",
                           f"Batch log {q.start} to {q.end}",
                           {"from": q.start, "to": q.end, "cocktail_id": q.cocktail_id,
                            "patient_id": q.patient_id})
    return workbook_response(batch_log.batch_log_sheets(db.session, q, tz),
                             batch_log.filename(q), tz, footer=head_footer())


def send_stock_report(q: stock_report.StockReportQuery, actor):
    tz = clock.clinic_tz()
    services.record_export(db.session, actor, "stock", "Stock report",
                           {"expiring_within_days": q.expiring_within_days,
                            "from": q.movements_from, "to": q.movements_to})
    return workbook_response(stock_report.stock_report_sheets(db.session, q, tz),
                             stock_report.filename(q, tz), tz, footer=head_footer())


def send_adverse_events(q: event_report.AdverseEventQuery, actor):
    """The adverse-event listing (SPEC §11) as a workbook: audited, then streamed."""
    tz = clock.clinic_tz()
    services.record_export(db.session, actor, "adverse_events", event_report.describe(q),
                           q.as_dict())
    return workbook_response(event_report.adverse_event_sheets(db.session, q, tz),
                             event_report.filename(q, clock.today()), tz, footer=head_footer())


def send_trace(lot, trace, actor):
    """The recall trace of a lot (SPEC §7) as a workbook: audited, with the audit head in
    the footer; the ``Administrations`` sheet only for a role that reads courses."""
    tz = clock.clinic_tz()
    services.record_export(db.session, actor, "trace", f"Recall trace of lot {lot.lot_number}",
                           {"lot_id": lot.id})
    filename = f"recall-{lot.lot_number}.xlsx".replace(" ", "_")
    return workbook_response(trace_sheets(trace, administrations=actor.may(COURSES_VIEW)),
                             filename, tz, footer=head_footer())
