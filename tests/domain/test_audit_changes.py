"""Truth table: the readable before/after of an audit entry."""

from decimal import Decimal

import pytest

from formulary.domain.audit_changes import Change, Words, as_text, changes, parse, references

NAMES = {("lot", 43): "lot BIO-1 (Biotin)", ("ingredient", 7): "Biotin 5 mg/mL",
         ("user", 2): "pharmacist"}


def names(kind, ident):
    return NAMES.get((kind, ident))


@pytest.mark.parametrize("before, after, expected", [
    # only the fields that changed, ids named
    ({"lot_id": 43, "status": "available"}, {"lot_id": 43, "status": "quarantined"},
     [Change("status", "Status", "available", "quarantined")]),
    ({"ingredient_id": 7, "quantity": "1"}, {"ingredient_id": 8, "quantity": "1"},
     [Change("ingredient_id", "Ingredient", "Biotin 5 mg/mL", "#8")]),           # a thing gone: its id
    # a creation: every field, nothing before
    (None, {"lot_id": 43, "doses": 2}, [Change("lot_id", "Lot", "", "lot BIO-1 (Biotin)"), Change("doses", "Doses", "", "2")]),
    # a removal: every field, nothing after
    ({"verified_by_id": 2}, None, [Change("verified_by_id", "Verified by", "pharmacist", "")]),
    # lists, booleans, None, amounts with units, nested objects
    ({"gtins": []}, {"gtins": ["09506000134352"]}, [Change("gtins", "GTINs", "none", "09506000134352")]),
    ({"active": True}, {"active": False}, [Change("active", "Active", "yes", "no")]),
    ({"reorder_level": None}, {"reorder_level": Decimal("50")}, [Change("reorder_level", "Reorder level", "—", "50")]),
    ({"note": ""}, {"note": "cloudy"}, [Change("note", "Note", "—", "cloudy")]),  # empty reads as a dash
    ({"strength": {"amount": "5", "unit": "mg"}}, {"strength": {"amount": "10", "unit": "mg"}},
     [Change("strength", "Strength", "5 mg", "10 mg")]),
    ({"lines": []}, {"lines": [{"lot_id": 43, "quantity": "1.5", "unit": "mL"}]},
     [Change("lines", "Lines", "none", "lot lot BIO-1 (Biotin); quantity 1.5; unit mL")]),
    ({"ingredient_ids": [7, 9]}, {"ingredient_ids": [7]}, [Change("ingredient_ids", "Ingredients", "Biotin 5 mg/mL, #9", "Biotin 5 mg/mL")]),
    # nothing changed, nothing recorded
    ({"a": 1}, {"a": 1}, []),
    (None, None, []),
    # a value that is not an object
    ("x", "y", [Change(None, "Value", "x", "y")]),
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
    assert as_text([Change("status", "Status", "available", "recalled"),
                    Change("lot_id", "Lot", "", "BIO-1"), Change("note", "Note", "old", "")]) == (
        "Status: available → recalled\nLot: BIO-1\nNote: old (removed)")


#: Another language's words, as the edge passes them (here made up, to see each one used).
OTHER = Words(label=lambda key: {"status": "Statut", "active": "Actif", "gtins": "GTIN",
                                 "lines": "Lignes", "quantity": "Quantité",
                                 None: "Valeur"}.get(key, f"<{key}>"),
              yes="oui", no="non", none="aucun", removed="(supprimé)", colon="\u00a0: ",
              number=lambda d: str(d).replace(".", ","),
              code=lambda key, value: {"available": "disponible",
                                       "recalled": "rappelé"}.get(value, value)
              if key == "status" else value,
              date=lambda d: d.strftime("%d/%m/%Y"), moment=lambda m: m.strftime("%d/%m/%Y %H:%M"))


@pytest.mark.parametrize("before, after, expected", [
    # the field's name is the words' (the key stays the key), a code's value its word
    ({"status": "available"}, {"status": "recalled"},
     [Change("status", "Statut", "disponible", "rappelé")]),
    # a code word only where the key holds codes: a note saying "available" stays as typed
    ({"note": "available"}, {"note": "x"}, [Change("note", "<note>", "available", "x")]),
    ({"active": True}, {"active": False}, [Change("active", "Actif", "oui", "non")]),
    ({"gtins": []}, {"gtins": ["1"]}, [Change("gtins", "GTIN", "aucun", "1")]),
    # numbers in the words' form; nested fields named by the words, in lower case
    ({"reorder_level": Decimal("2.5")}, {"reorder_level": Decimal("10")},
     [Change("reorder_level", "<reorder_level>", "2,5", "10")]),
    ({"lines": []}, {"lines": [{"quantity": Decimal("1.5")}]},
     [Change("lines", "Lignes", "aucun", "quantité 1,5")]),
    ("x", "y", [Change(None, "Valeur", "x", "y")]),
    # numbers, dates and moments the log wrote as text (canonical JSON): the words' form...
    ({"quantity": "12.5"}, {"quantity": "10.25"}, [Change("quantity", "Quantité", "12,5", "10,25")]),
    ({"strength": {"amount": "2.5", "unit": "mg"}}, None,
     [Change("strength", "<strength>", "2,5 mg", "")]),
    ({"expiry_date": "2027-01-31"}, {"expiry_date": "2027-02-28"},
     [Change("expiry_date", "<expiry_date>", "31/01/2027", "28/02/2027")]),
    ({"given_at": "2026-12-04T09:30:00+00:00"}, None,
     [Change("given_at", "<given_at>", "04/12/2026 09:30", "")]),
    # ... but typed text and identifiers stay as typed, and what only looks like a date too
    ({"lot_number": "12.5"}, {"lot_number": "2027-01-31"},
     [Change("lot_number", "<lot_number>", "12.5", "2027-01-31")]),
    ({"planned_on": "2027-02-30"}, None, [Change("planned_on", "<planned_on>", "2027-02-30", "")]),
])
def test_changes_in_other_words(before, after, expected):
    assert changes(before, after, names, OTHER) == expected


def test_english_words_keep_what_the_log_wrote():
    assert changes({"quantity": "12.5", "expiry_date": "2027-01-31"},
                   {"quantity": "10", "expiry_date": "2027-02-28"}, names) == [
        Change("quantity", "Quantity", "12.5", "10"),
        Change("expiry_date", "Expiry date", "2027-01-31", "2027-02-28")]


def test_as_text_in_other_words():
    found = changes({"status": "available", "note": "old"}, {"status": "recalled"}, names, OTHER)
    assert as_text(found, OTHER) == ("Statut\u00a0: disponible → rappelé\n"
                                     "<note>\u00a0: old (supprimé)")
