"""Adverse events on an administration (SPEC §11), their listing by ingredient and lot,
and "record this as an allergy" for an allergic reaction.

The allergy action records an allergy to each ingredient of the administration's
cocktail version (all of them unless the caller names some): which one caused the
reaction is not known, so each is a candidate, and the next administration of that
cocktail is blocked by the screen until a practitioner marks the ones refuted.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from formulary.audit.services import record
from formulary.cocktails.models import Component
from formulary.courses import event_report
from formulary.courses.models import Administration, AdverseEvent
from formulary.courses.services import a_date, clean_text
from formulary.domain import courses as rules
from formulary.domain.errors import Duplicate, InvalidState, NotFound, ValidationError
from formulary.domain.messages import msg
from formulary.patients import allergies as allergy_services
from formulary.patients.models import Allergy, Patient

MAX_TEXT = 2000
#: An adverse event's severity as the allergy's (an allergy may also be anaphylaxis).
ALLERGY_SEVERITY = {"mild": "mild", "moderate": "moderate", "severe": "severe"}


def get_event(session: Session, event_id) -> AdverseEvent:
    event = session.get(AdverseEvent, event_id) if isinstance(event_id, int) else None
    if event is None:
        raise NotFound(msg("There is no adverse event #%(event_id)s.",
                           event_id=event_id))
    return event


def record_event(session: Session, actor, adm: Administration, *, onset, kind, severity,
                 serious=False, outcome=None, action=None, today: date,
                 given_on: date) -> AdverseEvent:
    """An adverse event after ``adm`` (given on ``given_on``, the clinic's date)."""
    if kind not in rules.EVENT_KINDS:
        raise ValidationError(msg("Use one of: %(choices)s.",
                                  choices=', '.join(rules.EVENT_KINDS)), field="kind")
    if severity not in rules.EVENT_SEVERITIES:
        raise ValidationError(msg("Use one of: %(choices)s.",
                                  choices=', '.join(rules.EVENT_SEVERITIES)),
                              field="severity")
    if not isinstance(serious, bool):
        raise ValidationError("Serious is yes or no (true or false).", field="serious")
    on = a_date(onset, "onset")
    if on > today:
        raise ValidationError("The onset cannot be in the future.", field="onset")
    if on < given_on:
        raise ValidationError(msg("The onset cannot be before the administration "
                                  "(%(given_on)s).",
                                  given_on=given_on), field="onset")
    outcome = clean_text(outcome, "outcome", msg("The outcome"), required=False, limit=MAX_TEXT)
    action = clean_text(action, "action", msg("The action taken"), required=False, limit=MAX_TEXT)
    event = AdverseEvent(administration_id=adm.id, patient_id=adm.patient_id, onset=on,
                         kind=kind, severity=severity, serious=serious, outcome=outcome,
                         action=action, recorded_by_id=actor.id)
    session.add(event)
    session.flush()
    record(session, actor, "adverse_event.create", "adverse_event", event.id,
           summary=f"Adverse event ({kind}, {severity}{', serious' if serious else ''}) after "
                   f"administration #{adm.id}",
           after={"administration_id": adm.id, "onset": on, "kind": kind,
                  "severity": severity, "serious": serious, "outcome": outcome,
                  "action": action})
    return event


def events_query(*, ingredient_id: int | None = None, lot_id: int | None = None,
                 date_from: date | None = None, date_to: date | None = None):
    """Adverse events, newest onset first; by an ingredient or a lot that the
    administration gave, and by onset date (the listing's rule,
    :func:`formulary.courses.event_report.events_statement`)."""
    return event_report.events_statement(event_report.AdverseEventQuery(
        start=date_from, end=date_to, ingredient_id=ingredient_id, lot_id=lot_id))


def allergy_candidates(session: Session, event: AdverseEvent) -> list[Component]:
    """The ingredients of the cocktail version the administration gave (the pre-filled
    choice of the allergy action)."""
    adm = event.administration
    return list(session.execute(
        select(Component).where(Component.version_id == adm.batch.cocktail_version_id)
        .order_by(Component.position, Component.id)).scalars())


def record_allergy(session: Session, actor, event: AdverseEvent, *, ingredient_ids=None,
                   severity=None) -> list[Allergy]:
    """Record the allergic reaction as an allergy of the patient to each ingredient given
    (or to those named): audited as the allergies are, and once more on the event."""
    if event.kind != "allergic_reaction":
        raise InvalidState("Only an allergic reaction can be recorded as an allergy.")
    candidates = {c.ingredient_id for c in allergy_candidates(session, event)}
    if ingredient_ids is None:
        chosen = sorted(candidates)
    else:
        if not isinstance(ingredient_ids, list) or not ingredient_ids or any(
                isinstance(i, bool) or not isinstance(i, int) for i in ingredient_ids):
            raise ValidationError("Name the ingredients by their ids.", field="ingredient_ids")
        if set(ingredient_ids) - candidates:
            raise ValidationError("Only ingredients of the cocktail given can be named.",
                                  field="ingredient_ids")
        chosen = sorted(set(ingredient_ids))
    severity = severity or ALLERGY_SEVERITY[event.severity]
    patient = session.get(Patient, event.patient_id)
    on_file = {a.ingredient_id for a in patient.allergies if a.status == "active"}
    todo = [i for i in chosen if i not in on_file]
    if not todo:
        raise Duplicate("These allergies are already on file.", field="ingredient_ids")
    made = [allergy_services.add_allergy(
        session, actor, patient, ingredient_id=i, severity=severity,
        reaction=f"Allergic reaction after administration #{event.administration_id} "
                 f"(adverse event #{event.id})"[:300]) for i in todo]
    record(session, actor, "adverse_event.allergy", "adverse_event", event.id,
           summary=f"Adverse event #{event.id} recorded as {len(made)} allergy(ies) of "
                   f"patient {patient.mrn}",
           after={"allergy_ids": [a.id for a in made], "ingredient_ids": todo})
    return made
