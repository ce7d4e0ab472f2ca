"""Reports and imports (SPEC §8, §9): the batch log and stock report as .xlsx, the
delivery import and its template. Thin routes over ``formulary.reports``."""

from __future__ import annotations

import io

from flask import current_app, request

from formulary import clock
from formulary.api import schema as S
from formulary.api.core import api_route, arg_date_range, arg_int, created, current_api_user
from formulary.api.routes_inventory import LOT, lot_json
from formulary.auth.permissions import COURSES_EXPORT, INVENTORY, REPORTS
from formulary.courses import event_report
from formulary.domain.courses import EVENT_SEVERITIES
from formulary.domain.errors import MalformedRequest
from formulary.errors import envelope, throw_away_changes
from formulary.extensions import db
from formulary.i18n import _l, tr
from formulary.reports import batch_log, services, stock_report
from formulary.reports.delivery import DeliveryFileError, problem_sentence, template_workbook
from formulary.reports.respond import XLSX, file_response
from formulary.reports.exports import (send_adverse_events, send_batch_log, send_stock_report,
                                       title_block)
from formulary.transaction import writes_on_read

TAG = "reports"
RANGE_QUERY = (
    ("from", S.string(fmt="date"), "first day, clinic's local date (default: 29 days before to)"),
    ("to", S.string(fmt="date"), "last day, included (default: today)"),
)

DELIVERY_PROBLEM = S.obj(required=("row", "reason"),
                         row=S.integer(null=True, description="the row number Excel shows; "
                                                              "null for the file itself"),
                         reason=S.string())


def _range():
    """``?from=&to=``: both or neither (then the last 30 days)."""
    start, end = arg_date_range()
    if start is None and end is None:
        return batch_log.default_range(clock.today())
    return batch_log.check_range(start, end)


@api_route("/reports/batch-log.xlsx", summary="The batch log as an Excel workbook", tag=TAG,
           permission=REPORTS,
           query=(*RANGE_QUERY,
                  ("cocktail_id", S.integer(minimum=1), "only this cocktail's batches"),
                  ("patient_id", S.integer(minimum=1), "only the batches made for this patient")),
           responses={200: XLSX},
           description="Sheets `Batches` (one row per batch) and `Components` (one row per "
                       "lot used). Streams from the database; audited as an export.")
@writes_on_read
def report_batch_log():
    start, end = _range()
    cocktail_id, patient_id = batch_log.resolve_filters(
        db.session, cocktail_id=arg_int("cocktail_id", minimum=1),
        patient_id=arg_int("patient_id", minimum=1))
    return send_batch_log(batch_log.BatchLogQuery(start, end, cocktail_id, patient_id),
                          current_api_user())


@api_route("/reports/stock.xlsx", summary="The stock report as an Excel workbook", tag=TAG,
           permission=REPORTS,
           query=(("expiring_within_days", S.integer(minimum=0),
                   "the Expiring sheet's horizon in days (default 90)"), *RANGE_QUERY),
           responses={200: XLSX},
           description="Sheets `On hand` (with a totals row of the stock value), `Expiring`, "
                       "`Reorder`, `Movements` (the ledger from `from` to `to`), and "
                       "`By category` / `Expiry by month` with native Excel charts.")
@writes_on_read
def report_stock():
    days = stock_report.check_expiring_days(
        arg_int("expiring_within_days", None, minimum=0, maximum=stock_report.MAX_EXPIRING_DAYS))
    start, end = _range()
    q = stock_report.StockReportQuery(now=clock.now(), expiring_within_days=days,
                                      movements_from=start, movements_to=end)
    return send_stock_report(q, current_api_user())


@api_route("/imports/delivery/template.xlsx", summary="A delivery sheet to fill in", tag=TAG,
           permission=INVENTORY, responses={200: XLSX})
def delivery_template_xlsx():
    out = io.BytesIO()
    template_workbook(out, title=title_block(_l("Delivery sheet to fill in"), None, current_api_user()),
                      tz=clock.clinic_tz())
    out.seek(0)
    return file_response(out, "delivery-template.xlsx")


@api_route("/imports/delivery", ["POST"], summary="Import a supplier's delivery sheet",
           tag=TAG, permission=INVENTORY, body_content="multipart/form-data",
           body=S.obj(required=("file",), file=S.string(fmt="binary",
                                                        description="the .xlsx sheet")),
           responses={201: S.obj(required=("items", "total"), items=S.array(LOT),
                                 total=S.integer(minimum=0)),
                      202: S.obj(required=("id", "status"), id=S.integer(), status=S.string())},
           description="A sheet of more than DELIVERY_INLINE_MAX_ROWS rows (200) is received "
                       "by a job: 202 with the job (`Location: /api/v1/jobs/{id}`). "
                       "Every row is checked first; one bad row refuses the whole file and "
                       "nothing is received. A refusal answers 422 with `fields.rows` (one "
                       "sentence per bad row, 'Row 3: ...'), `fields.file` (problems of the "
                       "file itself: not a workbook, no rows, unknown or missing columns) and "
                       "`problems`: `[{row, reason}]`, `row` null for the file.")
def import_delivery():
    if not request.content_type or not request.content_type.startswith("multipart/form-data"):
        raise MalformedRequest("Send the file as multipart/form-data, in the field 'file'.",
                               field="file")
    upload = request.files.get("file")
    try:
        data = services.read_upload(upload.stream if upload else None)
        rows = services.count_rows(data)
        if rows > current_app.config["DELIVERY_INLINE_MAX_ROWS"]:
            from formulary.api.routes_jobs import accepted
            from formulary.reports.delivery_jobs import start_import

            return accepted(start_import(db.session, current_api_user(), data,
                                         (upload.filename or "") if upload else "", rows))
        lots = services.import_delivery(
            db.session, current_api_user(), data,
            filename=(upload.filename or "") if upload else "")
    except DeliveryFileError as exc:
        throw_away_changes()
        fields: dict[str, list[str]] = {}
        for row, reason in exc.problems:
            if row is None:
                fields.setdefault("file", []).append(reason)
            else:
                fields.setdefault("rows", []).append(problem_sentence(row, reason))
        return envelope(exc.code, exc.message, 422, fields,
                        problems=[{"row": row, "reason": tr(reason)} for row, reason in exc.problems])
    return created({"items": [lot_json(lot) for lot in lots], "total": len(lots)})


@api_route("/reports/adverse-events.xlsx", summary="The adverse-event listing as an Excel "
           "workbook", tag=TAG, permission=COURSES_EXPORT,
           query=(("from", S.string(fmt="date"), "onset on or after (default: no limit)"),
                  ("to", S.string(fmt="date"), "onset on or before (default: no limit)"),
                  ("ingredient_id", S.integer(minimum=1), "events after administrations "
                                                          "that gave this ingredient"),
                  ("lot_id", S.integer(minimum=1), "events after administrations from this lot"),
                  ("severity", S.string(enum=EVENT_SEVERITIES), "only this severity"),
                  ("serious", S.boolean(), "only serious (true) or not serious (false)")),
           responses={200: XLSX},
           description="Sheets `Adverse events` (one row per event: onset, kind, severity, "
                       "patient MRN, administration, batch) and `By ingredient and lot` (one "
                       "row per lot given in the administration behind each event). Streams "
                       "from the database; audited as an export.")
@writes_on_read
def report_adverse_events():
    start, end = arg_date_range()
    q = event_report.check_query(
        db.session, start=start, end=end, ingredient_id=arg_int("ingredient_id", minimum=1),
        lot_id=arg_int("lot_id", minimum=1), severity=request.args.get("severity") or None,
        serious=event_report.parse_serious(request.args.get("serious")))
    return send_adverse_events(q, current_api_user())
