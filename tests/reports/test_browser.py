"""In a real browser: download a report from the reports page, and import a delivery
sheet with bad rows, which the page refuses row by row."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from openpyxl import Workbook, load_workbook

from formulary.extensions import db

pytestmark = pytest.mark.browser
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _bad_delivery() -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["Ingredient", "Lot", "Expiry", "Quantity", "Unit cost"])
    ws.append(["Biotin", "B-1", date.today() + timedelta(days=300), 10, 2])     # good
    ws.append(["Unobtainium", "U-1", date.today() + timedelta(days=300), 1, 2])  # unknown
    ws.append(["Biotin", "B-2", "2026-02-30", 1, 2])                            # no such date
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_download_a_report_and_import_a_bad_file(page):
    from formulary.inventory.models import Ingredient, Lot

    with page.live.app.app_context():
        db.session.add(Ingredient(name="Biotin", name_key="biotin", category="vitamin", unit="mL"))
        db.session.commit()
    page.login("pharmacist")
    page.click("[data-nav='reports.index']")
    page.wait_for_selector("[data-testid=batch-log]")

    with page.expect_download() as info:
        page.click("[data-testid=stock-report] button[type=submit]")
    download = info.value
    assert download.suggested_filename.startswith("stock-report_")
    wb = load_workbook(io.BytesIO(download.path().read_bytes()), read_only=True)
    assert wb.sheetnames[:4] == ["On hand", "Expiring", "Reorder", "Movements"]
    wb.close()

    with page.expect_download() as info:
        page.click("[data-testid=batch-log] button[type=submit]")
    wb = load_workbook(io.BytesIO(info.value.path().read_bytes()), read_only=True)
    # a pharmacist reads the courses: the doses given from the batches come too
    assert wb.sheetnames == ["Batches", "Components", "Administrations"]
    wb.close()

    page.set_input_files("input[name=file]", files=[
        {"name": "delivery.xlsx", "mimeType": XLSX, "buffer": _bad_delivery()}])
    page.click("[data-testid=delivery-import] button[type=submit]")
    problems = page.wait_for_selector("[data-testid=import-problems]")
    text = problems.inner_text()
    assert "Row 3:" in text and "Unobtainium" in text and "Row 4:" in text
    assert "Row 2:" not in text
    with page.live.app.app_context():
        assert db.session.query(Lot).count() == 0

    page.click("[data-testid=adverse-events-link]")
    page.wait_for_selector("[data-testid=adverse-events]")
    page.select_option("select[name=severity]", "severe")
    page.click("[data-testid=event-filters] button[type=submit]")
    page.wait_for_url("**severity=severe**")
    with page.expect_download() as info:
        page.click("[data-testid=export]")
    wb = load_workbook(io.BytesIO(info.value.path().read_bytes()), read_only=True)
    assert wb.sheetnames == ["Adverse events", "By ingredient and lot"]
    wb.close()
