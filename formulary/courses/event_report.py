"""The listing of adverse events per ingredient and per lot (SPEC §11), shared by the
page, the API list and the Excel export.

:class:`AdverseEventQuery` is what a listing covers (every filter optional): onset dates,
an ingredient or a lot that the administration gave, a severity, serious or not. The
page and the API read the events as objects, with what they show eager-loaded (a page
costs the same statements whatever it holds); the export reads plain columns streamed
from the database (:func:`adverse_event_sheets`), like the batch log, so memory stays flat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, tzinfo
from functools import cache

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, aliased, joinedload

from formulary.auth.models import User
from formulary.cocktails.models import Cocktail, CocktailVersion
from formulary.compounding.models import Batch
from formulary.courses.models import (Administration, AdministrationLine, AdverseEvent, Course,
                                      CourseSession)
from formulary.domain import courses as rules
from formulary.domain.dates import check_date_range
from formulary.domain.errors import NotFound, ValidationError
from formulary.domain.messages import msg
from formulary.inventory.models import Ingredient, Lot
from formulary.patients.models import Patient
from formulary.reports.batch_log import MAX_RANGE_DAYS, person_name, stream
from formulary.reports.workbook import Column, Sheet

SERIOUS_WORDS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


@dataclass(frozen=True)
class AdverseEventQuery:
    """Onset from ``start`` to ``end`` (both included, either open), and the filters."""

    start: date | None = None
    end: date | None = None
    ingredient_id: int | None = None
    lot_id: int | None = None
    severity: str | None = None
    serious: bool | None = None

    def as_dict(self) -> dict:
        return {"from": self.start, "to": self.end, "ingredient_id": self.ingredient_id,
                "lot_id": self.lot_id, "severity": self.severity, "serious": self.serious}


def parse_serious(raw, field: str = "serious") -> bool | None:
    """``serious`` as a query string gives it: yes/no, true/false, 1/0, or nothing."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        return raw
    value = SERIOUS_WORDS.get(str(raw).strip().casefold())
    if value is None:
        raise ValidationError("Serious is yes or no (true or false).", field=field)
    return value


def check_query(session: Session, *, start: date | None = None, end: date | None = None,
                ingredient_id: int | None = None, lot_id: int | None = None,
                severity: str | None = None, serious: bool | None = None) -> AdverseEventQuery:
    """The filters checked: a range in order and at most the reports' longest, a known
    severity, an ingredient and a lot that exist (404 otherwise)."""
    start, end = check_date_range(start, end)
    if start is not None and end is not None and (end - start).days >= MAX_RANGE_DAYS:
        raise ValidationError(msg("A listing covers at most %(days)s days.",
                                  days=MAX_RANGE_DAYS), field="to")
    if severity is not None and severity not in rules.EVENT_SEVERITIES:
        raise ValidationError(msg("Use one of: %(choices)s.",
                                  choices=', '.join(rules.EVENT_SEVERITIES)),
                              field="severity")
    if ingredient_id is not None and session.get(Ingredient, ingredient_id) is None:
        raise NotFound(msg("There is no ingredient %(ingredient_id)s.",
                           ingredient_id=ingredient_id), field="ingredient_id")
    if lot_id is not None and session.get(Lot, lot_id) is None:
        raise NotFound(msg("There is no lot %(lot_id)s.",
                           lot_id=lot_id), field="lot_id")
    return AdverseEventQuery(start, end, ingredient_id, lot_id, severity, serious)


def _administration_joins(stmt, given_by, recorded_by):
    """An event's administration's giver, batch, cocktail, version and session, and who
    recorded the event (``given_by`` and ``recorded_by``: aliases of ``User``)."""
    return (stmt
            .join(given_by, given_by.id == Administration.given_by_id)
            .join(Batch, Batch.id == Administration.batch_id)
            .join(Cocktail, Cocktail.id == Batch.cocktail_id)
            .join(CocktailVersion, CocktailVersion.id == Batch.cocktail_version_id)
            .join(CourseSession, CourseSession.id == Administration.session_id)
            .join(recorded_by, recorded_by.id == AdverseEvent.recorded_by_id))


def _filtered(stmt: Select, q: AdverseEventQuery) -> Select:
    if q.ingredient_id is not None or q.lot_id is not None:
        lines = select(AdministrationLine.administration_id)
        if q.ingredient_id is not None:
            lines = lines.where(AdministrationLine.ingredient_id == q.ingredient_id)
        if q.lot_id is not None:
            lines = lines.where(AdministrationLine.lot_id == q.lot_id)
        stmt = stmt.where(AdverseEvent.administration_id.in_(lines))
    if q.start is not None:
        stmt = stmt.where(AdverseEvent.onset >= q.start)
    if q.end is not None:
        stmt = stmt.where(AdverseEvent.onset <= q.end)
    if q.severity is not None:
        stmt = stmt.where(AdverseEvent.severity == q.severity)
    if q.serious is not None:
        stmt = stmt.where(AdverseEvent.serious.is_(q.serious))
    return stmt


def events_statement(q: AdverseEventQuery) -> Select:
    """The events as objects, newest onset first, with everything the page and the API
    show loaded in the same few statements whatever the page holds."""
    adm = joinedload(AdverseEvent.administration)
    stmt = (select(AdverseEvent)
            .options(joinedload(AdverseEvent.recorded_by),
                     adm.joinedload(Administration.given_by),
                     adm.joinedload(Administration.session),
                     adm.joinedload(Administration.course).joinedload(Course.patient),
                     adm.joinedload(Administration.batch).joinedload(Batch.cocktail),
                     adm.joinedload(Administration.batch).joinedload(Batch.version),
                     adm.selectinload(Administration.lines).joinedload(AdministrationLine.lot),
                     adm.selectinload(Administration.lines)
                     .joinedload(AdministrationLine.ingredient))
            .order_by(AdverseEvent.onset.desc(), AdverseEvent.id.desc()))
    return _filtered(stmt, q)


def listed_events_statement(q: AdverseEventQuery) -> Select:
    """The events as the API lists them, as plain rows (named columns), newest onset
    first: reading 50 events with their administration, session, course, patient, batch,
    cocktail, version and users as objects was most of the list's time. Their lots:
    :func:`listed_lines`. The unfiltered statement is built once (its ten tables and two
    aliases took longer to build than PostgreSQL takes to run it); the filters are added
    to it for each request."""
    return _filtered(_listed_events(), q)


@cache
def _listed_events() -> Select:
    given_by, recorded_by = aliased(User), aliased(User)
    stmt = (
        select(AdverseEvent.id, AdverseEvent.administration_id, AdverseEvent.patient_id,
               AdverseEvent.onset, AdverseEvent.kind, AdverseEvent.severity,
               AdverseEvent.serious, AdverseEvent.outcome, AdverseEvent.action,
               recorded_by.username.label("recorded_by"), AdverseEvent.recorded_at,
               Patient.mrn.label("patient_mrn"), Administration.given_at,
               given_by.username.label("given_by"), Administration.batch_id,
               Batch.batch_number, Cocktail.name.label("cocktail_name"),
               CocktailVersion.number.label("cocktail_version"), Administration.course_id,
               CourseSession.number.label("session_number"))
        .select_from(AdverseEvent)
        .join(Administration, Administration.id == AdverseEvent.administration_id)
        .join(Course, Course.id == Administration.course_id)
        .join(Patient, Patient.id == Course.patient_id))  # as ``adm.course.patient``
    stmt = _administration_joins(stmt, given_by, recorded_by)
    return stmt.order_by(AdverseEvent.onset.desc(), AdverseEvent.id.desc())


@cache
def _lines_statement() -> Select:
    """``listed_lines``' statement, built once, the ids bound at each run."""
    return (select(AdministrationLine.administration_id, AdministrationLine.ingredient_id,
                   Ingredient.name.label("ingredient_name"), AdministrationLine.lot_id,
                   Lot.lot_number, AdministrationLine.quantity, AdministrationLine.unit)
            .join(Ingredient, Ingredient.id == AdministrationLine.ingredient_id)
            .join(Lot, Lot.id == AdministrationLine.lot_id)
            .where(AdministrationLine.administration_id.in_(bindparam("ids", expanding=True)))
            .order_by(AdministrationLine.id))


def listed_lines(session: Session, administration_ids: list[int]) -> dict[int, list]:
    """The lines (named columns) of the administrations ``administration_ids``, by
    administration, in the order they were written: one statement."""
    out: dict[int, list] = {}
    if not administration_ids:
        return out
    rows = session.execute(_lines_statement(), {"ids": list(administration_ids)})
    for row in rows:
        out.setdefault(row.administration_id, []).append(row)
    return out


# --- the Excel export ------------------------------------------------------------------

EVENT_COLUMNS = (
    Column("Event", "int"),
    Column("Onset", "date"),
    Column("Kind", "label", 18),
    Column("Severity", "label", 10),
    Column("Serious", "label", 8),
    Column("Outcome", "text", 32),
    Column("Action taken", "text", 32),
    Column("Patient MRN", "text", 14),
    Column("Given at", "datetime"),
    Column("Given by", "text", 16),
    Column("Batch number", "label", 18),
    Column("Cocktail", "text", 28),
    Column("Version", "int"),
    Column("Course", "int"),
    Column("Session", "int"),
    Column("Recorded by", "text", 16),
    Column("Recorded at", "datetime"),
)

LINE_COLUMNS = (
    Column("Event", "int"),
    Column("Onset", "date"),
    Column("Kind", "label", 18),
    Column("Severity", "label", 10),
    Column("Serious", "label", 8),
    Column("Patient MRN", "text", 14),
    Column("Ingredient", "text", 30),
    Column("Lot number", "text", 16),
    Column("Lot expiry", "date"),
    Column("Quantity given", "decimal", 14),
    Column("Unit", "label", 7),
    Column("Batch number", "label", 18),
)


def export_events_statement(q: AdverseEventQuery) -> Select:
    given_by = aliased(User)
    recorded_by = aliased(User)
    stmt = (
        select(AdverseEvent.id, AdverseEvent.onset, AdverseEvent.kind, AdverseEvent.severity,
               AdverseEvent.serious, AdverseEvent.outcome, AdverseEvent.action, Patient.mrn,
               Administration.given_at, person_name(given_by), Batch.batch_number, Cocktail.name,
               CocktailVersion.number, Administration.course_id, CourseSession.number,
               person_name(recorded_by), AdverseEvent.recorded_at)
        .join(Administration, Administration.id == AdverseEvent.administration_id)
        .join(Patient, Patient.id == AdverseEvent.patient_id))
    stmt = _administration_joins(stmt, given_by, recorded_by)
    return _filtered(stmt.order_by(AdverseEvent.onset, AdverseEvent.id), q)


def export_lines_statement(q: AdverseEventQuery) -> Select:
    """One row per lot that reached the patient in the administration behind each event
    (every line of it: which ingredient caused the event is not known)."""
    stmt = (
        select(AdverseEvent.id, AdverseEvent.onset, AdverseEvent.kind, AdverseEvent.severity,
               AdverseEvent.serious, Patient.mrn, Ingredient.name, Lot.lot_number,
               Lot.expiry_date, AdministrationLine.quantity, AdministrationLine.unit,
               Batch.batch_number)
        .select_from(AdverseEvent)
        .join(Administration, Administration.id == AdverseEvent.administration_id)
        .join(AdministrationLine, AdministrationLine.administration_id == Administration.id)
        .join(Patient, Patient.id == AdverseEvent.patient_id)
        .join(Ingredient, Ingredient.id == AdministrationLine.ingredient_id)
        .join(Lot, Lot.id == AdministrationLine.lot_id)
        .join(Batch, Batch.id == Administration.batch_id)
        .order_by(AdverseEvent.onset, AdverseEvent.id, AdministrationLine.id))
    return _filtered(stmt, q)


def _yes_no(rows, at: int):
    for row in rows:
        row = list(row)
        row[at] = "yes" if row[at] else "no"
        yield row


def adverse_event_sheets(session: Session, q: AdverseEventQuery, tz: tzinfo) -> list[Sheet]:
    """Sheet ``Adverse events`` (one row per event) and ``By ingredient and lot`` (one row
    per lot given in the administration behind each event); rows drawn from the database
    as they are written. ``tz`` is the clinic's zone the workbook writes times in."""
    return [
        Sheet("Adverse events", EVENT_COLUMNS,
              _yes_no(stream(session, export_events_statement(q)), 4)),
        Sheet("By ingredient and lot", LINE_COLUMNS,
              _yes_no(stream(session, export_lines_statement(q)), 4)),
    ]


def describe(q: AdverseEventQuery) -> str:
    parts = []
    if q.start or q.end:
        parts.append(f"onset {q.start or '…'} to {q.end or '…'}")
    for name in ("ingredient_id", "lot_id", "severity", "serious"):
        value = getattr(q, name)
        if value is not None:
            parts.append(f"{name}={value}")
    return "Adverse events" + (f" ({', '.join(parts)})" if parts else "")


def filename(q: AdverseEventQuery, today: date) -> str:
    span = f"{q.start or 'start'}_{q.end or today}"
    return f"adverse-events_{span}.xlsx"
