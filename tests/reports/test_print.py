"""Every export printed: LibreOffice (headless) turns each workbook into a PDF, and the
PDF is read back (pypdf). Each page is landscape A4, shows every column of its sheet
(the first and the last column's headers are on the page: the header row repeats, and no
column spilled onto a page of its own), carries the title block and the audit head, and
a known number of rows prints on a known number of pages.

On both databases: the rows come from the database through the export's queries."""

from __future__ import annotations

import io
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from formulary import clock
from tests.tools import LIBREOFFICE, LIBREOFFICE_SKIP

pypdf = pytest.importorskip("pypdf")
pytestmark = pytest.mark.skipif(not LIBREOFFICE, reason=LIBREOFFICE_SKIP)

A4_LANDSCAPE = (842, 595)       # points, give or take one


def to_pdf(files: dict[str, bytes], work) -> dict[str, list[str]]:
    """``{name: xlsx bytes}`` -> ``{name: [text of each printed page]}``, converted by
    LibreOffice in one run (every sheet of a workbook, in order)."""
    for name, data in files.items():
        (work / f"{name}.xlsx").write_bytes(data)
    subprocess.run([LIBREOFFICE, "--headless", f"-env:UserInstallation=file://{work}/profile",
                    "--convert-to", "pdf", "--outdir", str(work),
                    *[str(work / f"{name}.xlsx") for name in files]],
                   check=True, capture_output=True, timeout=240)
    pages = {}
    for name in files:
        reader = pypdf.PdfReader(io.BytesIO((work / f"{name}.pdf").read_bytes()))
        for page in reader.pages:
            width, height = float(page.mediabox.width), float(page.mediabox.height)
            assert abs(width - A4_LANDSCAPE[0]) < 2 and abs(height - A4_LANDSCAPE[1]) < 2, \
                f"{name}: a page of {width}x{height} pt is not landscape A4"
        pages[name] = [" ".join(page.extract_text().split()) for page in reader.pages]
    return pages


def _check(pages: list[str], *, report: str, clinic: str,
           sheets: list[tuple[str, str, str, int]], head: bool = True) -> None:
    """``sheets``: ``(marker, first header, last header, pages)`` for each sheet, the
    marker a header only that sheet has. Each page belongs to one sheet, shows both ends
    of its header row (every column fits the width, the header row repeats), and says
    what it is: the title block and the audit head."""
    total = 0
    for marker, first, last, expected in sheets:
        mine = [p for p in pages if marker in p]
        assert len(mine) == expected, \
            f"{report}: the sheet with {marker!r} printed on {len(mine)} pages, not {expected}"
        for page in mine:
            assert first in page and last in page, f"{report}: a page lacks a column: {page[:300]}"
        total += expected
    assert len(pages) == total, f"{report}: {len(pages)} pages for {total} expected"
    for number, page in enumerate(pages, 1):
        assert report in page and clinic in page and "Generated" in page, page[:300]
        assert f"Page {number} of {len(pages)}" in page, page[:300]
        if head:
            assert "Audit log head:" in page, page[-300:]


@pytest.fixture
def shop(make_ingredient, make_lot, make_cocktail, make_patient, make_batch, make_user):
    """27 batches of 2 lines over the last day (each for a patient), 30 lots of 10
    ingredients with a unit cost; the first lot reached all 27 batches."""
    today = clock.today()
    ings = [make_ingredient(f"Ingredient with a long descriptive name {i}", unit="mL",
                            category="plant_extract" if i % 2 else "amino_acid",
                            reorder_level="1000") for i in range(10)]
    lots = [make_lot(ings[i % 10], "500", lot_number=f"LOT-{i:04d}", unit_cost="1.25",
                     expiry=today + timedelta(days=30 * (i % 12) + 20)) for i in range(30)]
    cocktail = make_cocktail([(ings[0], "1", "mL"), (ings[1], "1", "mL")], name="Scalp revitalising")
    checker = make_user("pharmacist", full_name="Chloé Checker")
    now = datetime.now(timezone.utc)
    for i in range(27):
        patient = make_patient(first_name=f"Patient{i}", last_name="Long-Surname-For-Print")
        make_batch(cocktail, [(lots[0], "1"), (lots[1], "1")], patient=patient, doses=4,
                   prepared_at=now - timedelta(hours=i), status="verified", verified_by=checker,
                   override_reason="Reviewed with the practitioner" if i % 5 == 0 else None)
    return {"lot": lots[0], "today": today}


def test_every_export_prints_its_columns_on_the_page_width(app, api, login_as, shop, tmp_path):
    clinic = app.config["CLINIC_NAME"]
    admin = api("admin", full_name="Alex Admin")
    login_as("admin", full_name="Alex Admin")      # the page downloads: audit, recall list
    today = shop["today"]
    got = {}
    for name, url in (
            ("batch-log", f"reports/batch-log.xlsx?from={today - timedelta(days=3)}&to={today}"),
            ("stock", "reports/stock.xlsx"),
            ("template", "imports/delivery/template.xlsx"),
            ("audit", "/reports/audit.xlsx"),
            ("trace", f"/lots/{shop['lot'].id}/trace.xlsx")):
        response = admin.get(url)
        assert response.status_code == 200, (name, response.status_code)
        got[name] = response.get_data()
    pages = to_pdf(got, tmp_path)

    # 27 batches (a 27-row batch log printed on 10 pages before): one page; their 54
    # component lines: two
    _check(pages["batch-log"], report="Batch log", clinic=clinic, sheets=[
        ("Override reason", "Batch number", "Doses left", 1),
        ("Lot expiry", "Batch number", "Unit", 2),
        # the admin reads courses: the doses given from these batches, on one page
        ("Technique", "Batch number", "Session", 1)])
    first = pages["batch-log"][0]
    assert "Alex Admin" in first and "Chloé Checker" in first and "Verified" in first
    # stock (27 pages before): 30 lots
    stock = pages["stock"]
    _check(stock, report="Stock report", clinic=clinic, sheets=[
        ("Unit cost", "Ingredient", "Value", 1), ("Days left", "Ingredient", "Value", 1),
        ("Shortfall", "Ingredient", "Unit", 1), ("Balance after", "At", "Note", 1),
        ("Stock value", "Category", "Stock value", 1),
        ("Lots expiring", "Month", "Value", 1)])
    text = " ".join(stock)
    assert "Plant extract" in text and "plant_extract" not in text and "625.00 EUR" in text
    _check(pages["template"], report="Delivery sheet to fill in", clinic=clinic, head=False,
           sheets=[("Supplier", "Ingredient", "Supplier", 1)])
    _check(pages["audit"], report="Audit log", clinic=clinic,
           sheets=[("Previous hash", "Seq", "Hash", len(pages["audit"]))])
    _check(pages["trace"], report="Recall list", clinic=clinic, sheets=[
        ("Beyond-use", "Batch number", "Prepared by", 1),
        ("Date of birth", "MRN", "Date of birth", 1),
        # the admin reads courses: the doses given from the lot's batches
        ("Technique", "Given at", "Session", 1)])
