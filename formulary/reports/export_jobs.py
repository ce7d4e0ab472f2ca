"""Exports as jobs (SPEC §8, §14): one registry of exports, one writer for both paths.

An :class:`ExportSpec` says how an export reads its parameters, how many rows it will
write (``count``), its sheets and its file name, and how it is audited. Then:

- :func:`write_export` writes it: the same function inside a request (no progress) and in
  a worker (a progress callback counting every row written);
- :func:`deliver` is what a page or the API calls: the export is audited as asked for,
  then written at once when it has at most ``EXPORT_INLINE_MAX_ROWS`` rows, or made a
  job (the caller answers 202 / shows the progress bar) when larger;
- the job kind ``export`` runs :func:`run_export_job`: the workbook is written to
  ``<name>.part`` beside its final name, flushed to disk and renamed into place only when
  complete, so a half-written file is never served (nor named in the job's row). A job
  is written in the language of whoever asked for it (``lang`` in its parameters): its
  sheet names, headers, printed title and page numbers (SPEC §13).

Adding an export is one :func:`register_export` line with its spec.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from flask import current_app
from babel.numbers import format_decimal
from flask_babel import get_locale
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from formulary import clock
from formulary.audit.services import chain_head
from formulary.auth.permissions import AUDIT, COURSES_EXPORT, COURSES_VIEW, REPORTS
from formulary.db import write_intent
from formulary.display import code_word
from formulary.domain.dates import parse_iso_date
from formulary.domain.errors import NotFound, ValidationError
from formulary.domain.messages import msg
from formulary.i18n import (_, _babel_locale, _lang, format_date_l, format_datetime_l, format_qty_l,
                            tr)
from formulary.jobs.kinds import JobKind, Outcome, register
from formulary.jobs.services import create_job
from formulary.reports import batch_log, services, stock_report
from formulary.reports.workbook import Sheet, write_workbook

ProgressFn = Callable[[int], None]


@dataclass(frozen=True)
class ExportSpec:
    name: str           # the API's `report`
    label: str
    permission: str
    #: plain parameters (JSON: strings, numbers) -> the export's query; raises DomainError
    parse: Callable[[Session, dict], Any]
    #: the query -> plain parameters (what the job row keeps)
    params: Callable[[Any], dict]
    count: Callable[[Session, Any, Any], int]
    sheets: Callable[[Session, Any, Any], list[Sheet]]
    filename: Callable[[Any, Any], str]
    #: audit the export as asked for: (session, actor, query)
    audit: Callable[[Session, Any, Any], None]
    #: the query as this actor may have it (e.g. the sheets of patients of the courses
    #: only for a role that reads them): applied to whatever the caller asked for
    for_actor: Callable[[Any, Any], Any] = lambda query, actor: query
    #: what the printed title says the export covers: (query, tz) -> text or None
    range_text: Callable[[Any, Any], str | None] = lambda query, tz: None


EXPORTS: dict[str, ExportSpec] = {}


def register_export(spec: ExportSpec) -> ExportSpec:
    EXPORTS[spec.name] = spec
    return spec


def get_spec(name: Any) -> ExportSpec:
    if not isinstance(name, str) or name not in EXPORTS:
        raise ValidationError(msg("Choose the report: one of %(choices)s.",
                                  choices=', '.join(sorted(EXPORTS))),
                              field="report")
    return EXPORTS[name]


# ----------------------------------------------------------------------- the writer

def _counted(rows: Iterable, counter: list[int], progress: ProgressFn) -> Iterator:
    for row in rows:
        yield row
        counter[0] += 1
        progress(counter[0])


def write_export(spec: ExportSpec, session: Session, query: Any, out: BinaryIO,
                 progress: ProgressFn | None = None, actor=None,
                 saving: Callable[[int], None] | None = None) -> int:
    """Write the export to ``out``; ``progress(rows_written)`` after every row when given,
    then ``saving(file_size)`` while the workbook is compressed into ``out``.
    The footer carries the audit chain's head (SPEC §2), the printed page header the title
    block (clinic, report, range, made when and by ``actor``), money its currency.
    Answers the rows written."""
    from formulary.reports.exports import currency, title_block

    tz = clock.clinic_tz()
    footer = chain_head(session).label()
    title = title_block(spec.label, spec.range_text(query, tz), actor)  # the reader's words
    sheets = spec.sheets(session, query, tz)
    counter = [0]
    if progress is not None:
        sheets = [replace(s, rows=_counted(s.rows, counter, progress)) for s in sheets]
    write_workbook(sheets, out, tz=tz, footer=footer, title=title, currency=currency(),
                   saving=saving)
    return counter[0]


def deliver(spec: ExportSpec, query: Any, actor):
    """Audit the export, then answer ``("file", response)`` for one written at once or
    ``("job", job)`` for one too large for a request."""
    from formulary.extensions import db
    from formulary.reports.respond import file_response

    session = db.session
    query = spec.for_actor(query, actor)
    spec.audit(session, actor, query)
    tz = clock.clinic_tz()
    total = spec.count(session, query, tz)
    if total <= current_app.config["EXPORT_INLINE_MAX_ROWS"]:
        out = tempfile.TemporaryFile(suffix=".xlsx")
        try:
            write_export(spec, session, query, out, actor=actor)
            out.seek(0)
        except BaseException:
            out.close()
            raise
        return "file", file_response(out, spec.filename(query, tz))
    job = create_job(session, actor, "export", _job_params(spec, query), rows_total=total)
    return "job", job


def _job_params(spec: ExportSpec, query: Any) -> dict:
    """What the job row keeps: the export, its parameters, and the asker's language."""
    locale = get_locale()
    return {"report": spec.name, **spec.params(query),
            **({"lang": str(locale)} if locale is not None else {})}


def start_job(spec: ExportSpec, query: Any, actor):
    """Always a job (the API's ``POST /jobs/exports``), whatever the size."""
    from formulary.extensions import db

    query = spec.for_actor(query, actor)
    spec.audit(db.session, actor, query)
    total = spec.count(db.session, query, clock.clinic_tz())
    return create_job(db.session, actor, "export", _job_params(spec, query), rows_total=total)


def files_dir() -> Path:
    path = Path(current_app.config["JOB_FILES_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_export_job(run) -> Outcome:
    params = dict(run.params)
    spec = get_spec(params.pop("report", None))
    params.pop("lang", None)  # the runner writes the job in it (formulary.jobs.runner)
    return _run_export(run, spec, params)


def _run_export(run, spec: ExportSpec, params: dict) -> Outcome:
    from formulary.extensions import db

    session = db.session
    tz = clock.clinic_tz()
    final = files_dir() / f"job-{run.job_id}-{secrets.token_hex(8)}.xlsx"
    part = final.with_name(final.name + ".part")
    # Read in a deferred transaction (SQLite: no write lock held for minutes); the
    # progress is written beside it on connections of its own.
    token = write_intent.set(False)
    try:
        query = spec.parse(session, params)
        # The rows to write were counted when the job was made (its rows_total): not
        # counted again here, so the first progress comes with the first rows (a count
        # over a year's joins is seconds with no progress to show).
        with open(part, "wb") as out:
            rows = write_export(spec, session, query, out, run.progress, actor=run.user,
                                saving=lambda size: run.phase(_saving_text(size)))
            out.flush()
            os.fsync(out.fileno())
        os.replace(part, final)
        run.progress(rows, force=True)
        return Outcome(path=str(final), filename=spec.filename(query, tz),
                       summary=_("%(report)s: %(rows)s rows", report=tr(spec.label),
                                 rows=format_qty_l(rows, places=0)))
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    finally:
        session.rollback()
        write_intent.reset(token)


def _saving_text(size: int) -> str:
    """What the page shows while the rows, all written, are compressed into the file."""
    megabytes = f"{size / 2**20:.1f}"
    if _lang() != "en":
        megabytes = format_decimal(Decimal(megabytes), "#,##0.0", locale=_babel_locale())
    return _("Saving the file: %(size)s MB written", size=megabytes)


register(JobKind("export", "Export", run_export_job))


# -------------------------------------------------------------- parameters, counted

def _count(session: Session, stmt) -> int:
    return session.execute(
        select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()


def _date(params: dict, name: str) -> date | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    # YYYY-MM-DD only, within the dates of this world: date.fromisoformat also takes
    # 20260101 and 2026-W01-1, and str() made a date of the number 20260101
    return parse_iso_date(value, name)


def _int(params: dict, name: str, *, minimum: int = 1) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValidationError("Give a whole number.", field=name)
    try:
        number = int(value)
    except ValueError:
        raise ValidationError("Give a whole number.", field=name) from None
    if number < minimum or number > 2**31 - 1:
        raise ValidationError(msg("Give a whole number from %(minimum)s.",
                                  minimum=minimum), field=name)
    return number


def _range(params: dict) -> tuple[date, date]:
    start, end = _date(params, "from"), _date(params, "to")
    if start is None and end is None:
        return batch_log.default_range(clock.today())
    return batch_log.check_range(start, end)


# batch log
def _batch_log_parse(session, params):
    start, end = _range(params)
    cocktail_id, patient_id = batch_log.resolve_filters(
        session, cocktail_id=_int(params, "cocktail_id"), patient_id=_int(params, "patient_id"))
    return batch_log.BatchLogQuery(start, end, cocktail_id, patient_id,
                                   administrations=params.get("administrations") is True)


def _batch_log_count(session, q, tz):
    return (_count(session, batch_log.batches_statement(q, tz))
            + _count(session, batch_log.components_statement(q, tz))
            + (_count(session, batch_log.administrations_statement(q, tz))
               if q.administrations else 0))


def _with_administrations(query, actor):
    """The sheet of administrations (patients of the courses) only for a role that reads
    them, whatever was asked."""
    return replace(query, administrations=actor.may(COURSES_VIEW))


def _batch_log_audit(session, actor, q):
    services.record_export(session, actor, "batch_log", f"Batch log {q.start} to {q.end}",
                           {"from": q.start, "to": q.end, "cocktail_id": q.cocktail_id,
                            "patient_id": q.patient_id})


register_export(ExportSpec(
    "batch_log", "Batch log", REPORTS, _batch_log_parse,
    lambda q: {"from": q.start.isoformat(), "to": q.end.isoformat(),
               "cocktail_id": q.cocktail_id, "patient_id": q.patient_id,
               "administrations": q.administrations},
    _batch_log_count, batch_log.batch_log_sheets, lambda q, tz: batch_log.filename(q),
    _batch_log_audit, _with_administrations,
    lambda q, tz: _("Prepared %(start)s to %(end)s", start=format_date_l(q.start),
                    end=format_date_l(q.end))))


# stock report
def _stock_parse(session, params):
    days = stock_report.check_expiring_days(_int(params, "expiring_within_days", minimum=0))
    start, end = _range(params)
    now = params.get("now")
    return stock_report.StockReportQuery(
        now=datetime.fromisoformat(now) if isinstance(now, str) and now else clock.now(),
        expiring_within_days=days, movements_from=start, movements_to=end)


def _stock_count(session, q, tz):
    from formulary.inventory.models import Ingredient, Lot

    lots = _count(session, select(Lot.id).where(Lot.quantity_on_hand > 0))
    ingredients = _count(session, select(Ingredient.id).where(Ingredient.reorder_level.is_not(None)))
    moves = (_count(session, stock_report._movements_statement(q.movements_from, q.movements_to, tz))
             if q.movements_from and q.movements_to else 0)
    return 2 * lots + ingredients + moves   # On hand + Expiring (at most) + Reorder + Movements


def _stock_audit(session, actor, q):
    services.record_export(session, actor, "stock", "Stock report",
                           {"expiring_within_days": q.expiring_within_days,
                            "from": q.movements_from, "to": q.movements_to})


register_export(ExportSpec(
    "stock", "Stock report", REPORTS, _stock_parse,
    lambda q: {"now": q.now.isoformat(), "expiring_within_days": q.expiring_within_days,
               "from": q.movements_from.isoformat() if q.movements_from else None,
               "to": q.movements_to.isoformat() if q.movements_to else None},
    _stock_count, stock_report.stock_report_sheets, stock_report.filename, _stock_audit,
    range_text=lambda q, tz: _stock_range(q, tz)))


def _stock_range(q, tz) -> str:
    if q.movements_from is not None and q.movements_to is not None:
        return _("Stock at %(at)s; movements %(start)s to %(end)s",
                 at=format_datetime_l(q.now), start=format_date_l(q.movements_from),
                 end=format_date_l(q.movements_to))
    return _("Stock at %(at)s", at=format_datetime_l(q.now))


# trace (recall list of a lot)
@dataclass(frozen=True)
class TraceQuery:
    lot_id: int
    lot_number: str
    administrations: bool = False


def _trace_parse(session, params):
    from formulary.compounding.services import get_lot

    lot_id = _int(params, "lot_id")
    if lot_id is None:
        raise ValidationError("Name the lot.", field="lot_id")
    try:
        lot = get_lot(session, lot_id)
    except NotFound:
        raise NotFound(msg("There is no lot %(lot_id)s.",
                           lot_id=lot_id), field="lot_id") from None
    return TraceQuery(lot.id, lot.lot_number, params.get("administrations") is True)


def _trace(session, q):
    from formulary.compounding.services import get_lot, trace_lot

    return trace_lot(session, get_lot(session, q.lot_id))


def _trace_count(session, q, tz):
    t = _trace(session, q)
    return (len(t.batches) + len(t.patients)
            + (len(t.administrations) if q.administrations else 0))


def _trace_sheets(session, q, tz):
    from formulary.compounding.labels import trace_sheets

    return trace_sheets(_trace(session, q), administrations=q.administrations)


def _trace_audit(session, actor, q):
    services.record_export(session, actor, "trace", f"Recall list of lot {q.lot_number}",
                           {"lot_id": q.lot_id})


register_export(ExportSpec(
    "trace", "Recall list of a lot", REPORTS, _trace_parse,
    lambda q: {"lot_id": q.lot_id, "administrations": q.administrations},
    _trace_count, _trace_sheets,
    lambda q, tz: f"recall-{q.lot_number}.xlsx".replace(" ", "_"), _trace_audit,
    _with_administrations, lambda q, tz: _("Lot %(number)s", number=q.lot_number)))


# audit log
AUDIT_FILTERS = ("user", "object_type", "object_id", "action", "from", "to")


@dataclass(frozen=True)
class AuditQuery:
    filters: tuple[tuple[str, str], ...]


def _audit_parse(session, params):
    filters = {k: str(params[k]) for k in AUDIT_FILTERS if params.get(k) not in (None, "")}
    _date(filters, "from"), _date(filters, "to")
    return AuditQuery(tuple(sorted(filters.items())))


def _audit_statement(q: AuditQuery):
    from formulary.audit.views import filtered_entries

    # The audit page's own filter, read from the same arguments it reads.
    with current_app.test_request_context("/", query_string=dict(q.filters)):
        return filtered_entries()


def _audit_sheets(session, q, tz):
    from formulary.reports.audit_log import audit_sheets

    return audit_sheets(session, _audit_statement(q))


def _audit_audit(session, actor, q):
    services.record_export(session, actor, "audit_log", "Audit log export", dict(q.filters))


register_export(ExportSpec(
    "audit", "Audit log", AUDIT, _audit_parse, lambda q: dict(q.filters),
    lambda session, q, tz: _count(session, _audit_statement(q)), _audit_sheets,
    lambda q, tz: "audit-log.xlsx", _audit_audit,
    range_text=lambda q, tz: _audit_range(dict(q.filters))))


def _joined(parts: list[str]) -> str:
    """Parts of a printed title, as the reader's language separates them (French puts a
    space before the semicolon)."""
    return (" ; " if _lang() == "fr" else "; ").join(parts)


def _audit_range(filters: dict) -> str:
    """The audit page's filters as the export's printed title says them (the dates were
    checked when the query was read)."""
    start, end = (format_date_l(date.fromisoformat(filters[k])) if filters.get(k) else None
                  for k in ("from", "to"))
    if start and end:
        parts = [_("from %(start)s to %(end)s", start=start, end=end)]
    elif start:
        parts = [_("from %(start)s to the last entry", start=start)]
    elif end:
        parts = [_("from the first entry to %(end)s", end=end)]
    else:
        parts = [_("every entry")]
    words = {"user": _("user %(value)s"), "object_type": _("object %(value)s"),
             "object_id": _("id %(value)s"), "action": _("action %(value)s")}
    parts += [words[name] % {"value": filters[name]} for name in words if filters.get(name)]
    return _joined(parts)


# adverse events (SPEC §11): patient data, so COURSES_EXPORT (admin, pharmacist)
def _events_parse(session, params):
    from formulary.courses import event_report

    return event_report.check_query(
        session, start=_date(params, "from"), end=_date(params, "to"),
        ingredient_id=_int(params, "ingredient_id"), lot_id=_int(params, "lot_id"),
        severity=params.get("severity") or None,
        serious=event_report.parse_serious(params.get("serious")))


def _events_params(q) -> dict:
    return {"from": q.start.isoformat() if q.start else None,
            "to": q.end.isoformat() if q.end else None, "ingredient_id": q.ingredient_id,
            "lot_id": q.lot_id, "severity": q.severity, "serious": q.serious}


def _events_count(session, q, tz):
    from formulary.courses import event_report

    return (_count(session, event_report.export_events_statement(q))
            + _count(session, event_report.export_lines_statement(q)))


def _events_sheets(session, q, tz):
    from formulary.courses import event_report

    return event_report.adverse_event_sheets(session, q, tz)


def _events_audit(session, actor, q):
    from formulary.courses import event_report

    services.record_export(session, actor, "adverse_events", event_report.describe(q),
                           q.as_dict())


def _events_filename(q, tz):
    from formulary.courses import event_report

    return event_report.filename(q, clock.today())


register_export(ExportSpec(
    "adverse_events", "Adverse events", COURSES_EXPORT, _events_parse, _events_params,
    _events_count, _events_sheets, _events_filename, _events_audit,
    range_text=lambda q, tz: _events_range(q)))


def _events_range(q) -> str | None:
    """The listing's filters as its printed title says them (the audit entry keeps
    ``event_report.describe``'s own words)."""
    parts = []
    if q.start or q.end:
        parts.append(_("onset from %(start)s to %(end)s",
                       start=format_date_l(q.start) if q.start else "…",
                       end=format_date_l(q.end) if q.end else "…"))
    if q.ingredient_id is not None:
        parts.append(_("ingredient #%(id)s", id=q.ingredient_id))
    if q.lot_id is not None:
        parts.append(_("lot #%(id)s", id=q.lot_id))
    if q.severity is not None:
        parts.append(_("severity %(severity)s", severity=code_word(q.severity)))
    if q.serious is not None:
        parts.append(_("serious only") if q.serious else _("not serious only"))
    return _joined(parts) or None
