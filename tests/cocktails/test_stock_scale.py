"""SPEC §3 at the database: a stock quantity per dose is stored exactly on both databases,
rounded UP at its 6 places; a dose that converts to no stock at that scale, or to more
than 9 digits before the point, is refused (API 422, a form error in the editor) and
nothing is written."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from formulary.audit.models import AuditEntry
from formulary.cocktails import services
from formulary.cocktails.models import Cocktail, Component
from formulary.compounding import services as compounding
from formulary.domain.errors import ValidationError
from formulary.extensions import db
from tests.cocktails.conftest import cocktail_input, comp
from tests.cocktails.test_pages import _error_of, form
from tests.compounding.conftest import NOW, TZ

TOO_SMALL = ("0.5 mcg of Zinc sulfate powder is less than 0.000001 g, the smallest quantity "
             "of its stock that is recorded: it would be drawn as nothing. Give a larger dose, "
             "or use an ingredient stocked in a smaller unit.")


def _written() -> tuple[int, int, int]:
    return tuple(db.session.execute(select(func.count()).select_from(m)).scalar_one()
                 for m in (Cocktail, Component, AuditEntry))


@pytest.fixture
def minoxidil(make_ingredient):
    return make_ingredient("Minoxidil 16 mg/mL", category="drug", unit="mL", strength=("16", "mg"))


def test_an_exact_result_beyond_6_places_is_stored_rounded_up(pharmacist, colleague, minoxidil, make_lot, session):
    # 1.0001 mg / 16 mg/mL = 0.06250625 mL exactly: it was cut to 0.062506 by the
    # database, and 1,000 doses drew 62.50625 mL while the ledger took 62.506
    cocktail = services.create_cocktail(session, pharmacist,
                                        cocktail_input(comp(minoxidil, "1.0001", "mg")))
    services.approve_cocktail(session, colleague, cocktail.id)
    session.commit()
    session.expire_all()
    assert session.execute(select(Component.stock_quantity)).scalar_one() == Decimal("0.062507")
    lot = make_lot(minoxidil, "100")
    batch = compounding.prepare_batch(session, pharmacist, cocktail=session.get(Cocktail, cocktail.id),
                                      doses=1000, now=NOW, tz=TZ)
    session.commit()
    session.expire_all()
    assert [line.quantity for line in batch.lines] == [Decimal("62.507")]  # never under-counted
    assert session.get(type(lot), lot.id).quantity_on_hand == Decimal("37.493")


def test_the_api_shows_the_rounded_up_stock_quantity(api, minoxidil):
    r = api("pharmacist").post("cocktails", json={
        "name": "Minoxidil", "area": "scalp",
        "components": [{"ingredient_id": minoxidil.id, "amount": "1.0001", "unit": "mg"}]})
    assert r.status_code == 201, r.json
    assert r.json["components"][0]["stock_quantity_per_dose"] == "0.062507"


def test_service_refuses_a_dose_that_converts_to_no_stock(pharmacist, shelf, session):
    before = _written()
    with pytest.raises(ValidationError) as info:
        services.create_cocktail(session, pharmacist, cocktail_input(comp(shelf.zinc, "0.5", "mcg")))
    session.rollback()
    assert info.value.fields == {"components.0.amount": [TOO_SMALL]}
    assert _written() == before


@pytest.mark.parametrize("component, message", [
    # 0.5 mcg of a powder stocked in g: 0.0000005 g (stored as 0 on SQLite, then the batch 500'd)
    ("zinc 0.5 mcg", TOO_SMALL),
    # 10 digits before the point would not be stored exactly on SQLite
    ("saline 10^9 mL", "Amount is too large: at most 9 digits before the decimal point (999999999.9999)."),
])
def test_api_answers_422_and_writes_nothing(api, shelf, component, message):
    ing, amount, unit = {"zinc 0.5 mcg": (shelf.zinc, "0.5", "mcg"),
                         "saline 10^9 mL": (shelf.saline, "1000000000", "mL")}[component]
    client = api("pharmacist")
    before = _written()
    r = client.post("cocktails", json={"name": "Tiny", "area": "scalp", "components": [
        {"ingredient_id": ing.id, "amount": amount, "unit": unit}]})
    assert r.status_code == 422, r.json
    assert r.json["error"]["code"] == "invalid"
    assert r.json["error"]["fields"] == {"components.0.amount": [message]}
    assert _written() == before


def test_api_refuses_it_in_a_new_version_too(api, shelf, make_cocktail):
    cocktail = make_cocktail([(shelf.zinc, "250", "mg")])
    client = api("pharmacist")
    before = _written()
    r = client.put(f"cocktails/{cocktail.id}", json={"components": [
        {"ingredient_id": shelf.zinc.id, "amount": "0.5", "unit": "mcg"}]})
    assert r.status_code == 422 and r.json["error"]["fields"] == {"components.0.amount": [TOO_SMALL]}
    assert _written() == before


def test_the_editor_shows_it_on_the_amount(client, login_as, shelf):
    login_as("pharmacist")
    before = _written()
    response = client.post_form("/cocktails/new", form(shelf, [(shelf.zinc, "0.5", "mcg")]))
    assert response.status_code == 422
    assert "it would be drawn as nothing" in _error_of(response.text, "components-0-amount")
    assert _written() == before


def test_the_editor_totals_name_it(client, login_as, shelf):
    login_as("pharmacist")
    token = client.csrf_token("/cocktails/new")
    response = client.post("/cocktails/preview", headers={"X-CSRFToken": token}, json={"components": [
        {"row": 0, "ingredient_id": str(shelf.zinc.id), "amount": "0.5", "unit": "mcg"}]})
    assert response.status_code == 200
    assert response.json["errors"] == {"components.0.amount": [TOO_SMALL]}
    assert response.json["lines"] == []
