"""Who may open each route of the reports area (SPEC §2: exports and reports for admin,
manager and pharmacist; the delivery import receives stock: admin and pharmacist; the
audit log export: admin and manager)."""

from formulary.auth import permissions as P

ROUTES = {
    "reports.index": P.REPORTS,
    "reports.batch_log_download": P.REPORTS,
    "reports.stock_download": P.REPORTS,
    "reports.audit_export": P.AUDIT,
    "reports.delivery_template": P.INVENTORY,
    "reports.delivery_import": P.INVENTORY,
    "api.report_batch_log": P.REPORTS,
    "api.report_stock": P.REPORTS,
    "api.delivery_template_xlsx": P.INVENTORY,
    "api.import_delivery": P.INVENTORY,
    # adverse events (SPEC §11): read by the roles that read courses, exported by those
    # that also export (never the manager: patient data)
    "reports.adverse_events": P.COURSES_VIEW,
    "reports.adverse_events_download": P.COURSES_EXPORT,
    "api.report_adverse_events": P.COURSES_EXPORT,
}
