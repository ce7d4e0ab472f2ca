"""Exports stream: peak memory stays flat as the batch log grows (SPEC §8).

5,000 and then 50,000 batch lines are inserted in bulk into a SQLite file and exported
through the same builder as the page and the API, each time in a fresh process whose peak
resident memory (VmHWM) is read at the end: it must grow by far less than the rows do.
A fresh process keeps the measure honest (no peak left over from inserting the rows) and
runs at full speed (tracemalloc slowed the export about fourfold).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
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


EXPORT = textwrap.dedent("""
    import sys, tempfile
    from datetime import date
    from tests.conftest import make_app
    from formulary import clock
    from formulary.extensions import db
    from formulary.reports.batch_log import BatchLogQuery, batch_log_sheets
    from formulary.reports.workbook import write_workbook

    app = make_app(sys.argv[1])
    with app.app_context(), tempfile.TemporaryFile() as out:
        tz = clock.clinic_tz()
        q = BatchLogQuery(date(2026, 1, 1), date(2026, 12, 31))
        write_workbook(batch_log_sheets(db.session, q, tz), out, tz=tz)
        size = out.tell()
    peak = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
    print(int(peak) * 1024, size)
""")


def export_peak(url: str) -> tuple[int, int]:
    """(peak resident bytes of a process that exported the whole log, size of the file)."""
    done = subprocess.run([sys.executable, "-c", EXPORT, url], capture_output=True, text=True,
                          check=True, timeout=600)
    peak, size = done.stdout.split()[-2:]
    return int(peak), int(size)


@pytest.mark.slow
def test_peak_memory_stays_flat_as_the_log_grows(tmp_path):
    import os

    from tests.conftest import make_app

    if not os.path.exists("/proc/self/status"):
        pytest.skip("memory test skipped: no /proc to read the peak from")
    url = f"sqlite:///{tmp_path / 'log.db'}"
    app = make_app(url)
    with app.app_context():
        db.create_all()
        from formulary.auth import services
        from formulary.cocktails.models import Cocktail, CocktailVersion, Component
        from formulary.inventory.models import Ingredient, Lot

        user = services.create_user(db.session, "test", username="memtest", password="long enough pw",
                                    role="pharmacist")
        ings = [Ingredient(name=f"Ing {i}", name_key=f"ing {i}", category="vitamin", unit="mL",
                           storage="room") for i in range(5)]
        lots = [Lot(ingredient=ing, lot_number=f"L{i}", expiry_date=date(2028, 1, 1),
                    quantity_received=Decimal(100000), quantity_on_hand=Decimal(100000))
                for i, ing in enumerate(ings)]
        cocktail = Cocktail(name="Mem", name_key="mem", status="active")
        version = CocktailVersion(cocktail=cocktail, number=1, area="scalp", storage="fridge",
                                  status="active")
        version.components = [Component(ingredient=ing, position=i, amount=Decimal(1), unit="mL",
                                        stock_quantity=Decimal(1), stock_unit="mL")
                              for i, ing in enumerate(ings)]
        db.session.add_all([user, *lots, cocktail, version])
        db.session.commit()
        made, user_id = (cocktail.id, version.id), user.id
        lot_ids = [(lot.id, lot.ingredient_id) for lot in lots]
        insert_lines(db.session, first_batch=1, lines=5_000, cocktail=made, user_id=user_id, lots=lot_ids)
    small_peak, small_size = export_peak(url)

    with app.app_context():
        insert_lines(db.session, first_batch=1001, lines=45_000, cocktail=made, user_id=user_id,
                     lots=lot_ids)
        assert db.session.execute(select(func.count(BatchLine.id))).scalar_one() == 50_000
        db.engine.dispose()
    big_peak, big_size = export_peak(url)

    assert big_size > 8 * small_size                       # ten times the rows were written
    # ten times the rows; the peak grows by far less: 45,000 more lines held as rows would
    # take tens of MB (streamed, it grew by under 1 MB here)
    assert big_peak < small_peak + 15 * 2**20, (small_peak, big_peak)
