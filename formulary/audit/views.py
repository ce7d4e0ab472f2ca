"""Reading the audit log: managers and admins."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import Blueprint, current_app, render_template, request
from sqlalchemy import select

from formulary.api.core import arg_date_range, arg_int
from formulary.audit.models import AuditEntry
from formulary.audit.readable import readable_changes
from formulary.audit.services import chain_head
from formulary.audit.words import reader_words
from formulary.auth.access import require
from formulary.auth.permissions import AUDIT
from formulary.clock import clinic_tz
from formulary.extensions import db
from formulary.listing import SortColumns, distinct_values, page_sort, paged

bp = Blueprint("audit", __name__, url_prefix="/audit")
PER_PAGE = 50

#: The orders of the audit page: "at" is the chain's order (``seq``), which is the order
#: of the commits.
AUDIT_SORT = SortColumns(
    columns={"at": AuditEntry.seq, "user": AuditEntry.username, "action": AuditEntry.action,
             "object": (AuditEntry.object_type, AuditEntry.object_id)},
    default="-at", tiebreak=(AuditEntry.seq,))


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
    sort = page_sort(AUDIT_SORT)
    # the whole log (no filter): its number of entries is the chain head's ``seq``
    # (gapless, append-only; a gap is what the chain check reports), one index look-up
    # instead of counting 200,000 rows
    total = chain_head(db.session).seq if stmt.whereclause is None else None
    entries, page, total = paged(AUDIT_SORT.apply(stmt, sort), arg_int("page", 1, minimum=1),
                                 PER_PAGE, total=total)
    object_types = distinct_values(AuditEntry.object_type)
    words = reader_words()
    return render_template("audit/index.html", entries=entries, page=page, per_page=PER_PAGE,
                           changes=readable_changes(db.session, entries, words),
                           colon=words.colon.rstrip(),
                           total=total, object_types=object_types, sort=sort,
                           has_export="reports.audit_export" in current_app.view_functions)
