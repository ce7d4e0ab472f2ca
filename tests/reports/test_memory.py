"""Exports stream: peak memory stays flat as the batch log grows (SPEC §8).

10,000 and then 100,000 batch lines are inserted in bulk and exported through the same
builder as the page and the API; the peak of Python allocations (tracemalloc) during the
export must grow by far less than the rows do.
"""

from __future__ import annotations

import tempfile
import tracemalloc
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select

from formulary import clock
from formulary.compounding.models import Batch, BatchLine
from formulary.extensions import db
from formulary.reports.batch_log import BatchLogQuery, batch_log_sheets
from formulary.reports.workbook import write_workbook

LINES_PER_BATCH = 5
START = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)


def insert_lines(session, *, first_batch: int, lines: int, cocktail: tuple, user_id: int,
                 lots: list[tuple]) -> None:
    """``lines`` batch lines, five per batch, batches numbered from ``first_batch``."""
    batches = lines // LINES_PER_BATCH
    batch_rows, line_rows = [], []
    for i in range(first_batch, first_batch + batches):
        at = START + timedelta(minutes=i)
        batch_rows.append({"id": i, "batch_number": f"B{i:08d}", "cocktail_id": cocktail[0],
                           "cocktail_version_id": cocktail[1], "doses": 1 + i % 7,
                           "prepared_by_id": user_id, "prepared_at": at,
                           "beyond_use_at": at + timedelta(hours=24), "status": "prepared",
                           "beyond_use_reason": "", "override_reason": "=review" if i % 3 == 0 else None})
        for k in range(LINES_PER_BATCH):
            lot_id, ingredient_id = lots[k % len(lots)]
            line_rows.append({"batch_id": i, "ingredient_id": ingredient_id, "lot_id": lot_id,
                              "quantity": Decimal("0.125") * (k + 1), "unit": "mL"})
    for chunk in range(0, len(batch_rows), 5000):
        session.execute(insert(Batch), batch_rows[chunk:chunk + 5000])
    for chunk in range(0, len(line_rows), 10000):
        session.execute(insert(BatchLine), line_rows[chunk:chunk + 10000])
    session.commit()


def export_peak(session) -> tuple[int, int]:
    """(peak bytes allocated during the export, size of the file)."""
    q = BatchLogQuery(date(2026, 1, 1), date(2026, 12, 31))
    tz = clock.clinic_tz()
    session.expunge_all()
    with tempfile.TemporaryFile() as out:
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            write_workbook(batch_log_sheets(session, q, tz), out, tz=tz)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        return peak, out.tell()


@pytest.mark.slow
def test_peak_memory_stays_flat_as_the_log_grows(app, make_ingredient, make_lot, make_cocktail,
                                                 make_user):
    user = make_user("pharmacist")
    ings = [make_ingredient(unit="mL") for _ in range(5)]
    lots = [make_lot(ing, "100000", expiry=date(2028, 1, 1)) for ing in ings]
    made = make_cocktail([(ing, "1", "mL") for ing in ings])
    cocktail, user_id = (made.id, made.active_version_id), user.id
    lots = [(lot.id, lot.ingredient_id) for lot in lots]

    insert_lines(db.session, first_batch=1, lines=10_000, cocktail=cocktail, user_id=user_id, lots=lots)
    small_peak, small_size = export_peak(db.session)

    insert_lines(db.session, first_batch=2001, lines=90_000, cocktail=cocktail, user_id=user_id, lots=lots)
    assert db.session.execute(select(func.count(BatchLine.id))).scalar_one() == 100_000
    big_peak, big_size = export_peak(db.session)

    assert big_size > 8 * small_size                       # ten times the rows were written
    # ten times the rows; the peak grows by far less (it would be ~10x if rows were held)
    assert big_peak < 1.5 * small_peak + 2 * 2**20, (small_peak, big_peak)
    assert big_peak < 40 * 2**20, big_peak
