"""The screen puts a cocktail's findings together from each ingredient's, already in
order (``PatientScreen.__call__``), instead of sorting them all for every cocktail.
Held here to the sort of every finding by its key (``PatientScreen._in_full``, the way
the findings were put together before, and still are when two differing ingredients
share an id) for any patient, ingredients and cross-reactivity table."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from formulary.domain.safety import PatientScreen, screen
from tests.domain.test_safety import (BIOTIN, CASES, CROSS, LIDO_MD, _cross_tables,
                                      _ingredients, _patients, patient, text_allergy)


def _sorted_in_full(prepared: PatientScreen, ingredients):
    """Every finding sorted by its key, the result built from them."""
    founds = list({id(f): f for f in map(prepared._of_ingredient, ingredients)}.values())
    bits = 0
    for found in founds:
        bits |= found[1]
    return prepared._in_full(founds, bits >> 2)


@settings(max_examples=400, deadline=None)
@given(_patients(), st.lists(_ingredients, min_size=0, max_size=5, unique_by=lambda i: i.id),
       _cross_tables)
def test_findings_put_together_in_order_equal_every_finding_sorted(patient_, ingredients, cross):
    prepared = PatientScreen(patient_, cross)
    expected = _sorted_in_full(PatientScreen(patient_, cross), ingredients)
    assert prepared(ingredients) == expected
    # again, from what the screen kept, and in another order of the ingredients
    assert prepared(ingredients[::-1]) == expected
    assert screen(patient_, ingredients + ingredients[:1], cross) == expected


@settings(max_examples=200, deadline=None)
@given(_patients(), st.lists(_ingredients, min_size=1, max_size=5), _cross_tables)
def test_any_ingredients_give_every_finding_sorted(patient_, ingredients, cross):
    # ids drawn from 1 to 6: two differing ingredients often share one (then the
    # findings are sorted in full), or an ingredient is listed twice
    prepared = PatientScreen(patient_, cross)
    assert prepared(ingredients) == _sorted_in_full(PatientScreen(patient_, cross), ingredients)


def test_the_truth_table_gives_every_finding_sorted():
    shelf = tuple(dict.fromkeys(ing for c in CASES for ing in c.cocktail))
    for c in CASES:
        prepared = PatientScreen(c.patient, CROSS)
        for cocktail in (c.cocktail, shelf, shelf[::-1], ()):
            assert prepared(cocktail) == _sorted_in_full(PatientScreen(c.patient, CROSS), cocktail), c.id


def test_a_free_text_review_recorded_twice_is_given_once_unless_named():
    # Two allergies to the same free text without id: one review, and none when an
    # ingredient names the text; a second text naming nothing keeps its own review.
    p = patient(text_allergy(None, "lidocaine"), text_allergy(None, "lidocaine"),
                text_allergy(3, "latex"), conditions=())
    prepared = PatientScreen(p, CROSS)
    reviews = [f for f in prepared([BIOTIN]).findings if f.kind == "uncoded_allergy"]
    assert sorted(str(f.allergy_id) for f in reviews) == ["3", "None"]
    named = prepared([BIOTIN, LIDO_MD]).findings
    assert sorted((str(f.allergy_id), f.level) for f in named if f.kind == "uncoded_allergy") == [
        ("3", "warn"), ("None", "block")]
    assert prepared([BIOTIN, LIDO_MD]) == _sorted_in_full(PatientScreen(p, CROSS), [BIOTIN, LIDO_MD])
