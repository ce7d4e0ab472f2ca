"""The dashboard. Each area may add a panel: a module ``formulary/<area>/dashboard.py``
with ``panels(user) -> list[Markup]``; the dashboard shows them in the areas' order."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from flask import Blueprint, abort, current_app, redirect, render_template, url_for
from flask_login import current_user

from formulary.auth.access import public, require
from formulary.auth.permissions import VIEW

bp = Blueprint("main", __name__)

PANEL_AREAS = ("recalls", "inventory", "compounding", "courses", "reports")


def _panels(user) -> list:
    out = []
    for area in PANEL_AREAS:
        name = f"formulary.{area}.dashboard"
        if importlib.util.find_spec(name) is not None:
            out.extend(importlib.import_module(name).panels(user))
    return out


@bp.get("/")
@public
def index():
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    return redirect(url_for("auth.login"))


@bp.get("/dashboard")
@require(VIEW)
def dashboard():
    return render_template("main/dashboard.html", panels=_panels(current_user))


@bp.get("/health")
@public
def health():
    """For a load balancer or a monitor: the app answers and the database is reachable."""
    from sqlalchemy import text

    from formulary.extensions import db

    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}


@bp.get("/baseline")
@require(VIEW)
def baseline():
    """A page of this app that renders a template without touching the database beyond the
    login: the reference the benchmarks compare real pages with.

    Only there when benchmarking (``BENCHMARK`` on, or the testing configuration the
    benchmarks in ``bench/`` build their apps from): a 404 in production."""
    if not (current_app.config.get("BENCHMARK") or current_app.testing):
        abort(404)
    return render_template("main/baseline.html")


@bp.get("/favicon.ico")
@public
def favicon():
    """Browsers ask for it at the root whatever the page says. The file is small: sent
    from memory (read once per worker)."""
    global _favicon
    if _favicon is None:
        _favicon = (Path(current_app.static_folder) / "favicon.ico").read_bytes()
    response = current_app.response_class(_favicon, mimetype="image/vnd.microsoft.icon")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


_favicon: bytes | None = None
