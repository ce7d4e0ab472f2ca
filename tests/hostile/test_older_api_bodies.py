"""Hostile JSON bodies on the older write routes of the API (inventory, lots and GS1 scans,
cocktails and their components, patients and allergies, batches, users and tokens): each
field of a valid body replaced in turn by a wrong type, a number too large for any column,
NaN, digits of other scripts ('²', '①', '٣', '３'), NUL, a long text, dates out of range.
The answer is a success or a 4xx with the error envelope (SPEC §9), never a 500."""

from __future__ import annotations

import pytest
from datetime import timedelta

from formulary import clock
from formulary.extensions import db
from tests.hostile.conftest import assert_refused, collect_refusal, table_counts

BAD = [("text", "three"), ("list", [1]), ("object", {"a": 1}), ("null", None), ("true", True),
       ("huge", 10**30), ("negative", -1), ("zero", 0), ("NaN", "NaN"), ("infinity", "Infinity"),
       ("decimal", 1.5), ("superscript", "²"), ("circled", "①"), ("arabic", "٣"),
       ("fullwidth", "３"), ("NUL", "a\x00b"), ("long", "x" * 5000), ("year 9999", "9999-12-31"),
       ("year 1", "0001-01-01"), ("1e400", "1e400"), ("huge text", "9" * 23), ("empty", ""),
       ("spaces", "  "), ("minus zero", "-0.0"), ("exponent", "1E+5"), ("tiny", "0.0000000001")]


def _bodies(w, pharmacist, admin):
    c = w["clinic"]
    bio, lot = c["biotin"], c["biotin_lot"]
    component = {"ingredient_id": bio.id, "amount": "1", "unit": "mL"}
    next_year = (clock.today() + timedelta(days=300)).isoformat()
    return [
        (pharmacist, "post", "ingredients", {
            "name": "Zinc X", "category": "mineral", "unit": "mg", "reorder_level": "1",
            "in_use_days": 3, "gtins": [], "allergen_groups": [], "contraindications": [],
            "notes": "n", "storage": "room", "multi_dose": False, "active": True}),
        (pharmacist, "patch", f"ingredients/{bio.id}", {
            "reorder_level": "1", "in_use_days": 3, "notes": "x", "gtins": [], "storage": "room",
            "multi_dose": True, "allergen_groups": [], "contraindications": []}),
        (pharmacist, "post", "allergen-groups", {"name": "grp", "description": "d",
                                                 "cross_reacts_with": []}),
        (pharmacist, "post", "lots", {"ingredient_id": bio.id, "lot_number": "L-9",
                                      "expiry_date": next_year, "quantity": "5", "supplier": "s",
                                      "unit_cost": "1.5"}),
        (pharmacist, "post", "lots/scan", {"barcode": "(01)09506000134353(17)301231(10)X",
                                           "quantity": "1", "supplier": "s", "unit_cost": "2"}),
        (pharmacist, "post", f"lots/{lot.id}/adjustments", {"quantity_delta": "-1",
                                                            "reason": "waste", "note": "n"}),
        (pharmacist, "post", f"lots/{lot.id}/status", {"status": "quarantined", "reason": "r"}),
        (pharmacist, "post", "batches", {"cocktail_id": c["cocktail"].id, "doses": 1,
                                         "patient_id": w["ana"].id, "idempotency_key": "k1"}),
        (pharmacist, "post", f"batches/{w['batch'].id}/discard", {"reason": "r"}),
        (pharmacist, "post", "cocktails", {"name": "New mix", "area": "scalp", "indication": "x",
                                           "components": [component]}),
        (pharmacist, "put", f"cocktails/{c['cocktail'].id}", {"indication": "y",
                                                              "components": [component]}),
        (pharmacist, "post", f"cocktails/{c['cocktail'].id}/approve", {
            "version": 1, "confirm_self_approval": "x"}),
        (pharmacist, "post", f"cocktails/{c['cocktail'].id}/retire", {"reason": "r"}),
        (pharmacist, "post", "patients", {
            "mrn": "MRN-77", "first_name": "Zoe", "last_name": "Z", "date_of_birth": "1990-01-01",
            "allergy_status": "unknown", "conditions": [], "notes": "n"}),
        (pharmacist, "patch", f"patients/{w['ana'].id}", {
            "first_name": "Ana", "reason": "typo", "date_of_birth": "1985-04-12", "notes": "n",
            "conditions": []}),
        (pharmacist, "post", f"patients/{w['ana'].id}/allergies", {
            "severity": "mild", "substance": "latex", "reaction": "rash", "status": "active"}),
        (admin, "post", "users", {"username": "newu", "password": "correct horse battery",
                                  "role": "pharmacist", "full_name": "N"}),
        (admin, "post", "tokens", {"username": "x", "password": "y", "label": "l"}),
    ]


@pytest.mark.slow
def test_every_field_of_the_older_write_routes(world, api, app):
    app.config["PROPAGATE_UNEXPECTED"] = False  # collect every 500, then fail once
    pharmacist, admin = api("pharmacist"), api("admin")
    failures = []
    for client, method, url, body in _bodies(world, pharmacist, admin):
        for field in body:
            for label, value in BAD:
                r = getattr(client, method)(url, json={**body, field: value})
                collect_refusal(r, f"{method} {url} {field}={label}", failures)
                db.session.rollback()
    bio = world["clinic"]["biotin"]
    for label, value in BAD:
        for key in ("ingredient_id", "amount", "unit"):
            component = {"ingredient_id": bio.id, "amount": "1", "unit": "mL", key: value}
            r = pharmacist.post("cocktails", json={"name": f"Mix {label} {key}", "area": "scalp",
                                                   "indication": "x", "components": [component]})
            collect_refusal(r, f"cocktail component {key}={label}", failures)
        for name in ("strength", "max_dose_per_session", "reorder_level"):
            for key in ("amount", "unit"):
                r = pharmacist.post("ingredients", json={
                    "name": f"Ing {label} {name} {key}", "category": "drug", "unit": "mL",
                    name: {"amount": "1", "unit": "mg", key: value}})
                collect_refusal(r, f"ingredient {name}.{key}={label}", failures)
    assert not failures, "\n".join(failures)


def test_an_ingredient_id_past_the_column_in_text_is_unknown(world, api, app):
    """As text, past what an integer column holds: the JSON number check does not see it,
    and SQLite cannot be asked (it answered 500)."""
    pharmacist = api("pharmacist")
    before = table_counts()
    for raw in ("99999999999999999999999", "2147483648", "0"):
        r = pharmacist.post("cocktails", json={
            "name": "Mix", "area": "scalp", "indication": "x",
            "components": [{"ingredient_id": raw, "amount": "1", "unit": "mL"}]})
        assert_refused(r, 422, "invalid", raw)
        assert "components.0.ingredient_id" in r.get_json()["error"]["fields"], r.get_json()
    assert table_counts() == before
