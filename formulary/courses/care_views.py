"""Care pages (SPEC §10, §11): give a session (an administration), an administration with
its adverse events and "record this as an allergy", the patient's timeline and the
printable per-administration sheet for the patient.

Same shape as ``views``: one service per action (the API's), refusals on the form with
the service's message and a 4xx status (nothing written), audited views of the patient.
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import joinedload, selectinload

from formulary import clock
from formulary.display import code_word
from formulary.domain.messages import msg
from formulary.i18n import _, format_qty_l
from formulary.auth.access import require
from formulary.auth.permissions import COURSES, COURSES_VIEW
from formulary.cocktails.models import AREAS, Component
from formulary.compounding.models import Batch
from formulary.compounding.queries import batch_options
from formulary.compounding.state import state_clause, state_of
from formulary.courses import administrations as adm_services
from formulary.courses import consent as consent_services
from formulary.courses import events as event_services
from formulary.courses import services
from formulary.courses.blueprint import bp
from formulary.courses.forms import AllergyFromEventForm, EventForm, GiveForm
from formulary.courses.models import Administration, AdministrationLine, AdverseEvent
from formulary.courses.timeline import timeline
from formulary.domain.errors import DomainError, NotFound, ValidationError
from formulary.errors import form_errors
from formulary.extensions import db
from formulary.patients.screening import screen_patient
from formulary.patients.services import get_patient, record_view
from formulary.transaction import writes_on_read


# --- give a session --------------------------------------------------------------------

def usable_batches(course, now) -> list[tuple[Batch, int]]:
    """The batches that may be offered at a session of ``course``: verified, of its
    cocktail, made for its patient or for no one, with doses left, not expired nor on
    hold (the effective state, ``compounding.state``); with their doses left."""
    live = or_(state_clause("verified", now),
               and_(state_clause("partly_given", now), Batch.status == "verified"))
    rows = db.session.execute(
        select(Batch).options(*batch_options())
        .where(Batch.cocktail_id == course.cocktail_id,
               or_(Batch.patient_id == course.patient_id, Batch.patient_id.is_(None)), live)
        .order_by(Batch.patient_id.is_(None), Batch.beyond_use_at, Batch.id)
    ).unique().scalars().all()
    return [(b, state_of(b, now).doses_left) for b in rows]


def _give_page(row, form: GiveForm, status: int = 200):
    course = row.course
    now = clock.now()
    batches = usable_batches(course, now)
    form.batch_id.choices = [("", _("Choose a batch…"))] + [
        (str(b.id), f"{b.batch_number} — {left} of {b.doses} dose(s) left, use before "
                    f"{clock.local(b.beyond_use_at).strftime('%Y-%m-%d %H:%M')}"
                    + ("" if b.patient_id else " (not made for a patient)"))
        for b, left in batches]
    version = course.cocktail.active_version
    screen = screen_patient(db.session, course.patient, version) if version else None
    consent = consent_services.active_consent(db.session, course)
    record_view(db.session, current_user, course.patient,
                what=f"session {row.number} of course #{course.id}")
    return render_template("courses/give.html", row=row, course=course,
                           patient=course.patient, form=form, batches=batches,
                           screen=screen, consent=consent,
                           status=services.session_status(row, clock.today())), status


@bp.route("/sessions/<int:session_id>/give", methods=["GET", "POST"])
@require(COURSES)
@writes_on_read
def give(session_id: int):
    row = services.get_session(db.session, session_id)
    form = GiveForm()
    if form.is_submitted() and not form.validate():
        flash("The form could not be read; try again.", "danger")
        return _give_page(row, form, 400)
    if not form.is_submitted():
        form.site_area.data = row.course.area
        return _give_page(row, form)
    try:
        if form.site_area.data not in AREAS:
            raise ValidationError(msg("Use one of: %(areas)s.", areas=", ".join(AREAS)),
                                  field="site_area")
        adm = adm_services.give(
            db.session, current_user, row, batch_id=form.batch_id.data or None,
            doses=form.doses.data, sites=form.sites(), technique=form.technique.data,
            depth_mm=form.depth_mm.data or None, needle=form.needle.data,
            notes=form.notes.data, override_reason=form.override_reason.data)
    except DomainError as exc:
        if "sites" in exc.fields:
            exc.fields["site_description"] = exc.fields.pop("sites")
        form_errors(form, exc)
        return _give_page(services.get_session(db.session, session_id), form, exc.status)
    flash(_("Session %(number)s: %(doses)s dose(s) of batch %(batch)s given.", number=row.number,
            doses=adm.doses, batch=adm.batch.batch_number), "success")
    return redirect(url_for("courses.administration", administration_id=adm.id))


# --- an administration and its adverse events ------------------------------------------

def _administration(administration_id: int) -> Administration:
    adm = db.session.execute(
        select(Administration).options(
            joinedload(Administration.session), joinedload(Administration.course),
            joinedload(Administration.given_by),
            joinedload(Administration.batch).joinedload(Batch.version),
            selectinload(Administration.lines).joinedload(AdministrationLine.lot),
            selectinload(Administration.lines).joinedload(AdministrationLine.ingredient))
        .where(Administration.id == administration_id)).unique().scalar_one_or_none()
    if adm is None:
        raise NotFound(msg("There is no administration #%(administration_id)s.",
                           administration_id=administration_id))
    return adm


def _administration_page(administration_id: int, form: EventForm | None = None,
                         status: int = 200):
    adm = _administration(administration_id)
    events = db.session.execute(
        select(AdverseEvent).options(joinedload(AdverseEvent.recorded_by))
        .where(AdverseEvent.administration_id == adm.id).order_by(AdverseEvent.id)
    ).scalars().all()
    if form is None:
        form = EventForm(formdata=None)
        form.onset.data = clock.today().isoformat()
    patient = adm.course.patient
    active = {a.ingredient_id for a in patient.allergies if a.status == "active"}
    record_view(db.session, current_user, patient, what=f"administration #{adm.id}")
    return render_template("courses/administration.html", adm=adm, patient=patient,
                           events=events, form=form, allergy_form=AllergyFromEventForm(),
                           allergies_on_file=active, rows=sheet_rows(adm),
                           may_record=current_user.may(COURSES)), status


@bp.get("/administrations/<int:administration_id>")
@require(COURSES_VIEW)
@writes_on_read
def administration(administration_id: int):
    return _administration_page(administration_id)


@bp.post("/administrations/<int:administration_id>/adverse-events")
@require(COURSES)
def adverse_event(administration_id: int):
    adm = _administration(administration_id)
    form = EventForm()
    if not form.validate_on_submit():
        flash("The form could not be read; try again.", "danger")
        return _administration_page(administration_id, form, 400)
    try:
        event = event_services.record_event(
            db.session, current_user, adm, onset=form.onset.data, kind=form.kind.data,
            severity=form.severity.data, serious=bool(form.serious.data),
            outcome=form.outcome.data, action=form.action.data, today=clock.today(),
            given_on=clock.local(adm.given_at).date())
    except DomainError as exc:
        form_errors(form, exc)
        return _administration_page(administration_id, form, exc.status)
    if event.kind == "allergic_reaction":
        flash(_("Adverse event recorded: %(kind)s, %(severity)s. Record it as an allergy below if it "
                "was one.", kind=code_word(event.kind), severity=code_word(event.severity)), "success")
    else:
        flash(_("Adverse event recorded: %(kind)s, %(severity)s.", kind=code_word(event.kind),
                severity=code_word(event.severity)), "success")
    return redirect(url_for("courses.administration", administration_id=adm.id)
                    + f"#event-{event.id}")


@bp.post("/adverse-events/<int:event_id>/allergies")
@require(COURSES)
def event_allergy(event_id: int):
    event = event_services.get_event(db.session, event_id)
    administration_id = event.administration_id
    form = AllergyFromEventForm()
    if not form.validate_on_submit():
        flash("The form could not be read; try again.", "danger")
        return _administration_page(administration_id, status=400)
    try:
        made = event_services.record_allergy(db.session, current_user, event)
    except DomainError as exc:
        form_errors(None, exc)
        return _administration_page(administration_id, status=exc.status)
    names = ", ".join(a.ingredient.name for a in made if a.ingredient is not None)
    flash(_("Allergy recorded on the patient's record: %(names)s. The safety screen now blocks "
            "this cocktail for the patient.", names=names), "warning")
    return redirect(url_for("courses.administration", administration_id=administration_id)
                    + f"#event-{event_id}")


# --- the patient's sheet ---------------------------------------------------------------

def sheet_rows(adm: Administration) -> list[dict]:
    """Per ingredient, in the cocktail's order: the amount given in the cocktail's own
    unit (amount per dose x doses given), the stock quantity taken from the lots, and the
    lots (number and expiry); quantities in the reader's form (the sheet's language)."""
    components = db.session.execute(
        select(Component).options(joinedload(Component.ingredient))
        .where(Component.version_id == adm.batch.cocktail_version_id)
        .order_by(Component.position, Component.id)).scalars().all()
    rows: OrderedDict[int, dict] = OrderedDict()
    for c in components:
        rows[c.ingredient_id] = {"ingredient": c.ingredient.name,
                                 "amount": format_qty_l(c.amount * adm.doses),
                                 "unit": c.unit, "quantity": Decimal(0), "stock_unit": c.stock_unit,
                                 "lots": []}
    for line in adm.lines:
        row = rows.setdefault(line.ingredient_id, {
            "ingredient": line.ingredient.name, "amount": None, "unit": line.unit,
            "quantity": Decimal(0), "stock_unit": line.unit, "lots": []})
        row["quantity"] += line.quantity
        row["lots"].append(line.lot)
    for row in rows.values():
        row["quantity"] = format_qty_l(row["quantity"])
    return list(rows.values())


@bp.get("/administrations/<int:administration_id>/sheet")
@require(COURSES_VIEW)
@writes_on_read
def sheet(administration_id: int):
    adm = _administration(administration_id)
    patient = adm.course.patient
    record_view(db.session, current_user, patient,
                what=f"patient sheet of administration #{adm.id}")
    # The patient's language may differ from the user's: ``?lang=`` chooses the sheet's
    # (one of the clinic's languages; anything else is the user's own).
    from flask import g, request
    from flask_babel import refresh

    from formulary.i18n import available_locales, select_locale

    asked = request.args.get("lang")
    if asked in available_locales():
        g.forced_locale = asked
        refresh()
    return render_template("courses/sheet.html", adm=adm, patient=patient, rows=sheet_rows(adm),
                           sheet_language=select_locale(),
                           sheet_languages=[(code, SHEET_LANGUAGE_NAMES.get(code, code))
                                            for code in available_locales()])


#: Each language named in itself (the sheet's language links).
SHEET_LANGUAGE_NAMES = {"en": "English", "fr": "Français"}


# --- the patient's timeline ------------------------------------------------------------

def _when(at: str) -> str:
    """A timeline item's ISO date (a session's day) or time with its offset, as the
    reader's locale writes it."""
    from datetime import date, datetime

    from formulary.i18n import format_date_l, format_datetime_l

    if len(at) == 10:
        return format_date_l(date.fromisoformat(at))
    return format_datetime_l(datetime.fromisoformat(at))


@bp.get("/patients/<int:patient_id>/timeline")
@require(COURSES_VIEW)
@writes_on_read
def patient_timeline(patient_id: int):
    patient = get_patient(db.session, patient_id, with_allergies=False)
    items = timeline(db.session, patient, today=clock.today(), tz=clock.clinic_tz())
    record_view(db.session, current_user, patient, what="timeline")
    for item in items:  # when, in the reader's form (the API keeps ISO)
        item["when"] = _when(item["at"])
    return render_template("courses/timeline.html", patient=patient, items=items, today=clock.today(),
                           may_record=current_user.may(COURSES))
