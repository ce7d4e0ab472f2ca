"""Truth table: the readable before/after of an audit entry."""

from decimal import Decimal

import pytest

from formulary.domain.audit_changes import Change, as_text, changes, parse, references

NAMES = {("lot", 43): "lot BIO-1 (Biotin)", ("ingredient", 7): "Biotin 5 mg/mL",
         ("user", 2): "pharmacist"}


def names(kind, ident):
    return NAMES.get((kind, ident))


@pytest.mark.parametrize("before, after, expected", [
    # only the fields that changed, ids named
    ({"lot_id": 43, "status": "available"}, {"lot_id": 43, "status": "quarantined"},
     [Change("Status", "available", "quarantined")]),
    ({"ingredient_id": 7, "quantity": "1"}, {"ingredient_id": 8, "quantity": "1"},
     [Change("Ingredient", "Biotin 5 mg/mL", "#8")]),           # a thing gone: its id
    # a creation: every field, nothing before
    (None, {"lot_id": 43, "doses": 2}, [Change("Lot", "", "lot BIO-1 (Biotin)"), Change("Doses", "", "2")]),
    # a removal: every field, nothing after
    ({"verified_by_id": 2}, None, [Change("Verified by", "pharmacist", "")]),
    # lists, booleans, None, amounts with units, nested objects
    ({"gtins": []}, {"gtins": ["09506000134352"]}, [Change("GTINs", "none", "09506000134352")]),
    ({"active": True}, {"active": False}, [Change("Active", "yes", "no")]),
    ({"reorder_level": None}, {"reorder_level": Decimal("50")}, [Change("Reorder level", "—", "50")]),
    ({"note": ""}, {"note": "cloudy"}, [Change("Note", "—", "cloudy")]),  # empty reads as a dash
    ({"strength": {"amount": "5", "unit": "mg"}}, {"strength": {"amount": "10", "unit": "mg"}},
     [Change("Strength", "5 mg", "10 mg")]),
    ({"lines": []}, {"lines": [{"lot_id": 43, "quantity": "1.5", "unit": "mL"}]},
     [Change("Lines", "none", "lot lot BIO-1 (Biotin); quantity 1.5; unit mL")]),
    ({"ingredient_ids": [7, 9]}, {"ingredient_ids": [7]}, [Change("Ingredients", "Biotin 5 mg/mL, #9", "Biotin 5 mg/mL")]),
    # nothing changed, nothing recorded
    ({"a": 1}, {"a": 1}, []),
    (None, None, []),
    # a value that is not an object
    ("x", "y", [Change("Value", "x", "y")]),
])
def test_changes(before, after, expected):
    assert changes(before, after, names) == expected


def test_references_and_parse():
    assert parse('{"lot_id": 43, "x": 1.50}') == {"lot_id": 43, "x": Decimal("1.50")}
    assert parse("not json") is None and parse(None) is None
    assert references([{"lot_id": 43, "lines": [{"ingredient_id": 7, "lot_id": 44}]},
                       {"ingredient_ids": [8], "active": True, "id": 5}]) == {
        "lot": {43, 44}, "ingredient": {7, 8}}


def test_as_text():
    assert as_text([Change("Status", "available", "recalled"), Change("Lot", "", "BIO-1"),
                    Change("Note", "old", "")]) == (
        "Status: available → recalled\nLot: BIO-1\nNote: old (removed)")
