"""Who may open each course route: endpoint -> permission (SPEC §2, §11)."""

from formulary.auth import permissions as P

ROUTES = {
    "api.list_courses": P.COURSES_VIEW,
    "api.create_course": P.COURSES,
    "api.get_course": P.COURSES_VIEW,
    "api.update_course": P.COURSES,
    "api.update_session": P.COURSES,
    "api.list_consent_texts": P.COURSES_VIEW,
    "api.create_consent_text": P.COURSES,
    "api.course_consent": P.COURSES,
    "api.give_administration": P.COURSES,
    "api.get_administration": P.COURSES_VIEW,
}
ROUTES.update({
    "api.create_adverse_event": P.COURSES,
    "api.list_adverse_events": P.COURSES_VIEW,
    "api.adverse_event_allergies": P.COURSES,
})
ROUTES["api.patient_timeline"] = P.COURSES_VIEW
ROUTES.update({  # the pages (SPEC §10)
    "courses.new": P.COURSES,
    "courses.course": P.COURSES_VIEW,
    "courses.stop": P.COURSES,
    "courses.move_session": P.COURSES,
    "courses.mark_session": P.COURSES,
    "courses.record_consent": P.COURSES,
    "courses.attach_scan": P.COURSES,
    "courses.download_scan": P.COURSES_VIEW,
    "courses.withdraw_consent": P.COURSES,
    "courses.consent_texts": P.COURSES_VIEW,
    "courses.create_consent_text": P.COURSES,
    "courses.give": P.COURSES,
    "courses.administration": P.COURSES_VIEW,
    "courses.adverse_event": P.COURSES,
    "courses.event_allergy": P.COURSES,
    "courses.sheet": P.COURSES_VIEW,
    "courses.patient_timeline": P.COURSES_VIEW,
})
