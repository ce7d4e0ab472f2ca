"""Patients, their conditions and allergies: one function per action, actor passed in.

Every change is audited; so is every view of a patient's record (``patient.view``).

Allergy status (SPEC §6): ``unknown`` until assessed; ``none_known`` when assessed with
no allergy, refused while an active allergy is on file; ``known`` once an allergy is
recorded, and it stays assessed (``known``) when allergies are later marked inactive or
refuted. It cannot go back to ``unknown`` once an allergy is on file, and cannot be
``known`` with no allergy on file.
"""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import and_, column, func, literal_column, select, table
from sqlalchemy.orm import Session, selectinload

from formulary import clock
from formulary.audit.services import record
from formulary.domain import safety
from formulary.domain.errors import Duplicate, InvalidState, NotFound, ValidationError
from formulary.domain.listing import parse_sort
from formulary.domain.messages import msg
from formulary.domain.text import check_text, search_words, text_key
from formulary.extensions import db
from formulary.listing import SortColumns
from formulary.patients.models import NOTES_MAX, Allergy, Patient, PatientCondition
from formulary.patients.search import FTS_TABLE

UNSET = object()
MAX_NAME = 80
MAX_MRN = 40
OLDEST_BIRTH = date(1900, 1, 1)


def name_key(text: str) -> str:
    """The one comparison key of names (``formulary.domain.text.text_key``)."""
    return text_key(text)


# --------------------------------------------------------------------------- reading

def get_patient(session: Session, patient_id, *, with_allergies: bool = True) -> Patient:
    if not isinstance(patient_id, int) or isinstance(patient_id, bool):
        raise NotFound("No such patient.")
    stmt = select(Patient).where(Patient.id == patient_id)
    if with_allergies:
        stmt = stmt.options(
            selectinload(Patient.conditions),
            selectinload(Patient.allergies).options(
                selectinload(Allergy.ingredient), selectinload(Allergy.allergen_group)))
    patient = session.execute(stmt).scalar_one_or_none()
    if patient is None:
        raise NotFound("No such patient.")
    return patient


def get_allergy(patient: Patient, allergy_id) -> Allergy:
    for allergy in patient.allergies:
        if allergy.id == allergy_id:
            return allergy
    raise NotFound("No such allergy on this patient's record.")


#: The orders of the patient list (page and API): ``listing.SortColumns``. By name is
#: by the search column (last then first name, case and accents ignored: its btree index).
PATIENT_SORT = SortColumns(
    columns={"name": (Patient.search_text,),
             "mrn": func.lower(Patient.mrn), "date_of_birth": Patient.date_of_birth},
    default="name", tiebreak=(Patient.id,))


def default_patient_sort():
    return parse_sort(None, PATIENT_SORT.keys, PATIENT_SORT.default)


def matching(q: str | None, dialect: str | None = None):
    """The condition "the patient's record holds every word of ``q`` (at most four) in
    their last or first name, MRN or date of birth", case and accents ignored, a date
    typed day first read as the ISO date (``domain.text.search_words``); ``None`` for a
    blank ``q``. The one place patients are matched by what a person types: the patient
    list, the API, the batch list's patient filter and the global search.

    Served by an index on both databases (``patients.search``): a word of three
    characters or more is looked up in the trigram GIN index of ``Patient.search_text``
    on PostgreSQL, in its FTS5 trigram table on SQLite; a shorter one is matched by
    ``LIKE`` on the column. ``dialect`` defaults to the app's database's."""
    words = search_words(q)
    if not words:
        return None
    if dialect is None:
        dialect = db.engine.dialect.name
    clauses = []
    for word in words:
        like = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        if dialect == "sqlite" and len(word) >= 3:
            phrase = '"' + word.replace('"', '""') + '"'
            clauses.append(Patient.id.in_(
                select(_FTS.c.rowid).where(_FTS_MATCH.bool_op("MATCH")(phrase))))
        else:
            clauses.append(Patient.search_text.like(like, escape="\\"))
    return and_(*clauses)


def search_statement(q: str | None = None, dialect: str | None = None):
    """Patients matching ``q`` (:func:`matching`), by last then first name."""
    stmt = PATIENT_SORT.apply(select(Patient), default_patient_sort())
    condition = matching(q, dialect)
    return stmt if condition is None else stmt.where(condition)


def patient_batches(session: Session, patient: Patient, limit: int) -> list:
    """The patient's newest batches (at most ``limit``) with their effective state now:
    ``[(batch, BatchState)]``, for the patient's record."""
    from formulary.compounding.queries import batches_query  # compounding builds on patients
    from formulary.compounding.state import state_of

    now = clock.now()
    batches = session.execute(batches_query(patient_id=patient.id).limit(limit)).unique().scalars().all()
    return [(b, state_of(b, now)) for b in batches]


_FTS = table(FTS_TABLE, column("rowid"))
_FTS_MATCH = literal_column(FTS_TABLE)


def record_view(session: Session, actor, patient: Patient, *, what: str = "record",
                via: str = "page") -> None:
    """Audit one view of a patient's record (by a page or the API)."""
    record(session, actor, "patient.view", "patient", patient.id,
           summary=f"Viewed the {what} of patient {patient.mrn} ({via})")


# --------------------------------------------------------------------------- snapshots

def allergy_target(allergy: Allergy) -> str:
    if allergy.ingredient_id is not None:
        return allergy.ingredient.name if allergy.ingredient is not None else f"ingredient #{allergy.ingredient_id}"
    if allergy.allergen_group_id is not None:
        return allergy.allergen_group.name if allergy.allergen_group is not None else "group"
    return allergy.substance or ""


def patient_snapshot(patient: Patient) -> dict:
    return {"mrn": patient.mrn, "first_name": patient.first_name, "last_name": patient.last_name,
            "date_of_birth": patient.date_of_birth, "allergy_status": patient.allergy_status,
            "conditions": sorted(c.condition for c in patient.conditions),
            "notes": patient.notes}


def allergy_snapshot(allergy: Allergy) -> dict:
    return {"ingredient_id": allergy.ingredient_id, "allergen_group_id": allergy.allergen_group_id,
            "substance": allergy.substance, "target": allergy_target(allergy),
            "severity": allergy.severity, "reaction": allergy.reaction, "status": allergy.status}


# --------------------------------------------------------------------------- checks

def _text(value, field: str, label: str, *, required: bool, max_length: int) -> str:
    """A patient's free text: the shared check (a visible letter or digit; SPEC §3)."""
    return check_text(value, field, label, required=required, max_length=max_length,
                      multiline=field == "notes")


_MRN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


def _mrn(value) -> str:
    mrn = _text(value, "mrn", msg("Medical record number"), required=True, max_length=MAX_MRN)
    if not _MRN_RE.match(mrn):
        raise ValidationError("Use letters, digits, '.', '-', '_' or '/' (no spaces).", field="mrn")
    return mrn


def _birth(value) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        from formulary.api.core import parse_date  # the API's date reader, one rule

        value = parse_date(value, "date_of_birth")
    if not isinstance(value, date):
        raise ValidationError("Use a date written YYYY-MM-DD.", field="date_of_birth")
    if value > clock.today():
        raise ValidationError("The date of birth cannot be in the future.", field="date_of_birth")
    if value < OLDEST_BIRTH:
        raise ValidationError("The date of birth is before 1900: check it.", field="date_of_birth")
    return value


def _conditions(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)):
        raise ValidationError("Conditions must be a list.", field="conditions")
    unknown = [c for c in value if c not in safety.CONDITIONS]
    if unknown:
        raise ValidationError(msg("Unknown condition(s): %(unknown)s; known: %(known)s.",
                                  unknown=", ".join(map(str, unknown)),
                                  known=', '.join(safety.CONDITIONS)), field="conditions")
    return sorted(set(value))


def _choice(value, allowed, field: str, label: str) -> str:
    if value not in allowed:
        raise ValidationError(msg("%(label)s must be one of: %(choices)s.",
                                  label=label, choices=', '.join(allowed)), field=field)
    return value


def _check_mrn_free(session: Session, mrn: str, patient_id: int | None) -> None:
    stmt = select(Patient.id).where(func.lower(Patient.mrn) == mrn.lower())
    if patient_id is not None:
        stmt = stmt.where(Patient.id != patient_id)
    if session.execute(stmt.limit(1)).first() is not None:
        raise Duplicate(msg("Another patient has the medical record number %(mrn)s.",
                            mrn=mrn), field="mrn")


def _has_active_allergy(patient: Patient) -> bool:
    return any(a.status == "active" for a in patient.allergies)


def _check_allergy_status(patient: Patient, status) -> str:
    status = _choice(status, safety.ALLERGY_ASSESSMENTS, "allergy_status", msg("Allergy status"))
    if status == "none_known" and _has_active_allergy(patient):
        raise InvalidState("An active allergy is on file: mark it inactive or refuted before "
                           "recording 'no known allergies'.", field="allergy_status")
    if status == "unknown" and patient.allergies:
        raise InvalidState("Allergies have been recorded: the patient has been assessed.",
                           field="allergy_status")
    if status == "known" and not patient.allergies:
        raise ValidationError("Record the allergy itself; the status follows.",
                              field="allergy_status")
    return status


# --------------------------------------------------------------------------- patients

def create_patient(session: Session, actor, *, mrn, first_name, last_name, date_of_birth=None,
                   conditions=(), allergy_status="unknown", notes="") -> Patient:
    errors: dict[str, list[str]] = {}
    values = {}
    for field, check in (("mrn", lambda: _mrn(mrn)),
                         ("first_name", lambda: _text(first_name, "first_name", msg("First name"),
                                                      required=True, max_length=MAX_NAME)),
                         ("last_name", lambda: _text(last_name, "last_name", msg("Last name"),
                                                     required=True, max_length=MAX_NAME)),
                         ("date_of_birth", lambda: _birth(date_of_birth)),
                         ("conditions", lambda: _conditions(conditions)),
                         ("notes", lambda: _notes(notes)),
                         ("allergy_status", lambda: _choice(
                             allergy_status, ("unknown", "none_known"), "allergy_status",
                             msg("A new patient's allergy status")))):
        try:
            values[field] = check()
        except ValidationError as exc:
            for k, v in exc.fields.items():
                errors.setdefault(k, []).extend(v)
    if errors:
        raise ValidationError("Check the highlighted fields.", fields=errors)
    _check_mrn_free(session, values["mrn"], None)
    patient = Patient(mrn=values["mrn"], first_name=values["first_name"],
                      last_name=values["last_name"], date_of_birth=values["date_of_birth"],
                      allergy_status=values["allergy_status"], notes=values["notes"])
    patient.conditions = [PatientCondition(condition=c) for c in values["conditions"]]
    patient.allergies = []
    session.add(patient)
    session.flush()
    record(session, actor, "patient.create", "patient", patient.id,
           summary=f"Patient {patient.mrn} recorded", after=patient_snapshot(patient))
    return patient


def _notes(value) -> str:
    return _text(value, "notes", msg("Notes"), required=False, max_length=NOTES_MAX) if value else ""


def update_patient(session: Session, actor, patient: Patient, *, mrn=UNSET, first_name=UNSET,
                   last_name=UNSET, date_of_birth=UNSET, conditions=UNSET, allergy_status=UNSET,
                   notes=UNSET, reason: str | None = None) -> Patient:
    """Change the fields given (others stay). Nothing changes if any field is refused."""
    before = patient_snapshot(patient)
    errors: dict[str, list[str]] = {}
    values = {}
    checks = {
        "mrn": (mrn, _mrn),
        "first_name": (first_name, lambda v: _text(v, "first_name", msg("First name"),
                                                   required=True, max_length=MAX_NAME)),
        "last_name": (last_name, lambda v: _text(v, "last_name", msg("Last name"),
                                                 required=True, max_length=MAX_NAME)),
        "date_of_birth": (date_of_birth, _birth),
        "conditions": (conditions, _conditions),
        "notes": (notes, _notes),
    }
    for field, (value, check) in checks.items():
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
    if errors:
        raise ValidationError("Check the highlighted fields.", fields=errors)
    if allergy_status is not UNSET:
        values["allergy_status"] = _check_allergy_status(patient, allergy_status)
    if "mrn" in values and values["mrn"] != patient.mrn:
        _check_mrn_free(session, values["mrn"], patient.id)
    for field in ("mrn", "first_name", "last_name", "date_of_birth", "notes", "allergy_status"):
        if field in values:
            setattr(patient, field, values[field])
    if "conditions" in values:
        current = {c.condition: c for c in patient.conditions}
        patient.conditions = [current.get(c) or PatientCondition(condition=c)
                              for c in values["conditions"]]
    after = patient_snapshot(patient)
    if after != before:
        session.flush()
        changed = sorted(k for k in after if after[k] != before[k])
        record(session, actor, "patient.update", "patient", patient.id,
               summary=f"Patient {patient.mrn}: {', '.join(changed)} changed",
               before={k: before[k] for k in changed}, after={k: after[k] for k in changed},
               reason=reason)
    return patient


def mark_no_known_allergies(session: Session, actor, patient: Patient) -> Patient:
    """The patient was asked and has no known allergy (refused while one is active)."""
    return update_patient(session, actor, patient, allergy_status="none_known")
