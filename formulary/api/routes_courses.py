"""Treatment courses, consent, administrations (SPEC §9, §11).

Practitioners and admins record; pharmacists read; managers get 403 (patient data).
Every read of a course or an administration is audited as a read of the patient's record.
"""

from __future__ import annotations

from flask import jsonify, request

from formulary import clock
from formulary.api import schema as S
from formulary.api.core import (PAGE_QUERY, api_route, arg_date, arg_int, clean_json_text,
                                current_api_user, dec, iso, json_body, only_fields, paginate,
                                want_type)
from formulary.audit.services import record as audit_record
from formulary.api.routes_patients import allergy_json
from formulary.auth.permissions import COURSES, COURSES_VIEW
from formulary.cocktails.models import AREAS, Cocktail
from formulary.courses import administrations as adm_services
from formulary.courses import consent as consent_services
from formulary.courses import event_report
from formulary.courses import events as event_services
from formulary.courses import scans, services
from formulary.courses.models import Administration, Course
from formulary.db import joins_as_written
from formulary.domain import courses as rules
from formulary.domain.errors import ValidationError, refuse_unknown_fields
from formulary.extensions import db
from formulary.listing import count_statement, paged
from formulary.patients.models import Patient
from formulary.courses.timeline import timeline
from formulary.patients.services import get_patient, record_view
from formulary.transaction import writes_on_read

CONSENT = S.component("Consent", S.obj(
    required=("id", "course_id", "consent_text_id", "version", "consented_on", "taken_by"),
    id=S.integer(), course_id=S.integer(), consent_text_id=S.integer(),
    version=S.integer(minimum=1), title=S.string(), consented_on=S.string(fmt="date"),
    taken_by=S.string(), note=S.string(null=True), withdrawn_on=S.string(fmt="date", null=True),
    withdrawal_reason=S.string(null=True),
    scan=S.obj(required=("content_type", "size", "sha256", "filename"),
               content_type=S.string(enum=("application/pdf", "image/png", "image/jpeg")),
               size=S.integer(minimum=1), sha256=S.string(), filename=S.string())))
SESSION = S.component("CourseSession", S.obj(
    required=("id", "number", "planned_on", "status", "administrations"),
    id=S.integer(), number=S.integer(minimum=1), planned_on=S.string(fmt="date"),
    status=S.string(enum=rules.SESSION_STATUSES), reason=S.string(null=True),
    administrations=S.array(S.integer())))
COURSE = S.component("Course", S.obj(
    required=("id", "patient_id", "cocktail_id", "area", "indication", "planned_sessions",
              "interval_days", "start_date", "practitioner", "status", "sessions", "progress"),
    id=S.integer(), patient_id=S.integer(), cocktail_id=S.integer(), cocktail_name=S.string(),
    area=S.string(enum=AREAS), indication=S.string(), planned_sessions=S.integer(minimum=1),
    interval_days=S.integer(minimum=1), start_date=S.string(fmt="date"),
    practitioner=S.string(), status=S.string(enum=rules.COURSE_STATUSES),
    stop_reason=S.string(null=True), consent=S.nullable(CONSENT),
    sessions=S.array(SESSION),
    progress=S.obj(required=("given", "planned"), given=S.integer(minimum=0),
                   planned=S.integer(minimum=1))))
COURSE_IN = dict(patient_id=S.integer(), cocktail_id=S.integer(),
                 planned_sessions=S.integer(minimum=1), interval_days=S.integer(minimum=1),
                 start_date=S.string(fmt="date"), area=S.string(enum=AREAS, null=True),
                 indication=S.string(null=True, max_length=200),
                 practitioner=S.string(null=True, description="a username (default: you)"))
CONSENT_TEXT = S.component("ConsentText", S.obj(
    required=("id", "area", "title", "version"), id=S.integer(), area=S.string(enum=AREAS),
    title=S.string(), version=S.integer(minimum=1), body=S.string(),
    created_at=S.string(fmt="date-time")))
ADMINISTRATION_LINE = S.component("AdministrationLine", S.obj(
    required=("ingredient_id", "lot_id", "quantity", "unit"), ingredient_id=S.integer(),
    ingredient_name=S.string(), lot_id=S.integer(), lot_number=S.string(),
    quantity=S.decimal_out(), unit=S.string()))
ADMINISTRATION = S.component("Administration", S.obj(
    required=("id", "session_id", "course_id", "patient_id", "batch_id", "doses", "given_at",
              "given_by", "sites", "technique", "lines"),
    id=S.integer(), session_id=S.integer(), session_number=S.integer(), course_id=S.integer(),
    patient_id=S.integer(), batch_id=S.integer(), batch_number=S.string(),
    doses=S.integer(minimum=1), given_at=S.string(fmt="date-time"), given_by=S.string(),
    sites=S.string(), technique=S.string(enum=rules.TECHNIQUES),
    depth_mm=S.decimal_out(null=True), needle=S.string(null=True), notes=S.string(null=True),
    safety_verdict=S.string(null=True), override_reason=S.string(null=True),
    lines=S.array(ADMINISTRATION_LINE)))


# --- JSON out ------------------------------------------------------------------------

def _administration_ids(course_ids: list[int]) -> dict[int, list[int]]:
    """Administration ids by session id, for every course named: one statement."""
    rows = db.session.execute(
        db.select(Administration.session_id, Administration.id)
        .where(Administration.course_id.in_(course_ids)).order_by(Administration.id)).all()
    out: dict[int, list[int]] = {}
    for session_id, adm_id in rows:
        out.setdefault(session_id, []).append(adm_id)
    return out


def course_json(course: Course, *, with_consent: bool = True,
                given: dict[int, list[int]] | None = None) -> dict:
    today = clock.today()
    if given is None:
        given = _administration_ids([course.id])
    consent = consent_services.active_consent(db.session, course) if with_consent else None
    return {
        "id": course.id, "patient_id": course.patient_id, "cocktail_id": course.cocktail_id,
        "cocktail_name": course.cocktail.name, "area": course.area,
        "indication": course.indication, "planned_sessions": course.planned_sessions,
        "interval_days": course.interval_days, "start_date": iso(course.start_date),
        "practitioner": course.practitioner.username, "status": course.status,
        "stop_reason": course.stop_reason,
        "consent": consent_services.consent_json(consent) if consent is not None else None,
        "sessions": [{"id": s.id, "number": s.number, "planned_on": iso(s.planned_on),
                      "status": services.session_status(s, today), "reason": s.reason,
                      "administrations": given.get(s.id, [])} for s in course.sessions],
        "progress": rules.progress(s.status for s in course.sessions),
    }


def administration_json(adm: Administration) -> dict:
    tz = clock.clinic_tz()
    return {
        "id": adm.id, "session_id": adm.session_id, "session_number": adm.session.number,
        "course_id": adm.course_id, "patient_id": adm.patient_id, "batch_id": adm.batch_id,
        "batch_number": adm.batch.batch_number, "doses": adm.doses,
        "given_at": iso(adm.given_at.astimezone(tz)), "given_by": adm.given_by.username,
        "sites": adm.sites, "technique": adm.technique, "depth_mm": dec(adm.depth_mm),
        "needle": adm.needle, "notes": adm.notes, "safety_verdict": adm.safety_verdict,
        "override_reason": adm.override_reason,
        "lines": [{"ingredient_id": ln.ingredient_id, "ingredient_name": ln.ingredient.name,
                   "lot_id": ln.lot_id, "lot_number": ln.lot.lot_number,
                   "quantity": dec(ln.quantity), "unit": ln.unit} for ln in adm.lines],
    }


def scan_json(scan) -> dict:
    return {"content_type": scan.content_type, "size": scan.size, "sha256": scan.sha256,
            "filename": scan.filename}


def consent_text_json(text) -> dict:
    return {"id": text.id, "area": text.area, "title": text.title, "version": text.version,
            "body": text.body, "created_at": iso(text.created_at)}


def no_store(body: dict, status: int = 200):
    """Every answer here carries patient data: never kept in a cache."""
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _an_id(data: dict, name: str, label: str) -> int:
    return want_type(data, name, int, label, required=True)


# --- courses -------------------------------------------------------------------------

@api_route("/courses", ["GET"], summary="List treatment courses (audited when per patient)",
           tag="courses", permission=COURSES_VIEW,
           query=(("patient_id", S.integer(), "only this patient's courses"),
                  ("status", S.string(enum=rules.COURSE_STATUSES), "only this status"),
                  *PAGE_QUERY),
           responses={200: S.page_of(COURSE)})
@writes_on_read
def list_courses():
    patient_id = arg_int("patient_id", minimum=1)
    status = request.args.get("status") or None
    stmt = services.courses_query(patient_id=patient_id, status=status)
    actor = current_api_user()
    if patient_id is not None:
        patient = db.session.get(Patient, patient_id)
        if patient is not None:
            record_view(db.session, actor, patient, what="courses", via="api")
    body = paginate(stmt, lambda c: c)
    given = _administration_ids([c.id for c in body["items"]])
    body["items"] = [course_json(c, with_consent=False, given=given) for c in body["items"]]
    if patient_id is None:
        for patient in {c["patient_id"] for c in body["items"]}:
            audit_record(db.session, actor, "patient.view", "patient", patient,
                         summary=f"Viewed the courses of patient #{patient} (api, course list)")
    return no_store(body)


@api_route("/courses", ["POST"], summary="Start a treatment course (sessions planned)",
           tag="courses", permission=COURSES,
           body=S.obj(required=("patient_id", "cocktail_id", "planned_sessions",
                                "interval_days", "start_date"), **COURSE_IN),
           responses={201: COURSE})
def create_course():
    data = only_fields(json_body(), COURSE_IN)
    patient_id = _an_id(data, "patient_id", "a patient id")
    cocktail_id = _an_id(data, "cocktail_id", "a cocktail id")
    patient = db.session.get(Patient, patient_id)
    if patient is None:
        raise ValidationError("No such patient.", field="patient_id")
    cocktail = db.session.get(Cocktail, cocktail_id)
    if cocktail is None:
        raise ValidationError("No such cocktail.", field="cocktail_id")
    for name in ("area", "indication", "practitioner"):
        want_type(data, name, str, "text")
    course = services.create_course(
        db.session, current_api_user(), patient=patient, cocktail=cocktail,
        planned_sessions=data.get("planned_sessions"), interval_days=data.get("interval_days"),
        start_date=data.get("start_date"), area=data.get("area"),
        indication=data.get("indication"), practitioner=data.get("practitioner"))
    return no_store(course_json(course), 201)


@api_route("/courses/<int:course_id>", ["GET"], summary="Read a course (audited)",
           tag="courses", permission=COURSES_VIEW, responses={200: COURSE})
@writes_on_read
def get_course(course_id: int):
    course = services.get_course(db.session, course_id)
    services.record_course_view(db.session, current_api_user(), course, via="api")
    return no_store(course_json(course))


@api_route("/courses/<int:course_id>", ["PATCH"], summary="Stop a course with a reason",
           tag="courses", permission=COURSES,
           body=S.obj(required=("status", "reason"), status=S.string(enum=("stopped",)),
                      reason=S.string()),
           responses={200: COURSE})
def update_course(course_id: int):
    data = only_fields(json_body(), {"status", "reason"})
    course = services.get_course(db.session, course_id)
    if data.get("status") != "stopped":
        raise ValidationError("A course's status changes only to 'stopped' (the others follow "
                              "from its sessions).", field="status")
    services.stop_course(db.session, current_api_user(), course, data.get("reason"))
    return no_store(course_json(course))


@api_route("/sessions/<int:session_id>", ["PATCH"],
           summary="Move a session, or mark it missed or cancelled with a reason",
           tag="courses", permission=COURSES,
           description="`{planned_on}` moves it; `{status: missed or cancelled, reason}` marks it.",
           body=S.obj(planned_on=S.string(fmt="date"),
                      status=S.string(enum=("missed", "cancelled")), reason=S.string()),
           responses={200: COURSE})
def update_session(session_id: int):
    data = only_fields(json_body(), {"planned_on", "status", "reason"})
    row = services.get_session(db.session, session_id)
    actor = current_api_user()
    if "planned_on" in data and "status" not in data:
        if "reason" in data:
            raise ValidationError("A move takes only planned_on.", field="reason")
        services.move_session(db.session, actor, row, data.get("planned_on"))
    elif "status" in data and "planned_on" not in data:
        services.mark_session(db.session, actor, row, data.get("status"), data.get("reason"),
                              today=clock.today())
    else:
        raise ValidationError("Send either {planned_on} or {status, reason}.",
                              fields={"planned_on": ["Either this..."],
                                      "status": ["...or this, with a reason."]})
    return no_store(course_json(row.course))


# --- consent -------------------------------------------------------------------------

@api_route("/consent-texts", ["GET"], summary="Consent texts, by area, newest version first",
           tag="courses", permission=COURSES_VIEW,
           query=(("area", S.string(enum=AREAS), "only this area"), *PAGE_QUERY),
           responses={200: S.page_of(CONSENT_TEXT)})
def list_consent_texts():
    area = request.args.get("area") or None
    return no_store(paginate(consent_services.texts_query(area), consent_text_json))


@api_route("/consent-texts", ["POST"], summary="Write a consent text (the area's next version)",
           tag="courses", permission=COURSES,
           body=S.obj(required=("area", "title", "body"), area=S.string(enum=AREAS),
                      title=S.string(max_length=200), body=S.string()),
           responses={201: CONSENT_TEXT})
def create_consent_text():
    data = only_fields(json_body(), {"area", "title", "body"})
    text = consent_services.create_text(db.session, current_api_user(), area=data.get("area"),
                                        title=data.get("title"), body=data.get("body"))
    return no_store(consent_text_json(text), 201)


@api_route("/courses/<int:course_id>/consents", ["POST"],
           summary="Record the patient's consent to a course (201), or withdraw it (200)",
           tag="courses", permission=COURSES,
           description="`{consent_text_id, consented_on, note?}` records; "
                       "`{withdrawn_on, reason}` withdraws the consent in force and stops the course. "
                       "To record a consent with its scanned signed form, send the same fields "
                       "as multipart/form-data with the file in `scan` (PDF, PNG or JPEG, at "
                       "most 10 MB, checked by its content: 422 `fields.scan` otherwise); the "
                       "answer then carries `scan: {content_type, size, sha256, filename}`.",
           body=S.obj(consent_text_id=S.integer(), consented_on=S.string(fmt="date"),
                      note=S.string(null=True), withdrawn_on=S.string(fmt="date"),
                      reason=S.string()),
           responses={201: CONSENT, 200: CONSENT})
def course_consent(course_id: int):
    upload = None
    if request.mimetype == "multipart/form-data":
        # A consent with its scanned signed form: the same fields as form values.
        data = only_fields(clean_json_text(request.form.to_dict()),
                           {"consent_text_id", "consented_on", "note"})
        refuse_unknown_fields(request.files, {"scan"})
        raw_id = data.get("consent_text_id")
        if isinstance(raw_id, str) and raw_id.strip().isascii() and raw_id.strip().isdigit():
            data["consent_text_id"] = int(raw_id.strip())
        upload = request.files.get("scan")
    else:
        data = only_fields(json_body(), {"consent_text_id", "consented_on", "note",
                                         "withdrawn_on", "reason"})
    course = services.get_course(db.session, course_id)
    actor = current_api_user()
    withdraw = {"withdrawn_on", "reason"} & set(data)
    record = {"consent_text_id", "consented_on", "note"} & set(data)
    if withdraw and not record:
        consent = consent_services.withdraw_consent(
            db.session, actor, course, withdrawn_on=data.get("withdrawn_on"),
            reason=data.get("reason"), today=clock.today())
        return no_store(consent_services.consent_json(consent))
    if record and not withdraw:
        consent_text_id = _an_id(data, "consent_text_id", "a consent text id")
        consent = consent_services.record_consent(
            db.session, actor, course, consent_text_id=consent_text_id,
            consented_on=data.get("consented_on"), note=data.get("note"), today=clock.today())
        body = consent_services.consent_json(consent)
        if upload is not None:
            scan = scans.attach_scan(db.session, actor, consent, data=scans.read_upload(upload),
                                     filename=upload.filename)
            body["scan"] = scan_json(scan)
        return no_store(body, 201)
    raise ValidationError("Send either {consent_text_id, consented_on, note?} or "
                          "{withdrawn_on, reason}.",
                          fields={"consent_text_id": ["Required to record a consent."]})


# --- administrations -----------------------------------------------------------------

ADMIN_IN = dict(batch_id=S.integer(), doses=S.integer(minimum=1), sites=S.string(),
                technique=S.string(enum=rules.TECHNIQUES),
                given_at=S.string(fmt="date-time", null=True),
                depth_mm={"anyOf": [S.decimal_in(), {"type": "null"}]},
                needle=S.string(null=True, max_length=100), notes=S.string(null=True),
                override_reason=S.string(null=True))


@api_route("/sessions/<int:session_id>/administrations", ["POST"],
           summary="Give a verified batch at a session", tag="courses", permission=COURSES,
           description="Refusals (409, nothing written): consent_missing, consent_withdrawn, "
                       "batch_not_verified, batch_discarded, batch_expired, batch_on_hold, "
                       "batch_other_patient, batch_other_cocktail, batch_used_up, "
                       "insufficient_doses, safety_block (give override_reason), "
                       "session_maximum, invalid_state.",
           body=S.obj(required=("batch_id", "doses", "sites", "technique"), **ADMIN_IN),
           responses={201: ADMINISTRATION})
def give_administration(session_id: int):
    data = only_fields(json_body(), ADMIN_IN)
    row = services.get_session(db.session, session_id)
    batch_id = _an_id(data, "batch_id", "a batch id")
    doses = want_type(data, "doses", int, "a positive whole number", required=True)
    for name in ("sites", "technique", "given_at", "needle", "notes", "override_reason"):
        want_type(data, name, str, "text", required=name in ("sites", "technique"))
    adm = adm_services.give(
        db.session, current_api_user(), row, batch_id=batch_id, doses=doses,
        sites=data.get("sites"), technique=data.get("technique"), given_at=data.get("given_at"),
        depth_mm=data.get("depth_mm"), needle=data.get("needle"), notes=data.get("notes"),
        override_reason=data.get("override_reason"))
    return no_store(administration_json(adm), 201)


@api_route("/administrations/<int:administration_id>", ["GET"],
           summary="Read an administration (audited)", tag="courses", permission=COURSES_VIEW,
           responses={200: ADMINISTRATION})
@writes_on_read
def get_administration(administration_id: int):
    adm = adm_services.get_administration(db.session, administration_id)
    record_view(db.session, current_api_user(), adm.course.patient,
                what=f"administration #{adm.id}", via="api")
    return no_store(administration_json(adm))


# --- adverse events ------------------------------------------------------------------

ADVERSE_EVENT = S.component("AdverseEvent", S.obj(
    required=("id", "administration_id", "patient_id", "onset", "kind", "severity", "serious"),
    id=S.integer(), administration_id=S.integer(), patient_id=S.integer(),
    onset=S.string(fmt="date"), kind=S.string(enum=rules.EVENT_KINDS),
    severity=S.string(enum=rules.EVENT_SEVERITIES), serious=S.boolean(),
    outcome=S.string(null=True), action=S.string(null=True), recorded_by=S.string(),
    recorded_at=S.string(fmt="date-time")))
EVENT_IN = dict(onset=S.string(fmt="date"), kind=S.string(enum=rules.EVENT_KINDS),
                severity=S.string(enum=rules.EVENT_SEVERITIES), serious=S.boolean(),
                outcome=S.string(null=True), action=S.string(null=True))


def event_json(event) -> dict:
    return {"id": event.id, "administration_id": event.administration_id,
            "patient_id": event.patient_id, "onset": iso(event.onset), "kind": event.kind,
            "severity": event.severity, "serious": event.serious, "outcome": event.outcome,
            "action": event.action, "recorded_by": event.recorded_by.username,
            "recorded_at": iso(event.recorded_at)}


@api_route("/administrations/<int:administration_id>/adverse-events", ["POST"],
           summary="Record an adverse event after an administration", tag="courses",
           permission=COURSES,
           body=S.obj(required=("onset", "kind", "severity", "serious"), **EVENT_IN),
           responses={201: ADVERSE_EVENT})
def create_adverse_event(administration_id: int):
    data = only_fields(json_body(), EVENT_IN)
    adm = adm_services.get_administration(db.session, administration_id)
    for name in ("onset", "kind", "severity"):
        want_type(data, name, str, "text", required=True)
    want_type(data, "serious", bool, "true or false", required=True)
    event = event_services.record_event(
        db.session, current_api_user(), adm, onset=data["onset"], kind=data["kind"],
        severity=data["severity"], serious=data["serious"], outcome=data.get("outcome"),
        action=data.get("action"), today=clock.today(),
        given_on=adm.given_at.astimezone(clock.clinic_tz()).date())
    return no_store(event_json(event), 201)


ADVERSE_EVENT_LISTED = S.component("AdverseEventListed", {
    **S.COMPONENTS["AdverseEvent"], "properties": {
        **S.COMPONENTS["AdverseEvent"]["properties"],
        "patient_mrn": S.string(), "given_at": S.string(fmt="date-time"),
        "given_by": S.string(), "batch_id": S.integer(), "batch_number": S.string(),
        "cocktail_name": S.string(), "cocktail_version": S.integer(),
        "course_id": S.integer(), "session_number": S.integer(),
        "lines": S.array(ADMINISTRATION_LINE)}})
EVENT_QUERY = (("ingredient_id", S.integer(), "events after administrations that gave it"),
               ("lot_id", S.integer(), "events after administrations from this lot"),
               ("from", S.string(fmt="date"), "onset on or after"),
               ("to", S.string(fmt="date"), "onset on or before"),
               ("severity", S.string(enum=rules.EVENT_SEVERITIES), "only this severity"),
               ("serious", S.boolean(), "only serious (true) or not serious (false) events"))


def event_query_from_args():
    """The listing's filters from the query string, checked (shared with the export)."""
    return event_report.check_query(
        db.session, start=arg_date("from"), end=arg_date("to"),
        ingredient_id=arg_int("ingredient_id"), lot_id=arg_int("lot_id"),
        severity=request.args.get("severity") or None,
        serious=event_report.parse_serious(request.args.get("serious")))


def listed_events_json(rows) -> list[dict]:
    """The events of a page as the listing shows them (rows of
    ``event_report.listed_events_statement``): with the administration it followed, the
    patient, the batch and every lot given (``event_report.listed_lines``: one statement
    for the page)."""
    tz = clock.clinic_tz()
    lines = event_report.listed_lines(db.session, [r.administration_id for r in rows])
    return [{"id": r.id, "administration_id": r.administration_id, "patient_id": r.patient_id,
             "onset": iso(r.onset), "kind": r.kind, "severity": r.severity,
             "serious": r.serious, "outcome": r.outcome, "action": r.action,
             "recorded_by": r.recorded_by, "recorded_at": iso(r.recorded_at),
             "patient_mrn": r.patient_mrn, "given_at": iso(r.given_at.astimezone(tz)),
             "given_by": r.given_by, "batch_id": r.batch_id, "batch_number": r.batch_number,
             "cocktail_name": r.cocktail_name, "cocktail_version": r.cocktail_version,
             "course_id": r.course_id, "session_number": r.session_number,
             "lines": [{"ingredient_id": ln.ingredient_id, "ingredient_name": ln.ingredient_name,
                        "lot_id": ln.lot_id, "lot_number": ln.lot_number,
                        "quantity": dec(ln.quantity), "unit": ln.unit}
                       for ln in lines.get(r.administration_id, ())]}
            for r in rows]


@api_route("/adverse-events", ["GET"], summary="Adverse events, newest onset first (audited "
           "as reads of the patients listed)",
           tag="courses", permission=COURSES_VIEW, query=(*EVENT_QUERY, *PAGE_QUERY),
           responses={200: S.page_of(ADVERSE_EVENT_LISTED)},
           description="By ingredient or lot given, onset dates, severity and seriousness. "
                       "An unknown ingredient_id or lot_id: 404; from after to: 422.")
@writes_on_read
def list_adverse_events():
    q = event_query_from_args()
    listed = event_report.listed_events_statement(q)

    def page_rows(_sort, page: int, per_page: int, total: int):
        # ten tables looked up from each event: planned in their written order
        with joins_as_written(db.session):
            rows, page, _total = paged(listed, page, per_page, total=total, objects=False)
        return rows, page

    body = paginate(listed, lambda item: item, read=listed_events_json, page_rows=page_rows,
                    count=count_statement(event_report.events_statement(q)))
    actor = current_api_user()
    for patient in sorted({e["patient_id"] for e in body["items"]}):
        audit_record(db.session, actor, "patient.view", "patient", patient,
                     summary=f"Viewed the adverse events of patient #{patient} (api, list)")
    return no_store(body)


@api_route("/adverse-events/<int:event_id>/allergies", ["POST"],
           summary="Record an allergic reaction as allergies of the patient", tag="courses",
           permission=COURSES,
           description="Without a body field, one allergy to each ingredient of the cocktail "
                       "given (pre-filled); `ingredient_ids` chooses among them. 409 "
                       "invalid_state for an event that is not an allergic reaction.",
           body=S.obj(ingredient_ids=S.array(S.integer()),
                      severity=S.string(enum=("mild", "moderate", "severe", "anaphylaxis"))),
           responses={201: S.obj(required=("items",), items=S.array(S.ref("Allergy")))})
def adverse_event_allergies(event_id: int):
    data = only_fields(json_body(), {"ingredient_ids", "severity"})
    event = event_services.get_event(db.session, event_id)
    severity = data.get("severity")
    if severity is not None and severity not in ("mild", "moderate", "severe", "anaphylaxis"):
        raise ValidationError("Use mild, moderate, severe or anaphylaxis.", field="severity")
    made = event_services.record_allergy(db.session, current_api_user(), event,
                                         ingredient_ids=data.get("ingredient_ids"),
                                         severity=severity)
    db.session.flush()
    return no_store({"items": [allergy_json(a) for a in made]}, 201)


# --- the patient's timeline ----------------------------------------------------------

TIMELINE_ITEM = S.component("TimelineItem", S.obj(
    required=("at", "kind", "id", "summary"),
    at={"type": "string", "description": "a date (YYYY-MM-DD) or a time with its offset"},
    kind=S.string(enum=("course", "session", "administration", "batch", "adverse_event",
                        "allergy")),
    id=S.integer(), summary=S.string(
        description="a sentence in the language of Accept-Language (codes and the other "
                    "fields stay as they are)")))


@api_route("/patients/<int:patient_id>/timeline", ["GET"],
           summary="A patient's timeline, newest first (audited)", tag="courses",
           permission=COURSES_VIEW,
           responses={200: S.obj(required=("items", "total"), items=S.array(TIMELINE_ITEM),
                                 total=S.integer(minimum=0))})
@writes_on_read
def patient_timeline(patient_id: int):
    patient = get_patient(db.session, patient_id, with_allergies=False)
    items = timeline(db.session, patient, today=clock.today(), tz=clock.clinic_tz())
    record_view(db.session, current_api_user(), patient, what="timeline", via="api")
    return no_store({"items": items, "total": len(items)})
