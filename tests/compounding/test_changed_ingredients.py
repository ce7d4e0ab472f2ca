"""SPEC §4: a batch of an approved version is refused when one of its ingredients changed
after the approval: its maximum dose per session lowered below the version's dose, or the
ingredient made inactive. Service, API and page; nothing is taken from stock."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from formulary.audit.models import AuditEntry
from formulary.domain.errors import InvalidState
from formulary.extensions import db
from formulary.inventory import ingredients
from tests.compounding.conftest import D, counts, on_hand

REFUSAL_END = "This version cannot be prepared: make a new version of the cocktail."


def _audit_count() -> int:
    return db.session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()


def _change(ingredient, **data):
    """Change an ingredient through its service, as the edit page and the API do."""
    ingredients.update_ingredient(db.session, None, ingredient, data)
    db.session.commit()


def _state(stocked):
    return counts(), on_hand(stocked["sooner"]), on_hand(stocked["lido_lot"]), _audit_count()


# (change to biotin after the version was approved, words the refusal must hold)
CHANGES = [
    ({"max_dose_per_session": {"amount": "0.5", "unit": "mL"}},   # the dose is 1 mL
     "1 mL is over the maximum dose per session of Biotin 5 mg/mL (0.5 mL)."),
    ({"active": False}, "Biotin 5 mg/mL is inactive: a batch cannot use it."),
]


@pytest.mark.parametrize("change, message", CHANGES)
def test_service_refuses_and_takes_nothing(stocked, pharmacist, prepare, session, change, message):
    _change(stocked["biotin"], **change)
    before = _state(stocked)
    with pytest.raises(InvalidState) as info:
        prepare(pharmacist, stocked["cocktail"], 2)
    session.rollback()
    assert info.value.message == f"{message} {REFUSAL_END}"
    assert info.value.fields == {"cocktail_id": [info.value.message]}
    assert _state(stocked) == before


def test_a_maximum_lowered_to_the_dose_still_allows_it(stocked, pharmacist, prepare):
    _change(stocked["biotin"], max_dose_per_session={"amount": "1", "unit": "mL"})  # the dose
    batch = prepare(pharmacist, stocked["cocktail"], 2)
    assert batch.id is not None and on_hand(stocked["sooner"]) == D(1)


@pytest.mark.parametrize("change, message", CHANGES)
def test_api_answers_409_invalid_state_naming_the_ingredient(api, stocked, change, message):
    _change(stocked["biotin"], **change)
    client = api("pharmacist")
    before = _state(stocked)
    r = client.post("batches", json={"cocktail_id": stocked["cocktail"].id, "doses": 2})
    assert r.status_code == 409, r.json
    error = r.json["error"]
    assert error["code"] == "invalid_state"
    assert error["message"] == f"{message} {REFUSAL_END}"
    assert error["fields"] == {"cocktail_id": [error["message"]]}
    assert _state(stocked) == before


@pytest.mark.parametrize("change, message", CHANGES)
def test_page_shows_it_on_the_form_and_prepares_nothing(client, login_as, stocked, change, message):
    login_as("pharmacist")
    _change(stocked["biotin"], **change)
    before = _state(stocked)
    url = f"/batches/new?cocktail_id={stocked['cocktail'].id}&doses=2&patient_mrn="
    r = client.get(url)
    html = r.get_data(as_text=True)
    assert r.status_code == 409
    assert message in html and 'data-testid="confirm"' not in html
    # a confirmation posted anyway (a form kept open while the ingredient changed)
    r = client.post_form("/batches/new", {"cocktail_id": stocked["cocktail"].id, "doses": 2,
                                          "patient_mrn": "", "idempotency_key": "k-1"},
                         form_url="/batches/new")
    assert r.status_code == 409 and message in r.get_data(as_text=True)
    assert _state(stocked) == before
