"""Who may open each batch route: endpoint -> permission (SPEC §2)."""

from formulary.auth import permissions as P

ROUTES = {
    "compounding.batches": P.VIEW,
    "compounding.prepare": P.BATCHES,
    "compounding.batch": P.VIEW,
    "compounding.verify": P.BATCHES,
    "compounding.discard": P.BATCHES,
    "compounding.label": P.VIEW,
    "compounding.trace": P.VIEW,
    "compounding.trace_export": P.REPORTS,
    "api.list_batches": P.VIEW,
    "api.create_batch": P.BATCHES,
    "api.get_batch": P.VIEW,
    "api.verify_batch": P.BATCHES,
    "api.discard_batch": P.BATCHES,
    "api.trace_lot": P.VIEW,
}
