"""A patient's timeline (SPEC §11): courses with progress, sessions, administrations,
batches made for the patient, adverse events and allergies recorded, newest first.

Seven statements whatever the length of the patient's history (one per kind of item),
each reading plain columns; the items are plain dicts. Their codes and fields are the
API's; each ``summary`` is a sentence in the reader's language (SPEC §13: the page's
locale, the API's ``Accept-Language``), codes said in words and dates in the locale's form.
"""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from formulary.auth.models import User
from formulary.cocktails.models import Cocktail
from formulary.compounding.models import Batch
from formulary.courses.models import Administration, AdverseEvent, Course, CourseSession
from formulary.display import code_word
from formulary.domain import courses as rules
from formulary.i18n import _, format_date_l, ngettext
from formulary.inventory.models import AllergenGroup, Ingredient
from formulary.patients.models import Allergy, Patient


def _key(at, tz: tzinfo) -> datetime:
    if isinstance(at, datetime):
        return at.astimezone(tz)
    return datetime.combine(at, time.min, tzinfo=tz)


def timeline(session: Session, patient: Patient, *, today: date, tz: tzinfo) -> list[dict]:
    items: list[dict] = []
    courses = session.execute(
        select(Course.id, Course.created_at, Course.status, Course.start_date, Course.area,
               Cocktail.name).join(Cocktail, Cocktail.id == Course.cocktail_id)
        .where(Course.patient_id == patient.id)).all()
    sessions = session.execute(
        select(CourseSession.id, CourseSession.course_id, CourseSession.number,
               CourseSession.planned_on, CourseSession.status, CourseSession.reason)
        .join(Course, Course.id == CourseSession.course_id)
        .where(Course.patient_id == patient.id)).all()
    marks: dict[int, list[str]] = {}
    for s in sessions:
        marks.setdefault(s.course_id, []).append(s.status)
    for c in courses:
        prog = rules.progress(marks.get(c.id, []))
        items.append({"at": c.created_at, "kind": "course", "id": c.id, "status": c.status,
                      "progress": prog,
                      "summary": _("Course of %(cocktail)s (%(area)s) from %(date)s: %(given)s of "
                                   "%(planned)s sessions given, %(status)s",
                                   cocktail=c.name, area=code_word(c.area),
                                   date=format_date_l(c.start_date), given=prog["given"],
                                   planned=prog["planned"], status=code_word(c.status))})
    for s in sessions:
        status = rules.session_status(s.status, s.planned_on, today)
        items.append({"at": s.planned_on, "kind": "session", "id": s.id, "course_id": s.course_id,
                      "number": s.number, "status": status,
                      "summary": (_("Session %(number)s of course #%(course)s: %(status)s "
                                    "(%(reason)s)", number=s.number, course=s.course_id,
                                    status=code_word(status), reason=s.reason) if s.reason
                                  else _("Session %(number)s of course #%(course)s: %(status)s",
                                         number=s.number, course=s.course_id,
                                         status=code_word(status)))})
    for a in session.execute(
            select(Administration.id, Administration.given_at, Administration.course_id,
                   Administration.doses, Administration.sites, Batch.batch_number,
                   User.username)
            .join(Batch, Batch.id == Administration.batch_id)
            .join(User, User.id == Administration.given_by_id)
            .where(Administration.patient_id == patient.id)).all():
        items.append({"at": a.given_at, "kind": "administration", "id": a.id,
                      "course_id": a.course_id,
                      "summary": ngettext("%(num)s dose of batch %(batch)s given by %(user)s: "
                                          "%(sites)s", "%(num)s doses of batch %(batch)s given by "
                                          "%(user)s: %(sites)s", a.doses, batch=a.batch_number,
                                          user=a.username, sites=a.sites)})
    for b in session.execute(
            select(Batch.id, Batch.prepared_at, Batch.batch_number, Batch.doses, Batch.status,
                   Cocktail.name).join(Cocktail, Cocktail.id == Batch.cocktail_id)
            .where(Batch.patient_id == patient.id)).all():
        items.append({"at": b.prepared_at, "kind": "batch", "id": b.id,
                      "summary": ngettext("Batch %(batch)s of %(cocktail)s prepared: %(num)s dose, "
                                          "%(status)s", "Batch %(batch)s of %(cocktail)s prepared: "
                                          "%(num)s doses, %(status)s", b.doses,
                                          batch=b.batch_number, cocktail=b.name,
                                          status=code_word(b.status))})
    for e in session.execute(
            select(AdverseEvent.id, AdverseEvent.onset, AdverseEvent.kind, AdverseEvent.severity,
                   AdverseEvent.serious, AdverseEvent.administration_id)
            .where(AdverseEvent.patient_id == patient.id)).all():
        items.append({"at": e.onset, "kind": "adverse_event", "id": e.id,
                      "administration_id": e.administration_id,
                      "summary": (_("Adverse event: %(kind)s, %(severity)s, serious",
                                    kind=code_word(e.kind), severity=code_word(e.severity))
                                  if e.serious else
                                  _("Adverse event: %(kind)s, %(severity)s",
                                    kind=code_word(e.kind), severity=code_word(e.severity)))})
    for al in session.execute(
            select(Allergy.id, Allergy.recorded_at, Allergy.severity, Allergy.status,
                   Allergy.substance, Ingredient.name.label("ingredient"),
                   AllergenGroup.name.label("group"))
            .outerjoin(Ingredient, Ingredient.id == Allergy.ingredient_id)
            .outerjoin(AllergenGroup, AllergenGroup.id == Allergy.allergen_group_id)
            .where(Allergy.patient_id == patient.id)).all():
        target = al.ingredient or al.group or al.substance or ""
        items.append({"at": al.recorded_at, "kind": "allergy", "id": al.id,
                      "summary": _("Allergy to %(target)s recorded (%(severity)s, %(status)s)",
                                   target=target, severity=code_word(al.severity),
                                   status=code_word(al.status))})
    kind_order = {"adverse_event": 0, "administration": 1, "session": 2, "batch": 3,
                  "allergy": 4, "course": 5}
    items.sort(key=lambda i: (_key(i["at"], tz), -kind_order[i["kind"]], i["id"]), reverse=True)
    for item in items:
        at = item["at"]
        item["at"] = at.astimezone(tz).isoformat() if isinstance(at, datetime) else at.isoformat()
    return items
