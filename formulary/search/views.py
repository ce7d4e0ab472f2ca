"""The search page: what the navigation bar's box finds; a scanned vial or batch label
opens its lot or batch directly."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from formulary.auth.access import require
from formulary.auth.permissions import VIEW
from formulary.extensions import db
from formulary.search import services

bp = Blueprint("search", __name__)

#: The page each kind of hit opens.
ENDPOINTS = {"patient": ("patients.record", "patient_id"), "lot": ("inventory.lot", "lot_id"),
             "batch": ("compounding.batch", "batch_id"), "cocktail": ("cocktails.detail", "cocktail_id"),
             "ingredient": ("inventory.ingredient", "ingredient_id")}


def hit_url(hit: services.Hit) -> str:
    endpoint, arg = ENDPOINTS[hit.kind]
    return url_for(endpoint, **{arg: hit.id})


@bp.get("/search")
@require(VIEW)
def index():
    result = services.search(db.session, current_user, request.args.get("q", ""))
    if result.open is not None:
        return redirect(hit_url(result.open))
    return render_template("search/results.html", result=result, hit_url=hit_url,
                           kinds=services.KINDS)
