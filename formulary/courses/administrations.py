"""Administration (SPEC §11): at a session, a verified batch given to the patient.

Every refusal has its own code and message and writes nothing. Order of the checks: the
fields; a consent is in force; the course and session are open; then the batch row is
locked (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the write transaction began
with ``BEGIN IMMEDIATE``) and read fresh: not verified, discarded, past its beyond-use
date, on hold, made for another patient or of another cocktail, used up or short of the
doses asked; the safety screen runs *now* against the batch's version (blocked refuses
unless an override reason is given, kept and audited); the session row is locked and the
per-session maximum checked on everything given that session, this administration
included. Two administrations racing for the last dose of a batch queue on its row: the
second reads the first's doses and is refused (409).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from formulary.audit.services import record
from formulary.cocktails.models import Component
from formulary.compounding.models import Batch
from formulary.courses.consent import require_consent
from formulary.courses.models import Administration, AdministrationLine, CourseSession
from formulary.compounding.state import lot_facts
from formulary.domain.batch_state import batch_state
from formulary.courses.services import check_open, clean_text, lock_course, refresh_status
from formulary.db import MAX_ID, utcnow
from formulary.domain import courses as rules
from formulary.domain.errors import (Conflict, InvalidState, NotFound, SafetyBlock,
                                     ValidationError)
from formulary.domain.messages import msg
from formulary.domain.units import parse_quantity
from formulary.inventory.ingredients import ingredient_facts
from formulary.inventory.models import Ingredient
from formulary.patients.screening import screen_patient

MAX_SITES = 2000
MAX_DEPTH = Decimal(50)
#: A time given may be a little ahead of the server's clock, never more.
CLOCK_SLACK = timedelta(minutes=5)


class BatchRefused(Conflict):
    """A batch that cannot be given; ``code`` says why (batch_not_verified, ...)."""


def _refuse(code: str, message: str):
    return BatchRefused(message, code=code, field="batch_id")


def _doses(value) -> int:
    # isdecimal, not isdigit: a superscript or circled digit is a digit that int() refuses
    if isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) < 10:
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationError("Doses must be a positive whole number.", field="doses")
    if value > 1000:
        raise ValidationError("At most 1000 doses.", field="doses")
    return value


def _given_at(value, now: datetime) -> datetime:
    if value is None or value == "":
        return now
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError("Give the time as ISO 8601 with its offset "
                                  "(2026-12-04T10:30:00+01:00).", field="given_at") from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValidationError("Give the time with its offset (+01:00).", field="given_at")
    try:
        value.astimezone(timezone.utc)  # year 1 east of UTC is before year 1: no such time
    except OverflowError:
        raise ValidationError("Give a date and time between the years 1 and 9999.", field="given_at") from None
    if value > now + CLOCK_SLACK:
        raise ValidationError("An administration cannot be recorded in the future.",
                              field="given_at")
    return value


def _depth(value) -> Decimal | None:
    if value is None or value == "":
        return None
    depth = parse_quantity(value, "depth_mm")
    if depth > MAX_DEPTH:
        raise ValidationError(msg("A depth of at most %(max_depth)s mm.", max_depth=MAX_DEPTH),
                              field="depth_mm")
    return depth


def _lock_batch(session: Session, batch_id) -> Batch:
    if isinstance(batch_id, str) and batch_id.strip().isdecimal():
        batch_id = int(batch_id.strip())
    if isinstance(batch_id, bool) or not isinstance(batch_id, int):
        raise ValidationError("Choose a batch by its id.", field="batch_id")
    if not 0 < batch_id <= MAX_ID:  # no such row, and SQLite cannot even be asked
        raise ValidationError(msg("There is no batch #%(id)s.", id=batch_id), field="batch_id")
    batch = session.execute(select(Batch).where(Batch.id == batch_id).with_for_update()
                            .execution_options(populate_existing=True)).scalar_one_or_none()
    if batch is None:
        raise ValidationError(msg("There is no batch #%(batch_id)s.",
                                  batch_id=batch_id), field="batch_id")
    return batch


def doses_given(session: Session, batch_id: int) -> int:
    return session.execute(select(func.coalesce(func.sum(Administration.doses), 0))
                           .where(Administration.batch_id == batch_id)).scalar_one()


def check_batch(session: Session, batch: Batch, course, now: datetime) -> int:
    """The batch may be given to this course's patient now; answers the doses left.

    Its effective state (discarded, given, on hold, expired) comes from the one rule that
    lists, pages, labels and verify read (``compounding.state``), with the doses given
    summed afresh under the batch's row lock."""
    given = doses_given(session, batch.id)
    state = batch_state(status=batch.status, beyond_use_at=batch.beyond_use_at, now=now,
                        doses=batch.doses, lots=lot_facts(batch), doses_given=given)
    if state.state == "discarded":
        raise _refuse("batch_discarded", msg("Batch %(batch_number)s was discarded: "
                                             "%(discard_reason)s",
                                             batch_number=batch.batch_number,
                                             discard_reason=batch.discard_reason))
    if state.state == "given":
        raise _refuse("batch_used_up", msg("Batch %(batch_number)s is used up: every dose "
                                           "was given.",
                                           batch_number=batch.batch_number))
    if state.state == "on_hold":
        raise _refuse("batch_on_hold", msg("Batch %(batch_number)s: %(reason)s",
                                           batch_number=batch.batch_number, reason=state.reason))
    if batch.status != "verified":
        raise _refuse("batch_not_verified", msg("Batch %(batch_number)s is not verified yet: "
                                                "a second pharmacist checks it before it is "
                                                "given.",
                                                batch_number=batch.batch_number))
    if state.state == "expired":
        raise _refuse("batch_expired", msg("Batch %(batch_number)s is past its beyond-use "
                                           "date: it cannot be given.",
                                           batch_number=batch.batch_number))
    if batch.patient_id is not None and batch.patient_id != course.patient_id:
        raise _refuse("batch_other_patient", msg("Batch %(batch_number)s was made for "
                                                 "another patient.",
                                                 batch_number=batch.batch_number))
    if batch.cocktail_id != course.cocktail_id:
        raise _refuse("batch_other_cocktail", msg("Batch %(batch_number)s is of another "
                                                  "cocktail than this course's.",
                                                  batch_number=batch.batch_number))
    return state.doses_left


def _lock_session(session: Session, row: CourseSession) -> CourseSession:
    return session.execute(select(CourseSession).where(CourseSession.id == row.id)
                           .with_for_update().execution_options(populate_existing=True)
                           ).scalar_one()


def _session_given(session: Session, row: CourseSession, version_id: int, doses: int):
    """Every (component, doses) given this session, this administration included, and
    the facts of their ingredients: two statements."""
    earlier = session.execute(
        select(Component.ingredient_id, Component.amount, Component.unit, Administration.doses)
        .join(Batch, Batch.cocktail_version_id == Component.version_id)
        .join(Administration, Administration.batch_id == Batch.id)
        .where(Administration.session_id == row.id)).all()
    now = session.execute(select(Component.ingredient_id, Component.amount, Component.unit)
                          .where(Component.version_id == version_id)).all()
    given = [rules.GivenAmount(i, a, u, d) for i, a, u, d in earlier]
    given += [rules.GivenAmount(i, a, u, doses) for i, a, u in now]
    ids = sorted({g.ingredient_id for g in given})
    facts = {ing.id: ingredient_facts(ing) for ing in session.execute(
        select(Ingredient).where(Ingredient.id.in_(ids))).scalars()}
    return given, facts


def give(session: Session, actor, row: CourseSession, *, batch_id, doses, sites, technique,
         given_at=None, depth_mm=None, needle=None, notes=None, override_reason=None,
         now: datetime | None = None) -> Administration:
    """Give ``doses`` of a verified batch at session ``row``. See the module's docstring
    for the refusals; on success the session is ``given`` and the course ``active`` (or
    ``completed`` when no session is left to give)."""
    now = now or utcnow()
    doses = _doses(doses)
    sites = clean_text(sites, "sites", msg("The injection sites"), required=True, limit=MAX_SITES)
    if technique not in rules.TECHNIQUES:
        raise ValidationError(msg("Use one of: %(choices)s.",
                                  choices=', '.join(rules.TECHNIQUES)), field="technique")
    given_at = _given_at(given_at, now)
    depth = _depth(depth_mm)
    needle = clean_text(needle, "needle", msg("The needle"), required=False, limit=100)
    notes = clean_text(notes, "notes", msg("The notes"), required=False, limit=MAX_SITES)
    override_reason = clean_text(override_reason, "override_reason", msg("The override reason"),
                                 required=False)

    course = lock_course(session, row.course)  # a stop or a withdrawal waits, or is seen
    # Consent first: a withdrawal also stops the course, and "consent withdrawn" is the
    # reason the practitioner needs to read.
    require_consent(session, course)
    check_open(course)
    if row.status == "missed":
        raise InvalidState(msg("Session %(number)s is missed: nothing can be given at it.",
                               number=row.number))
    if row.status == "cancelled":
        raise InvalidState(msg("Session %(number)s is cancelled: nothing can be given at it.",
                               number=row.number))

    batch = _lock_batch(session, batch_id)
    left = check_batch(session, batch, course, now)
    if given_at < batch.prepared_at:
        # A dose cannot reach a patient before its batch was made: the record would lie
        # to every trace and recall that reads the time.
        raise ValidationError(msg("Batch %(number)s was prepared at %(at)s: it cannot have "
                                  "been given before.", number=batch.batch_number,
                                  at=batch.prepared_at.isoformat(timespec="minutes")),
                              field="given_at")
    if doses > left:
        raise _refuse("insufficient_doses", msg("Batch %(batch_number)s has %(left)s dose(s) "
                                                "left; %(doses)s were asked.",
                                                batch_number=batch.batch_number, left=left,
                                                doses=doses))
    patient = course.patient
    screen = screen_patient(session, patient, batch.version)
    if screen.verdict == "blocked" and not override_reason:
        raise SafetyBlock(msg("The safety screen blocks this cocktail for this patient now. "
                              "%(findings)s Give an override reason to give it anyway.",
                              findings=tuple(f.message for f in screen.blocks)),
                          findings=screen.findings, field="override_reason")
    if screen.verdict != "blocked":
        override_reason = None  # nothing was overridden: no reason to keep

    row = _lock_session(session, row)
    given, facts = _session_given(session, row, batch.cocktail_version_id, doses)
    rules.check_session_maximum(given, facts)

    adm = Administration(session_id=row.id, course_id=course.id, patient_id=course.patient_id,
                         batch_id=batch.id, doses=doses, given_at=given_at, given_by_id=actor.id,
                         sites=sites, technique=technique, depth_mm=depth, needle=needle,
                         notes=notes, safety_verdict=screen.verdict,
                         override_reason=override_reason, recorded_at=now)
    adm.lines = [AdministrationLine(ingredient_id=line.ingredient_id, lot_id=line.lot_id,
                                    quantity=rules.scaled_quantity(line.quantity, doses,
                                                                   batch.doses),
                                    unit=line.unit) for line in batch.lines]
    session.add(adm)
    before = {"session_status": row.status, "course_status": course.status}
    row.status = "given"
    refresh_status(course)
    session.flush()
    record(session, actor, "administration.create", "administration", adm.id,
           summary=f"Gave {doses} dose(s) of batch {batch.batch_number} at session {row.number} "
                   f"of course #{course.id}" + (" (safety override)" if override_reason else ""),
           before=before,
           after={"session_id": row.id, "batch_id": batch.id, "doses": doses,
                  "doses_left": left - doses, "given_at": given_at, "sites": sites,
                  "technique": technique, "safety_verdict": screen.verdict,
                  "course_status": course.status,
                  "lines": [{"lot_id": ln.lot_id, "ingredient_id": ln.ingredient_id,
                             "quantity": ln.quantity, "unit": ln.unit} for ln in adm.lines]},
           reason=override_reason)
    return adm


def get_administration(session: Session, administration_id) -> Administration:
    adm = session.get(Administration, administration_id) if isinstance(administration_id, int) else None
    if adm is None:
        raise NotFound(msg("There is no administration #%(administration_id)s.",
                           administration_id=administration_id))
    return adm
