"""What a French reader still read in English (issue 17, SPEC §13), now in French on both
databases: the delivery sheet's problems (page and API), refusals that quote what was
typed, the API's per-field refusals, field labels inside the services' sentences, the
export job's flash, and the allergy statuses of the patient's page. The English text of
each is unchanged (other tests compare it); codes stay English."""

from __future__ import annotations

import html as htmllib
import io
import re
from datetime import date, timedelta

import pytest
from flask_babel import force_locale

from formulary.domain.errors import ValidationError
from formulary.extensions import db
from formulary.i18n import tr
from tests.reports.test_import import sheet as _sheet

NEXT_YEAR = date.today() + timedelta(days=365)
FR = {"Accept-Language": "fr"}
EN = {"Accept-Language": "en"}


def _text(response) -> str:
    return htmllib.unescape(response.get_data(as_text=True))


def _french(user):
    user.locale = "fr"
    db.session.commit()
    return user


BAD_ROWS = (("Biotin 5 mg/mL", None, "B-1", NEXT_YEAR, 10, None, None),            # good
            ("Nope", None, "N-1", NEXT_YEAR, 1, None, None),                       # row 3
            ("Biotin 5 mg/mL", None, "B-3", "2026-02-30", 1, None, None),          # row 4
            ("Biotin 5 mg/mL", None, None, NEXT_YEAR, 1, None, date(2027, 1, 31)),  # row 5
            (None, None, "B-6", NEXT_YEAR, 1, None, None))                         # row 6

PROBLEMS_FR = {
    3: "Aucun ingrédient ne s'appelle « Nope ».",
    4: "Péremption : 2026-02-30 n'est pas une date qui existe.",
    5: "Lot : cellule vide. Fournisseur : 31/01/2027 est une date, Excel a converti la "
       "saisie. Mettez la colonne au format texte et saisissez la valeur de nouveau.",
    6: "Indiquez le nom de l'ingrédient ou son GTIN.",
}
PROBLEMS_EN = {
    3: "No ingredient is named 'Nope'.",
    4: "Expiry 2026-02-30 is not a real date.",
    5: "Lot is empty. Supplier 2027-01-31 is a date: Excel converted what was typed. "
       "Format the column as text and type it again.",
    6: "Give the ingredient's name or its GTIN.",
}


@pytest.fixture
def biotin(make_ingredient):
    return make_ingredient("Biotin 5 mg/mL", unit="mL")


def test_the_delivery_sheets_problems_in_the_api_follow_accept_language(i18n_app, api, biotin):
    reader = api("pharmacist")
    bodies = {}
    for lang, headers in (("fr", FR), ("en", EN)):
        r = reader.post("imports/delivery", data={"file": (io.BytesIO(_sheet(*BAD_ROWS)), "d.xlsx")},
                        content_type="multipart/form-data", headers=headers, json=None)
        assert r.status_code == 422, r.get_json()
        bodies[lang] = r.get_json()["error"]
    fr, en = bodies["fr"], bodies["en"]
    assert fr["code"] == en["code"] == "invalid"
    assert fr["message"] == ("La feuille de livraison a été refusée : 5 problèmes. "
                             "Rien n'a été réceptionné.")
    assert en["message"] == "The delivery sheet was refused: 5 problems. Nothing was received."
    # each row's reasons, joined as the sheet reads them, in each language
    by_row_fr, by_row_en = {}, {}
    for problems, by_row in ((fr["problems"], by_row_fr), (en["problems"], by_row_en)):
        for p in problems:
            by_row.setdefault(p["row"], []).append(p["reason"])
    assert {row: " ".join(r) for row, r in by_row_fr.items()} == PROBLEMS_FR
    assert {row: " ".join(r) for row, r in by_row_en.items()} == PROBLEMS_EN
    assert fr["fields"]["rows"][0] == "Ligne 3 : " + PROBLEMS_FR[3]
    assert en["fields"]["rows"][0] == "Row 3: " + PROBLEMS_EN[3]


def test_the_delivery_page_lists_the_problems_in_french(i18n_app, client, login_as, biotin):
    _french(login_as("pharmacist"))
    r = client.post_form("/reports/delivery", {"file": (io.BytesIO(_sheet(*BAD_ROWS)), "d.xlsx")},
                         form_url="/reports/")
    assert r.status_code == 422
    page = _text(r)
    assert "Corrigez ces 5 problèmes et importez à nouveau le fichier :" in page
    for row, reason in PROBLEMS_FR.items():
        if row != 5:  # two reasons, two list items
            assert f"Ligne {row} :</strong> {reason}</li>" in page, reason
    assert "Ligne 5 :</strong> Lot : cellule vide.</li>" in page
    assert "No ingredient" not in page and "is empty" not in page


@pytest.mark.parametrize("header, fr, en", [
    (("Ingredient", "Lot", "Expiry", "Quantity", "Colour"),
     "Colonne inconnue « Colour » (colonne E) : les colonnes sont ingredient, gtin, lot, "
     "expiry, quantity, unit_cost, supplier.",
     "Unknown column 'Colour' (column E): the columns are ingredient, gtin, lot, expiry, "
     "quantity, unit_cost, supplier."),
    (("Ingredient", "Lot", "Quantity"), "Colonne manquante : expiry.", "Missing column: expiry."),
    (("Ingredient", "Lot", "Lot", "Expiry", "Quantity"),
     "La colonne lot figure plusieurs fois (colonnes B, C).",
     "The column lot appears more than once (columns B, C)."),
])
def test_a_bad_header_is_refused_in_french(i18n_app, api, header, fr, en):
    reader = api("pharmacist")
    data = _sheet(("Biotin", "B-1", NEXT_YEAR, 1), header=header)
    said = {}
    for lang, headers in (("fr", FR), ("en", EN)):
        r = reader.post("imports/delivery", data={"file": (io.BytesIO(data), "d.xlsx")},
                        content_type="multipart/form-data", headers=headers, json=None)
        assert r.status_code == 422
        said[lang] = r.get_json()["error"]["message"]
    assert said == {"fr": fr, "en": en}


def test_refusals_quoting_what_was_typed(i18n_app):
    from formulary.domain.schedule import parse_time_of_day

    with pytest.raises(ValidationError) as refused:
        parse_time_of_day("25:00")
    assert refused.value.message == "Give the time as HH:MM, not '25:00'."   # as always
    with force_locale("fr"):
        # the reader's quotes (as « bogus » in the sort refusal), not Python's
        assert tr(refused.value.message) == "Indiquez l'heure au format HH:MM, et non « 25:00 »."


def test_the_batch_log_and_event_filters_refuse_in_french(i18n_app, client, login_as):
    _french(login_as("admin"))
    r = client.get("/reports/batch-log.xlsx?patient_mrn=NOPE")
    assert r.status_code == 422
    assert "Aucun patient n'a le numéro de dossier « NOPE »." in _text(r)
    r = client.get("/reports/adverse-events?lot=XYZ-9")
    assert r.status_code == 422
    assert "Aucun lot ne porte le numéro « XYZ-9 »." in _text(r)


def test_the_apis_field_refusals_follow_accept_language(i18n_app, api):
    reader = api("pharmacist")
    body = {"name": "Biotine", "category": "vitamin", "unit": "mL", "colour": "blue"}
    fr = reader.post("ingredients", json=body, headers=FR).get_json()["error"]
    en = reader.post("ingredients", json=body, headers=EN).get_json()["error"]
    assert fr["code"] == en["code"] == "invalid"
    assert fr["message"] == "Champ(s) inconnu(s) : colour." and fr["fields"] == {
        "colour": ["Champ inconnu."]}
    assert en["message"] == "Unknown field(s): colour." and en["fields"] == {
        "colour": ["Unknown field."]}
    huge = {"name": "Biotine", "category": "vitamin", "unit": "mL", "reorder_level": 10**12}
    fr = reader.post("ingredients", json=huge, headers=FR).get_json()["error"]
    en = reader.post("ingredients", json=huge, headers=EN).get_json()["error"]
    assert fr["fields"] == {"reorder_level": ["Au plus 2147483647."]}
    assert en["fields"] == {"reorder_level": ["Must be at most 2147483647."]}


@pytest.mark.parametrize("role, url, body, field, fr, en", [
    ("pharmacist", "ingredients", {"name": " ", "category": "vitamin", "unit": "mL"}, "name",
     "Nom : champ obligatoire.", "Name is required."),
    ("pharmacist", "cocktails", {"name": "", "area": "scalp", "components": []}, "name",
     "Donnez un nom au cocktail.", "Give the cocktail a name."),
    ("pharmacist", "cocktails", {"name": "Mix", "area": "scalp", "indication": "...",
                                 "components": []}, "indication",
     "Indication : au moins une lettre ou un chiffre est attendu.",
     "Indication must contain a letter or a digit."),
    ("practitioner", "patients", {"mrn": "", "first_name": "Ana", "last_name": "Test"}, "mrn",
     "Numéro de dossier médical : champ obligatoire.", "Medical record number is required."),
])
def test_field_labels_inside_sentences_are_in_french(i18n_app, api, role, url, body, field,
                                                     fr, en):
    reader = api(role)
    said = {}
    for lang, headers in (("fr", FR), ("en", EN)):
        r = reader.post(url, json=body, headers=headers)
        assert r.status_code == 422, r.get_json()
        said[lang] = r.get_json()["error"]["fields"][field]
    assert said == {"fr": [fr], "en": [en]}


def test_a_lots_quantity_refused_with_its_label_in_french(i18n_app, api, biotin):
    reader = api("pharmacist")
    body = {"ingredient_id": biotin.id, "lot_number": "", "expiry_date": NEXT_YEAR.isoformat(),
            "quantity": "beaucoup"}
    fr = reader.post("lots", json=body, headers=FR).get_json()["error"]["fields"]
    en = reader.post("lots", json=body, headers=EN).get_json()["error"]["fields"]
    assert fr["lot_number"] == ["Numéro de lot : champ obligatoire."]
    assert en["lot_number"] == ["Lot number is required."]
    assert fr["quantity"][0].startswith("Quantité : ") and "Quantity" not in fr["quantity"][0]


def test_an_export_job_is_announced_in_french(i18n_app, client, login_as, monkeypatch):
    monkeypatch.setitem(i18n_app.config, "EXPORT_INLINE_MAX_ROWS", -1)   # always a job
    _french(login_as("admin"))
    r = client.get("/reports/batch-log.xlsx", follow_redirects=True)
    assert r.status_code == 200
    assert ("Registre des préparations : 0 lignes à écrire, en arrière-plan. Le fichier sera "
            "proposé ci-dessous dès qu'il sera prêt.") in _text(r)


def test_the_allergy_statuses_are_words_in_the_readers_language(i18n_app, client, login_as,
                                                                 make_patient):
    patient = make_patient(allergies=[{"substance": "latex", "severity": "severe"}])
    user = login_as("practitioner")
    page = _text(client.get(f"/patients/{patient.id}"))
    assert re.search(r'<option value="refuted"\s*>refuted</option>', page)
    _french(user)
    page = _text(client.get(f"/patients/{patient.id}"))
    options = dict(re.findall(r'<option value="(active|inactive|refuted)"[^>]*>([^<]*)</option>',
                              page))
    # une allergie: the words agree with it (a cocktail's badge says "actif")
    assert options == {"active": "active", "inactive": "inactive", "refuted": "infirmée"}
    assert '<td data-allergy-status="active">active</td>' in page and ">sévère</span>" in page


@pytest.mark.parametrize("expiry, fr, en", [
    ("31-01-2027", "Indiquez la date de péremption au format AAAA-MM-JJ.",
     "Give the expiry date as YYYY-MM-DD."),
    ("3000-01-01", "01/01/3000 est hors limites : indiquez la date de péremption du 01/01/1900 "
                   "au 31/12/2999.",
     "3000-01-01 is out of range: give the expiry date from 1900-01-01 to 2999-12-31."),
])
def test_a_lots_expiry_is_refused_in_french(i18n_app, api, biotin, expiry, fr, en):
    reader = api("pharmacist")
    body = {"ingredient_id": biotin.id, "lot_number": "B-1", "expiry_date": expiry,
            "quantity": "10"}
    said = {lang: reader.post("lots", json=body, headers=headers).get_json()["error"]["fields"]
            for lang, headers in (("fr", FR), ("en", EN))}
    assert said == {"fr": {"expiry_date": [fr]}, "en": {"expiry_date": [en]}}


def test_a_cocktails_unknown_area_is_refused_in_french(i18n_app, api):
    reader = api("pharmacist")
    body = {"name": "Mix", "area": "knee", "components": []}
    fr = reader.post("cocktails", json=body, headers=FR).get_json()["error"]["fields"]["area"]
    en = reader.post("cocktails", json=body, headers=EN).get_json()["error"]["fields"]["area"]
    assert fr[0].startswith("Zone « knee » inconnue : utilisez l'une de celles-ci : ")
    assert en[0].startswith("Unknown area 'knee': use one of ")


def test_a_reason_after_a_label_starts_in_lower_case_in_french(i18n_app):
    from formulary.domain.messages import lower_first, msg

    made = msg("%(label)s: %(reason)s", label=msg("Quantity"),
               reason=lower_first(msg("Unknown field.")))
    assert made == "Quantity: unknown field."
    with force_locale("fr"):
        assert tr(made) == "Quantité : champ inconnu."
