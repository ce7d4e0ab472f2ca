"""The batch log (SPEC §8): sheet ``Batches``, one row per batch, ``Components``, one
row per lot used, and (for the roles that read treatment courses, issue 14)
``Administrations``, one row per administration of those batches.

Rows are streamed from the database: each sheet's rows are a generator over a query run
with ``yield_per`` (a server-side cursor on PostgreSQL), consumed by
:func:`formulary.reports.workbook.write_workbook` as it writes. The two queries run one
after the other, never at once. Only plain columns are selected (no ORM objects), so
nothing accumulates in the session's identity map however long the log grows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from formulary.auth.models import User
from formulary.cocktails.models import Cocktail, CocktailVersion
from formulary.compounding.models import Batch, BatchLine
from formulary.courses.models import Administration, CourseSession
from formulary.domain.dates import check_date_range
from formulary.domain.errors import NotFound, ValidationError
from formulary.domain.messages import msg, quoted
from formulary.inventory.models import Ingredient, Lot
from formulary.patients.models import Patient
from formulary.reports.workbook import Column, Sheet

#: Rows fetched per round trip. Large enough that the cursor is not the bottleneck,
#: small enough that a batch of rows stays a few hundred kilobytes.
YIELD_PER = 2000
#: The longest range one export covers (a clinic's whole retention period fits).
MAX_RANGE_DAYS = 3660
DEFAULT_RANGE_DAYS = 30

BATCH_COLUMNS = (
    Column("Batch number", "label", 18),
    Column("Prepared at", "datetime"),
    Column("Cocktail", "text", 28),
    Column("Version", "int"),
    Column("Doses", "int"),
    Column("Patient MRN", "text", 14),
    Column("Prepared by", "text", 20),
    Column("Verified by", "text", 20),
    Column("Status", "label", 11, words=True),
    Column("Beyond-use date", "datetime"),
    Column("Override reason", "text", 40),
    Column("Doses given", "int"),
    Column("Doses left", "int"),
)

COMPONENT_COLUMNS = (
    Column("Batch number", "label", 18),
    Column("Ingredient", "text", 30),
    Column("Lot number", "text", 16),
    Column("Lot expiry", "date"),
    Column("Quantity", "decimal"),
    Column("Unit", "label", 7),
)


ADMINISTRATION_COLUMNS = (
    Column("Batch number", "label", 18),
    Column("Given at", "datetime"),
    Column("Patient MRN", "text", 14),
    Column("Practitioner", "text", 16),
    Column("Doses", "int"),
    Column("Sites", "text", 36),
    Column("Technique", "label", 14),
    Column("Course", "int"),
    Column("Session", "int"),
)


@dataclass(frozen=True)
class BatchLogQuery:
    """What a batch log covers: clinic-local dates ``start`` to ``end`` (both included),
    optionally one cocktail and/or one patient. ``administrations``: add the sheet of the
    administrations of those batches (patient data of the courses: only for a role that
    may read them, SPEC §2; the caller decides)."""

    start: date
    end: date
    cocktail_id: int | None = None
    patient_id: int | None = None
    administrations: bool = False


def default_range(today: date, days: int = DEFAULT_RANGE_DAYS) -> tuple[date, date]:
    """The last ``days`` days, today included."""
    return today - timedelta(days=days - 1), today


def check_range(start: date | None, end: date | None, *, start_field: str = "from",
                end_field: str = "to") -> tuple[date, date]:
    """A date range as a report takes it: both ends given, ``start`` not after ``end``,
    at most :data:`MAX_RANGE_DAYS` long."""
    start, end = check_date_range(start, end, start_field=start_field, end_field=end_field,
                                  required=True)
    if (end - start).days >= MAX_RANGE_DAYS:
        raise ValidationError(msg("A report covers at most %(days)s days.",
                                  days=MAX_RANGE_DAYS), field=end_field)
    return start, end


def resolve_filters(session: Session, *, cocktail_id: int | None = None,
                    patient_id: int | None = None, patient_mrn: str | None = None
                    ) -> tuple[int | None, int | None]:
    """Check that the named cocktail and patient exist (a patient by id or by MRN)."""
    if cocktail_id is not None and session.get(Cocktail, cocktail_id) is None:
        raise NotFound(msg("There is no cocktail %(cocktail_id)s.",
                           cocktail_id=cocktail_id), field="cocktail_id")
    if patient_mrn:
        found = session.execute(
            select(Patient.id).where(Patient.mrn == patient_mrn.strip())).scalar_one_or_none()
        if found is None:
            raise ValidationError(msg("No patient has the MRN %(mrn)s.", mrn=quoted(patient_mrn.strip())),
                                  field="patient_mrn")
        patient_id = found
    elif patient_id is not None and session.get(Patient, patient_id) is None:
        raise NotFound(msg("There is no patient %(patient_id)s.",
                           patient_id=patient_id), field="patient_id")
    return cocktail_id, patient_id


def local_bounds(start: date, end: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The instants from the first moment of ``start`` to the first moment after ``end``
    in the clinic's zone (exclusive end)."""
    return (datetime.combine(start, time.min, tz),
            datetime.combine(end + timedelta(days=1), time.min, tz))


def _filtered(stmt: Select, q: BatchLogQuery, tz: tzinfo) -> Select:
    lo, hi = local_bounds(q.start, q.end, tz)
    stmt = stmt.where(Batch.prepared_at >= lo, Batch.prepared_at < hi)
    if q.cocktail_id is not None:
        stmt = stmt.where(Batch.cocktail_id == q.cocktail_id)
    if q.patient_id is not None:
        stmt = stmt.where(Batch.patient_id == q.patient_id)
    return stmt


def person_name(user):
    """A user's name as every export shows it: the full name, or the username of a user
    who has none (a SQL expression over ``user``, the ``User`` entity or an alias)."""
    return func.coalesce(func.nullif(user.full_name, ""), user.username)


def batches_statement(q: BatchLogQuery, tz: tzinfo) -> Select:
    prepared_by = aliased(User)
    verified_by = aliased(User)
    stmt = (
        select(Batch.batch_number, Batch.prepared_at, Cocktail.name, CocktailVersion.number,
               Batch.doses, Patient.mrn, person_name(prepared_by), person_name(verified_by),
               Batch.status, Batch.beyond_use_at, Batch.override_reason,
               Batch.doses_given, Batch.doses - Batch.doses_given)
        .join(Cocktail, Cocktail.id == Batch.cocktail_id)
        .join(CocktailVersion, CocktailVersion.id == Batch.cocktail_version_id)
        .outerjoin(Patient, Patient.id == Batch.patient_id)
        .join(prepared_by, prepared_by.id == Batch.prepared_by_id)
        .outerjoin(verified_by, verified_by.id == Batch.verified_by_id)
        .order_by(Batch.prepared_at, Batch.id)
    )
    return _filtered(stmt, q, tz)


def components_statement(q: BatchLogQuery, tz: tzinfo) -> Select:
    stmt = (
        select(Batch.batch_number, Ingredient.name, Lot.lot_number, Lot.expiry_date,
               BatchLine.quantity, BatchLine.unit)
        .select_from(BatchLine)
        .join(Batch, Batch.id == BatchLine.batch_id)
        .join(Ingredient, Ingredient.id == BatchLine.ingredient_id)
        .join(Lot, Lot.id == BatchLine.lot_id)
        .order_by(Batch.prepared_at, Batch.id, BatchLine.id)
    )
    return _filtered(stmt, q, tz)


def administrations_statement(q: BatchLogQuery, tz: tzinfo) -> Select:
    """The administrations of the log's batches (whenever given), in batch order."""
    stmt = (
        select(Batch.batch_number, Administration.given_at, Patient.mrn, person_name(User),
               Administration.doses, Administration.sites, Administration.technique,
               Administration.course_id, CourseSession.number)
        .select_from(Administration)
        .join(Batch, Batch.id == Administration.batch_id)
        .join(Patient, Patient.id == Administration.patient_id)
        .join(User, User.id == Administration.given_by_id)
        .join(CourseSession, CourseSession.id == Administration.session_id)
        .order_by(Batch.prepared_at, Batch.id, Administration.given_at, Administration.id)
    )
    return _filtered(stmt, q, tz)


def stream(session: Session, stmt: Select, yield_per: int = YIELD_PER) -> Iterator[tuple]:
    """The rows of ``stmt``, fetched ``yield_per`` at a time (server-side cursor where the
    database has one)."""
    result = session.execute(
        stmt.execution_options(yield_per=yield_per, stream_results=True))
    try:
        for partition in result.partitions():
            yield from partition
    finally:
        result.close()


def batch_log_sheets(session: Session, q: BatchLogQuery, tz: tzinfo) -> list[Sheet]:
    """The sheets of the batch log; their rows are drawn from the database as written."""
    sheets = [
        Sheet("Batches", BATCH_COLUMNS, stream(session, batches_statement(q, tz))),
        Sheet("Components", COMPONENT_COLUMNS, stream(session, components_statement(q, tz))),
    ]
    if q.administrations:
        sheets.append(Sheet("Administrations", ADMINISTRATION_COLUMNS,
                            stream(session, administrations_statement(q, tz))))
    return sheets


def filename(q: BatchLogQuery) -> str:
    return f"batch-log_{q.start.isoformat()}_{q.end.isoformat()}.xlsx"
