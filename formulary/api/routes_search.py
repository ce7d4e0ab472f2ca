"""The search of the navigation bar, as JSON: ``GET /api/v1/search?q=``."""

from __future__ import annotations

from flask import request

from formulary.api import schema as S
from formulary.api.core import api_route, current_api_user
from formulary.auth.permissions import VIEW
from formulary.extensions import db
from formulary.search import services

HIT = S.obj(required=("type", "id", "label", "detail"), type=S.string(), id=S.integer(),
            label=S.string(), detail=S.string())


def _hit(hit: services.Hit) -> dict:
    return {"type": hit.kind, "id": hit.id, "label": hit.label, "detail": hit.detail}


@api_route("/search", ["GET"], summary="Search patients, lots, batches, cocktails and ingredients",
           tag="search", permission=VIEW,
           query=(("q", S.string(), "words, a date of birth, a GTIN, a scanned GS1 string or a "
                   "batch number (what a batch label's QR code holds)"),),
           responses={200: S.obj(required=("query", "kind", "open", "message", "results"),
                                 query=S.string(), kind=S.string(enum=("words", "vial", "batch")),
                                 open=S.nullable(HIT), message=S.string(null=True),
                                 results=S.obj(**{k: S.array(HIT) for k in services.KINDS}))},
           description="Patients only for a role that may read them. `open` is the lot or "
                       "batch a scan names, when there is exactly one.")
def search():
    result = services.search(db.session, current_api_user(), request.args.get("q", ""))
    return {"query": result.query.text, "kind": result.query.kind,
            "open": _hit(result.open) if result.open else None, "message": result.message,
            "results": {k: [_hit(h) for h in result.hits.get(k, [])] for k in services.KINDS}}
