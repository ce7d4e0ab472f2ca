"""The dashboard's panel of sessions due today and overdue (SPEC §11), for the clinic and
for the practitioner logged in. Managers see the counts only, never a patient. Two
statements whatever the number of sessions."""

from __future__ import annotations

from flask import render_template
from markupsafe import Markup
from sqlalchemy import and_, case, func, select

from formulary import clock
from formulary.auth.permissions import COURSES_VIEW, VIEW
from formulary.cocktails.models import Cocktail
from formulary.courses.models import Course, CourseSession
from formulary.extensions import db
from formulary.patients.models import Patient

LISTED = 20


def _open():
    return and_(CourseSession.status == "planned", Course.stopped_at.is_(None))


def due_counts(session, today, user_id: int) -> dict[str, int]:
    mine = Course.practitioner_id == user_id
    due, overdue = CourseSession.planned_on == today, CourseSession.planned_on < today

    def n(*conds):
        return func.coalesce(func.sum(case((and_(*conds), 1), else_=0)), 0)

    row = session.execute(
        select(n(due), n(overdue), n(due, mine), n(overdue, mine))
        .select_from(CourseSession).join(Course, Course.id == CourseSession.course_id)
        .where(_open(), CourseSession.planned_on <= today)).one()
    return dict(zip(("due", "overdue", "my_due", "my_overdue"), (int(v) for v in row)))


def due_sessions(session, today, limit: int = LISTED) -> list:
    return session.execute(
        select(CourseSession.id, CourseSession.number, CourseSession.planned_on,
               Course.id.label("course_id"), Course.practitioner_id, Patient.id.label("patient_id"),
               Patient.mrn, Patient.first_name, Patient.last_name, Cocktail.name.label("cocktail"))
        .join(Course, Course.id == CourseSession.course_id)
        .join(Patient, Patient.id == Course.patient_id)
        .join(Cocktail, Cocktail.id == Course.cocktail_id)
        .where(_open(), CourseSession.planned_on <= today)
        .order_by(CourseSession.planned_on, CourseSession.id).limit(limit)).all()


def panels(user) -> list[Markup]:
    if not user.may(VIEW):
        return []
    today = clock.today()
    counts = due_counts(db.session, today, user.id)
    rows = due_sessions(db.session, today) if user.may(COURSES_VIEW) else []
    return [Markup(render_template("courses/_panel.html", counts=counts, rows=rows, today=today,
                                   user=user, show_patients=user.may(COURSES_VIEW)))]
