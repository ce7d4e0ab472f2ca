"""Courses and their sessions (SPEC §11): create, move a session, mark one missed or
cancelled, stop a course; and the hold check of a batch the administrations use.

One function per action; the actor is passed in; every change is audited; nothing here
commits. The rules (session planning, statuses) live in ``formulary.domain.courses``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from formulary import clock
from formulary.audit.services import record
from formulary.auth.models import User
from formulary.cocktails.models import AREAS, Cocktail
from formulary.courses.models import Course, CourseSession
from formulary.db import utcnow
from formulary.domain import courses as rules
from formulary.domain.dates import parse_iso_date
from formulary.domain.errors import InvalidState, NotFound, ValidationError
from formulary.domain.messages import code, msg
from formulary.patients.models import Patient
from formulary.patients.services import record_view

MAX_REASON = 2000
MAX_INDICATION = 200
#: Roles that may be the practitioner in charge of a course.
IN_CHARGE_ROLES = ("practitioner", "admin")


# --- small checks shared by the course services --------------------------------------

def clean_text(value, field: str, label: str, *, required: bool, limit: int = MAX_REASON) -> str | None:
    """Text with a visible letter or digit when ``required``; None when empty and optional."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationError(msg("%(label)s is required.",
                                      label=label), field=field)
        return None
    if not isinstance(value, str):
        raise ValidationError(msg("%(label)s must be text.",
                                  label=label), field=field)
    value = value.strip()
    if len(value) > limit:
        raise ValidationError(msg("%(label)s: at most %(limit)s characters.",
                                  label=label, limit=limit), field=field)
    if not rules.has_visible_text(value):
        if required:
            raise ValidationError(msg("%(label)s must hold a letter or a digit.",
                                      label=label), field=field)
        return None
    return value


def reason_text(value, field: str = "reason") -> str:
    return clean_text(value, field, msg("A reason"), required=True)


def a_date(value, field: str) -> date:
    if value is None or value == "":
        raise ValidationError("This date is required.", field=field)
    return parse_iso_date(value, field)


# --- reading ---------------------------------------------------------------------------

def get_course(session: Session, course_id) -> Course:
    course = session.execute(
        select(Course).options(selectinload(Course.sessions)).where(Course.id == course_id)
    ).scalar_one_or_none() if isinstance(course_id, int) else None
    if course is None:
        raise NotFound(msg("There is no course #%(course_id)s.",
                           course_id=course_id))
    return course


def get_session(session: Session, session_id) -> CourseSession:
    row = session.get(CourseSession, session_id) if isinstance(session_id, int) else None
    if row is None:
        raise NotFound(msg("There is no session #%(session_id)s.",
                           session_id=session_id))
    return row


def courses_query(*, patient_id: int | None = None, status: str | None = None):
    stmt = select(Course).options(selectinload(Course.sessions), joinedload(Course.cocktail),
                                  joinedload(Course.practitioner)).order_by(
        Course.start_date.desc(), Course.id.desc())
    if patient_id is not None:
        stmt = stmt.where(Course.patient_id == patient_id)
    if status is not None:
        if status not in rules.COURSE_STATUSES:
            raise ValidationError(msg("Use one of: %(choices)s.",
                                      choices=', '.join(rules.COURSE_STATUSES)), field="status")
        stmt = stmt.where(Course.status == status)
    return stmt


def record_course_view(session: Session, actor, course: Course, via: str) -> None:
    """A read of a patient's course is a read of the patient's record: audited."""
    record_view(session, actor, course.patient, what=f"course #{course.id}", via=via)


def session_status(row: CourseSession, today: date) -> str:
    return rules.session_status(row.status, row.planned_on, today)


def course_snapshot(course: Course) -> dict:
    return {"patient_id": course.patient_id, "cocktail_id": course.cocktail_id,
            "area": course.area, "indication": course.indication,
            "planned_sessions": course.planned_sessions, "interval_days": course.interval_days,
            "start_date": course.start_date, "practitioner_id": course.practitioner_id,
            "status": course.status,
            "sessions": [{"number": s.number, "planned_on": s.planned_on} for s in course.sessions]}


def refresh_status(course: Course) -> str:
    """Derive the course's status from its sessions and keep it on the row."""
    course.status = rules.course_status([s.status for s in course.sessions],
                                        stopped=course.stopped_at is not None)
    return course.status


def lock_course(session: Session, course: Course) -> Course:
    """Lock the course's row for this transaction and read it and its sessions afresh
    (PostgreSQL: ``SELECT ... FOR UPDATE``; on SQLite every writer began with ``BEGIN
    IMMEDIATE``). Every change of a course, its sessions or its consent takes it first,
    so of two racing changes the second reads what the first wrote: two stops, two
    consents, a give and a withdrawal never both pass their checks."""
    session.execute(select(Course.id).where(Course.id == course.id).with_for_update())
    session.execute(select(Course).where(Course.id == course.id)
                    .execution_options(populate_existing=True)).scalar_one()
    session.execute(select(CourseSession).where(CourseSession.course_id == course.id)
                    .execution_options(populate_existing=True)).scalars().all()
    return course


def check_open(course: Course) -> None:
    if course.stopped_at is not None:
        raise InvalidState(msg("Course #%(course_id)s was stopped: %(stop_reason)s",
                               course_id=course.id, stop_reason=course.stop_reason))


# --- create ----------------------------------------------------------------------------

def _practitioner(session: Session, actor, value) -> User:
    if value is None or value == "":
        user = actor
    else:
        if not isinstance(value, str):
            raise ValidationError("Name the practitioner by username.", field="practitioner")
        user = session.execute(select(User).where(User.username == value.strip().lower())
                               ).scalar_one_or_none()
        if user is None:
            raise ValidationError(msg("There is no user '%(value)s'.",
                                      value=value.strip()), field="practitioner")
    if user.role not in IN_CHARGE_ROLES or not user.active:
        raise ValidationError(msg("%(username)s cannot be in charge of a course: an active "
                                  "practitioner or admin is.",
                                  username=user.username), field="practitioner")
    return user


def create_course(session: Session, actor, *, patient: Patient, cocktail: Cocktail,
                  planned_sessions, interval_days, start_date, area=None, indication=None,
                  practitioner=None) -> Course:
    """A course of ``planned_sessions`` sessions of an active cocktail, every
    ``interval_days`` from ``start_date``; area and indication default to the cocktail's
    version in force. The sessions are planned at once."""
    version = cocktail.active_version
    if cocktail.status != "active" or version is None or version.status != "active":
        raise InvalidState(msg("%(cocktail_name)s is not active: a course is of an active "
                               "cocktail.",
                               cocktail_name=cocktail.name),
                           field="cocktail_id")
    start = rules.check_start_date(a_date(start_date, "start_date"), clock.today(),
                                   patient.date_of_birth)
    dates = rules.plan_sessions(start, planned_sessions, interval_days)
    count, interval = rules.check_plan(planned_sessions, interval_days)
    if area in (None, ""):
        area = version.area
    if area not in AREAS:
        raise ValidationError(msg("Use one of: %(choices)s.",
                                  choices=', '.join(AREAS)), field="area")
    if indication is None:
        indication = version.indication or ""
    indication = clean_text(indication, "indication", msg("The indication"), required=False,
                            limit=MAX_INDICATION) or ""
    in_charge = _practitioner(session, actor, practitioner)
    course = Course(patient_id=patient.id, cocktail_id=cocktail.id, area=area,
                    indication=indication, planned_sessions=count, interval_days=interval,
                    start_date=start, practitioner_id=in_charge.id, status="planned",
                    created_by_id=actor.id, created_at=utcnow())
    course.sessions = [CourseSession(number=k + 1, planned_on=d, status="planned")
                       for k, d in enumerate(dates)]
    session.add(course)
    session.flush()
    record(session, actor, "course.create", "course", course.id,
           summary=f"Course #{course.id} of {cocktail.name} for patient {patient.mrn}: "
                   f"{count} session(s) every {interval} day(s) from {start.isoformat()}",
           after=course_snapshot(course))
    return course


# --- sessions --------------------------------------------------------------------------

def move_session(session: Session, actor, row: CourseSession, planned_on) -> CourseSession:
    """Move one planned session to another date (the others stay where they are)."""
    course = lock_course(session, row.course)
    check_open(course)
    new_date = a_date(planned_on, "planned_on")
    if row.status != "planned":
        raise InvalidState(msg("Session %(number)s is %(status)s; only a planned "
                               "session can be moved.",
                               number=row.number, status=code(row.status)))
    rules.check_session_move(new_date, row.planned_on, course.patient.date_of_birth)
    before = {"planned_on": row.planned_on}
    row.planned_on = new_date
    session.flush()
    record(session, actor, "session.move", "course_session", row.id,
           summary=f"Moved session {row.number} of course #{course.id} to {new_date.isoformat()}",
           before=before, after={"planned_on": new_date})
    return row


def mark_session(session: Session, actor, row: CourseSession, status, reason, *,
                 today: date) -> CourseSession:
    """Mark a planned session ``missed`` (its date has come) or ``cancelled``, with a
    reason."""
    if status not in ("missed", "cancelled"):
        raise ValidationError("A session can be marked missed or cancelled.", field="status")
    reason = reason_text(reason)
    course = lock_course(session, row.course)
    check_open(course)
    if row.status != "planned":
        raise InvalidState(msg("Session %(number)s is already %(status)s.",
                               number=row.number, status=code(row.status)))
    if status == "missed" and row.planned_on > today:
        raise InvalidState(msg("Session %(number)s is planned for %(planned_on)s: it "
                               "cannot be missed before its date (cancel it instead).",
                               number=row.number, planned_on=row.planned_on))
    before = {"status": row.status}
    row.status, row.reason = status, reason
    row.status_set_by_id, row.status_set_at = actor.id, utcnow()
    refresh_status(course)
    session.flush()
    record(session, actor, f"session.{status}", "course_session", row.id,
           summary=f"Session {row.number} of course #{course.id} marked {status}",
           before=before, after={"status": status, "course_status": course.status},
           reason=reason)
    return row


def stop_course(session: Session, actor, course: Course, reason, *,
                action: str = "course.stop") -> Course:
    """Stop a course with a reason; its remaining sessions are not given."""
    reason = reason_text(reason)
    lock_course(session, course)
    if course.stopped_at is not None:
        raise InvalidState(msg("Course #%(course_id)s is already stopped.",
                               course_id=course.id))
    before = {"status": course.status}
    course.stopped_at, course.stopped_by_id, course.stop_reason = utcnow(), actor.id, reason
    refresh_status(course)
    session.flush()
    record(session, actor, action, "course", course.id,
           summary=f"Stopped course #{course.id}", before=before,
           after={"status": course.status}, reason=reason)
    return course


def now_or(value: datetime | None) -> datetime:
    return value or utcnow()
