"""Actions of the reports area: importing a supplier's delivery sheet, and recording
who exported what (an export of the batch log carries patients' MRNs).

Services take the acting user, flush, and never commit: the request's transaction does.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from formulary.audit.services import record
from formulary.domain.errors import DomainError
from formulary.domain.messages import msg
from formulary.inventory.lots import receive_lot
from formulary.inventory.models import Ingredient, IngredientGtin, Lot
from formulary.reports.delivery import DeliveryFileError, DeliveryRow, read_delivery

#: The largest delivery file taken (a 5,000-row sheet is well under 1 MB).
MAX_UPLOAD_BYTES = 10 * 2**20


def _name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _reason(exc: DomainError) -> str:
    """Every message of a refusal, once each, as one sentence."""
    messages: list[str] = []
    for field_messages in exc.fields.values():
        for m in field_messages:
            if m not in messages:
                messages.append(m)
    if len(messages) > 1:  # one after the other, each in the reader's language
        return msg("%(sentences)s", sentences=tuple(messages))
    return messages[0] if messages else exc.message


def read_upload(stream: BinaryIO | None, filename: str | None = None) -> io.BytesIO:
    """The uploaded file in memory, or DeliveryFileError when there is none or it is too
    large to be a delivery sheet."""
    if stream is None:
        raise DeliveryFileError([(None, msg("Choose the delivery file (.xlsx) to import."))])
    data = stream.read(MAX_UPLOAD_BYTES + 1)
    if not data:
        raise DeliveryFileError([(None, msg("The file is empty."))])
    if len(data) > MAX_UPLOAD_BYTES:
        raise DeliveryFileError([(None, msg("The file is larger than %(size)s MB: a delivery "
                                            "sheet is much smaller.",
                                            size=MAX_UPLOAD_BYTES // 2**20))])
    return io.BytesIO(data)


def _resolve(session: Session, rows: Sequence[DeliveryRow]):
    """Ingredients by name key and by GTIN for every row, in two queries."""
    keys = {_name_key(r.ingredient) for r in rows if r.ingredient}
    gtins = {r.gtin for r in rows if r.gtin}
    by_name = {i.name_key: i for i in session.execute(
        select(Ingredient).where(Ingredient.name_key.in_(keys))).scalars()} if keys else {}
    by_gtin = {g: i for g, i in session.execute(
        select(IngredientGtin.gtin, Ingredient).join(Ingredient)
        .where(IngredientGtin.gtin.in_(gtins)))} if gtins else {}
    return by_name, by_gtin


def _ingredient_for(row: DeliveryRow, by_name: dict, by_gtin: dict) -> Ingredient:
    named = by_gtin_ing = None
    if row.ingredient:
        named = by_name.get(_name_key(row.ingredient))
        if named is None:
            raise DomainError(msg("No ingredient is named '%(name)s'.", name=row.ingredient))
    if row.gtin:
        by_gtin_ing = by_gtin.get(row.gtin)
        if by_gtin_ing is None:
            raise DomainError(msg("No ingredient has the GTIN %(gtin)s.", gtin=row.gtin))
    if named is not None and by_gtin_ing is not None and named.id != by_gtin_ing.id:
        raise DomainError(msg("The GTIN %(gtin)s is %(found)s, not %(named)s.", gtin=row.gtin,
                              found=by_gtin_ing.name, named=named.name))
    return named or by_gtin_ing


def import_delivery(session: Session, actor, fileobj: BinaryIO, *, filename: str = "",
                    now: datetime | None = None, progress=None) -> list[Lot]:
    """Receive every lot of a delivery sheet, or none.

    The sheet is read and checked whole first (:func:`read_delivery`); then each row's
    ingredient is found by name (case and spacing free) or GTIN, and the lot is received
    through the inventory's ``receive_lot`` inside a SAVEPOINT of its own, so that a
    refused row does not stop the next rows from being checked. Any problem raises one
    :class:`DeliveryFileError` listing every bad row with its number and reason; the
    caller's transaction then rolls back and nothing is received.
    ``progress(rows_checked)``, when given, is called after each row (a job's progress bar).
    """
    problems: list[tuple[int | None, str]] = []
    try:
        rows = read_delivery(fileobj)
    except DeliveryFileError as exc:
        good_rows = getattr(exc, "rows", None)
        if good_rows is None or any(row is None for row, _ in exc.problems):
            raise          # the file itself is wrong: its rows mean nothing yet
        # Bad rows in the sheet: check the good ones against the stock too, so the
        # answer lists every bad row at once.
        rows, problems = list(good_rows), list(exc.problems)
    by_name, by_gtin = _resolve(session, rows)
    lots: list[Lot] = []
    for done, row in enumerate(rows, 1):
        if progress is not None and done > 1:
            progress(done - 1)
        try:
            ingredient = _ingredient_for(row, by_name, by_gtin)
            with session.begin_nested():
                lots.append(receive_lot(
                    session, actor, ingredient=ingredient, lot_number=row.lot,
                    expiry_date=row.expiry, quantity=row.quantity, unit_cost=row.unit_cost,
                    supplier=row.supplier or "", now=now))
        except DomainError as exc:
            problems.append((row.row, _reason(exc)))
    if problems:
        raise DeliveryFileError(sorted(problems, key=lambda p: p[0] or 0))
    record(session, actor, "delivery.import", "delivery", filename[:40],
           summary=f"Imported a delivery sheet{' ' + filename if filename else ''}: "
                   f"{len(lots)} lot(s) received",
           after={"rows": len(rows), "lot_ids": [lot.id for lot in lots]})
    session.flush()
    return lots


def count_rows(fileobj: BinaryIO) -> int:
    """The rows of a delivery sheet (0 when the file is not a readable sheet: the import
    then refuses it with the reasons, at once). The file is left at its start."""
    try:
        rows = len(read_delivery(fileobj))
    except DeliveryFileError as exc:
        rows = len(getattr(exc, "rows", None) or [])
    fileobj.seek(0)
    return rows


def record_export(session: Session, actor, report: str, summary: str,
                  filters: dict | None = None) -> None:
    """Audit an export: who took which report with which filters."""
    record(session, actor, "report.export", "report", report, summary=summary,
           after=filters or {})


