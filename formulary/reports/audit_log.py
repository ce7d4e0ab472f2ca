"""The audit log as a workbook, for an inspection: sheet ``Audit log``, one row per
entry, oldest first, with the chain's hashes so an inspector can check the links. The
"Changes" column is the readable before/after (names instead of ids); "Before" and
"After" are the data as recorded (and hashed)."""

from __future__ import annotations

from sqlalchemy import Select, func, select

from formulary.audit.models import AuditEntry
from formulary.audit.readable import readable_changes
from formulary.audit.words import reader_words
from formulary.domain.audit_changes import as_text
from formulary.auth.models import User
from formulary.reports.batch_log import stream
from formulary.reports.workbook import Column, Sheet

AUDIT_COLUMNS = (
    Column("Seq", "int", 8),
    Column("At", "datetime"),
    Column("User", "text", 22),
    Column("Action", "label", 22),
    Column("Object type", "label", 16),
    Column("Object id", "text", 10),
    Column("Summary", "text", 40),
    Column("Changes", "text", 50),
    Column("Before", "text", 40),
    Column("After", "text", 40),
    Column("Reason", "text", 30),
    Column("Previous hash", "label", 20),
    Column("Hash", "label", 20),
)


def audit_sheets(session, stmt: Select) -> list[Sheet]:
    """``stmt`` selects ``AuditEntry`` rows (the audit page's filters); its columns are
    narrowed to those written, and it is streamed in ``seq`` order."""
    e = AuditEntry
    # The person's full name as it is now (the entry keeps the username it was made
    # under; an entry of no user, or of a user since renamed away, shows that username).
    full_name = (select(func.nullif(User.full_name, "")).where(User.id == e.user_id)
                 .correlate(e).scalar_subquery())
    narrowed = (stmt.with_only_columns(e.seq, e.at, func.coalesce(full_name, e.username),
                                       e.action, e.object_type, e.object_id, e.summary,
                                       e.before, e.after, e.reason, e.prev_hash, e.hash)
                .order_by(None).order_by(e.seq))
    return [Sheet("Audit log", AUDIT_COLUMNS, _with_changes(session, stream(session, narrowed)))]


def _with_changes(session, rows, chunk: int = 500):
    """Each row with its readable changes after the summary; names looked up per
    ``chunk`` rows (one statement per kind of thing)."""
    words = reader_words()  # the asker's language, for the whole export
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= chunk:
            yield from _changed(session, batch, words)
            batch = []
    yield from _changed(session, batch, words)


def _changed(session, rows, words):
    if not rows:
        return
    for row, found in zip(rows, readable_changes(session, rows, words)):
        yield (*row[:7], as_text(found, words) or None, *row[7:])
