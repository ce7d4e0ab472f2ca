"""Batches read as plain rows for the lists: the batch list (page and API) and the recall
trace of a lot (page, API, export).

A year of batches has lists of 25 to 50 batches of about eight lines each, and a lot's
recall trace shows every batch that used it (177 batches, 1,521 lines for the most used
lot of the year's data): as ORM objects with their cocktail, version, patient, users,
lines, lots and ingredients, loading them was half of the request. Here one statement
reads the batches' columns with the names shown and one reads their lines, into frozen
dataclasses that carry the ORM's attribute names (``b.cocktail.name``,
``line.lot.status``...), so ``compounding.state.state_of``, the API's ``batch_json``, the
trace export and the templates read either the same way. Writing is never done through
these: a batch to verify, discard or label is read by ``queries.get_batch``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Integer, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY as postgresql_array
from sqlalchemy.orm import Session, aliased

from formulary.auth.models import User
from formulary.cocktails.models import Cocktail, CocktailVersion
from formulary.compounding.models import Batch, BatchLine
from formulary.db import DriverSelect, rows_of
from formulary.domain.batch_state import HELD_LOT_STATUSES, LotFact
from formulary.inventory.models import Ingredient, Lot
from formulary.patients.models import Patient


@dataclass(frozen=True, slots=True)
class Named:
    """A cocktail or an ingredient as a list shows it."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class VersionRow:
    number: int
    storage: str


@dataclass(frozen=True, slots=True)
class PatientRow:
    id: int
    mrn: str
    first_name: str
    last_name: str
    date_of_birth: date | None


@dataclass(frozen=True, slots=True)
class UserRow:
    username: str
    full_name: str

    @property
    def display_name(self) -> str:  # as ``User.display_name``
        return self.full_name or self.username


@dataclass(frozen=True, slots=True)
class LotRow:
    id: int
    lot_number: str
    expiry_date: date
    status: str


@dataclass(frozen=True, slots=True)
class LineRow:
    ingredient_id: int
    ingredient: Named
    lot_id: int
    lot: LotRow
    quantity: Decimal
    unit: str


@dataclass(frozen=True, slots=True)
class BatchRow:
    """What the lists, ``batch_json``, ``state_of`` and the trace export read of a batch."""

    id: int
    batch_number: str
    cocktail_id: int
    cocktail: Named
    version: VersionRow
    doses: int
    patient_id: int | None
    patient: PatientRow | None
    prepared_by: UserRow
    prepared_at: datetime
    verified_by: UserRow | None
    verified_at: datetime | None
    beyond_use_at: datetime
    beyond_use_reason: str
    status: str
    safety_verdict: str | None
    override_reason: str | None
    discard_reason: str | None
    doses_given: int
    #: every line of the batch; ``None`` when a list did not read them (the recall page:
    #: its lines of the lot only, ``LotTrace.taken``), so that no state is worked out
    #: from a part of them
    lines: tuple[LineRow, ...] | None


_PREPARED = aliased(User, name="prepared_by")
_VERIFIED = aliased(User, name="verified_by")



def _columns(b) -> tuple:
    # ``Batch.doses_given`` is defined beside the administrations (``courses.models``),
    # mapped by the time a request reads a list
    return (b.id, b.batch_number, b.cocktail_id, Cocktail.name,
            CocktailVersion.number, CocktailVersion.storage, b.doses, b.patient_id,
            Patient.mrn, Patient.first_name, Patient.last_name, Patient.date_of_birth,
            _PREPARED.username, _PREPARED.full_name, b.prepared_at,
            _VERIFIED.username, _VERIFIED.full_name, b.verified_at, b.beyond_use_at,
            b.beyond_use_reason, b.status, b.safety_verdict,
            b.override_reason, b.discard_reason, b.doses_given)


def _joined(b, *conditions):
    return (select(*_columns(b)).select_from(b)
            .join(Cocktail, Cocktail.id == b.cocktail_id)
            .join(CocktailVersion, CocktailVersion.id == b.cocktail_version_id)
            .join(_PREPARED, _PREPARED.id == b.prepared_by_id)
            .outerjoin(Patient, Patient.id == b.patient_id)
            .outerjoin(_VERIFIED, _VERIFIED.id == b.verified_by_id)
            .where(*conditions))


def batch_rows_statement(*conditions):
    """A select of the columns ``read`` takes, of the batches meeting ``conditions``
    (no order: the caller's list orders and pages it)."""
    return _joined(Batch, *conditions)


def chosen_batch_rows_statement(*conditions, order):
    """``batch_rows_statement(*conditions)`` ordered by ``order(b)`` (``b``: the chosen
    batches, e.g. ``lambda b: (b.prepared_at.desc(),)``), the batches chosen first in a
    subquery that PostgreSQL plans apart (its ``OFFSET 0`` keeps it from being merged
    into the joins): planning the batches, the four tables looked up and a semi-join
    together took PostgreSQL 4-20 ms, against 1-1.5 ms for the same plan this way, for a
    statement that runs in 1-7 ms. An ORM alias costs ~3 ms to make: build it once (the
    recall trace's, ``queries._trace_statements``)."""
    chosen = aliased(Batch, select(Batch.__table__).where(*conditions).offset(0)
                     .subquery("batch"), name="batch")
    return _joined(chosen).order_by(*order(chosen))


def _lines_statement(*where):
    return (select(BatchLine.batch_id, BatchLine.ingredient_id, Ingredient.name,
                   BatchLine.lot_id, Lot.lot_number, Lot.expiry_date, Lot.status,
                   BatchLine.quantity, BatchLine.unit)
            .join(Ingredient, Ingredient.id == BatchLine.ingredient_id)
            .join(Lot, Lot.id == BatchLine.lot_id)
            .where(*where)
            .order_by(BatchLine.batch_id, BatchLine.id))


def lines_of(session: Session, batch_ids, *, lot_id: int | None = None
             ) -> dict[int, tuple[LineRow, ...]]:
    """The lines of the batches ``batch_ids`` (a list of ids or a select of them), by
    batch, in the order they were written (only those of lot ``lot_id`` when given): one
    statement."""
    where = [BatchLine.batch_id.in_(batch_ids)]
    if lot_id is not None:
        where.append(BatchLine.lot_id == lot_id)
    rows = session.execute(_lines_statement(*where))
    out: dict[int, list[LineRow]] = {}
    lots: dict[int, LotRow] = {}  # a lot or an ingredient on many lines: one object each
    ingredients: dict[int, Named] = {}
    # Lines alike (the same lot, the same quantity written the same way, the same unit:
    # the same cocktail's doses) are one object: a line holds nothing of its batch, and
    # the recall trace's 1,521 lines are a few hundred distinct ones (the API writes each
    # one's JSON once, ``routes_compounding``).
    alike: dict[tuple, LineRow] = {}
    for batch_id, ingredient_id, name, lot_id, number, expiry, status, quantity, unit in rows:
        key = (ingredient_id, lot_id, str(quantity), unit)
        line = alike.get(key)
        if line is None:
            lot = lots.get(lot_id)
            if lot is None:
                lot = lots[lot_id] = LotRow(lot_id, number, expiry, status)
            ingredient = ingredients.get(ingredient_id)
            if ingredient is None:
                ingredient = ingredients[ingredient_id] = Named(ingredient_id, name)
            line = alike[key] = LineRow(ingredient_id, ingredient, lot_id, lot, quantity, unit)
        out.setdefault(batch_id, []).append(line)
    return {k: tuple(v) for k, v in out.items()}


def lines_select(batch_ids) -> DriverSelect:
    """The lines of the batches ``batch_ids`` (a select of ids, its values bound
    parameters) in ``lines_of``'s order, their own columns only (their lots' and
    ingredients' are read once per lot: ``lots_select``), to build once and read with
    ``distinct_lines_of``."""
    return DriverSelect(
        select(BatchLine.batch_id, BatchLine.ingredient_id, BatchLine.lot_id,
               BatchLine.quantity, BatchLine.unit)
        .where(BatchLine.batch_id.in_(batch_ids)).order_by(BatchLine.batch_id, BatchLine.id))


def lots_select(postgresql: bool):
    """The lots whose ids are the bound list ``ids``, each with its ingredient's name (one
    row a lot), for ``distinct_lines_of``; built once. PostgreSQL takes the ids as one
    array (``= ANY``): a list of 172 ids written as 172 parameters took 1.8 ms to plan,
    as an array 0.7 ms in all."""
    ids = (Lot.id == any_(bindparam("ids", type_=postgresql_array(Integer))) if postgresql
           else Lot.id.in_(bindparam("ids", expanding=True)))
    return (select(Lot.id, Lot.lot_number, Lot.expiry_date, Lot.status, Lot.ingredient_id,
                   Ingredient.name)
            .join(Ingredient, Ingredient.id == Lot.ingredient_id).where(ids))


_INGREDIENT_NAMES = select(Ingredient.id, Ingredient.name).where(
    Ingredient.id.in_(bindparam("ids", expanding=True)))


def distinct_lines_of(session: Session, lines: DriverSelect, lots, params: dict
                      ) -> tuple[dict[int, list[int]], list[LineRow]]:
    """Every line of the batches of ``lines`` (``lines_select``) with ``params``, as
    ``lines_of`` reads them (the same order), as ``(by_batch, distinct)``: each batch's
    lines as indexes into ``distinct``, the lines alike (the same ingredient, lot,
    quantity and unit) one entry.

    Two statements: the lines' own columns, read as the driver gives them
    (``db.DriverSelect``), then their lots (``lots``: ``lots_select``) with each lot's
    ingredient's name. The recall trace's 1,468 lines are of 172 lots and 446 distinct
    lines: joined to their lot and ingredient in one statement, every line carried their
    four columns, which the database looked up and the driver read 1,468 times (PostgreSQL:
    4.6 ms, against 2.3 + 0.7 ms; SQLite 2.7 against 1.3 + 0.5). Each distinct line is
    converted once. Raw values equal are the same value converted (a quantity is a real on
    SQLite, a ``Decimal`` of the column's scale on PostgreSQL: no two spellings of one
    number; SQLite keeps a whole real as an integer, so no ``-0.0`` either). A line whose
    ingredient is not its lot's (never so, but exact) has its ingredient's name read
    apart (a third statement)."""
    rows, convert = lines.rows(session, params)
    _, c_ingredient, c_lot, c_quantity, c_unit = ((lambda v: v) if f is None else f
                                                 for f in convert)
    # keyed by the raw values: equal values (a quantity compared by its value) are one key
    index: dict[tuple, int] = {}
    raw: list[tuple] = []  # the distinct lines' raw values, in the order first met
    by_batch: dict[int, list[int]] = {}
    for batch_id, ingredient_id, lot_id, quantity, unit in rows:
        key = (ingredient_id, lot_id, quantity, unit)
        i = index.get(key)
        if i is None:
            i = index[key] = len(raw)
            raw.append((c_ingredient(ingredient_id), c_lot(lot_id), quantity, unit))
        line_indexes = by_batch.get(batch_id)
        if line_indexes is None:
            by_batch[batch_id] = [i]
        else:
            line_indexes.append(i)
    if not raw:
        return by_batch, []
    found: dict[int, LotRow] = {}
    names: dict[int, str] = {}
    for lot_id, number, expiry, status, ingredient_id, name in rows_of(
            session, lots, {"ids": sorted({r[1] for r in raw})}):
        found[lot_id] = LotRow(lot_id, number, expiry, status)
        names[ingredient_id] = name
    missing = {r[0] for r in raw} - names.keys()
    if missing:
        names.update(rows_of(session, _INGREDIENT_NAMES, {"ids": sorted(missing)}).all())
    ingredients: dict[int, Named] = {}
    # a few quantities among the distinct lines (1, 0.5 mL...): each converted once
    # (1 us each), by its raw value as the keys above
    quantities: dict = {}
    distinct: list[LineRow] = []
    for ingredient_id, lot_id, quantity, unit in raw:
        ingredient = ingredients.get(ingredient_id)
        if ingredient is None:
            ingredient = ingredients[ingredient_id] = Named(ingredient_id, names[ingredient_id])
        value = quantities.get(quantity)
        if value is None:
            value = quantities[quantity] = c_quantity(quantity)
        distinct.append(LineRow(ingredient_id, ingredient, lot_id, found[lot_id], value,
                                c_unit(unit)))
    return by_batch, distinct


def lines_of_lot(session: Session, lot) -> dict[int, tuple[LineRow, ...]]:
    """The lines drawn from ``lot`` (a ``Lot`` with its ingredient loaded), by batch, in
    the order they were written: ``lines_of(..., lot_id=lot.id)`` without its joins (every
    line is of this lot and its ingredient, known already): one statement."""
    rows = session.execute(
        select(BatchLine.batch_id, BatchLine.ingredient_id, BatchLine.quantity, BatchLine.unit)
        .where(BatchLine.lot_id == lot.id).order_by(BatchLine.batch_id, BatchLine.id))
    this_lot = LotRow(lot.id, lot.lot_number, lot.expiry_date, lot.status)
    ingredients = {lot.ingredient_id: Named(lot.ingredient_id, lot.ingredient.name)}
    out: dict[int, list[LineRow]] = {}
    alike: dict[tuple, LineRow] = {}
    for batch_id, ingredient_id, quantity, unit in rows:
        key = (ingredient_id, str(quantity), unit)
        line = alike.get(key)
        if line is None:
            ingredient = ingredients.get(ingredient_id)
            if ingredient is None:  # a line's ingredient is its lot's: never so, but exact
                return lines_of(session, select(BatchLine.batch_id)
                                .where(BatchLine.lot_id == lot.id), lot_id=lot.id)
            line = alike[key] = LineRow(ingredient_id, ingredient, lot.id, this_lot,
                                        quantity, unit)
        out.setdefault(batch_id, []).append(line)
    return {k: tuple(v) for k, v in out.items()}


def held_lots_of(session: Session, batch_ids) -> dict[int, tuple[LotFact, ...]]:
    """The lots now held (quarantined, recalled) among the lines of the batches
    ``batch_ids``, by batch, in the order the lines were written: one statement, and
    (almost always) no row. A batch's state depends on its lots through these alone
    (``domain.batch_state``: only a held lot counts), so a list that shows states but no
    lines reads these instead of every line (``state.state_with_lots``)."""
    rows = session.execute(
        select(BatchLine.batch_id, Lot.lot_number, Lot.status, Ingredient.name)
        .join(Lot, Lot.id == BatchLine.lot_id)
        .join(Ingredient, Ingredient.id == BatchLine.ingredient_id)
        .where(BatchLine.batch_id.in_(batch_ids), Lot.status.in_(HELD_LOT_STATUSES))
        .order_by(BatchLine.batch_id, BatchLine.id))
    out: dict[int, list[LotFact]] = {}
    for batch_id, number, status, name in rows:
        out.setdefault(batch_id, []).append(LotFact(number, status, name))
    return {k: tuple(v) for k, v in out.items()}


def read(rows, lines: dict[int, tuple[LineRow, ...]] | None) -> list[BatchRow]:
    """``BatchRow``s from rows of ``batch_rows_statement`` (in their order) and their
    lines (``lines_of``; ``None``: not read)."""
    out = []
    for (id_, number, cocktail_id, cocktail_name, version, storage, doses, patient_id, mrn,
         first, last, born, prep_user, prep_name, prepared_at, ver_user, ver_name,
         verified_at, beyond_use_at, beyond_reason, status, verdict, override, discard,
         given) in rows:
        out.append(BatchRow(
            id=id_, batch_number=number, cocktail_id=cocktail_id,
            cocktail=Named(cocktail_id, cocktail_name), version=VersionRow(version, storage),
            doses=doses, patient_id=patient_id,
            patient=PatientRow(patient_id, mrn, first, last, born) if patient_id is not None else None,
            prepared_by=UserRow(prep_user, prep_name), prepared_at=prepared_at,
            verified_by=UserRow(ver_user, ver_name) if ver_user is not None else None,
            verified_at=verified_at, beyond_use_at=beyond_use_at,
            beyond_use_reason=beyond_reason, status=status, safety_verdict=verdict,
            override_reason=override, discard_reason=discard, doses_given=int(given or 0),
            lines=None if lines is None else lines.get(id_, ())))
    return out


def read_page(session: Session, rows) -> list[BatchRow]:
    """A page of ``batch_rows_statement``'s rows as ``BatchRow``s with their lines (one
    statement more)."""
    rows = list(rows)
    return read(rows, lines_of(session, [r[0] for r in rows]) if rows else {})
