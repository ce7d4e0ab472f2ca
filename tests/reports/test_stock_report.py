"""The stock report workbook (SPEC §8): On hand with status and a totals row of the
stock value, Expiring, Reorder, Movements, and native Excel charts."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timedelta

import pytest

from formulary import clock
from tests.reports.conftest import open_workbook, read_workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEETS = ["On hand", "Expiring", "Reorder", "Movements", "By category", "Expiry by month"]


@pytest.fixture
def stock(make_ingredient, make_lot):
    today = clock.today()
    biotin = make_ingredient("Biotin", unit="mL", category="vitamin", reorder_level="100")
    lido = make_ingredient("=Lidocaine", unit="mL", category="anesthetic")
    zinc = make_ingredient("Zinc", unit="mg", category="mineral", reorder_level="5")
    lots = {
        "good": make_lot(biotin, "10", lot_number="B-GOOD", expiry=today + timedelta(days=400),
                         unit_cost="2.50"),
        "soon": make_lot(biotin, "4", lot_number="@B-SOON", expiry=today + timedelta(days=20),
                         unit_cost="1.25"),
        "old": make_lot(lido, "3", lot_number="L-OLD", expiry=today - timedelta(days=2),
                        unit_cost="10"),
        "held": make_lot(lido, "6", lot_number="L-HELD", expiry=today + timedelta(days=60),
                         status="quarantined"),
        "empty": make_lot(zinc, "50", lot_number="Z-EMPTY", on_hand="0", unit_cost="1"),
        "zinc": make_lot(zinc, "20", lot_number="Z-1", expiry=today + timedelta(days=80),
                         unit_cost="0.10"),
    }
    return {"today": today, "lots": lots}


def _download(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    assert response.mimetype == XLSX
    return response.get_data()


def test_on_hand_sheet(api, stock):
    sheets = read_workbook(_download(api("manager"), "reports/stock.xlsx"))
    assert list(sheets) == SHEETS
    on_hand = sheets["On hand"]
    assert on_hand[0] == ("Ingredient", "Category", "Lot", "Expiry", "Status", "On hand", "Unit",
                          "Unit cost", "Value")
    rows = {r[2]: r for r in on_hand[1:-1]}
    assert "Z-EMPTY" not in rows                         # nothing on hand: not listed
    today = stock["today"]
    # codes in words: category and status
    assert rows["B-GOOD"] == ("Biotin", "Vitamin", "B-GOOD",
                              datetime.combine(today + timedelta(days=400), datetime.min.time()),
                              "Available", 10, "mL", 2.5, 25)
    assert rows["L-OLD"][4] == "Expired"                 # past its expiry date
    assert rows["L-HELD"][4] == "Quarantined" and rows["L-HELD"][8] is None   # no unit cost
    assert rows["L-OLD"][0] == "=Lidocaine"
    total = on_hand[-1]
    assert total[0] == "Total" and total[8] == f"=SUBTOTAL(9,I2:I{len(on_hand) - 1})"


def test_expiring_reorder_and_movements(api, stock):
    sheets = read_workbook(_download(
        api("pharmacist"), "reports/stock.xlsx?expiring_within_days=30"))
    expiring = sheets["Expiring"]
    assert [r[2] for r in expiring[1:-1]] == ["@B-SOON"]    # usable and within 30 days
    assert expiring[1][5] == 20                             # days left
    reorder = sheets["Reorder"]
    assert reorder[0] == ("Ingredient", "Category", "Usable", "Reorder level", "Shortfall", "Unit")
    # biotin: 14 usable for a level of 100; zinc: 20 usable for 5, not low
    assert reorder[1:] == [("Biotin", "Vitamin", 14, 100, 86, "mL")]
    movements = sheets["Movements"]
    assert movements[0][:6] == ("At", "Ingredient", "Lot", "Kind", "Reason", "Quantity")
    kinds = sorted((r[2], r[3], r[5]) for r in movements[1:])
    assert ("Z-EMPTY", "Adjustment", -50) in kinds and ("B-GOOD", "Receipt", 10) in kinds
    wide = read_workbook(_download(api("manager"), "reports/stock.xlsx?expiring_within_days=90"))
    assert [r[2] for r in wide["Expiring"][1:-1]] == ["@B-SOON", "Z-1"]   # not the quarantined


def test_formats_filters_inert_text_and_charts(api, stock):
    data = _download(api("manager"), "reports/stock.xlsx")
    wb = open_workbook(data)
    ws = wb["On hand"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:I6"
    assert ws["D2"].number_format == "yyyy-mm-dd" and ws["D2"].is_date
    assert ws["I2"].number_format == '#,##0.00 "EUR"' and ws["I7"].font.b   # MONEY_CURRENCY
    lido = next(row for row in ws.iter_rows(min_row=2) if row[0].value == "=Lidocaine")
    assert lido[0].data_type == "s"                      # a name, never a formula
    soon = next(row for row in ws.iter_rows(min_row=2) if row[2].value == "@B-SOON")
    assert soon[2].data_type == "s" and soon[2].quotePrefix
    by_cat = read_workbook(data)["By category"]
    assert by_cat[1:-1] == [("Anaesthetic", 2, 30), ("Mineral", 1, 2), ("Vitamin", 2, 30)]
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        xml = " ".join(z.read(n).decode() for n in charts)
    assert len(charts) == 2
    assert "Stock value by category" in xml and "Usable lots expiring per month" in xml


def test_libreoffice_reads_the_stock_report(api, stock, libreoffice_csv):
    sheets = libreoffice_csv(_download(api("manager"), "reports/stock.xlsx"))
    on_hand = sheets["On hand"]
    assert on_hand[0][:3] == ["Ingredient", "Category", "Lot"]
    total = on_hand[-1]
    assert total[0] == "Total" and total[8] == "62.00 EUR"   # 25 + 5 + 30 + 2, computed by LibreOffice
    lido = next(r for r in on_hand if r[2] == "L-OLD")
    assert lido[0] == "=Lidocaine" and lido[4] == "Expired"
    assert lido[3] == (stock["today"] - timedelta(days=2)).isoformat()
    assert sheets["By category"][-1][2] == "62.00 EUR"


@pytest.mark.parametrize("query, field", [
    ("expiring_within_days=-1", "expiring_within_days"),
    ("expiring_within_days=ten", "expiring_within_days"),
    ("from=2026-02-29&to=2026-03-01", "from"),
    ("from=2026-03-02&to=2026-03-01", "to"),
])
def test_bad_stock_requests(api, stock, query, field):
    response = api("manager").get(f"reports/stock.xlsx?{query}")
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]


def test_page_stock_download_and_refusal(client, login_as, stock):
    login_as("manager")
    response = client.get("/reports/stock.xlsx?expiring_within_days=30&from=2020-01-01&to=2020-01-31")
    assert response.status_code == 200
    assert read_workbook(response.get_data())["Movements"] == [
        ("At", "Ingredient", "Lot", "Kind", "Reason", "Quantity", "Balance after", "Unit", "By",
         "Batch number", "Note")]
    bad = client.get("/reports/stock.xlsx?expiring_within_days=-5")
    assert bad.status_code == 422 and "Number must be between" in bad.get_data(as_text=True)


def test_audit_log_export(client, login_as, api, stock):
    api("pharmacist").get("reports/stock.xlsx")            # an export: one audit entry
    user = login_as("manager")
    response = client.get("/reports/audit.xlsx?action=report.export")
    assert response.status_code == 200
    rows = read_workbook(response.get_data())["Audit log"]
    assert rows[0][:4] == ("Seq", "At", "User", "Action")
    assert [r[3] for r in rows[1:]] == ["report.export"]
    assert isinstance(rows[1][1], datetime)
    assert client.get("/audit/").status_code == 200
    assert "/reports/audit.xlsx" in client.get("/audit/?user=x").get_data(as_text=True)
    assert user.role == "manager"


def test_the_expiry_chart_keeps_the_months_with_no_expiry(api, stock):
    """Usable lots expire in about 20, 80 and 400 days: the chart's table runs from this
    month to the last one month by month, the months between at zero lots."""
    from formulary.reports.stock_report import months_between

    rows = read_workbook(_download(api("manager"), "reports/stock.xlsx"))["Expiry by month"]
    months = [r[0] for r in rows[1:-1]]           # between the header and the totals row
    today = stock["today"]
    last = today + timedelta(days=400)
    assert months == months_between(f"{today:%Y-%m}", f"{last:%Y-%m}")
    assert len(months) >= 13 and sum(r[1] for r in rows[1:-1]) == 3
    assert any(r[1] == 0 for r in rows[1:-1])


@pytest.mark.parametrize("first, last, expected", [
    ("2026-11", "2027-02", ["2026-11", "2026-12", "2027-01", "2027-02"]),   # over a new year
    ("2026-05", "2026-05", ["2026-05"]),                                    # one month
    ("2026-06", "2026-05", []),                                             # none
])
def test_months_between(first, last, expected):
    from formulary.reports.stock_report import months_between

    assert months_between(first, last) == expected
