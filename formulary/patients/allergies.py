"""Allergies of a patient: record one, change its severity, reaction or status.

An allergy names exactly one of an ingredient, an allergen group or a free-text
substance. Recording any allergy makes the patient assessed (``known``); it stays so
when the allergy is later marked inactive or refuted. Every change is audited.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from formulary.audit.services import record
from formulary.domain import safety
from formulary.db import MAX_ID
from formulary.domain.errors import Duplicate, NotFound, ValidationError
from formulary.domain.messages import msg
from formulary.inventory.models import AllergenGroup, Ingredient
from formulary.patients.models import Allergy, Patient
from formulary.patients.services import (UNSET, _choice, _text, allergy_snapshot, allergy_target,
                                         name_key)

def _ingredient(session: Session, ingredient_id) -> Ingredient:
    if isinstance(ingredient_id, str) and ingredient_id.strip().isdecimal():
        ingredient_id = int(ingredient_id.strip())
    if not isinstance(ingredient_id, int) or isinstance(ingredient_id, bool):
        raise ValidationError("Choose an ingredient by its id.", field="ingredient_id")
    ing = session.get(Ingredient, ingredient_id) if 0 < ingredient_id <= MAX_ID else None
    if ing is None:
        raise ValidationError(msg("There is no ingredient #%(ingredient_id)s.",
                                  ingredient_id=ingredient_id), field="ingredient_id")
    return ing


def _group(session: Session, name) -> AllergenGroup:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("Name an allergen group.", field="allergen_group")
    group = session.execute(select(AllergenGroup).where(
        AllergenGroup.name_key == name_key(name))).scalar_one_or_none()
    if group is None:
        raise ValidationError(msg("There is no allergen group '%(name)s'.",
                                  name=name.strip()),
                              field="allergen_group")
    return group


def _code_free_text(session: Session, text: str):
    """Free text that is exactly the name of a group or an ingredient is recorded as
    that group or ingredient: a coded allergy also finds cross-reactions."""
    key = name_key(text)
    group = session.execute(select(AllergenGroup).where(AllergenGroup.name_key == key)).scalar_one_or_none()
    if group is not None:
        return None, group
    ing = session.execute(select(Ingredient).where(Ingredient.name_key == key)).scalar_one_or_none()
    return ing, None


def free_text_suggestions(session: Session, text: str) -> list[tuple[str, object, str]]:
    """What a free-text allergy names on file (the screen's rule, ``free_text_names``),
    to offer recording it as that instead: ``[("ingredient_id", id, name)]`` for active
    ingredients, then ``[("allergen_group", name, name)]`` for groups."""
    text = (text or "").strip()
    if not text:
        return []
    out: list[tuple[str, object, str]] = []
    for ing_id, name in session.execute(select(Ingredient.id, Ingredient.name)
                                        .where(Ingredient.active.is_(True)).order_by(Ingredient.name_key)):
        if safety.free_text_names(text, name):
            out.append(("ingredient_id", ing_id, name))
    for (name,) in session.execute(select(AllergenGroup.name).order_by(AllergenGroup.name_key)):
        if safety.free_text_names(text, name):
            out.append(("allergen_group", name, name))
    return out


def add_allergy(session: Session, actor, patient: Patient, *, ingredient_id=None,
                allergen_group=None, substance=None, severity=None, reaction="",
                status="active") -> Allergy:
    """Record an allergy to exactly one of: an ingredient (by id), an allergen group (by
    name) or a substance (free text). The patient is then assessed (``known``)."""
    given = [n for n, v in (("ingredient_id", ingredient_id), ("allergen_group", allergen_group),
                            ("substance", substance)) if v not in (None, "")]
    errors: dict[str, list[str]] = {}
    if len(given) != 1:
        message = ("Name the allergen: an ingredient, an allergen group or a free-text substance."
                   if not given else "Name only one allergen: " + ", ".join(given) + " were given.")
        for name in given or ["substance"]:
            errors[name] = [message]
    ing = group = None
    text = None
    checks = [
        ("severity", lambda: _choice(severity, safety.SEVERITIES, "severity", msg("Severity"))),
        ("reaction", lambda: _text(reaction, "reaction", msg("Reaction"), required=False,
                                   max_length=300)),
        ("status", lambda: _choice(status, safety.ALLERGY_STATUSES, "status", msg("Status")))]
    if len(given) == 1:
        checks.insert(0, ("target", lambda: (
            _ingredient(session, ingredient_id) if given[0] == "ingredient_id"
            else _group(session, allergen_group) if given[0] == "allergen_group"
            else _text(substance, "substance", msg("Substance"), required=True, max_length=200))))
    for field, check in checks:
        try:
            value = check()
        except ValidationError as exc:
            for k, v in exc.fields.items():
                errors.setdefault(k, []).extend(v)
            continue
        if field == "target":
            if isinstance(value, Ingredient):
                ing = value
            elif isinstance(value, AllergenGroup):
                group = value
            else:
                text = value
    if errors:
        raise ValidationError("Check the highlighted fields.", fields=errors)
    if text is not None:
        ing, group = _code_free_text(session, text)
        if ing is not None or group is not None:
            text = None
    for other in patient.allergies:
        same = ((ing is not None and other.ingredient_id == ing.id)
                or (group is not None and other.allergen_group_id == group.id)
                or (text is not None and other.substance is not None
                    and name_key(other.substance) == name_key(text)))
        if same and other.status == "active" and status == "active":
            raise Duplicate(msg("This allergy is already on file (%(target)s); "
                                "change that one instead.",
                                target=allergy_target(other)), field=given[0])
    allergy = Allergy(ingredient=ing, allergen_group=group, substance=text, severity=severity,
                      reaction=_text(reaction, "reaction", msg("Reaction"), required=False,
                                     max_length=300),
                      status=status, recorded_by_id=getattr(actor, "id", None))
    patient.allergies.append(allergy)
    status_before = patient.allergy_status
    patient.allergy_status = "known"
    session.flush()
    record(session, actor, "allergy.create", "patient", patient.id,
           summary=f"Allergy to {allergy_target(allergy)} recorded for patient {patient.mrn}",
           after=dict(allergy_snapshot(allergy), id=allergy.id,
                      patient_allergy_status=patient.allergy_status),
           before={"patient_allergy_status": status_before})
    return allergy


def update_allergy(session: Session, actor, patient: Patient, allergy: Allergy, *,
                   severity=UNSET, reaction=UNSET, status=UNSET, reason=None) -> Allergy:
    """Change an allergy's severity, reaction or status. A change of status (an allergy
    refuted by a test, no longer active) needs a reason, which the audit log keeps."""
    if allergy.patient_id != patient.id:
        raise NotFound("No such allergy on this patient's record.")
    before = allergy_snapshot(allergy)
    errors: dict[str, list[str]] = {}
    values = {}
    for field, value, check in (
            ("severity", severity, lambda v: _choice(v, safety.SEVERITIES, "severity", msg("Severity"))),
            ("reaction", reaction, lambda v: _text(v, "reaction", msg("Reaction"), required=False,
                                                   max_length=300)),
            ("status", status, lambda v: _choice(v, safety.ALLERGY_STATUSES, "status", msg("Status")))):
        if value is UNSET:
            continue
        try:
            values[field] = check(value)
        except ValidationError as exc:
            for k, v in exc.fields.items():
                errors.setdefault(k, []).extend(v)
    try:
        reason = _text(reason, "reason", msg("Reason"), required=False, max_length=300) or None
    except ValidationError as exc:
        errors.setdefault("reason", []).extend(exc.fields["reason"])
    if "status" in values and values["status"] != allergy.status and not reason and not errors:
        errors["reason"] = ["Say why the allergy's status changes (e.g. a negative test)."]
    if errors:
        raise ValidationError("Check the highlighted fields.", fields=errors)
    if "status" in values and values["status"] == "active" and allergy.status != "active":
        for other in patient.allergies:
            if other is not allergy and other.status == "active" and (
                    (other.ingredient_id is not None and other.ingredient_id == allergy.ingredient_id)
                    or (other.allergen_group_id is not None
                        and other.allergen_group_id == allergy.allergen_group_id)
                    or (other.substance and allergy.substance
                        and name_key(other.substance) == name_key(allergy.substance))):
                raise Duplicate("The same allergy is already active on file.", field="status")
    for field, value in values.items():
        setattr(allergy, field, value)
    if allergy.status == "active":
        patient.allergy_status = "known"
    after = allergy_snapshot(allergy)
    if after != before:
        session.flush()
        changed = sorted(k for k in after if after[k] != before[k])
        record(session, actor, "allergy.update", "patient", patient.id,
               summary=f"Allergy to {allergy_target(allergy)} of patient {patient.mrn}: "
                       + ", ".join(f"{k} {before[k]} -> {after[k]}" if k == "status" else k
                                   for k in changed),
               before=dict({k: before[k] for k in changed}, id=allergy.id),
               after=dict({k: after[k] for k in changed}, id=allergy.id), reason=reason)
    return allergy
