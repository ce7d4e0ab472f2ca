"""The batch log workbook (SPEC §8): sheets, columns, real dates and numbers, inert
text, filters by range (clinic-local dates), cocktail and patient; the API and the page;
bad requests answered 4xx."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from formulary.audit.models import AuditEntry
from formulary.extensions import db
from tests.reports.conftest import open_workbook, read_workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LOT_TEXT = '=HYPERLINK("http://x.io","y")'
BATCH_HEADERS = ("Batch number", "Prepared at", "Cocktail", "Version", "Doses", "Patient MRN",
                 "Prepared by", "Verified by", "Status", "Beyond-use date", "Override reason",
                 "Doses given", "Doses left")
COMPONENT_HEADERS = ("Batch number", "Ingredient", "Lot number", "Lot expiry", "Quantity", "Unit")


@pytest.fixture
def clinic(make_ingredient, make_lot, make_cocktail, make_patient, make_batch, make_user):
    """Two cocktails, two patients, three batches on 10, 11 and 20 March 2026 (Paris)."""
    biotin = make_ingredient("-Biotin 5 mg/mL", unit="mL")
    lido = make_ingredient("Lidocaine 2%", unit="mL", category="anesthetic")
    b_lot = make_lot(biotin, "100", lot_number=LOT_TEXT, expiry=date(2027, 5, 31))
    l_lot = make_lot(lido, "100", lot_number="+L-2", expiry=date(2027, 1, 15))
    hair = make_cocktail([(biotin, "2.5", "mL"), (lido, "0.5", "mL")], name="+Hair boost")
    face = make_cocktail([(lido, "1", "mL")], name="Face glow")
    ana = make_patient("@MRN-1")
    bob = make_patient("MRN-2")
    checker = make_user("pharmacist", username="checker", full_name="Chloé Checker")
    # 23:30 UTC on 10 March is 00:30 on 11 March in Paris
    b1 = make_batch(hair, [(b_lot, "2.5"), (l_lot, "0.5")], patient=ana, doses=2,
                    prepared_at=datetime(2026, 3, 10, 23, 30, tzinfo=timezone.utc),
                    override_reason="@SUM(A1:A2) reviewed", status="verified", verified_by=checker)
    b2 = make_batch(face, [(l_lot, "1")], patient=bob,
                    prepared_at=datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc))
    b3 = make_batch(hair, [(b_lot, "2.5"), (l_lot, "0.5")],
                    prepared_at=datetime(2026, 3, 20, 9, 0, tzinfo=timezone.utc))
    return {"hair": hair, "face": face, "ana": ana, "bob": bob, "batches": (b1, b2, b3)}


def _get(client_or_api, url):
    response = client_or_api.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == XLSX
    return response.get_data()


def test_batch_log_sheets_rows_and_types(api, clinic):
    data = _get(api("manager"), "reports/batch-log.xlsx?from=2026-03-01&to=2026-03-31")
    sheets = read_workbook(data)
    assert list(sheets) == ["Batches", "Components"]
    batches, components = sheets["Batches"], sheets["Components"]
    assert batches[0] == BATCH_HEADERS
    assert components[0] == COMPONENT_HEADERS
    b1, b2, b3 = clinic["batches"]
    # oldest first; prepared at in the clinic's local time (Paris, UTC+1 in March)
    assert [r[0] for r in batches[1:]] == [b2.batch_number, b1.batch_number, b3.batch_number]
    row = batches[2]
    assert row[1] == datetime(2026, 3, 11, 0, 30)
    # people by their full name (a user without one: the username); statuses in words
    assert row[2:8] == ("+Hair boost", 1, 2, "@MRN-1", b1.prepared_by.username, "Chloé Checker")
    assert row[8] == "Verified"
    assert row[9] == datetime(2026, 3, 12, 0, 30)
    assert row[10] == "@SUM(A1:A2) reviewed"
    assert row[11:] == (0, 2)  # nothing given yet: every dose left
    assert batches[3][5] is None and batches[3][7] is None   # no patient, not verified
    # one row per lot used, in batch order
    assert [r[0] for r in components[1:]] == [b2.batch_number, b1.batch_number,
                                              b1.batch_number, b3.batch_number, b3.batch_number]
    line = components[2]
    assert line[1:] == ("-Biotin 5 mg/mL", LOT_TEXT, datetime(2027, 5, 31), 2.5, "mL")


def test_batch_log_is_formatted_and_typed_text_is_inert(api, clinic):
    wb = open_workbook(_get(api("manager"), "reports/batch-log.xlsx?from=2026-03-01&to=2026-03-31"))
    ws = wb["Batches"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:M4"
    assert all(c.font.b for c in ws[1])
    assert ws["B2"].number_format == "yyyy-mm-dd hh:mm"
    assert ws["E2"].data_type == "n"
    assert ws.column_dimensions["C"].width >= 20
    for cell in ("C3", "F3", "K3"):       # "+Hair boost", "@MRN-1", "@SUM(A1:A2) reviewed"
        assert ws[cell].data_type == "s", cell
        assert ws[cell].quotePrefix, cell
    comp = wb["Components"]
    assert comp.freeze_panes == "A2" and comp.auto_filter.ref == "A1:F6"
    lot = comp["C3"]
    assert lot.value == LOT_TEXT and lot.data_type == "s"      # never a formula
    assert comp["B3"].value == "-Biotin 5 mg/mL" and comp["B3"].data_type == "s"
    assert comp["D3"].number_format == "yyyy-mm-dd" and comp["D3"].is_date
    assert comp["E3"].data_type == "n" and comp["E3"].number_format == "#,##0.0###"


def test_libreoffice_reads_the_batch_log(api, clinic, libreoffice_csv):
    data = _get(api("manager"), "reports/batch-log.xlsx?from=2026-03-01&to=2026-03-31")
    sheets = libreoffice_csv(data)
    batches = sheets["Batches"]
    assert batches[0] == list(BATCH_HEADERS)
    assert batches[2][1] == "2026-03-11 00:30"
    assert batches[2][2:6] == ["+Hair boost", "1", "2", "@MRN-1"]
    assert batches[2][10] == "@SUM(A1:A2) reviewed"
    components = sheets["Components"]
    assert components[2][1:] == ["-Biotin 5 mg/mL", LOT_TEXT, "2027-05-31", "2.5", "mL"]


def test_range_is_read_in_the_clinics_days(api, clinic):
    client = api("manager")
    b1, b2, _ = clinic["batches"]
    day_11 = read_workbook(_get(client, "reports/batch-log.xlsx?from=2026-03-11&to=2026-03-11"))
    assert [r[0] for r in day_11["Batches"][1:]] == [b1.batch_number]
    day_10 = read_workbook(_get(client, "reports/batch-log.xlsx?from=2026-03-10&to=2026-03-10"))
    assert [r[0] for r in day_10["Batches"][1:]] == [b2.batch_number]
    assert [r[0] for r in day_10["Components"][1:]] == [b2.batch_number]


def test_filters_by_cocktail_and_patient(api, clinic):
    client = api("pharmacist")
    b1, b2, b3 = clinic["batches"]
    url = "reports/batch-log.xlsx?from=2026-03-01&to=2026-03-31"
    by_cocktail = read_workbook(_get(client, f"{url}&cocktail_id={clinic['hair'].id}"))
    assert [r[0] for r in by_cocktail["Batches"][1:]] == [b1.batch_number, b3.batch_number]
    by_patient = read_workbook(_get(client, f"{url}&patient_id={clinic['bob'].id}"))
    assert [r[0] for r in by_patient["Batches"][1:]] == [b2.batch_number]
    assert [r[0] for r in by_patient["Components"][1:]] == [b2.batch_number]


def test_an_empty_log_has_headers_only(api, clinic):
    sheets = read_workbook(_get(api("admin"), "reports/batch-log.xlsx?from=2025-01-01&to=2025-01-31"))
    assert sheets["Batches"] == [BATCH_HEADERS]
    assert sheets["Components"] == [COMPONENT_HEADERS]


def test_an_export_is_audited(api, clinic):
    client = api("manager")
    _get(client, "reports/batch-log.xlsx?from=2026-03-01&to=2026-03-31")
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "report.export")).scalar_one()
    assert entry.username == client.user.username and entry.object_id == "batch_log"


@pytest.mark.parametrize("query, status, field", [
    ("from=2026-02-30&to=2026-03-31", 422, "from"),         # a date that does not exist
    ("from=2026-03-31&to=2026-03-01", 422, "to"),           # from after to
    ("from=2026-03-01", 422, "to"),                         # one end only
    ("from=01/03/2026&to=2026-03-31", 422, "from"),         # not YYYY-MM-DD
    ("from=2026-03-01&to=2026-03-31&cocktail_id=999", 404, "cocktail_id"),
    ("from=2026-03-01&to=2026-03-31&patient_id=abc", 422, "patient_id"),
    ("from=2026-03-01&to=2026-03-31&patient_id=999", 404, "patient_id"),
])
def test_bad_requests_are_4xx_with_the_field(api, clinic, query, status, field):
    response = api("manager").get(f"reports/batch-log.xlsx?{query}")
    assert response.status_code == status
    body = response.get_json()["error"]
    assert field in body["fields"], body
    exports = select(AuditEntry).where(AuditEntry.action == "report.export")
    assert db.session.execute(exports).all() == []   # nothing recorded


def test_api_needs_a_token_and_the_role(api, client, clinic):
    assert client.get("/api/v1/reports/batch-log.xlsx").status_code == 401
    assert api("practitioner").get("reports/batch-log.xlsx").status_code == 403
    assert api("manager").get("reports/batch-log.xlsx").status_code == 200   # last 30 days


# --- the page ------------------------------------------------------------------------

def test_page_shows_the_forms(client, login_as, clinic):
    login_as("manager")
    html = client.get("/reports/").get_data(as_text=True)
    assert 'action="/reports/batch-log.xlsx"' in html and 'action="/reports/stock.xlsx"' in html
    assert "+Hair boost" in html                     # the cocktail choice
    assert 'data-testid="delivery-import"' not in html   # a manager does not receive stock


def test_page_download(client, login_as, clinic):
    login_as("manager")
    response = client.get(f"/reports/batch-log.xlsx?from=2026-03-01&to=2026-03-31"
                          f"&cocktail_id={clinic['face'].id}&patient_mrn=MRN-2")
    assert response.status_code == 200 and response.mimetype == XLSX
    assert "batch-log_2026-03-01_2026-03-31.xlsx" in response.headers["Content-Disposition"]
    sheets = read_workbook(response.get_data())
    assert [r[0] for r in sheets["Batches"][1:]] == [clinic["batches"][1].batch_number]


@pytest.mark.parametrize("query, message", [
    ("from=2026-02-30&to=2026-03-31", "Not a valid date value"),
    ("from=2026-03-31&to=2026-03-01", "starts (2026-03-31) after it ends (2026-03-01)"),
    ("from=2026-03-01&to=2026-03-31&patient_mrn=NOPE", "No patient has the MRN"),
    ("from=2026-03-01&to=2026-03-31&cocktail_id=999", "Not a valid choice"),
])
def test_page_bad_requests_show_the_form_again(client, login_as, clinic, query, message):
    login_as("pharmacist")
    response = client.get(f"/reports/batch-log.xlsx?{query}")
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
