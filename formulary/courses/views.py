"""Course pages (SPEC §10, §11): start a course from the picker, the course page with its
sessions and consent, and the consent texts.

Each action calls the one service the API calls too; a refusal is shown on its form with
the service's own message, with a 4xx status, so the request's transaction rolls back and
nothing is written. Every page that shows a patient's course is an audited view of the
patient's record. The administration, adverse-event, timeline and sheet pages are in
``care_views``.
"""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from formulary import clock
from formulary.display import code_word
from formulary.domain.messages import msg
from formulary.i18n import _, format_date_l, tr
from formulary.auth.access import require
from formulary.auth.models import User
from formulary.auth.permissions import COURSES, COURSES_VIEW
from formulary.cocktails.models import Cocktail
from formulary.courses import care_views  # noqa: F401  (its routes join the blueprint)
from formulary.courses import consent as consent_services
from formulary.courses import scans
from formulary.courses import services
from formulary.courses.blueprint import bp
from formulary.courses.forms import (ConsentForm, ConsentTextForm, CourseForm, MarkSessionForm,
                                     MoveSessionForm, ScanForm, StopCourseForm, WithdrawForm)
from formulary.courses.models import Administration, AdverseEvent, Consent, ConsentText, Course
from formulary.domain import courses as rules
from formulary.domain.errors import DomainError, NotFound
from formulary.errors import form_errors
from formulary.extensions import db
from formulary.patients.models import Patient
from formulary.patients.screening import screen_patient
from formulary.patients.services import get_patient, record_view
from formulary.transaction import writes_on_read

__all__ = ["bp"]


def _id_arg(name: str) -> int | None:
    raw = (request.values.get(name) or "").strip()
    return int(raw) if raw.isdecimal() and len(raw) < 10 else None


# --- start a course --------------------------------------------------------------------

def _in_charge_choices() -> list[tuple[str, str]]:
    users = db.session.execute(
        select(User).where(User.role.in_(services.IN_CHARGE_ROLES), User.active.is_(True))
        .order_by(User.username)).scalars().all()
    return [(u.username, f"{u.display_name} ({u.username})") for u in users]


@bp.route("/courses/new", methods=["GET", "POST"])
@require(COURSES)
@writes_on_read
def new():
    patient_id, cocktail_id = _id_arg("patient_id"), _id_arg("cocktail_id")
    patient = get_patient(db.session, patient_id, with_allergies=False) if patient_id else None
    cocktail = db.session.get(Cocktail, cocktail_id) if cocktail_id else None
    if patient is None or cocktail is None:
        raise NotFound("Start a course from a patient's formulation picker: the patient or "
                       "the cocktail named is not known.")
    form = CourseForm()
    form.practitioner.choices = _in_charge_choices()
    version = cocktail.active_version
    if request.method == "GET":
        form.patient_id.data, form.cocktail_id.data = patient.id, cocktail.id
        form.area.data = version.area if version else None
        form.indication.data = (version.indication if version else "") or ""
        form.planned_sessions.data, form.interval_days.data = "6", "14"
        form.start_date.data = clock.today().isoformat()
        form.practitioner.data = current_user.username
        record_view(db.session, current_user, patient, what="course form")
    status = 200
    if form.validate_on_submit():
        try:
            course = services.create_course(
                db.session, current_user, patient=patient, cocktail=cocktail,
                planned_sessions=form.planned_sessions.data,
                interval_days=form.interval_days.data, start_date=form.start_date.data,
                area=form.area.data, indication=form.indication.data or "",
                practitioner=form.practitioner.data)
        except DomainError as exc:
            form_errors(form, exc)
            status = exc.status
        else:
            flash(_("Course of %(cocktail)s started: %(sessions)s sessions planned. Record the "
                    "patient's consent before the first one.", cocktail=cocktail.name,
                    sessions=course.planned_sessions), "success")
            return redirect(url_for("courses.course", course_id=course.id))
    elif request.method == "POST":
        status = 400
    screen = screen_patient(db.session, patient, version) if version is not None else None
    return render_template("courses/new.html", form=form, patient=patient,
                           cocktail=cocktail, version=version, screen=screen), status


# --- the course page -------------------------------------------------------------------

def _course_page(course_id: int, status: int = 200, **forms):
    """The course page; ``forms`` holds a refused form to show with its errors. Its
    statements do not grow with the course's history: the course and its sessions, its
    consents, their scans, its administrations, its adverse events, the area's texts."""
    course = services.get_course(db.session, course_id)
    patient = course.patient
    today = clock.today()
    consents = list(db.session.execute(
        select(Consent).options(joinedload(Consent.text), joinedload(Consent.taken_by))
        .where(Consent.course_id == course.id).order_by(Consent.id)).scalars())
    in_force = next((c for c in reversed(consents) if c.withdrawn_on is None), None)
    files = scans.scans_of(db.session, [c.id for c in consents])
    given = db.session.execute(
        select(Administration).options(joinedload(Administration.batch),
                                       joinedload(Administration.given_by))
        .where(Administration.course_id == course.id).order_by(Administration.given_at)
    ).scalars().all()
    by_session: dict[int, list] = {}
    for adm in given:
        by_session.setdefault(adm.session_id, []).append(adm)
    events = db.session.execute(
        select(AdverseEvent.administration_id, AdverseEvent.kind, AdverseEvent.severity)
        .join(Administration, Administration.id == AdverseEvent.administration_id)
        .where(Administration.course_id == course.id)).all()
    events_by_adm: dict[int, list] = {}
    for e in events:
        events_by_adm.setdefault(e.administration_id, []).append(e)
    texts = db.session.execute(consent_services.texts_query(course.area)).scalars().all()
    consent_form = forms.get("consent_form") or ConsentForm(formdata=None)
    consent_form.consent_text_id.choices = [(str(t.id), f"{t.title} (v{t.version})")
                                            for t in texts]
    if not consent_form.consented_on.data:
        consent_form.consented_on.data = today.isoformat()
    withdraw_form = forms.get("withdraw_form") or WithdrawForm(formdata=None)
    if not withdraw_form.withdrawn_on.data:
        withdraw_form.withdrawn_on.data = today.isoformat()
    record_view(db.session, current_user, patient, what=f"course #{course.id}")
    return render_template(
        "courses/course.html", course=course, patient=patient, today=today,
        sessions=[(s, services.session_status(s, today), by_session.get(s.id, []))
                  for s in course.sessions],
        progress=rules.progress(s.status for s in course.sessions),
        consents=consents, in_force=in_force, scans=files, texts=texts,
        events_by_adm=events_by_adm, consent_form=consent_form, withdraw_form=withdraw_form,
        scan_form=forms.get("scan_form") or ScanForm(formdata=None),
        stop_form=forms.get("stop_form") or StopCourseForm(formdata=None),
        move_form=forms.get("move_form") or MoveSessionForm(formdata=None),
        mark_form=forms.get("mark_form") or MarkSessionForm(formdata=None),
        failed_session=forms.get("failed_session"),
        may_record=current_user.may(COURSES)), status


@bp.get("/courses/<int:course_id>")
@require(COURSES_VIEW)
@writes_on_read
def course(course_id: int):
    return _course_page(course_id)


def _refused(course_id: int, exc: DomainError, **forms):
    """The course page with the refused form. The consent form is shown only while no
    consent is in force and the withdrawal form only while one is: a refusal of a form
    the page no longer shows (a second click, a colleague was quicker) is flashed."""
    if "consent_form" in forms or "withdraw_form" in forms:
        course = services.get_course(db.session, course_id)
        in_force = consent_services.active_consent(db.session, course) is not None
        shown = (not in_force and course.stopped_at is None) if "consent_form" in forms else in_force
        if not shown and exc.fields:
            flash(tr(exc.message), "danger")
    return _course_page(course_id, exc.status, **forms)


def _unread(course_id: int, **forms):
    """A form that could not be read (its token expired): shown again, 400."""
    flash("The form could not be read; try again.", "danger")
    return _course_page(course_id, 400, **forms)


@bp.post("/courses/<int:course_id>/stop")
@require(COURSES)
def stop(course_id: int):
    course = services.get_course(db.session, course_id)
    form = StopCourseForm()
    if not form.validate_on_submit():
        return _unread(course_id, stop_form=form)
    try:
        services.stop_course(db.session, current_user, course, form.reason.data)
    except DomainError as exc:
        form_errors(form, exc)
        return _refused(course_id, exc, stop_form=form)
    flash(_("Course #%(id)s stopped.", id=course.id), "warning")
    return redirect(url_for("courses.course", course_id=course_id))


@bp.post("/sessions/<int:session_id>/move")
@require(COURSES)
def move_session(session_id: int):
    row = services.get_session(db.session, session_id)
    course_id = row.course_id
    form = MoveSessionForm()
    if not form.validate_on_submit():
        return _unread(course_id, move_form=form, failed_session=session_id)
    try:
        services.move_session(db.session, current_user, row, form.planned_on.data)
    except DomainError as exc:
        form_errors(form, exc)
        return _refused(course_id, exc, move_form=form, failed_session=session_id)
    flash(_("Session %(number)s moved to %(date)s.", number=row.number,
            date=format_date_l(row.planned_on)), "success")
    return redirect(url_for("courses.course", course_id=course_id) + f"#session-{row.number}")


@bp.post("/sessions/<int:session_id>/mark")
@require(COURSES)
def mark_session(session_id: int):
    row = services.get_session(db.session, session_id)
    course_id = row.course_id
    form = MarkSessionForm()
    if not form.validate_on_submit():
        return _unread(course_id, mark_form=form, failed_session=session_id)
    try:
        services.mark_session(db.session, current_user, row, form.status.data,
                              form.reason.data, today=clock.today())
    except DomainError as exc:
        form_errors(form, exc)
        return _refused(course_id, exc, mark_form=form, failed_session=session_id)
    flash(_("Session %(number)s marked %(status)s.", number=row.number, status=code_word(row.status)),
          "success")
    return redirect(url_for("courses.course", course_id=course_id) + f"#session-{row.number}")


# --- consent ---------------------------------------------------------------------------

@bp.post("/courses/<int:course_id>/consent")
@require(COURSES)
def record_consent(course_id: int):
    course = services.get_course(db.session, course_id)
    form = ConsentForm()
    form.consent_text_id.choices = []  # filled again when the page is shown
    if not form.validate_on_submit():
        return _unread(course_id, consent_form=form)
    upload = form.scan.data
    try:
        text_id = form.consent_text_id.data
        consent = consent_services.record_consent(
            db.session, current_user, course,
            consent_text_id=int(text_id) if text_id and text_id.isdecimal() else text_id,
            consented_on=form.consented_on.data, note=form.note.data, today=clock.today())
        if upload and upload.filename:
            scans.attach_scan(db.session, current_user, consent,
                              data=scans.read_upload(upload), filename=upload.filename)
    except DomainError as exc:
        form_errors(form, exc)
        return _refused(course_id, exc, consent_form=form)
    flash(_("Consent recorded with the signed form.") if upload and upload.filename
          else _("Consent recorded."), "success")
    return redirect(url_for("courses.course", course_id=course_id) + "#consent")


@bp.post("/consents/<int:consent_id>/scan")
@require(COURSES)
def attach_scan(consent_id: int):
    consent = db.session.get(Consent, consent_id)
    if consent is None:
        raise NotFound(msg("There is no consent #%(consent_id)s.",
                           consent_id=consent_id))
    course_id = consent.course_id
    form = ScanForm()
    if not form.validate_on_submit():
        return _unread(course_id, scan_form=form)
    upload = form.scan.data
    try:
        scans.attach_scan(db.session, current_user, consent,
                          data=scans.read_upload(upload) if upload else b"",
                          filename=upload.filename if upload else None)
    except DomainError as exc:
        form_errors(form, exc)
        return _refused(course_id, exc, scan_form=form)
    flash("Signed form attached.", "success")
    return redirect(url_for("courses.course", course_id=course_id) + "#consent")


@bp.get("/consents/<int:consent_id>/scan")
@require(COURSES_VIEW)
@writes_on_read
def download_scan(consent_id: int):
    consent = db.session.get(Consent, consent_id)
    if consent is None:
        raise NotFound(msg("There is no consent #%(consent_id)s.",
                           consent_id=consent_id))
    scan = scans.get_scan(db.session, consent_id)
    patient = db.session.get(Patient, db.session.get(Course, consent.course_id).patient_id)
    record_view(db.session, current_user, patient,
                what=f"signed consent form of course #{consent.course_id}")
    response = Response(scan.data, mimetype=scan.content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{scan.filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/courses/<int:course_id>/consent/withdraw")
@require(COURSES)
def withdraw_consent(course_id: int):
    course = services.get_course(db.session, course_id)
    form = WithdrawForm()
    if not form.validate_on_submit():
        return _unread(course_id, withdraw_form=form)
    try:
        consent_services.withdraw_consent(db.session, current_user, course,
                                          withdrawn_on=form.withdrawn_on.data,
                                          reason=form.reason.data, today=clock.today())
    except DomainError as exc:
        form_errors(form, exc)
        return _refused(course_id, exc, withdraw_form=form)
    flash("Consent withdrawn: the course is stopped.", "warning")
    return redirect(url_for("courses.course", course_id=course_id) + "#consent")


# --- consent texts ---------------------------------------------------------------------

def _texts_page(form: ConsentTextForm, status: int = 200):
    texts = db.session.execute(select(ConsentText).order_by(
        ConsentText.area, ConsentText.version.desc())).scalars().all()
    return render_template("courses/consent_texts.html", form=form, texts=texts,
                           may_write=current_user.may(COURSES)), status


@bp.get("/consent-texts")
@require(COURSES_VIEW)
def consent_texts():
    form = ConsentTextForm(formdata=None)
    if request.args.get("area"):
        form.area.data = request.args["area"]
    return _texts_page(form)


@bp.post("/consent-texts")
@require(COURSES)
def create_consent_text():
    form = ConsentTextForm()
    if not form.validate_on_submit():
        flash("The form could not be read; try again.", "danger")
        return _texts_page(form, 400)
    try:
        text = consent_services.create_text(db.session, current_user, area=form.area.data,
                                            title=form.title.data, body=form.body.data)
    except DomainError as exc:
        form_errors(form, exc)
        return _texts_page(form, exc.status)
    flash(_("Consent text '%(title)s' saved as version %(version)s for the %(area)s.",
            title=text.title, version=text.version, area=code_word(text.area)), "success")
    return redirect(url_for("courses.consent_texts"))
