"""Patients, allergies, the safety screen and the formulation picker (SPEC §9).

Every read of a patient's record (the record, a screen, the picker) is audited as
``patient.view``.
"""

from __future__ import annotations


from flask import current_app, request

from formulary.api import schema as S
from formulary.api.core import (PAGE_QUERY, api_route, arg_int, created, current_api_user, iso,
                                json_body, json_encoder, only_fields, paginate, sort_query)
from formulary.auth.permissions import PATIENTS, SAFETY
from formulary.cocktails.models import AREAS, Cocktail
from formulary.domain import safety
from formulary.domain.errors import InvalidState, NotFound, ValidationError
from formulary.domain.listing import clamp_page
from formulary.domain.messages import msg
from formulary.extensions import db
from formulary.i18n import tr, tr_here
from formulary.patients import allergies as allergy_services
from formulary.patients import screening, services
from formulary.patients.models import Allergy, Patient
from formulary.transaction import writes_on_read

ALLERGY = S.component("Allergy", S.obj(
    required=("id", "severity", "status"),
    id=S.integer(), ingredient_id=S.integer(null=True), ingredient=S.string(null=True),
    allergen_group=S.string(null=True), substance=S.string(null=True),
    severity=S.string(enum=safety.SEVERITIES), reaction=S.string(),
    status=S.string(enum=safety.ALLERGY_STATUSES), recorded_at=S.string(fmt="date-time"),
    updated_at=S.string(fmt="date-time"),
    names_on_file=S.array(S.obj(required=("kind", "name"), kind=S.string(enum=("ingredient", "allergen_group")),
                                id=S.integer(null=True), name=S.string()),
                          description="free text only: the ingredients and groups it names, "
                                      "which the allergy could be recorded as instead"),
))
PATIENT = S.component("Patient", S.obj(
    required=("id", "mrn", "first_name", "last_name", "allergy_status", "conditions", "allergies"),
    id=S.integer(), mrn=S.string(), first_name=S.string(), last_name=S.string(),
    date_of_birth=S.string(fmt="date", null=True), notes=S.string(),
    allergy_status=S.string(enum=safety.ALLERGY_ASSESSMENTS),
    conditions=S.array(S.string(enum=safety.CONDITIONS)), allergies=S.array(ALLERGY),
    created_at=S.string(fmt="date-time"), updated_at=S.string(fmt="date-time"),
))
PATIENT_FIELDS = dict(
    mrn=S.string(max_length=40), first_name=S.string(max_length=80),
    last_name=S.string(max_length=80), date_of_birth=S.string(fmt="date", null=True),
    conditions=S.array(S.string(enum=safety.CONDITIONS)), notes=S.string(),
    allergy_status=S.string(enum=safety.ALLERGY_ASSESSMENTS),
)
FINDING = S.component("Finding", S.obj(
    required=("level", "kind", "ingredient_id", "message"),
    level=S.string(enum=safety.LEVELS), kind=S.string(enum=safety.KINDS),
    ingredient_id=S.integer(null=True), message=S.string(),
))
SCREEN = S.component("SafetyScreen", S.obj(
    required=("verdict", "findings", "cocktail_id", "version"),
    verdict=S.string(enum=safety.VERDICTS), findings=S.array(FINDING),
    cocktail_id=S.integer(), version=S.integer(), name=S.string(), area=S.string(enum=AREAS),
))


def allergy_json(a: Allergy) -> dict:
    return {"id": a.id, "ingredient_id": a.ingredient_id,
            "ingredient": a.ingredient.name if a.ingredient is not None else None,
            "allergen_group": a.allergen_group.name if a.allergen_group is not None else None,
            "substance": a.substance, "severity": a.severity, "reaction": a.reaction,
            "status": a.status, "recorded_at": iso(a.recorded_at), "updated_at": iso(a.updated_at),
            **({"names_on_file": [
                {"kind": "ingredient", "id": value, "name": name} if kind == "ingredient_id"
                else {"kind": "allergen_group", "id": None, "name": name}
                for kind, value, name in allergy_services.free_text_suggestions(db.session, a.substance)]}
               if a.substance else {})}


def patient_json(p: Patient) -> dict:
    return {"id": p.id, "mrn": p.mrn, "first_name": p.first_name, "last_name": p.last_name,
            "date_of_birth": iso(p.date_of_birth), "notes": p.notes,
            "allergy_status": p.allergy_status,
            "conditions": [c.condition for c in p.conditions],
            "allergies": [allergy_json(a) for a in p.allergies],
            "created_at": iso(p.created_at), "updated_at": iso(p.updated_at)}


def patient_summary_json(p: Patient) -> dict:
    return {"id": p.id, "mrn": p.mrn, "first_name": p.first_name, "last_name": p.last_name,
            "date_of_birth": iso(p.date_of_birth), "allergy_status": p.allergy_status}


def finding_json(f: safety.Finding, say=tr) -> dict:
    """(``say``: ``tr``, or a page's ``i18n.tr_here()``.)"""
    return {"level": f.level, "kind": f.kind, "ingredient_id": f.ingredient_id,
            "message": say(f.message)}


def findings_json(result: safety.ScreenResult) -> list[dict]:
    return [finding_json(f) for f in result.findings]


def _patient(patient_id: int) -> Patient:
    return services.get_patient(db.session, patient_id)


def _read(patient: Patient) -> dict:
    db.session.flush()
    return patient_json(patient)


@api_route("/patients", ["GET"], summary="Find patients by MRN or name", tag="patients",
           permission=PATIENTS,
           query=(("q", S.string(), "words found in the MRN or the names, or the date of birth "
                   "(YYYY-MM-DD or DD/MM/YYYY)"), sort_query(services.PATIENT_SORT), *PAGE_QUERY),
           responses={200: S.page_of(S.obj(id=S.integer(), mrn=S.string(),
                                           first_name=S.string(), last_name=S.string(),
                                           date_of_birth=S.string(fmt="date", null=True),
                                           allergy_status=S.string()))})
def list_patients():
    return paginate(services.search_statement(request.args.get("q")), patient_summary_json,
                    sort=services.PATIENT_SORT)


@api_route("/patients", ["POST"], summary="Record a patient", tag="patients",
           permission=PATIENTS,
           body=S.obj(required=("mrn", "first_name", "last_name"), **PATIENT_FIELDS),
           responses={201: PATIENT})
def create_patient():
    data = only_fields(json_body(), PATIENT_FIELDS)
    patient = services.create_patient(
        db.session, current_api_user(), mrn=data.get("mrn"), first_name=data.get("first_name"),
        last_name=data.get("last_name"), date_of_birth=data.get("date_of_birth"),
        conditions=data.get("conditions") or [], notes=data.get("notes") or "",
        allergy_status=data.get("allergy_status", "unknown"))
    return created(_read(patient))


@api_route("/patients/<int:patient_id>", ["GET"], summary="A patient's record (audited)",
           tag="patients", permission=PATIENTS, responses={200: PATIENT})
@writes_on_read
def get_patient(patient_id: int):
    patient = _patient(patient_id)
    services.record_view(db.session, current_api_user(), patient, via="api")
    return patient_json(patient)


@api_route("/patients/<int:patient_id>", ["PATCH"], summary="Change a patient's record",
           tag="patients", permission=PATIENTS,
           body=S.obj(reason=S.string(), **PATIENT_FIELDS), responses={200: PATIENT})
def update_patient(patient_id: int):
    data = only_fields(json_body(), set(PATIENT_FIELDS) | {"reason"})
    patient = _patient(patient_id)
    changes = {k: data[k] for k in PATIENT_FIELDS if k in data}
    if "conditions" in changes and changes["conditions"] is None:
        changes["conditions"] = []
    services.update_patient(db.session, current_api_user(), patient,
                            reason=data.get("reason") if isinstance(data.get("reason"), str) else None,
                            **changes)
    return _read(patient)


ALLERGY_IN = dict(
    ingredient_id=S.integer(null=True), allergen_group=S.string(null=True),
    substance=S.string(null=True, max_length=200), severity=S.string(enum=safety.SEVERITIES),
    reaction=S.string(max_length=300), status=S.string(enum=safety.ALLERGY_STATUSES),
)


@api_route("/patients/<int:patient_id>/allergies", ["POST"], summary="Record an allergy",
           tag="patients", permission=PATIENTS,
           description="Exactly one of ingredient_id, allergen_group (a name) or substance "
                       "(free text). Free text that is exactly a group's or an ingredient's "
                       "name is recorded as that group or ingredient.",
           body=S.obj(required=("severity",), **ALLERGY_IN), responses={201: ALLERGY})
def add_allergy(patient_id: int):
    data = only_fields(json_body(), ALLERGY_IN)
    patient = _patient(patient_id)
    ingredient_id = data.get("ingredient_id")
    if ingredient_id is not None and (not isinstance(ingredient_id, int) or isinstance(ingredient_id, bool)):
        raise ValidationError("Must be an ingredient's id (a whole number).", field="ingredient_id")
    allergy = allergy_services.add_allergy(
        db.session, current_api_user(), patient, ingredient_id=ingredient_id,
        allergen_group=data.get("allergen_group"), substance=data.get("substance"),
        severity=data.get("severity"), reaction=data.get("reaction") or "",
        status=data.get("status", "active"))
    db.session.flush()
    return created(allergy_json(allergy))


@api_route("/patients/<int:patient_id>/allergies/<int:allergy_id>", ["PATCH"],
           summary="Change an allergy's severity, reaction or status", tag="patients",
           permission=PATIENTS,
           body=S.obj(severity=S.string(enum=safety.SEVERITIES), reaction=S.string(),
                      status=S.string(enum=safety.ALLERGY_STATUSES),
                      reason=S.string(description="required when the status changes")),
           responses={200: ALLERGY})
def update_allergy(patient_id: int, allergy_id: int):
    data = only_fields(json_body(), {"severity", "reaction", "status", "reason"})
    patient = _patient(patient_id)
    allergy = services.get_allergy(patient, allergy_id)
    changes = {k: data[k] for k in ("severity", "reaction", "status") if k in data}
    allergy_services.update_allergy(db.session, current_api_user(), patient, allergy,
                                    reason=data.get("reason"), **changes)
    db.session.flush()
    return allergy_json(allergy)


def _screen_head_json(cocktail, version, result: safety.ScreenResult) -> dict:
    return {"cocktail_id": cocktail.id, "name": cocktail.name, "area": version.area,
            "version": version.number, "verdict": result.verdict}


def screen_json(cocktail, version, result: safety.ScreenResult) -> dict:
    return {**_screen_head_json(cocktail, version, result), "findings": findings_json(result)}


@api_route("/patients/<int:patient_id>/safety", ["GET"],
           summary="Screen a patient against a cocktail's active version (audited)",
           tag="safety", permission=SAFETY,
           query=(("cocktail_id", S.integer(), "the cocktail to screen (required)"),),
           responses={200: SCREEN})
@writes_on_read
def patient_safety(patient_id: int):
    cocktail_id = arg_int("cocktail_id")
    if cocktail_id is None:
        raise ValidationError("Give the cocktail to screen: ?cocktail_id=.", field="cocktail_id")
    patient = services.get_patient(db.session, patient_id, with_allergies=False)
    cocktail = db.session.get(Cocktail, cocktail_id)
    if cocktail is None:
        raise NotFound(msg("There is no cocktail #%(cocktail_id)s.",
                           cocktail_id=cocktail_id))
    if cocktail.status != "active" or cocktail.active_version is None:
        raise InvalidState(msg("%(cocktail_name)s has no active version to screen.",
                               cocktail_name=cocktail.name),
                           field="cocktail_id")
    version = cocktail.active_version
    result = screening.screen_patient(db.session, patient, version)
    services.record_view(db.session, current_api_user(), patient,
                         what=f"safety screen against {cocktail.name}", via="api")
    return screen_json(cocktail, version, result)


@api_route("/patients/<int:patient_id>/formulations", ["GET"],
           summary="Every active cocktail with its verdict for the patient (audited)",
           tag="safety", permission=SAFETY,
           description="Safe first, then caution, then blocked; by name within a verdict.",
           query=(("area", S.string(enum=AREAS), "one area (default: all)"), *PAGE_QUERY),
           responses={200: S.page_of(SCREEN)})
@writes_on_read
def patient_formulations(patient_id: int):
    area = screening.check_area(request.args.get("area"))
    page = arg_int("page", 1, minimum=1)
    per_page = arg_int("per_page", current_app.config["API_MAX_PER_PAGE"], minimum=1,
                       maximum=current_app.config["API_MAX_PER_PAGE"])
    patient = services.get_patient(db.session, patient_id, with_allergies=False)
    found = screening.formulation_page(db.session, patient, area,
                                       offset=(page - 1) * per_page, limit=per_page)
    if clamp_page(page, found.total, per_page) != page:  # past the last page: the last
        page = clamp_page(page, found.total, per_page)
        found = screening.formulation_page(db.session, patient, area,
                                           offset=(page - 1) * per_page, limit=per_page)
    services.record_view(db.session, current_api_user(), patient,
                         what=f"formulations ({area or 'all areas'})", via="api")
    return current_app.response_class(_formulations_body(found, page, per_page) + "\n",
                                      mimetype="application/json")


def _formulations_body(found: screening.FormulationPage, page: int, per_page: int) -> str:
    """The page as JSON: ``{items: [screen_json...], total, page, per_page}``, the text
    the app's JSON provider writes for it. Up to 500 cocktails with some twenty findings
    each, most of them the same few findings (about the patient, about an ingredient) and
    the same objects: each is encoded once, then the text is put together, instead of
    encoding tens of thousands of dicts. One encoder with the provider's settings
    serves the whole page (the provider's ``dumps`` makes one per call)."""
    dumps = json_encoder()
    say = tr_here()
    encoded: dict[int, str] = {}  # by the finding's identity (each one is held by found)
    known = encoded.get
    items = []
    for fr in found.items:
        fs = fr.findings
        findings = [known(id(f)) for f in fs]
        if None in findings:
            for n, f in enumerate(fs):
                if findings[n] is None:
                    findings[n] = encoded[id(f)] = dumps(finding_json(f, say))
        head = dumps(_screen_head_json(fr.cocktail, fr.version, fr.result))
        items.append(f'{head[:-1]},"findings":[{",".join(findings)}]}}')
    rest = dumps({"total": found.total, "page": page, "per_page": per_page})
    return f'{{"items":[{",".join(items)}],{rest[1:]}'
