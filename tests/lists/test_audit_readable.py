"""The audit log reads as a before/after of the fields that changed, with names instead
of internal ids, on the page and in its export (issue 16)."""

from __future__ import annotations

import re

from formulary.extensions import db
from tests.reports.conftest import read_workbook


def _quarantine(make_user, make_ingredient, make_lot):
    from formulary.audit.services import record
    from formulary.inventory import lots

    pharmacist = make_user("pharmacist")
    lot = make_lot(make_ingredient("Biotin 5 mg/mL"), "10", lot_number="BIO-77")
    lots.set_lot_status(db.session, pharmacist, lot, status="quarantined", reason="cloudy vial")
    record(db.session, pharmacist, "test.line", "batch", 1,
           after={"lot_id": lot.id, "ingredient_id": lot.ingredient_id, "prepared_by_id": pharmacist.id})
    db.session.commit()
    return lot, pharmacist


def test_the_page_shows_what_changed_with_names(client, login_as, make_user, make_ingredient, make_lot):
    lot, pharmacist = _quarantine(make_user, make_ingredient, make_lot)
    login_as("manager")
    html = client.get("/audit/?action=lot.quarantine").get_data(as_text=True)
    change = re.search(r'<div data-change="status">.*?</div>', html, re.S).group(0)
    assert "<del>available</del> → <ins>quarantined</ins>" in change
    assert 'data-change="lot_number"' not in html   # unchanged fields are not listed
    html = client.get("/audit/?action=test.line").get_data(as_text=True)
    assert "lot BIO-77 (Biotin 5 mg/mL)" in html and f"lot_id&#34;:{lot.id}" in html  # raw kept, folded
    assert re.search(r'data-change="prepared_by_id">.*?' + pharmacist.username, html, re.S)
    shown = re.search(r'<td data-testid="changes">(.*?)<details', html, re.S).group(1)
    assert "lot_id" not in re.sub(r"<[^>]+>", "", shown)  # read: the key is only the hook


def test_the_export_has_the_changes_column(client, login_as, make_user, make_ingredient, make_lot):
    _quarantine(make_user, make_ingredient, make_lot)
    login_as("manager")
    rows = read_workbook(client.get("/reports/audit.xlsx?action=lot.quarantine").get_data())["Audit log"]
    header = rows[0]
    changes = rows[1][header.index("Changes")]
    assert changes == "Status: available → quarantined\nStatus reason: — → cloudy vial"
    assert '"status":"quarantined"' in rows[1][header.index("After")]  # as recorded
    rows = read_workbook(client.get("/reports/audit.xlsx?action=test.line").get_data())["Audit log"]
    assert "Lot: lot BIO-77 (Biotin 5 mg/mL)" in rows[1][header.index("Changes")]
