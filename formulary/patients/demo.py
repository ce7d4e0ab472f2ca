"""Demo patients, recorded through the services as a practitioner would record them.

Each one exercises the safety screen against the demo cocktails: an amide anaesthetic
allergy (blocks the cocktails with lidocaine), a paraben allergy, an ester anaesthetic
allergy (must not flag lidocaine), a cobalt allergy (cross-reacts with the cobalamins of
the vitamin B complex), a soy allergy (blocks the phosphatidylcholine), a free-text latex
allergy (review by hand), a pregnancy, an anticoagulant therapy, a patient not yet
assessed, and refuted or inactive allergies that no longer count.

Uses ``ctx["users"]``, ``ctx["ingredients"]`` and ``ctx["groups"]`` (names from the
inventory demo; looked up in the database when absent); sets
``ctx["patients"] = {mrn: Patient}``.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from formulary.inventory.models import AllergenGroup, Ingredient
from formulary.patients import allergies, services

# mrn, first name, last name, date of birth, conditions, allergy status when no allergy,
# allergies: (kind, name, severity, reaction, status, reason for a non-active status)
PATIENTS = (
    ("MRN-100231", "Camille", "Laurent", date(1984, 5, 17), (), "known", (
        ("group", "amide local anesthetic", "severe", "urticaria and lip swelling after dental anaesthesia", "active", None),
    )),
    ("MRN-100245", "Sophie", "Bernard", date(1991, 11, 2), (), "known", (
        ("group", "parabens", "moderate", "contact dermatitis (patch test positive to methylparaben)", "active", None),
    )),
    ("MRN-100259", "Thomas", "Petit", date(1976, 3, 29), (), "known", (
        ("ingredient", "Procaine 2%", "severe", "generalised urticaria", "active", None),
    )),
    ("MRN-100262", "Nadia", "Haddad", date(1988, 8, 8), ("diabetes",), "known", (
        ("group", "cobalt", "moderate", "eczema (patch test positive to cobalt chloride)", "active", None),
    )),
    ("MRN-100277", "Julien", "Roux", date(1979, 1, 23), (), "known", (
        ("group", "soy", "anaphylaxis", "anaphylaxis after soy milk", "active", None),
    )),
    ("MRN-100283", "Emma", "Fournier", date(1995, 7, 14), (), "known", (
        ("substance", "latex", "moderate", "hives under latex gloves", "active", None),
    )),
    ("MRN-100298", "Chloé", "Girard", date(1993, 2, 9), ("pregnant",), "none_known", ()),
    ("MRN-100302", "Michel", "Bonnet", date(1958, 12, 1), ("anticoagulant_therapy",), "none_known", ()),
    ("MRN-100316", "Inès", "Mercier", date(2000, 4, 30), (), "unknown", ()),
    ("MRN-100321", "Lucas", "Lambert", date(1987, 9, 19), (), "known", (
        ("group", "amide local anesthetic", "mild", "dizziness after dental anaesthesia", "refuted",
         "Vasovagal reaction; lidocaine challenge tolerated in allergy clinic."),
        ("substance", "penicillin", "moderate", "maculopapular rash", "active", None),
    )),
    ("MRN-100335", "Manon", "Faure", date(1982, 6, 6), ("autoimmune_disease",), "known", (
        ("group", "sulfites", "mild", "wheezing with wine", "inactive",
         "Outgrown: no reaction for ten years."),
    )),
    ("MRN-100349", "Hugo", "André", date(1969, 10, 11), ("cancer",), "none_known", ()),
)


def _by_name(session, model, ctx_map: dict, name: str):
    found = ctx_map.get(name)
    if found is not None:
        return found
    found = session.execute(select(model).where(
        model.name_key == services.name_key(name))).scalar_one_or_none()
    if found is None:
        raise RuntimeError(f"The patients demo needs {model.__name__} {name!r}, which the "
                           "inventory demo did not make.")
    return found


def load(session, ctx: dict) -> None:
    users = ctx.get("users") or {}
    actor = users.get("practitioner") or "demo-data"
    groups = ctx.get("groups") or {}
    ingredients = ctx.get("ingredients") or {}
    made = {}
    for mrn, first, last, born, conditions, status, recorded in PATIENTS:
        patient = services.create_patient(
            session, actor, mrn=mrn, first_name=first, last_name=last, date_of_birth=born,
            conditions=list(conditions),
            allergy_status="none_known" if status == "none_known" else "unknown")
        for kind, name, severity, reaction, allergy_status, reason in recorded:
            target = {}
            if kind == "group":
                target["allergen_group"] = _by_name(session, AllergenGroup, groups, name).name
            elif kind == "ingredient":
                target["ingredient_id"] = _by_name(session, Ingredient, ingredients, name).id
            else:
                target["substance"] = name
            allergy = allergies.add_allergy(session, actor, patient, severity=severity,
                                            reaction=reaction, **target)
            if allergy_status != "active":
                allergies.update_allergy(session, actor, patient, allergy,
                                         status=allergy_status, reason=reason)
        made[mrn] = patient
    ctx["patients"] = made
