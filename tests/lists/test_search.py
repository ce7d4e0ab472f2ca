"""The navigation bar's search (issue 16): patients (name, MRN, date of birth), lots
(number, GTIN), batches (number), cocktails, ingredients, with each role's rights; a
scanned vial or batch label opens its lot or batch."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

GTIN = "09506000134352"


@pytest.fixture
def world(make_ingredient, make_lot, make_cocktail, make_patient, make_batch):
    biotin = make_ingredient("Biotin 5 mg/mL", gtins=[GTIN])
    caffeine = make_ingredient("Caffeine 20 mg/mL")
    lot = make_lot(biotin, "10", lot_number="ABC123", expiry=date(2030, 6, 30))
    empty = make_lot(caffeine, "5", lot_number="CAF-9", on_hand="0")
    active = make_cocktail([(biotin, "1", "mL")], name="Biotin scalp")
    draft = make_cocktail([(biotin, "1", "mL")], name="Biotin draft", status="draft")
    martin = make_patient("MRN-77", first_name="Julie", last_name="Martin",
                          date_of_birth=date(1984, 3, 7))
    batch = make_batch(active, [(lot, "1")], patient=martin, batch_number="B-20260601-0007",
                       prepared_at=datetime(2026, 6, 1, 9, tzinfo=timezone.utc))
    return {"biotin": biotin, "caffeine": caffeine, "lot": lot, "empty": empty, "active": active,
            "draft": draft, "martin": martin, "batch": batch}


def _hits(body, kind):
    return [h["label"] for h in body["results"][kind]]


@pytest.mark.parametrize("q, kind, label", [
    ("martin", "patients", "Martin, Julie"),          # a name
    ("Julie Martin", "patients", "Martin, Julie"),    # both names, any order
    ("mrn-77", "patients", "Martin, Julie"),          # the MRN
    ("07/03/1984", "patients", "Martin, Julie"),      # the date of birth
    ("1984-03-07", "patients", "Martin, Julie"),
    ("abc1", "lots", "ABC123"),                       # part of a lot number
    (GTIN, "lots", "ABC123"),                         # the ingredient's GTIN
    (GTIN, "ingredients", "Biotin 5 mg/mL"),
    ("0601-00", "batches", "B-20260601-0007"),        # part of a batch number
    ("scalp", "cocktails", "Biotin scalp"),
    ("caffeine", "ingredients", "Caffeine 20 mg/mL"),
])
def test_words_find_each_kind(api, world, q, kind, label):
    body = api("pharmacist").get(f"search?q={q}").get_json()
    assert label in _hits(body, kind) and body["open"] is None


def test_an_empty_lot_reads_empty_in_the_search(api, world):
    body = api("pharmacist").get("search?q=CAF-9").get_json()
    assert body["results"]["lots"][0]["detail"].endswith("empty")


def test_roles_see_only_what_they_may(api, world):
    # a manager may not read patients: the search finds none, the rest still
    manager = api("manager").get("search?q=martin").get_json()
    assert manager["results"]["patients"] == []
    assert api("manager").get("search?q=07/03/1984").get_json()["results"]["patients"] == []
    assert _hits(api("manager").get("search?q=biotin").get_json(), "lots") == []  # no lot named so
    # a practitioner sees only active cocktails (the list's rule), a pharmacist every one
    assert _hits(api("practitioner").get("search?q=biotin").get_json(), "cocktails") == ["Biotin scalp"]
    assert _hits(api("pharmacist").get("search?q=biotin").get_json(), "cocktails") == [
        "Biotin draft", "Biotin scalp"]
    assert _hits(api("practitioner").get("search?q=martin").get_json(), "patients") == ["Martin, Julie"]


@pytest.mark.parametrize("scan", [
    f"(01){GTIN}(17)300630(10)ABC123",                 # human-readable
    f"]d201{GTIN}17300630" + "10ABC123",               # raw, lot last (no GS needed)
    f"01{GTIN}10ABC123{{GS}}17300630",                 # a scanner's GS stand-in
    f"https://id.gs1.org/01/{GTIN}/10/ABC123?17=300630",  # a Digital Link
])
def test_a_scanned_vial_opens_its_lot(client, api, login_as, world, scan):
    body = api("practitioner").get("search", query_string={"q": scan}).get_json()
    assert body["kind"] == "vial" and body["open"] == {
        "type": "lot", "id": world["lot"].id, "label": "ABC123",
        "detail": "Biotin 5 mg/mL · expires 2030-06-30"}
    login_as("practitioner")
    resp = client.get("/search", query_string={"q": scan})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/lots/{world['lot'].id}")


def test_a_scanned_vial_not_received_says_so(client, api, login_as, world):
    body = api("pharmacist").get("search", query_string={"q": f"(01){GTIN}(10)NOPE"}).get_json()
    assert body["open"] is None
    assert body["message"] == f"Lot NOPE of GTIN {GTIN} (Biotin 5 mg/mL) has not been received."
    assert _hits(body, "ingredients") == ["Biotin 5 mg/mL"]
    login_as("pharmacist")
    html = client.get("/search", query_string={"q": f"(01){GTIN}(10)NOPE"}).get_data(as_text=True)
    assert "has not been received" in html


def test_unknown_gtin(api, world):
    body = api("pharmacist").get("search", query_string={"q": "(01)00000000000017(10)X"}).get_json()
    assert body["message"].startswith("No ingredient has the GTIN 00000000000017")


def test_a_batch_label_opens_its_batch(client, api, login_as, world):
    """A batch label's QR code holds the batch number."""
    from formulary.compounding import labels

    assert 'B-20260601-0007' in labels.qr_svg(world["batch"].batch_number)  # the QR's text
    body = api("manager").get("search?q=B-20260601-0007").get_json()
    assert body["open"]["type"] == "batch" and body["open"]["id"] == world["batch"].id
    login_as("manager")
    resp = client.get("/search?q=b-20260601-0007")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/batches/{world['batch'].id}")
    html = client.get("/search?q=B-20990101-0001").get_data(as_text=True)
    assert "No batch B-20990101-0001 is on file." in html


def test_search_page_lists_hits_and_nothing(client, login_as, world):
    login_as("practitioner")
    html = client.get("/search?q=martin").get_data(as_text=True)
    assert f'data-hit="patient-{world["martin"].id}"' in html
    assert 'id="global-q"' in html  # the box is in the navigation bar of every page
    html = client.get("/search?q=zzzz").get_data(as_text=True)
    assert "Nothing matches" in html
    assert client.get("/search?q=%25").status_code == 200  # LIKE characters are plain text
    assert client.get("/search?q=" + "x" * 5000).status_code == 200
