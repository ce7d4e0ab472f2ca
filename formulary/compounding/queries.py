"""Reading batches: the list with its filters, one batch, and the recall trace of a lot.

Every query eager-loads what the pages and the API show, so a page costs the same number
of statements whatever the number of batches on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from functools import cache, cached_property

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from formulary.auth.models import User
from formulary.cocktails.models import Cocktail
from formulary.compounding.models import Batch, BatchLine
from formulary.compounding.rows import (PatientRow, batch_rows_statement,
                                       chosen_batch_rows_statement, distinct_lines_of,
                                       lines_of_lot, lines_select, lots_select, read)
from formulary.courses.models import Administration, AdministrationLine, CourseSession
from formulary.compounding.state import state_clause
from formulary.db import DriverSelect, converted, generic_plans, joins_as_written, utcnow
from formulary.domain.errors import NotFound, ValidationError
from formulary.domain.messages import msg
from formulary.inventory.models import Lot
from formulary.listing import SortColumns
from formulary.patients.models import Patient


def batch_options():
    return (joinedload(Batch.cocktail), joinedload(Batch.version), joinedload(Batch.patient),
            joinedload(Batch.prepared_by), joinedload(Batch.verified_by),
            joinedload(Batch.discarded_by),
            selectinload(Batch.lines).selectinload(BatchLine.lot),
            selectinload(Batch.lines).selectinload(BatchLine.ingredient))


def get_batch(session: Session, batch_id: int) -> Batch:
    batch = session.execute(select(Batch).options(*batch_options())
                            .where(Batch.id == batch_id)).unique().scalar_one_or_none()
    if batch is None:
        raise NotFound("No such batch.")
    return batch


def local_day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=tz)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


#: The orders of the batch list (page and API). The list's statement
#: (``rows.batch_rows_statement``) joins the cocktail and (outer) the patient, so a name is
#: ordered by the joined column: a correlated subquery per batch made PostgreSQL and SQLite
#: work out every batch's name before sorting (200-400 ms at 50,000 batches; joined, the
#: cocktail's order walks its unique index, 1 ms). A batch with no patient has NULL names,
#: ordered last either way (``listing._nullable``: an expression may be NULL).
BATCH_SORT = SortColumns(
    columns={"prepared": Batch.prepared_at, "number": Batch.batch_number,
             "cocktail": Cocktail.name_key,
             "doses": Batch.doses,
             "patient": (func.lower(Patient.last_name), func.lower(Patient.first_name)),
             "mrn": func.lower(Patient.mrn),
             "beyond_use": Batch.beyond_use_at, "status": Batch.status},
    default="-prepared", tiebreak=(Batch.id,))


#: The sorts by the patient: their page is chosen apart (``batch_list_page``), by the keys
#: each batch carries of its patient (``patient_order``: the same ``lower()`` values as
#: ``BATCH_SORT``'s), each order an index.
_BY_PATIENT = {"patient": (Batch.patient_last_key, Batch.patient_first_key),
               "mrn": (Batch.patient_mrn_key,)}


def batch_list_page(session: Session, filters: dict, sort, page: int, per_page: int,
                    total: int) -> tuple[list, int]:
    """``(rows, page)``: the rows of ``page`` (clamped to the last) of the batch list with
    ``filters`` (``batch_conditions``) in ``sort``'s order, ``total`` batches in all.

    Sorted by the patient's name or MRN, the batches are chosen in two parts, the page's
    ids first: those of a patient, from the index of the keys each batch carries of its
    patient (``patient_order``: ``ix_batch_patient_name_order``,
    ``ix_batch_patient_mrn_order``; a batch has keys exactly when it has a patient), then,
    once they run out, those of no patient by id (``ix_batch_patient``). The same order as
    the one statement ordered ``NULLS LAST`` over the outer join, which had to join and
    sort every batch of the year (120-130 ms at 50,000 batches; 47 ms for the ids alone),
    and as the inner join that walked the patients' name index and each one's batches
    (26 ms on PostgreSQL for a page in the middle). A page in the list's second half
    counts the batches of no patient first, and walks the patients' batches from their
    end (or not at all, past them)."""
    from formulary.listing import clamp_page  # listing reads the Flask app's session

    page = clamp_page(page, total, per_page)
    offset = (page - 1) * per_page
    conditions = batch_conditions(**filters)  # the WHERE of every statement choosing ids
    if sort.key not in _BY_PATIENT:
        stmt = BATCH_SORT.apply(batch_rows_statement(*conditions), sort)
        with joins_as_written(session):  # seven tables looked up from each batch
            return session.execute(stmt.limit(per_page).offset(offset)).all(), page
    down = sort.descending
    keys = [*_BY_PATIENT[sort.key], Batch.id]
    of_patients = select(Batch.id).where(*conditions, keys[0].is_not(None))

    def patients_page(backwards: bool, limit: int, skip: int) -> list[int]:
        descending = down != backwards
        return list(session.execute(
            of_patients.order_by(*(k.desc() if descending else k.asc() for k in keys))
            .limit(limit).offset(skip)).scalars())

    def of_a_patient() -> int:
        """How many of the ``total`` batches have a patient: all but those of none."""
        return total - session.execute(
            select(func.count()).select_from(Batch)
            .where(*conditions, Batch.patient_id.is_(None))).scalar_one()

    # In the list's second half (the last page, often): the batches of a patient counted
    # first, so that a page past them skips them all (those of none come last in either
    # order), and one among them is walked from their end. An offset walked from the
    # start joined and sorted them all (150 ms at 40,000).
    with_patient = of_a_patient() if offset * 2 >= total else None
    if with_patient is None:
        ids = patients_page(False, per_page, offset)
    elif offset >= with_patient:
        ids = []
    else:
        end = min(offset + per_page, with_patient)
        ids = patients_page(True, end - offset, with_patient - end)[::-1]
    if len(ids) < per_page:  # past the batches of a patient: those of none, by id
        if with_patient is None:
            with_patient = offset + len(ids) if ids else of_a_patient()
        ids += session.execute(
            select(Batch.id).where(*conditions, Batch.patient_id.is_(None))
            .order_by(Batch.id.desc() if down else Batch.id.asc())
            .limit(per_page - len(ids)).offset(max(0, offset - with_patient))).scalars()
    if not ids:
        return [], page
    position = {batch_id: i for i, batch_id in enumerate(ids)}
    with joins_as_written(session):  # the page's rows by id, put in the page's order here
        rows = session.execute(batch_rows_statement(Batch.id.in_(ids))).all()
    return sorted(rows, key=lambda r: position[r[0]]), page


def patients_filter(session: Session, text: str, *, by_name: bool, field: str = "patient"):
    """The patients a batch list's patient filter means: the patient whose MRN is ``text``
    exactly, else (``by_name``: the user may read patients) every patient whose names or
    MRN hold its words (``patients.services.matching``). A select of ``Patient.id``;
    ``ValidationError`` on ``field`` when none matches."""
    from formulary.patients.services import matching  # patients sit beside compounding

    text = (text or "").strip()
    exact = select(Patient.id).where(func.lower(Patient.mrn) == text.casefold())
    if session.execute(exact.limit(1)).first() is not None:
        return exact
    if by_name:
        condition = matching(text)
        if condition is not None:
            named = select(Patient.id).where(condition)
            if session.execute(named.limit(1)).first() is not None:
                return named
        raise ValidationError(msg("No patient has the MRN or name %(text)s.",
                                  text=text), field=field)
    raise ValidationError(msg("No patient has the MRN %(text)s.",
                              text=text), field=field)


def batch_conditions(*, tz: tzinfo | None = None, date_from: date | None = None,
                     date_to: date | None = None, cocktail_id: int | None = None,
                     patient_id: int | None = None, status: str | None = None,
                     lot_id: int | None = None, state: str | None = None,
                     now: datetime | None = None, patients=None) -> list:
    """The WHERE of a batch list: clinic-local prepared dates (both inclusive); ``state``
    the effective state (``compounding.state``) at ``now``; ``patients``: a select of
    ``Patient.id`` (``patients_filter``)."""
    where = []
    if date_from is not None:
        where.append(Batch.prepared_at >= local_day_bounds(date_from, tz)[0])
    if date_to is not None:
        where.append(Batch.prepared_at < local_day_bounds(date_to, tz)[1])
    if cocktail_id is not None:
        where.append(Batch.cocktail_id == cocktail_id)
    if patient_id is not None:
        where.append(Batch.patient_id == patient_id)
    if patients is not None:
        where.append(Batch.patient_id.in_(patients))
    if status:
        where.append(Batch.status == status)
    if state:
        where.append(state_clause(state, now or utcnow()))
    if lot_id is not None:
        where.append(Batch.id.in_(select(BatchLine.batch_id).where(BatchLine.lot_id == lot_id)))
    return where


NEWEST_FIRST = (Batch.prepared_at.desc(), Batch.id.desc())


def batches_query(**filters):
    """Batches newest first as ORM objects with what a batch's page shows, filtered by
    ``batch_conditions(**filters)``."""
    return (select(Batch).options(*batch_options()).where(*batch_conditions(**filters))
            .order_by(*NEWEST_FIRST))


def batch_list_query(**filters):
    """The same batches as plain rows (``rows.batch_rows_statement``), newest first: what
    the lists show; ``rows.read_page`` adds their lines."""
    return batch_rows_statement(*batch_conditions(**filters)).order_by(*NEWEST_FIRST)


@dataclass(frozen=True)
class TracedAdministration:
    """One administration of a batch that used the lot: who received it, when, from whom,
    where, and how much of the lot reached the patient."""

    id: int
    given_at: datetime
    patient: PatientRow
    practitioner: str
    doses: int
    sites: str
    technique: str
    batch_id: int
    batch_number: str
    course_id: int
    session_number: int
    quantity: object  # Decimal: of the lot, in its stock unit
    unit: str


@dataclass(frozen=True)
class LotTrace:
    """``batches``: ``rows.BatchRow``s, newest first; ``patients``: ``rows.PatientRow``s
    by name; ``taken``: each batch's lines of this lot, by batch id (the quantity the
    recall list shows)."""

    lot: Lot
    batches: list
    patients: list
    administrations: list[TracedAdministration] = field(default_factory=list)
    taken_lines: dict | None = None

    @cached_property
    def taken(self) -> dict[int, list]:
        if self.taken_lines is not None:
            return self.taken_lines
        lot_id = self.lot.id
        return {b.id: [line for line in b.lines if line.lot_id == lot_id] for b in self.batches}


def traced_administrations(session: Session, lot: Lot) -> list[TracedAdministration]:
    """Every administration that gave some of ``lot`` (SPEC §7, §11), newest first: one
    statement whatever their number (plain columns)."""
    rows = converted(*_statements_for(session).administrations.rows(session, {"lot_id": lot.id}))
    return [TracedAdministration(
        id=r[0], given_at=r[1], patient=PatientRow(*r[2:7]), practitioner=r[7] or r[8],
        doses=r[9], sites=r[10], technique=r[11], batch_id=r[12], batch_number=r[13],
        course_id=r[14], session_number=r[15], quantity=r[16], unit=r[17]) for r in rows]


def _administrations_statement(lot_id):
    return (select(Administration.id, Administration.given_at, Patient.id, Patient.mrn,
                   Patient.first_name, Patient.last_name, Patient.date_of_birth,
                   User.full_name, User.username, Administration.doses, Administration.sites,
                   Administration.technique, Administration.batch_id, Batch.batch_number,
                   Administration.course_id, CourseSession.number,
                   AdministrationLine.quantity, AdministrationLine.unit)
            .select_from(AdministrationLine)
            .join(Administration, Administration.id == AdministrationLine.administration_id)
            .join(Patient, Patient.id == Administration.patient_id)
            .join(User, User.id == Administration.given_by_id)
            .join(Batch, Batch.id == Administration.batch_id)
            .join(CourseSession, CourseSession.id == Administration.session_id)
            .where(AdministrationLine.lot_id == lot_id)
            .order_by(Administration.given_at.desc(), Administration.id.desc()))


@dataclass(frozen=True)
class _TraceStatements:
    batches: DriverSelect
    lines: DriverSelect
    lots: object  # a select of lots by the bound list ``ids`` (``rows.lots_select``)
    administrations: DriverSelect


@cache
def _trace_statements(postgresql: bool) -> _TraceStatements:
    """The recall trace's statements, built once (the lot a bound parameter ``lot_id``):
    the batches that used the lot, as ``batch_list_query`` reads them, every line of them
    (and those lines' lots, by their ids), and the administrations that gave some of it.
    Read as the driver gives them (``db.DriverSelect``), by Core. On PostgreSQL the
    batches are chosen in a subquery planned apart (``rows.chosen_batch_rows_statement``:
    4-20 ms of planning down to 1-1.5); SQLite plans the joins in microseconds and would
    run the subquery as one step more (0.25 ms)."""
    lot_id = bindparam("lot_id")
    used = batch_conditions(lot_id=lot_id)
    return _TraceStatements(
        batches=DriverSelect(
            chosen_batch_rows_statement(*used, order=lambda b: (b.prepared_at.desc(), b.id.desc()))
            if postgresql else batch_rows_statement(*used).order_by(*NEWEST_FIRST)),
        lines=lines_select(select(BatchLine.batch_id).where(BatchLine.lot_id == lot_id)),
        lots=lots_select(postgresql),
        administrations=DriverSelect(_administrations_statement(lot_id)))


def _statements_for(session: Session) -> _TraceStatements:
    return _trace_statements(session.get_bind().dialect.name == "postgresql")


def trace_lot(session: Session, lot: Lot, *, every_line: bool = False) -> LotTrace:
    """Recall: every batch that used ``lot``, every administration of it, and every
    patient reached (the batches' patients and those who received a dose). Plain rows
    (``compounding.rows``): four statements whatever the number of batches (five with
    ``every_line``: the lines' lots are read apart, ``rows.distinct_lines_of``). The
    batches' lines of this lot only (``taken``), unless ``every_line`` (each batch's every
    line, ``lines``, for its state: the API)."""
    statements, params = _statements_for(session), {"lot_id": lot.id}
    with generic_plans(session):  # their one value, the lot's id, changes no plan
        rows = converted(*statements.batches.rows(session, params))
        if every_line:
            # each distinct line read and converted once, one object shared by the batches
            by_batch, distinct = distinct_lines_of(session, statements.lines,
                                                   statements.lots, params)
            batches = read(rows, {b: tuple(distinct[i] for i in idx)
                                  for b, idx in by_batch.items()})
            taken = None
        else:
            batches = read(rows, None)
            lines = lines_of_lot(session, lot)
            taken = {b.id: list(lines.get(b.id, ())) for b in batches}
        administrations = traced_administrations(session, lot)
    patients = {b.patient.id: b.patient for b in batches if b.patient is not None}
    for a in administrations:
        patients.setdefault(a.patient.id, a.patient)
    ordered = sorted(patients.values(), key=lambda p: (p.last_name.casefold(), p.first_name.casefold(), p.id))
    return LotTrace(lot=lot, batches=batches, patients=ordered, administrations=administrations,
                    taken_lines=taken)


def get_lot(session: Session, lot_id: int) -> Lot:
    lot = session.execute(select(Lot).options(joinedload(Lot.ingredient))
                          .where(Lot.id == lot_id)).scalar_one_or_none()
    if lot is None:
        raise NotFound("No such lot.")
    return lot


def batch_count_statement(filters: dict):
    """A statement counting the batch list's batches with ``filters``
    (``batch_conditions``): unfiltered, the tally's total of batches (one row, kept at
    every commit that adds a batch: ``compounding.tally``), else a count of the batches."""
    from formulary.compounding import tally
    from formulary.listing import count_statement  # listing reads the Flask app's session

    if not batch_conditions(**filters):
        return tally.total_statement()
    return count_statement(batches_query(**filters))

