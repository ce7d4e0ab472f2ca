"""Patient pages: the list, the record with its allergies, and the formulation picker.

Every view of a patient's record (the record, its edit form, the picker) is audited.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from flask_login import current_user
from sqlalchemy import func, select

from formulary.auth.access import require
from formulary.auth.permissions import BATCHES, COURSES, COURSES_VIEW, PATIENTS, SAFETY
from formulary.cocktails.models import AREAS
from formulary.courses.services import courses_query
from formulary.domain import safety
from formulary.domain.errors import DomainError, ValidationError
from formulary.domain.listing import clamp_page
from formulary.errors import form_errors
from formulary.extensions import db
from formulary.listing import page_sort, paged
from formulary.inventory.models import AllergenGroup, Ingredient
from formulary.patients import allergies as allergy_services
from formulary.patients import screening, services
from formulary.patients.forms import (AllergyForm, AllergyStatusForm, NoKnownAllergiesForm,
                                      PatientForm, SearchForm)
from formulary.recalls import services as recall_services
from formulary.transaction import writes_on_read

from formulary.display import code_word
from formulary.i18n import _, tr, tr_here

bp = Blueprint("patients", __name__, url_prefix="/patients")
PER_PAGE = 25
PICKER_PER_PAGE = 50
RECORD_BATCHES = 20  # the newest on the record; the batch list shows them all


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    return max(1, int(raw)) if raw.isdecimal() and len(raw) < 7 else 1


@bp.get("")
@require(PATIENTS)
def index():
    form = SearchForm(request.args)
    q = (form.q.data or "").strip()[:100]
    sort = page_sort(services.PATIENT_SORT)
    stmt = services.PATIENT_SORT.apply(services.search_statement(q), sort)
    rows, page, total = paged(stmt, _page_arg(), PER_PAGE)
    return render_template("patients/index.html", form=form, patients=rows, q=q, page=page,
                           per_page=PER_PAGE, total=total, sort=sort)


def _patient_fields(form: PatientForm) -> dict:
    return {"mrn": form.mrn.data, "first_name": form.first_name.data,
            "last_name": form.last_name.data, "date_of_birth": form.date_of_birth.data,
            "conditions": list(form.conditions.data or []), "notes": form.notes.data or ""}


def _date_error(form: PatientForm) -> None:
    """WTForms reads the date; a date it could not read is the service's message."""
    if form.date_of_birth.errors:
        form.date_of_birth.errors = ["Use a date written YYYY-MM-DD."]


@bp.route("/new", methods=["GET", "POST"])
@require(PATIENTS)
def new():
    form = PatientForm()
    if form.validate_on_submit():
        try:
            patient = services.create_patient(db.session, current_user, **_patient_fields(form))
        except DomainError as exc:
            form_errors(form, exc)
        else:
            flash(_("Patient %(mrn)s recorded. Ask about allergies next.", mrn=patient.mrn), "success")
            return redirect(url_for("patients.record", patient_id=patient.id))
    else:
        _date_error(form)
    return render_template("patients/form.html", form=form, patient=None), \
        422 if form.errors else 200


@bp.route("/<int:patient_id>/edit", methods=["GET", "POST"])
@require(PATIENTS)
@writes_on_read
def edit(patient_id: int):
    patient = services.get_patient(db.session, patient_id)
    form = PatientForm(obj=patient)
    if request.method == "GET":
        form.conditions.data = [c.condition for c in patient.conditions]
        services.record_view(db.session, current_user, patient, what="record (edit form)")
    if form.validate_on_submit():
        try:
            services.update_patient(db.session, current_user, patient, reason=form.reason.data,
                                    **_patient_fields(form))
        except DomainError as exc:
            form_errors(form, exc)
        else:
            flash(_("Patient %(mrn)s saved.", mrn=patient.mrn), "success")
            return redirect(url_for("patients.record", patient_id=patient.id))
    else:
        _date_error(form)
    return render_template("patients/form.html", form=form, patient=patient), \
        422 if form.errors else 200


def _allergy_form(form: AllergyForm | None = None) -> AllergyForm:
    form = form or AllergyForm(formdata=None)
    ingredients = db.session.execute(
        select(Ingredient).where(Ingredient.active.is_(True)).order_by(Ingredient.name)).scalars().all()
    groups = db.session.execute(select(AllergenGroup).order_by(AllergenGroup.name)).scalars().all()
    form.set_choices(ingredients, groups)
    return form


def _courses_of(patient) -> list:
    """The patient's treatment courses for the record (those who may read them): the
    courses, their sessions, cocktails and practitioners in three statements."""
    if not current_user.may(COURSES_VIEW):
        return []
    return db.session.execute(courses_query(patient_id=patient.id)).unique().scalars().all()


def _record_page(patient, allergy_form: AllergyForm | None = None, status: int = 200,
                 offers=None):
    return render_template(
        "patients/record.html", patient=patient, allergy_form=_allergy_form(allergy_form),
        status_form=AllergyStatusForm(formdata=None), nka_form=NoKnownAllergiesForm(formdata=None),
        has_active=any(a.status == "active" for a in patient.allergies),
        condition_labels=safety.CONDITION_LABELS, target=services.allergy_target,
        areas=AREAS, courses=_courses_of(patient),
        recalls=recall_services.recalls_of_patient(db.session, patient.id),
        batches=services.patient_batches(db.session, patient, RECORD_BATCHES),
        batch_limit=RECORD_BATCHES, offers=offers), status


@bp.get("/<int:patient_id>")
@require(PATIENTS)
@writes_on_read
def record(patient_id: int):
    patient = services.get_patient(db.session, patient_id)
    services.record_view(db.session, current_user, patient)
    return _record_page(patient)


@bp.post("/<int:patient_id>/allergies")
@require(PATIENTS)
def allergy_add(patient_id: int):
    patient = services.get_patient(db.session, patient_id)
    form = _allergy_form(AllergyForm())
    if form.validate_on_submit():
        target = form.target()
        if "substance" in target and form.keep_free_text.data != "1":
            offers = allergy_services.free_text_suggestions(db.session, target["substance"] or "")
            # exactly a name on file is coded by the service itself; otherwise ask first
            if offers and not any(services.name_key(label) == services.name_key(target["substance"])
                                  for _, _, label in offers):
                return _record_page(patient, form, 200, offers=offers)
        try:
            allergy = allergy_services.add_allergy(
                db.session, current_user, patient, severity=form.severity.data or None,
                reaction=form.reaction.data or "", **form.target())
        except DomainError as exc:
            form_errors(form, exc)
            patient = services.get_patient(db.session, patient_id)
        else:
            flash(_("Allergy to %(target)s recorded.", target=services.allergy_target(allergy)), "success")
            return redirect(url_for("patients.record", patient_id=patient.id) + "#allergies")
    return _record_page(patient, form, 422)


@bp.post("/<int:patient_id>/allergies/<int:allergy_id>")
@require(PATIENTS)
def allergy_update(patient_id: int, allergy_id: int):
    patient = services.get_patient(db.session, patient_id)
    allergy = services.get_allergy(patient, allergy_id)
    form = AllergyStatusForm()
    if form.validate_on_submit():
        try:
            allergy_services.update_allergy(db.session, current_user, patient, allergy,
                                            status=form.status.data, reason=form.reason.data)
        except DomainError as exc:
            form_errors(None, exc)
        else:
            flash(_("Allergy to %(target)s is now %(status)s.", target=services.allergy_target(allergy),
                    status=code_word(allergy.status)), "success")
            return redirect(url_for("patients.record", patient_id=patient.id) + "#allergies")
    else:
        flash("The form could not be read; try again.", "danger")
    return redirect(url_for("patients.record", patient_id=patient_id) + "#allergies")


@bp.post("/<int:patient_id>/no-known-allergies")
@require(PATIENTS)
def no_known_allergies(patient_id: int):
    patient = services.get_patient(db.session, patient_id)
    form = NoKnownAllergiesForm()
    if form.validate_on_submit():
        try:
            services.mark_no_known_allergies(db.session, current_user, patient)
        except DomainError as exc:
            form_errors(None, exc)
            return redirect(url_for("patients.record", patient_id=patient_id) + "#allergies")
        flash("Recorded: no known allergies.", "success")
    return redirect(url_for("patients.record", patient_id=patient_id))


def _screened_target(allergy: safety.ScreenAllergy) -> str:
    """What an allergy is to, as :func:`services.allergy_target` says it."""
    if allergy.ingredient_id is not None:
        return allergy.ingredient_name or f"ingredient #{allergy.ingredient_id}"
    return allergy.group or allergy.substance or ""


# The start of a finding's <li>, up to its message, for each kind and level: the same
# few strings for every finding of every page.
_FINDING_LI = {
    (kind, level): (f'<li data-kind="{escape(kind)}" data-level="{escape(level)}"><span '
                    f'class="badge text-bg-{"danger" if level == "block" else "warning"}">'
                    f'{escape(level)}</span> ')
    for kind in safety.KINDS for level in safety.LEVELS}


def _findings_html(results: list[screening.FormulationResult]) -> list[Markup]:
    """The ``<li>`` of every finding of each cocktail shown, escaped. The same findings
    (about the patient, about an ingredient) recur on most cocktails of a page and are
    the same objects: each is rendered once, not once per cocktail."""
    rendered: dict[int, str] = {}
    out = []
    say = tr_here()
    for fr in results:
        items = []
        for f in fr.findings:
            li = rendered.get(id(f))
            if li is None:
                li = rendered[id(f)] = f"{_FINDING_LI[f.kind, f.level]}{escape(say(f.message))}</li>"
            items.append(li)
        out.append(Markup("".join(items)))
    return out


def _picker_rows(results: list[screening.FormulationResult]) -> list[tuple]:
    """Per cocktail shown: the result, its ingredients' names joined (escaped by the
    template), the ``<li>`` of its findings (empty when it has none)."""
    names = [", ".join([i.name for i in fr.ingredients]) for fr in results]
    return list(zip(results, names, _findings_html(results)))


@bp.get("/<int:patient_id>/formulations")
@require(SAFETY)
@writes_on_read
def picker(patient_id: int):
    # The allergies and conditions shown are those screened (the page's), not loaded
    # again with the patient.
    patient = services.get_patient(db.session, patient_id, with_allergies=False)
    area = request.args.get("area") or None
    try:
        area = screening.check_area(area)
    except ValidationError as exc:
        flash(tr(exc.message), "warning")
        area = None
    page = _page_arg()
    found = screening.formulation_page(db.session, patient, area,
                                       offset=(page - 1) * PICKER_PER_PAGE,
                                       limit=PICKER_PER_PAGE)
    if clamp_page(page, found.total, PICKER_PER_PAGE) != page:  # past the last page: the last
        page = clamp_page(page, found.total, PICKER_PER_PAGE)
        found = screening.formulation_page(db.session, patient, area,
                                           offset=(page - 1) * PICKER_PER_PAGE,
                                           limit=PICKER_PER_PAGE)
    services.record_view(db.session, current_user, patient,
                         what=f"formulation picker ({area or 'all areas'})")
    return render_template("patients/picker.html", patient=patient, area=area, areas=AREAS,
                           screened=found.patient, results=_picker_rows(found.items),
                           counts=found.counts, total=found.total,
                           page=page, per_page=PICKER_PER_PAGE,
                           condition_labels=safety.CONDITION_LABELS,
                           area_words={a: code_word(a) for a in AREAS},
                           target=_screened_target, may_start=current_user.may(COURSES),
                           may_prepare=current_user.may(BATCHES))
