"""Demo treatment courses, recorded through the services as the practitioner would.

Consent texts for every area; then, for each patient's verified batches of one cocktail,
a course whose sessions gave them (each session moved to the day the batch was given,
within its beyond-use time; the service refuses what §11 refuses, and a refused dose is
tried again at one dose, then left out). Sessions left in the past are missed, cancelled
or still overdue; one course is stopped, one ends because consent was withdrawn, one is
planned to start next week; a few administrations are followed by an adverse event, one
an allergic reaction (left for the practitioner to record as an allergy).

Uses ``ctx["users"]`` (practitioner) and ``ctx["batches"]``; sets ``ctx["courses"]``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from formulary import clock
from formulary.courses import administrations, consent, events, services
from formulary.domain.errors import DomainError

SITES = {"scalp": "vertex and crown, 60 points", "face": "cheeks and periorbital area",
         "neck": "anterior neck, 40 points", "body": "abdomen, 80 points",
         "hands": "dorsum of both hands, 30 points"}
TECHNIQUE = {"scalp": "point_by_point", "face": "nappage", "neck": "papules",
             "body": "point_by_point", "hands": "papules"}
INTERVAL = 7
EXTRA_SESSIONS = 3


def load(session, ctx: dict) -> None:
    practitioner = (ctx.get("users") or {}).get("practitioner")
    batches = [b for b in ctx.get("batches") or []
               if b.status == "verified" and b.patient_id is not None]
    ctx["courses"] = []
    if practitioner is None or not batches:
        return
    tz, today, now = clock.clinic_tz(), clock.today(), clock.now()
    texts = {area: consent.create_text(
        session, practitioner, area=area, title=f"Mesotherapy of the {area}: consent",
        body=f"Mesotherapy of the {area} is a course of micro-injections. The expected effect, "
             "the number of sessions and the risks (bruising, swelling, redness, rarely an "
             "infection or an allergic reaction) were explained to me; I may stop at any time.")
        for area in SITES}

    runs: dict[tuple[int, int], list] = {}
    for b in sorted(batches, key=lambda b: (b.prepared_at, b.id)):
        runs.setdefault((b.patient_id, b.cocktail_id), []).append(b)
    given_all = []
    longest = max(runs.values(), key=len)
    for (_patient, _cocktail), run in sorted(runs.items()):
        # the longest run is a course of exactly its sessions: it ends completed
        extra = 0 if run is longest else EXTRA_SESSIONS
        course, given = _course(session, practitioner, run, texts, tz, today, now, extra)
        if course is not None:
            ctx["courses"].append(course)
            given_all += given
    _endings(session, practitioner, ctx["courses"], texts, today)
    _events(session, practitioner, given_all, tz, today)


def _course(session, practitioner, run, texts, tz, today, now, extra):
    first = run[0]
    start = first.prepared_at.astimezone(tz).date()
    try:
        with session.begin_nested():
            course = services.create_course(
                session, practitioner, patient=first.patient, cocktail=first.cocktail,
                planned_sessions=len(run) + extra, interval_days=INTERVAL,
                start_date=start)
            consent.record_consent(session, practitioner, course,
                                   consent_text_id=texts[course.area].id, consented_on=start,
                                   note="Signed form kept in the paper file.", today=today)
    except DomainError:
        return None, []
    given, number = [], 0
    for batch in run:
        at = min(batch.verified_at + timedelta(minutes=20), now)
        day = at.astimezone(tz).date()
        if number >= len(course.sessions) or (given and day <= given[-1][1]):
            continue
        row = course.sessions[number]
        adm = _give(session, practitioner, row, batch, at, day)
        if adm is not None:
            given.append((adm, day))
            number += 1
    if not given:
        return course, []
    # the sessions after the last one given: planned on from it
    last = given[-1][1]
    for k, row in enumerate(course.sessions[number:], start=1):
        row.planned_on = last + timedelta(days=INTERVAL * k)
    session.flush()
    return course, given


def _give(session, practitioner, row, batch, at: datetime, day):
    for doses in dict.fromkeys((batch.doses, 1)):
        try:
            with session.begin_nested():
                if row.planned_on != day:
                    services.move_session(session, practitioner, row, day)
                return administrations.give(
                    session, practitioner, row, batch_id=batch.id, doses=doses,
                    sites=SITES.get(row.course.area, "as planned"),
                    technique=TECHNIQUE.get(row.course.area, "other"), depth_mm="2",
                    needle="30G 4 mm", now=at)
        except DomainError:
            continue
    return None


def _endings(session, practitioner, courses, texts, today):
    """Past sessions missed or cancelled; one course stopped, one by a withdrawn consent;
    one course planned to start next week."""
    open_courses = [c for c in courses if c.status == "active"]
    for i, course in enumerate(open_courses):
        past = [s for s in course.sessions if s.status == "planned" and s.planned_on < today]
        if not past:
            continue
        try:
            with session.begin_nested():
                if i % 3 == 0:
                    services.mark_session(session, practitioner, past[0], "missed",
                                          "Patient did not come; no answer by phone.",
                                          today=today)
                elif i % 3 == 1:
                    services.mark_session(session, practitioner, past[0], "cancelled",
                                          "Patient asked to postpone (travelling).", today=today)
                # else: left as it is, it reads overdue
        except DomainError:
            continue
    open_courses = [c for c in courses if c.status == "active"]
    if open_courses:
        services.stop_course(session, practitioner, open_courses[0],
                             "Patient satisfied with the result after three sessions.")
    if len(open_courses) > 1:
        consent.withdraw_consent(session, practitioner, open_courses[-1], withdrawn_on=today,
                                 reason="Patient no longer wishes to continue (fear of "
                                        "bruising).", today=today)
    if courses:
        model = courses[len(courses) // 2]
        try:
            with session.begin_nested():
                planned = services.create_course(
                    session, practitioner, patient=model.patient, cocktail=model.cocktail,
                    planned_sessions=6, interval_days=14, start_date=today + timedelta(days=7),
                    indication="maintenance after the first course")
                consent.record_consent(session, practitioner, planned,
                                       consent_text_id=texts[planned.area].id,
                                       consented_on=today, today=today)
                courses.append(planned)
        except DomainError:
            pass


def _events(session, practitioner, given, tz, today):
    """A bruising, a swelling and an allergic reaction."""
    chosen = given[::max(1, len(given) // 3)][:3]
    plans = (("bruising", "mild", False, "resolved within a week", "arnica, cold pack"),
             ("swelling", "moderate", False, "resolved in 48 hours", "cold pack"),
             ("allergic_reaction", "mild", False, "urticaria resolved under antihistamines",
              "antihistamine; allergy to be assessed"))
    for (adm, day), (kind, severity, serious, outcome, action) in zip(chosen, plans):
        onset = min(day + timedelta(days=1), today)
        # the allergic reaction is left for the practitioner to record as an allergy (the
        # page offers it): the demo patients' allergies stay as the patients demo set them
        events.record_event(session, practitioner, adm, onset=onset, kind=kind,
                            severity=severity, serious=serious, outcome=outcome,
                            action=action, today=today, given_on=day)
