"""Consent (SPEC §11): consent texts per area, versioned; a course's consent, recorded
and withdrawn. A text never changes: there is no service that edits one, so a version a
consent names is the text the patient read. Withdrawn consent stops the course.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from formulary.audit.services import record
from formulary.cocktails.models import AREAS
from formulary.courses.models import Consent, ConsentText, Course
from formulary.courses.services import (a_date, check_open, clean_text, lock_course, reason_text,
                                        stop_course)
from formulary.db import MAX_ID, utcnow
from formulary.domain.errors import Conflict, Duplicate, InvalidState, ValidationError
from formulary.domain.messages import code, msg

MAX_TITLE = 200
MAX_BODY = 20000
MAX_NOTE = 2000


class ConsentMissing(Conflict):
    code = "consent_missing"


class ConsentWithdrawn(Conflict):
    code = "consent_withdrawn"


def texts_query(area: str | None = None):
    stmt = select(ConsentText).order_by(ConsentText.area, ConsentText.version.desc())
    if area is not None:
        stmt = stmt.where(ConsentText.area == check_area(area))
    return stmt


def check_area(area) -> str:
    if area not in AREAS:
        raise ValidationError(msg("Use one of: %(choices)s.",
                                  choices=', '.join(AREAS)), field="area")
    return area


def create_text(session: Session, actor, *, area, title, body) -> ConsentText:
    """A new consent text for ``area``: its next version (1 for the first)."""
    area = check_area(area)
    title = clean_text(title, "title", msg("The title"), required=True, limit=MAX_TITLE)
    body = clean_text(body, "body", msg("The text"), required=True, limit=MAX_BODY)
    latest = session.execute(select(func.max(ConsentText.version))
                             .where(ConsentText.area == area)).scalar_one_or_none() or 0
    text = ConsentText(area=area, version=latest + 1, title=title, body=body,
                       created_by_id=actor.id, created_at=utcnow())
    try:
        with session.begin_nested():
            session.add(text)
            session.flush()
    except IntegrityError:
        # Another text of the same area was written at the same time and took the number.
        raise Duplicate("Another consent text for this area was saved at the same moment; "
                        "send it again.", field="area") from None
    record(session, actor, "consent_text.create", "consent_text", text.id,
           summary=f"Consent text '{title}' for {area}, version {text.version}",
           after={"area": area, "version": text.version, "title": title, "body": body})
    return text


def consents_of(session: Session, course: Course) -> list[Consent]:
    return list(session.execute(select(Consent).where(Consent.course_id == course.id)
                                .order_by(Consent.id)).scalars())


def active_consent(session: Session, course: Course) -> Consent | None:
    return session.execute(select(Consent).where(
        Consent.course_id == course.id, Consent.withdrawn_on.is_(None))
        .order_by(Consent.id.desc()).limit(1)).scalar_one_or_none()


def require_consent(session: Session, course: Course) -> Consent:
    """The course's consent in force, else a refusal that says why."""
    consent = active_consent(session, course)
    if consent is not None:
        return consent
    withdrawn = session.execute(select(Consent.id).where(Consent.course_id == course.id)
                                .limit(1)).first()
    if withdrawn is not None:
        raise ConsentWithdrawn("The patient withdrew consent for this course: nothing can "
                               "be given.")
    raise ConsentMissing("No consent is recorded for this course: record the patient's "
                         "consent before the first administration.")


def record_consent(session: Session, actor, course: Course, *, consent_text_id, consented_on,
                   note=None, today: date) -> Consent:
    """The patient's consent to ``course`` on a text of the course's area; taken by the
    actor."""
    lock_course(session, course)
    check_open(course)
    if isinstance(consent_text_id, bool) or not isinstance(consent_text_id, int):
        raise ValidationError("Choose a consent text by its id.", field="consent_text_id")
    text = session.get(ConsentText, consent_text_id) if 0 < consent_text_id <= MAX_ID else None
    if text is None:
        raise ValidationError(msg("There is no consent text #%(consent_text_id)s.",
                                  consent_text_id=consent_text_id),
                              field="consent_text_id")
    if text.area != course.area:
        raise ValidationError(msg("That text is for the %(text_area)s; this course is for "
                                  "the %(course_area)s.",
                                  text_area=code(text.area), course_area=code(course.area)),
                              field="consent_text_id")
    on = a_date(consented_on, "consented_on")
    if on > today:
        raise ValidationError("Consent cannot be dated in the future.", field="consented_on")
    note = clean_text(note, "note", msg("The note"), required=False, limit=MAX_NOTE)
    if active_consent(session, course) is not None:
        raise Duplicate("This course already has a consent in force.", field="consent_text_id")
    consent = Consent(course_id=course.id, consent_text_id=text.id, consented_on=on,
                      taken_by_id=actor.id, note=note, recorded_at=utcnow())
    session.add(consent)
    session.flush()
    record(session, actor, "consent.record", "course", course.id,
           summary=f"Consent to course #{course.id} on '{text.title}' v{text.version}",
           after={"consent_id": consent.id, "consent_text_id": text.id,
                  "version": text.version, "consented_on": on, "note": note})
    return consent


def withdraw_consent(session: Session, actor, course: Course, *, withdrawn_on, reason,
                     today: date) -> Consent:
    """The patient withdraws consent: recorded with a reason, and the course stops."""
    reason = reason_text(reason)
    on = a_date(withdrawn_on, "withdrawn_on")
    if on > today:
        raise ValidationError("A withdrawal cannot be dated in the future.", field="withdrawn_on")
    lock_course(session, course)
    consent = active_consent(session, course)
    if consent is None:
        raise InvalidState("This course has no consent in force to withdraw.")
    if on < consent.consented_on:
        raise ValidationError("Consent cannot be withdrawn before it was given.",
                              field="withdrawn_on")
    consent.withdrawn_on, consent.withdrawal_reason = on, reason
    consent.withdrawn_by_id = actor.id
    session.flush()
    record(session, actor, "consent.withdraw", "course", course.id,
           summary=f"Consent to course #{course.id} withdrawn on {on.isoformat()}",
           after={"consent_id": consent.id, "withdrawn_on": on}, reason=reason)
    if course.stopped_at is None:
        stop_course(session, actor, course, f"Consent withdrawn: {reason}"[:2000])
    return consent


def consent_json(consent: Consent) -> dict:
    return {"id": consent.id, "course_id": consent.course_id,
            "consent_text_id": consent.consent_text_id,
            "version": consent.text.version, "title": consent.text.title,
            "consented_on": consent.consented_on.isoformat(),
            "taken_by": consent.taken_by.username, "note": consent.note,
            "withdrawn_on": consent.withdrawn_on.isoformat() if consent.withdrawn_on else None,
            "withdrawal_reason": consent.withdrawal_reason}
