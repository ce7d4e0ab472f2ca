"""A French pharmacist's day, on both databases: receive a lot typing ``12,5`` and
``31/01/2027``, prepare a batch, export the batch log (French sheet names and headers,
real Excel dates and numbers), print the label."""

from __future__ import annotations

import html as htmllib
import io
import re
import uuid
from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import func, select

from formulary import clock
from formulary.compounding.models import Batch
from formulary.extensions import db
from formulary.inventory.models import Lot


@pytest.fixture
def french(i18n_app, login_as):
    user = login_as("pharmacist")
    user.locale = "fr"
    db.session.commit()
    return user


def _receive(client, ingredient, quantity="12,5", expiry="31/01/2027", **extra):
    data = {"ingredient_id": str(ingredient.id), "lot_number": "BIO-FR-1", "expiry_date": expiry,
            "quantity": quantity, "unit_cost": "1,25", "supplier": "Pharmacie centrale"}
    data.update(extra)
    return client.post_form("/receive", data)


def test_receive_prepare_export_and_print_in_french(client, french, make_ingredient, make_cocktail):
    biotin = make_ingredient("Biotine 5 mg/mL", unit="mL")
    # the receive page speaks French and asks for the French date form
    page = client.get("/receive").get_data(as_text=True)
    assert '<html lang="fr">' in page and "Réception de stock" in page
    assert 'placeholder="jj/mm/aaaa"' in page

    response = _receive(client, biotin)
    assert response.status_code == 302, response.get_data(as_text=True)
    lot = db.session.execute(select(Lot).where(Lot.lot_number == "BIO-FR-1")).scalar_one()
    assert lot.quantity_on_hand == Decimal("12.5") and lot.quantity_received == Decimal("12.5")
    assert lot.expiry_date == date(2027, 1, 31)
    assert lot.unit_cost == Decimal("1.25")
    lot_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Réceptionné Biotine 5 mg/mL, lot BIO-FR-1 : 12,5 mL en stock." in lot_page
    assert "31/01/2027" in lot_page and "12,5" in lot_page
    assert "1,25\u00a0€" in lot_page  # money in the clinic's currency, French form

    # prepare a batch of two doses (2 mL of biotin at 1 mL per dose)
    cocktail = make_cocktail([(biotin, "1", "mL")], name="Cocktail cuir chevelu")
    preview = client.get(f"/batches/new?cocktail_id={cocktail.active_version.cocktail_id}&doses=2")
    html = htmllib.unescape(preview.get_data(as_text=True))
    assert preview.status_code == 200, html
    assert "Date limite d'utilisation" in html and "Réaliser une préparation" in html
    response = client.post_form("/batches/new", {
        "cocktail_id": str(cocktail.id), "doses": "2", "patient_mrn": "",
        "idempotency_key": uuid.uuid4().hex, "confirm": "1"},
        form_url=f"/batches/new?cocktail_id={cocktail.id}&doses=2")
    assert response.status_code == 302, response.get_data(as_text=True)
    batch = db.session.execute(select(Batch)).scalar_one()
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Préparation {batch.batch_number} réalisée." in page
    db.session.refresh(lot)
    assert lot.quantity_on_hand == Decimal("10.5")

    # the batch log of today, the range typed the French way
    today = clock.today().strftime("%d/%m/%Y")
    export = client.get(f"/reports/batch-log.xlsx?from={today}&to={today}")
    assert export.status_code == 200, export.get_data(as_text=True)[:2000]
    book = openpyxl.load_workbook(io.BytesIO(export.data))
    # the pharmacist reads the courses: the doses given are a third sheet
    assert book.sheetnames == ["Préparations", "Composants", "Administrations"]
    batches, components = book["Préparations"], book["Composants"]
    header = [c.value for c in batches[1]]
    assert header[:3] == ["Numéro de préparation", "Préparée le", "Cocktail"]
    assert "Date limite d'utilisation" in header
    row = {h: c.value for h, c in zip(header, batches[2])}
    assert row["Numéro de préparation"] == batch.batch_number
    assert isinstance(row["Préparée le"], datetime)          # a real Excel date, not text
    assert isinstance(row["Date limite d'utilisation"], datetime)
    assert row["Doses"] == 2
    cheader = [c.value for c in components[1]]
    assert cheader == ["Numéro de préparation", "Ingrédient", "Numéro de lot",
                       "Péremption du lot", "Quantité", "Unité"]
    line = {h: c.value for h, c in zip(cheader, components[2])}
    assert line["Péremption du lot"].date() == date(2027, 1, 31)
    assert isinstance(line["Quantité"], (int, float)) and line["Quantité"] == 2

    # the label, in French, with the French date form
    label = htmllib.unescape(client.get(f"/batches/{batch.id}/label?layout=a4").get_data(as_text=True))
    assert '<html lang="fr">' in label
    assert "Date limite d'utilisation" in label and "Réfrigérateur" not in label
    assert "À conserver au réfrigérateur entre 2 et 8 °C" in label
    assert re.search(r'data-testid="label-bud">\d{2}/\d{2}/\d{4} \d{2}:\d{2}<', label)
    assert "31/01/2027" in label


@pytest.mark.parametrize("quantity, expiry, field, word", [
    ("1.234,5", "31/01/2027", "quantity", "Séparateurs mélangés"),
    ("1,234.5", "31/01/2027", "quantity", "Séparateurs mélangés"),
    ("12.5", "31/01/2027", "quantity", "virgule"),
    ("12,5", "01/31/2027", "expiry_date", "n'est pas une date qui existe"),
    ("12,5", "2027/01/31", "expiry_date", "jj/mm/aaaa"),
    ("12,5", "31/01/27", "expiry_date", "jj/mm/aaaa"),
])
def test_ambiguous_input_is_refused_and_nothing_written(client, french, make_ingredient,
                                                        quantity, expiry, field, word):
    biotin = make_ingredient("Biotine 5 mg/mL", unit="mL")
    response = _receive(client, biotin, quantity=quantity, expiry=expiry)
    html = htmllib.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    error = re.search(rf'data-error-for="{field}">([^<]*)<', html)
    assert error and word in error.group(1), html[-3000:]
    assert db.session.execute(select(func.count()).select_from(Lot)).scalar_one() == 0
    # what was typed is shown again as typed
    assert f'value="{quantity}"' in html or f'value="{expiry}"' in html


def test_an_english_page_refuses_the_decimal_comma_as_before(client, login_as, make_ingredient):
    login_as("pharmacist")
    biotin = make_ingredient("Biotin 5 mg/mL", unit="mL")
    response = _receive(client, biotin, quantity="12,5", expiry="2027-01-31", unit_cost="1.25")
    assert response.status_code == 422
    assert "use a point for decimals" in response.get_data(as_text=True).lower()
    assert db.session.execute(select(func.count()).select_from(Lot)).scalar_one() == 0
