"""The dashboard's panel of sessions due today and overdue (SPEC §11), for the clinic and
for the practitioner logged in. Managers see the counts only, never a patient. Two
statements whatever the number of sessions; the counts are kept between views until a
course or a session changes, or the day (``courses.revision``)."""

from __future__ import annotations

from flask import current_app, has_app_context
from markupsafe import Markup
from sqlalchemy import Date, Integer, and_, bindparam, case, func, select

from formulary import clock
from formulary.auth.permissions import COURSES_VIEW, VIEW
from formulary.cocktails.models import Cocktail
from formulary.courses import revision as courses_revision
from formulary.courses.models import Course, CourseSession
from formulary.db import rows_of
from formulary.extensions import db
from formulary.main import rendered
from formulary.patients.models import Patient

LISTED = 20
_STORE = "formulary.courses.due_counts"


def _open():
    return and_(CourseSession.status == "planned", Course.stopped_at.is_(None))


def counts_by_practitioner(session, today) -> dict[int, tuple[int, int]]:
    """Open sessions due ``today`` and overdue, per practitioner of their course: one
    statement over every open session up to today."""
    due, overdue = CourseSession.planned_on == today, CourseSession.planned_on < today

    def n(cond):
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    rows = rows_of(
        session, select(Course.practitioner_id, n(due), n(overdue))
        .select_from(CourseSession).join(Course, Course.id == CourseSession.course_id)
        .where(_open(), CourseSession.planned_on <= today)
        .group_by(Course.practitioner_id)).all()
    return {practitioner: (int(d), int(o)) for practitioner, d, o in rows}


def kept_counts(session, today) -> dict[int, tuple[int, int]]:
    """``counts_by_practitioner``, kept between views while the courses revision
    (``courses.revision``, read on every call: one statement) and the day are the ones
    it was counted at. Kept only when the token read after counting is still the one
    read before, and never by a transaction that has itself written a course or a
    session. Each worker process keeps the newest count, nothing more."""
    if not has_app_context() or courses_revision.has_changes(session):
        return counts_by_practitioner(session, today)
    token = courses_revision.revision(session)
    if token is None:  # no change recorded yet: nothing to key on
        return counts_by_practitioner(session, today)
    store = current_app.extensions.setdefault(_STORE, {})
    kept = store.get("due")
    if kept is not None and kept[0] == (token, today):
        return kept[1]
    counts = counts_by_practitioner(session, today)
    if courses_revision.revision(session) == token:
        store["due"] = ((token, today), counts)
    return counts


def due_counts(session, today, user_id: int) -> dict[str, int]:
    """Sessions due today and overdue, for the clinic and for ``user_id``'s courses."""
    by = kept_counts(session, today)
    mine = by.get(user_id, (0, 0))
    return {"due": sum(d for d, _ in by.values()), "overdue": sum(o for _, o in by.values()),
            "my_due": mine[0], "my_overdue": mine[1]}


_DUE_SESSIONS: dict[str, object] = {}


def due_sessions(session, today, limit: int = LISTED) -> list:
    """The ``limit`` oldest open sessions due by ``today``, with their patient and
    cocktail. The statement is built once (``today`` and ``limit`` bound at execution):
    building it cost more per view than the database takes to run it."""
    if not _DUE_SESSIONS:
        _DUE_SESSIONS["due"] = (
            select(CourseSession.id, CourseSession.number, CourseSession.planned_on,
                   Course.id.label("course_id"), Course.practitioner_id,
                   Patient.id.label("patient_id"), Patient.mrn, Patient.first_name,
                   Patient.last_name, Cocktail.name.label("cocktail"))
            .join(Course, Course.id == CourseSession.course_id)
            .join(Patient, Patient.id == Course.patient_id)
            .join(Cocktail, Cocktail.id == Course.cocktail_id)
            .where(_open(), CourseSession.planned_on <= bindparam("today", type_=Date))
            .order_by(CourseSession.planned_on, CourseSession.id)
            .limit(bindparam("limit", type_=Integer)))
    return rows_of(session, _DUE_SESSIONS["due"], {"today": today, "limit": limit}).all()


def panels(user) -> list[Markup]:
    if not user.may(VIEW):
        return []
    today = clock.today()
    counts = due_counts(db.session, today, user.id)
    rows = due_sessions(db.session, today) if user.may(COURSES_VIEW) else []
    show = user.may(COURSES_VIEW)
    # the counts and rows are read on every view (a patient renamed, a session given, the
    # day turning all change them); the template is drawn again only when a value it
    # reads differs from the last drawing's
    key = (tuple(counts.items()), tuple(tuple(r) for r in rows), today, user.id, show)
    return [rendered.render("courses.sessions", "courses/_panel.html", key, counts=counts,
                            rows=rows, today=today, user=user, show_patients=show)]
