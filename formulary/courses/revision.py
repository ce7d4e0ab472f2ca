"""The courses revision (``CourseRevision``): a new random token at every commit that
wrote a course or a session (made, given, missed, cancelled, a course stopped).

The dashboard's counts of sessions due today and overdue read every open session up to
today (11,000 overdue in a busy year's data: 8 ms); they depend on the courses, their
sessions and the clinic's day only, and are kept for one token and one day
(``courses.dashboard``). The token is read from the database on every view (one
statement), so a change committed by any process or worker is seen at once. A random
token (not a counter) never comes back, even after a restore, except with its data.
Renewed just before the outermost commit, after the audit chain's lock and the stock
revision (``formulary.create_app`` installs it after ``inventory.totals``).
"""

from __future__ import annotations

import uuid
from itertools import chain

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from formulary.courses.models import Course, CourseRevision, CourseSession
from formulary.db import rows_of
from formulary.session_hooks import install_hooks

_CHANGED = "formulary_courses_changed"
_OBJECTS = (Course, CourseSession)


def _pending(session: Session) -> bool:
    return any(isinstance(obj, _OBJECTS) for obj in chain(session.new, session.dirty, session.deleted))


def _note(session: Session, _flush_context) -> None:
    """``after_flush``: note whether the flush wrote a course or a session."""
    if _pending(session):
        session.info[_CHANGED] = True


def has_changes(session: Session) -> bool:
    """Whether this transaction has written a course or a session (flushed or not)."""
    return bool(session.info.get(_CHANGED) or _pending(session))


def _renew(session: Session) -> None:
    if session.in_nested_transaction():
        return
    if session.info.pop(_CHANGED, False) or _pending(session):
        new_revision(session)


def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_CHANGED, None)


def new_revision(session: Session) -> None:
    if session.execute(update(CourseRevision).where(CourseRevision.id == 1)
                       .values(token=uuid.uuid4().hex)).rowcount == 0:
        session.execute(insert(CourseRevision).values(id=1, token=uuid.uuid4().hex))


_REVISION = select(CourseRevision.token).where(CourseRevision.id == 1)


def revision(session: Session) -> str | None:
    """The current token (``None`` before the first change)."""
    return rows_of(session, _REVISION).scalar()


def install(session_class) -> None:
    install_hooks(session_class, "course_revision", after_flush=_note, before_commit=_renew,
                  after_transaction_end=_forget)
