"""What the app writes in sentences, read in French (SPEC §13), on both databases: the
patient's timeline (its page, and its API following ``Accept-Language`` with codes and
fields unchanged), the audit log's readable changes (page and export), and every export's
printed title block and page numbers."""

from __future__ import annotations

import html as htmllib
import io
import re
from datetime import date, timedelta
from decimal import Decimal

import openpyxl
import pytest

from formulary import clock
from formulary.extensions import db
from tests.courses.conftest import clinic, make_batch, practitioner_api, start_course  # noqa: F401
from tests.recalls.conftest import reached, recall_lot  # noqa: F401

GIVE = {"doses": 1, "sites": "vertex", "technique": "papules"}
DATE = r"\d{2}/\d{2}/\d{4}"


def _fr(day) -> str:
    return day.strftime("%d/%m/%Y")


def _french(user):
    user.locale = "fr"
    db.session.commit()
    return user


# --- 1. the timeline ---------------------------------------------------------------------

@pytest.fixture
def history(i18n_app, practitioner_api, start_course, make_batch, clinic):  # noqa: F811
    """A course started yesterday, its second session given from a verified batch of 3
    doses, a serious allergic reaction after it."""
    yesterday = clock.today() - timedelta(days=1)
    course = start_course(start_date=yesterday.isoformat())
    batch = make_batch(3)
    adm = practitioner_api.post(f"sessions/{course['sessions'][1]['id']}/administrations",
                                json={**GIVE, "batch_id": batch.id}).get_json()
    r = practitioner_api.post(f"administrations/{adm['id']}/adverse-events", json={
        "onset": clock.today().isoformat(), "kind": "allergic_reaction", "severity": "mild",
        "serious": True})
    assert r.status_code == 201, r.get_json()
    return {"course": course, "batch": batch, "yesterday": yesterday,
            "patient": clinic["patient"], "practitioner": practitioner_api.user}


def _by_kind(items):
    return {(i["kind"], i["id"]): i for i in items}


def test_the_timeline_api_speaks_the_askers_language_and_keeps_its_codes(api, history):
    reader = api("pharmacist")
    url = f"patients/{history['patient'].id}/timeline"
    fr = reader.get(url, headers={"Accept-Language": "fr-FR,fr;q=0.9"}).get_json()["items"]
    en = reader.get(url, headers={"Accept-Language": "en"}).get_json()["items"]
    # the same items, codes and fields: only the sentences differ
    strip = [{k: v for k, v in i.items() if k != "summary"} for i in en]
    assert [{k: v for k, v in i.items() if k != "summary"} for i in fr] == strip
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}(T.*)?", i["at"]) for i in fr)  # ISO kept
    fr_items, en_items = _by_kind(fr), _by_kind(en)
    course_id = history["course"]["id"]
    course = fr_items["course", course_id]["summary"]
    assert course == (f"Cure de Scalp mix (cuir chevelu) à partir du {_fr(history['yesterday'])} : "
                      "séances administrées 1 sur 6, statut : actif")
    assert en_items["course", course_id]["summary"] == (
        f"Course of Scalp mix (scalp) from {history['yesterday'].isoformat()}: "
        "1 of 6 sessions given, active")
    sessions = {i["number"]: i for i in fr if i["kind"] == "session"}
    assert sessions[1]["status"] == "overdue"                 # the code stays English
    assert sessions[1]["summary"] == f"Séance 1 de la cure n° {course_id} : en retard"
    assert sessions[2]["summary"] == f"Séance 2 de la cure n° {course_id} : administrée"
    batch = history["batch"]
    assert fr_items["batch", batch.id]["summary"] == (
        f"Préparation {batch.batch_number} de Scalp mix réalisée : 3 doses, vérifiée")
    given = next(i for i in fr if i["kind"] == "administration")["summary"]
    assert given == (f"1 dose de la préparation {batch.batch_number} administrée par "
                     f"{history['practitioner'].username} : vertex")
    event = next(i for i in fr if i["kind"] == "adverse_event")["summary"]
    assert event == "Effet indésirable grave : réaction allergique, légère"
    assert next(i for i in en if i["kind"] == "adverse_event")["summary"] == (
        "Adverse event: allergic reaction, mild, serious")


def test_the_timeline_page_in_french(client, login_as, history):
    _french(login_as("pharmacist"))
    page = htmllib.unescape(client.get(f"/patients/{history['patient'].id}/timeline")
                            .get_data(as_text=True))
    assert '<html lang="fr">' in page and "Chronologie" in page
    assert f"à partir du {_fr(history['yesterday'])} : séances administrées 1 sur 6" in page
    assert "Effet indésirable grave : réaction allergique, légère" in page
    assert "Course of" not in page and "dose(s)" not in page
    # when: in the French form, the ISO time kept in the markup
    yesterday = history["yesterday"]
    assert f'<time datetime="{yesterday.isoformat()}">{_fr(yesterday)}</time>' in page
    assert re.search(rf'<time datetime="\d{{4}}-\d{{2}}-\d{{2}}T[^"]+">{DATE} \d{{2}}:\d{{2}}</time>',
                     page)


def test_the_patient_sheet_writes_amounts_in_its_own_language(
        client, login_as, i18n_app, practitioner_api, start_course, make_batch, clinic,  # noqa: F811
        make_cocktail):
    """The sheet's language is chosen per sheet: its amounts follow it."""
    half = make_cocktail([(clinic["biotin"], "0.5", "mL")], name="Half biotin", area="scalp")
    course = start_course(cocktail_id=half.id)
    batch = make_batch(1, cocktail=half)
    adm = practitioner_api.post(f"sessions/{course['sessions'][0]['id']}/administrations",
                                json={**GIVE, "batch_id": batch.id})
    assert adm.status_code == 201, adm.get_json()
    _french(login_as("pharmacist"))  # a French reader, printing for each patient
    url = f"/administrations/{adm.get_json()['id']}/sheet"
    french = client.get(f"{url}?lang=fr").get_data(as_text=True)
    english = client.get(f"{url}?lang=en").get_data(as_text=True)
    assert re.search(r"<td>Biotin 5 mg/mL</td>\s*<td>0,5 mL", french), french
    assert re.search(r"<td>Biotin 5 mg/mL</td>\s*<td>0.5 mL", english)


# --- 2. the audit log's readable changes ---------------------------------------------------

@pytest.fixture
def audited(i18n_app, make_user, make_ingredient, make_lot):
    from formulary.audit.services import record
    from formulary.inventory import lots

    pharmacist = make_user("pharmacist")
    lot = make_lot(make_ingredient("Biotine 5 mg/mL"), "10", lot_number="BIO-77")
    lots.set_lot_status(db.session, pharmacist, lot, status="quarantined", reason="flacon trouble")
    record(db.session, pharmacist, "test.flags", "ingredient", lot.ingredient_id,
           before={"active": True, "reorder_level": Decimal("2.5"), "gtins": [],
                   "expiry_date": date(2027, 1, 31)},
           after={"active": False, "reorder_level": Decimal("10"), "gtins": [],
                  "expiry_date": date(2027, 2, 28), "lot_id": lot.id})
    db.session.commit()
    return lot


def _change(html: str, key: str) -> str:
    return re.search(rf'<div data-change="{key}">(.*?)</div>', html, re.S).group(1)


def test_the_audit_page_reads_its_changes_in_french(client, login_as, audited):
    _french(login_as("manager"))
    html = htmllib.unescape(client.get("/audit/?action=lot.quarantine").get_data(as_text=True))
    status = _change(html, "status")
    assert "Statut\u00a0:</dt>" in status                  # the field's name, French colon
    assert "<del>disponible</del> → <ins>en quarantaine</ins>" in status
    assert "Motif du statut\u00a0:" in _change(html, "status_reason")
    html = htmllib.unescape(client.get("/audit/?action=test.flags").get_data(as_text=True))
    active = _change(html, "active")
    assert "Actif\u00a0:" in active and "<del>oui</del> → <ins>non</ins>" in active
    assert "<del>2,5</del> → <ins>10</ins>" in _change(html, "reorder_level")
    assert "<del>31/01/2027</del> → <ins>28/02/2027</ins>" in _change(html, "expiry_date")
    assert "lot BIO-77 (Biotine 5 mg/mL)" in _change(html, "lot_id")
    assert 'data-change="gtins"' not in html                 # unchanged: not listed
    assert "Seuil de commande" in html and "Reorder level" not in html


def test_the_audit_export_reads_its_changes_in_french(client, login_as, audited):
    _french(login_as("manager"))
    book = openpyxl.load_workbook(io.BytesIO(
        client.get("/reports/audit.xlsx?action=lot.quarantine").get_data()))
    rows = list(book["Journal d'audit"].iter_rows(values_only=True))
    changes = rows[1][rows[0].index("Modifications")]
    assert changes == ("Statut\u00a0: disponible → en quarantaine\n"
                       "Motif du statut\u00a0: — → flacon trouble")
    book = openpyxl.load_workbook(io.BytesIO(
        client.get("/reports/audit.xlsx?action=test.flags").get_data()))
    rows = list(book["Journal d'audit"].iter_rows(values_only=True))
    assert rows[1][rows[0].index("Modifications")] == (
        "Actif\u00a0: oui → non\nDate de péremption\u00a0: 31/01/2027 → 28/02/2027\n"
        "Lot\u00a0: lot BIO-77 (Biotine 5 mg/mL)\nSeuil de commande\u00a0: 2,5 → 10")


# --- 4. every export's printed title block and page numbers ----------------------------------

def _printed(data: bytes) -> list:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [book[name] for name in book.sheetnames]


def test_every_export_prints_its_title_and_page_numbers_in_french(
        client, login_as, reached, recall_lot, practitioner_api, app):  # noqa: F811
    r = practitioner_api.post(f"administrations/{reached['administrations'][0]}/adverse-events",
                              json={"onset": clock.today().isoformat(), "kind": "bruising",
                                    "severity": "mild", "serious": False})
    assert r.status_code == 201, r.get_json()
    recall_id = recall_lot(reached["lot"])
    admin = _french(login_as("admin", full_name="Alix Admin"))
    today = clock.today()
    lot = reached["lot"]
    exports = {
        "Registre des préparations": (f"/reports/batch-log.xlsx?from={_fr(today)}&to={_fr(today)}",
                                      f"Préparées du {_fr(today)} au {_fr(today)}"),
        "État du stock": ("/reports/stock.xlsx",
                          f"Stock au {DATE} \\d{{2}}:\\d{{2}} ; mouvements du {DATE} au {DATE}"),
        "Liste de rappel d'un lot": (f"/lots/{lot.id}/trace.xlsx", f"Lot {lot.lot_number}"),
        "Journal d'audit": (f"/reports/audit.xlsx?from={today.isoformat()}",
                            f"du {_fr(today)} à la dernière entrée"),
        "Effets indésirables": (f"/reports/adverse-events.xlsx?severity=mild",
                                "gravité légère"),
        "Liste de suivi du rappel": (f"/recalls/{recall_id}/worklist.xlsx",
                                     f"Rappel n° {recall_id} : lot {lot.lot_number} "
                                     r"\(Lidocaine 2%\)"),
    }
    for report, (url, covered) in exports.items():
        response = client.get(url)
        assert response.status_code == 200, (url, response.get_data(as_text=True)[:500])
        sheets = _printed(response.get_data())
        assert sheets, url
        for ws in sheets:
            assert ws.oddFooter.right.text == "Page &P sur &N", (report, ws.title)
            assert ws.oddFooter.left.text.startswith("Tête du journal d'audit : "), report
            assert report in ws.oddHeader.left.text, (report, ws.oddHeader.left.text)
            assert re.fullmatch(covered, ws.oddHeader.center.text), (report, ws.oddHeader.center.text)
            assert re.fullmatch(rf"Édité le {DATE} \d{{2}}:\d{{2}} par {admin.display_name}",
                                ws.oddHeader.right.text), ws.oddHeader.right.text
    # the worklist's statuses are said in French too
    patients = _printed(client.get(f"/recalls/{recall_id}/worklist.xlsx").get_data())[0]
    statuses = {row[4] for row in patients.iter_rows(min_row=2, values_only=True)}
    assert statuses == {"à contacter"}, statuses
    # the stock report's totals row
    stock = {ws.title: ws for ws in _printed(client.get("/reports/stock.xlsx").get_data())}
    firsts = [row[0] for ws in stock.values() for row in ws.iter_rows(values_only=True)]
    assert "Total" in firsts and not any(isinstance(v, str) and v.startswith("Page") for v in firsts)


def test_an_english_reader_keeps_the_english_print(client, login_as, make_lot, make_ingredient):
    make_lot(make_ingredient("Biotin 5 mg/mL"), "10")
    login_as("manager", full_name="Mo Manager")
    for ws in _printed(client.get("/reports/stock.xlsx").get_data()):
        assert ws.oddFooter.right.text == "Page &P of &N"
        assert ws.oddFooter.left.text.startswith("Audit log head: ")
        assert re.fullmatch(r"Generated \d{4}-\d{2}-\d{2} \d{2}:\d{2} by Mo Manager",
                            ws.oddHeader.right.text)
        assert "Stock report" in ws.oddHeader.left.text
