"""Fixtures of the reports tests: batches made as rows, and readers for the workbooks
(openpyxl, and LibreOffice as a real spreadsheet program)."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from itertools import count

import pytest
from openpyxl import load_workbook

from formulary.extensions import db
from tests.tools import LIBREOFFICE, LIBREOFFICE_SKIP

_numbers = count(1)


@pytest.fixture
def make_batch(app, make_user):
    """A batch row with one line per ``(lot, quantity)``, made directly (no FEFO)."""
    from formulary.compounding.models import Batch, BatchLine

    users = {}

    def make(cocktail, lines, *, patient=None, prepared_at=None, status="prepared",
             override_reason=None, doses=1, prepared_by=None, verified_by=None,
             batch_number=None):
        if prepared_by is None:
            prepared_by = users.get("p") or users.setdefault("p", make_user("pharmacist"))
        at = prepared_at or datetime.now(timezone.utc)
        batch = Batch(batch_number=batch_number or f"B-{next(_numbers):06d}", cocktail_id=cocktail.id,
                      cocktail_version_id=cocktail.active_version_id, doses=doses,
                      patient_id=patient.id if patient else None, prepared_by_id=prepared_by.id,
                      prepared_at=at, beyond_use_at=at + timedelta(hours=24), status=status,
                      override_reason=override_reason,
                      verified_by_id=verified_by.id if verified_by else None)
        for lot, quantity in lines:
            batch.lines.append(BatchLine(ingredient_id=lot.ingredient_id, lot_id=lot.id,
                                         quantity=Decimal(str(quantity)), unit=lot.ingredient.unit))
        db.session.add(batch)
        db.session.commit()
        return batch

    return make


def read_workbook(data: bytes) -> dict[str, list[tuple]]:
    """Every sheet's rows (values), read back with openpyxl as a program would."""
    wb = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    try:
        sheets = {}
        for ws in wb.worksheets:
            rows = [tuple(row) for row in ws.iter_rows(values_only=True)]
            width = len(rows[0]) if rows else 0
            # read-only mode leaves out a row's trailing empty cells: put them back
            sheets[ws.title] = [row + (None,) * (width - len(row)) for row in rows]
        return sheets
    finally:
        wb.close()


def open_workbook(data: bytes):
    """The workbook in full mode, for styles, freeze panes, filters and charts."""
    return load_workbook(io.BytesIO(data))


@pytest.fixture
def libreoffice_csv(tmp_path):
    """``libreoffice_csv(data)``: ``{sheet title: rows}`` as LibreOffice reads every sheet
    of the workbook (formulas computed), each converted to CSV in one run."""
    if not LIBREOFFICE:
        pytest.skip(LIBREOFFICE_SKIP)

    def convert(data: bytes) -> dict[str, list[list[str]]]:
        work = tmp_path / f"lo{next(_numbers)}"
        work.mkdir()
        src = work / "book.xlsx"
        src.write_bytes(data)
        # filter options: comma, double quote, UTF-8 (76), from row 1, default column
        # types, ..., cells as shown (number formats applied); the 12th token -1: every sheet, to book-<Title>.csv
        options = "44,34,76,1,,0,false,true,true,false,false,-1"
        subprocess.run([LIBREOFFICE, "--headless", f"-env:UserInstallation=file://{work}/profile",
                        "--convert-to", f"csv:Text - txt - csv (StarCalc):{options}",
                        "--outdir", str(work), str(src)],
                       check=True, capture_output=True, timeout=180)
        sheets = {}
        for out in sorted(work.glob("book-*.csv")):
            title = out.stem[len("book-"):]
            sheets[title] = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
        assert sheets, f"LibreOffice wrote nothing: {list(work.iterdir())}"
        return sheets

    return convert


DANGEROUS = ("=HYPERLINK(\"http://evil.example\",\"click\")", "+1+2", "-3+4", "@SUM(A1:A2)",
             "=1+1")
