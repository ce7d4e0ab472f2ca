"""Reading the audit log: managers and admins."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import Blueprint, current_app, render_template, request
from sqlalchemy import func, select

from formulary.api.core import arg_date_range, arg_int
from formulary.audit.models import AuditEntry
from formulary.auth.access import require
from formulary.auth.permissions import AUDIT
from formulary.clock import clinic_tz
from formulary.extensions import db

bp = Blueprint("audit", __name__, url_prefix="/audit")


def filtered_entries():
    """The audit entries matching ``?user=&object_type=&object_id=&action=&from=&to=``."""
    stmt = select(AuditEntry)
    user = request.args.get("user", "").strip().lower()
    if user:
        stmt = stmt.where(AuditEntry.username == user)
    for name, column in (("object_type", AuditEntry.object_type),
                         ("object_id", AuditEntry.object_id), ("action", AuditEntry.action)):
        value = request.args.get(name, "").strip()
        if value:
            stmt = stmt.where(column == value)
    tz = clinic_tz()
    start, end = arg_date_range()  # the one range rule: "from" after "to" is refused
    if start:
        stmt = stmt.where(AuditEntry.at >= datetime.combine(start, time.min, tz))
    if end:
        stmt = stmt.where(AuditEntry.at < datetime.combine(end + timedelta(days=1), time.min, tz))
    return stmt


@bp.get("/")
@require(AUDIT)
def index():
    stmt = filtered_entries()
    page = arg_int("page", 1, minimum=1)
    per_page = 50
    total = db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    entries = db.session.execute(
        stmt.order_by(AuditEntry.seq.desc()).limit(per_page).offset((page - 1) * per_page)
    ).scalars().all()
    object_types = db.session.execute(
        select(AuditEntry.object_type).distinct().order_by(AuditEntry.object_type)).scalars().all()
    return render_template("audit/index.html", entries=entries, page=page, per_page=per_page,
                           total=total, object_types=object_types,
                           has_export="reports.audit_export" in current_app.view_functions)
