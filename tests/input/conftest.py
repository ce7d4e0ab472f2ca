"""Fixtures of the tests of input at the edge: one small clinic every route can act on, and
a count of every row, to show that a refused request wrote nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from formulary.extensions import db
from tests.rows import count_every_table

GTIN = "09506000134352"   # GS1's example GTIN: valid check digit


def in_days(n: int) -> date:
    return date.today() + timedelta(days=n)


@pytest.fixture
def rows(app):
    """``rows()``: the number of rows of every table (audit entries included)."""

    def count() -> dict[str, int]:
        db.session.expire_all()
        out = count_every_table()
        db.session.rollback()
        return out

    return count


@pytest.fixture
def clinic(api, make_group, make_ingredient, make_lot, make_cocktail, make_patient):
    """An admin's API client and one of everything: a group, an ingredient with a lot, an
    active cocktail, a pregnant patient (the cocktail is blocked for her), a patient with a
    free-text allergy, and a prepared batch."""
    admin = api("admin")
    group = make_group("Parabens")
    biotin = make_ingredient("Biotin 5 mg/mL", unit="mL", strength=(5, "mg"), gtins=[GTIN],
                             contraindications=("pregnant",))
    lot = make_lot(biotin, "100", expiry=in_days(200), lot_number="BIO-1")
    cocktail = make_cocktail([(biotin, "1", "mL")], name="Scalp biotin")
    pregnant = make_patient(conditions=("pregnant",))
    allergic = make_patient(allergies=[{"substance": "latex", "reaction": "hives"}])
    r = admin.post("batches", json={"cocktail_id": cocktail.id, "doses": 1})
    assert r.status_code == 201, r.get_json()
    return {"admin": admin, "group": group, "biotin": biotin, "lot": lot, "cocktail": cocktail,
            "pregnant": pregnant, "allergic": allergic,
            "allergy": allergic.allergies[0], "batch_id": r.get_json()["id"]}
