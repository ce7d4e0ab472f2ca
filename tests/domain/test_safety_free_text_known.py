"""Truth table: a free-text allergy that names something on file says what is true
(issue 16). It blocks a cocktail holding what it names, as a coded allergy would; it says
nothing of a cocktail without it; only text naming nothing on file asks for review."""

from __future__ import annotations

import pytest

from formulary.domain.safety import (CrossReactivity, PatientScreen, ScreenAllergy, ScreenIngredient,
                                     ScreenPatient, screen)

BIOTIN = ScreenIngredient(8, "Biotin 5 mg/mL", frozenset(), frozenset())
CAFFEINE = ScreenIngredient(9, "Caffeine 20 mg/mL", frozenset(), frozenset())
PROCAINE = ScreenIngredient(10, "Procaine 2%", frozenset({"ester local anaesthetics"}), frozenset())
NO_CROSS = CrossReactivity([])


def free(text, names_known=(), aid=1):
    return ScreenAllergy(aid, "active", "moderate", None, substance=text, names_known=names_known)


def verdict_and_kinds(allergy, ingredients):
    p = ScreenPatient("known", (allergy,), frozenset())
    result = screen(p, ingredients, NO_CROSS)
    assert PatientScreen(p, NO_CROSS).verdict(ingredients) == result.verdict  # the fast path agrees
    return result.verdict, [(f.level, f.kind, f.ingredient_id) for f in result.findings]


@pytest.mark.parametrize("allergy, ingredients, verdict, findings", [
    # "biotin" names Biotin 5 mg/mL (on file): a cocktail without biotin is safe, no warning
    (free("biotin", ("Biotin 5 mg/mL",)), [CAFFEINE], "safe", []),
    # ... and one with biotin is blocked, as a coded allergy would block it
    (free("biotin", ("Biotin 5 mg/mL",)), [CAFFEINE, BIOTIN], "blocked",
     [("block", "uncoded_allergy", 8)]),
    # a group on file: blocks what is in the group, nothing else
    (free("ester local anaesthetics", ("ester local anaesthetics",)), [PROCAINE], "blocked",
     [("block", "uncoded_allergy", 10)]),
    (free("ester local anaesthetics", ("ester local anaesthetics",)), [BIOTIN], "safe", []),
    # text that names nothing on file: review by hand, whatever the cocktail
    (free("latex"), [BIOTIN], "caution", [("warn", "uncoded_allergy", None)]),
    (free("latex"), [], "caution", [("warn", "uncoded_allergy", None)]),
    # the caller did not look the text up (names_known empty): the old rule, review
    (free("biotin"), [CAFFEINE], "caution", [("warn", "uncoded_allergy", None)]),
    (free("biotin"), [BIOTIN], "blocked", [("block", "uncoded_allergy", 8)]),
])
def test_free_text_that_names_something_on_file(allergy, ingredients, verdict, findings):
    assert verdict_and_kinds(allergy, ingredients) == (verdict, findings)


def test_two_free_texts_one_known_one_not():
    p = ScreenPatient("known", (free("biotin", ("Biotin 5 mg/mL",), aid=1), free("latex", aid=2)),
                      frozenset())
    result = screen(p, [CAFFEINE], NO_CROSS)
    assert result.verdict == "caution"
    assert [(f.kind, f.allergy_id) for f in result.findings] == [("uncoded_allergy", 2)]
    assert PatientScreen(p, NO_CROSS).verdict([CAFFEINE]) == "caution"


def test_names_known_only_for_free_text():
    with pytest.raises(ValueError):
        ScreenAllergy(1, "active", "mild", None, ingredient_id=8, names_known=("Biotin",))
