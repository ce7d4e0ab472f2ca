"""Truth tables for cocktail dose arithmetic (SPEC §5)."""

from decimal import Decimal as D

import pytest

from formulary.domain.doses import (
    ComponentDose,
    ComponentInput,
    IngredientFacts,
    MixSummary,
    check_components,
    check_preparable,
    doses_possible,
    summarize,
)
from formulary.domain.errors import InvalidState, ValidationError
from formulary.domain.units import Strength

BIOTIN = IngredientFacts(1, "Biotin 5 mg/mL", "mL", Strength(D("5"), "mg"), (D("5"), "mg"))
SALINE = IngredientFacts(2, "Sodium chloride 0.9%", "mL", None, None)  # a diluent
LIDOCAINE = IngredientFacts(3, "Lidocaine 2%", "mL", Strength(D("20"), "mg"),
                            (D("1"), "mL"))                 # limit given in mL (= 20 mg)
HA_POWDER = IngredientFacts(4, "Hyaluronic acid powder", "mg", None,
                            (D("0.05"), "g"))               # limit in g (= 50 mg)
VITAMIN_D = IngredientFacts(5, "Cholecalciferol 5000 IU/mL", "mL",
                            Strength(D("5000"), "IU"), None)
HYALURONIDASE = IngredientFacts(6, "Hyaluronidase 150 U/mL", "mL",
                                Strength(D("150"), "U"), (D("75"), "U"))
AMPOULE = IngredientFacts(7, "Dexpanthenol ampoule", "each", None, None)
SILICIUM = IngredientFacts(8, "Organic silicium", "mL", None,
                           (D("10"), "mg"))                 # limit that cannot be checked
DMAE = IngredientFacts(9, "DMAE 3 mg/mL", "mL", Strength(D("3"), "mg"), (D("1"), "mg"))
SELENIUM = IngredientFacts(10, "Selenium 200 mcg/mL", "mL", Strength(D("200"), "mcg"), None)
ASCORBIC = IngredientFacts(11, "Ascorbic acid 150 mg/mL", "mL", Strength(D("150"), "mg"),
                           (D("50"), "mg"))
MINOXIDIL = IngredientFacts(12, "Minoxidil 16 mg/mL", "mL", Strength(D("16"), "mg"), None)
ZINC_POWDER = IngredientFacts(13, "Zinc powder", "g", None, None)   # stocked in g
FOLIC = IngredientFacts(14, "Folic acid powder", "mcg", None, None)  # stocked in mcg

INGREDIENTS = {i.id: i for i in (BIOTIN, SALINE, LIDOCAINE, HA_POWDER, VITAMIN_D,
                                 HYALURONIDASE, AMPOULE, SILICIUM, DMAE, SELENIUM,
                                 ASCORBIC, MINOXIDIL, ZINC_POWDER, FOLIC)}


def one(ingredient_id, amount, unit):
    return [ComponentInput(ingredient_id, amount, unit)]


# --------------------------------------------------------------- check_components

@pytest.mark.parametrize("ingredient_id, amount, unit, expected", [
    # mass through the strength: 4 mg / 5 mg/mL
    (1, "4", "mg", (D("4"), "mg", D("0.8"), "mL")),
    # exactly at the maximum dose is allowed: "over" means over
    (1, "5", "mg", (D("5"), "mg", D("1"), "mL")),
    # the same limit reached in another mass unit
    (1, "5000", "mcg", (D("5000"), "mcg", D("1"), "mL")),
    # given in the stock unit itself: 1 mL of 5 mg/mL is 5 mg, at the limit
    (1, "1", "mL", (D("1"), "mL", D("1"), "mL")),
    # spellings and types a form or the API may send
    (1, D("2.5"), "MG", (D("2.5"), "mg", D("0.5"), "mL")),
    ("1", 2, "mg", (D("2"), "mg", D("0.4"), "mL")),   # id as form text
    # a diluent has no strength and no limit: mL only
    (2, "2", "ml", (D("2"), "mL", D("2"), "mL")),
    # limit in mL (1 mL), dose in mg: 20 mg is 1 mL, at the limit
    (3, "20", "mg", (D("20"), "mg", D("1"), "mL")),
    # powder stocked in mg, dosed in g; limit 0.05 g = 50 mg
    (4, "0.05", "g", (D("0.05"), "g", D("50"), "mg")),
    # IU through an IU strength: 1000 / 5000
    (5, "1000", "iu", (D("1000"), "IU", D("0.2"), "mL")),
    # U through a U strength, at its U limit
    (6, "75", "U", (D("75"), "U", D("0.5"), "mL")),
    # each stays each
    (7, "1", "ea", (D("1"), "each", D("1"), "each")),
    # DMAE 1 mg of 3 mg/mL: 0.333334 mL drawn (rounded up); exactly at its 1 mg
    # limit, because the limit is compared exactly, not after rounding
    (9, "1", "mg", (D("1"), "mg", D("0.333334"), "mL")),
    # at the limit of 50 mg: 0.3333... mL drawn as 0.333334
    (11, "50", "mg", (D("50"), "mg", D("0.333334"), "mL")),
    # mcg strength: 100 mcg / 200 mcg/mL
    (10, "100", "mcg", (D("100"), "mcg", D("0.5"), "mL")),
    # exactly 0.06250625 mL: 8 places, rounded UP at the stored 6 (the database cut it
    # to 0.062506, so 1,000 doses drew 62.50625 mL and recorded 62.506)
    (12, "1.0001", "mg", (D("1.0001"), "mg", D("0.062507"), "mL")),
    # the smallest dose of a powder stocked in g that is still stock: 1 mcg = 0.000001 g
    (13, "1", "mcg", (D("1"), "mcg", D("0.000001"), "g")),
    # 1.5 mcg = 0.0000015 g: up to 0.000002 g, never down
    (13, "1.5", "mcg", (D("1.5"), "mcg", D("0.000002"), "g")),
    # the largest amount: 9 digits before the point
    (2, "999999999.9999", "mL", (D("999999999.9999"), "mL", D("999999999.9999"), "mL")),
])
def test_check_components_accepts(ingredient_id, amount, unit, expected):
    (dose,) = check_components(one(ingredient_id, amount, unit), INGREDIENTS)
    amount_, unit_, stock_quantity, stock_unit = expected
    assert dose == ComponentDose(int(ingredient_id), amount_, unit_, stock_quantity, stock_unit)


def test_check_components_keeps_order_and_ids():
    doses = check_components([ComponentInput(1, "2", "mg"),
                              ComponentInput(2, "2", "mL"),
                              ComponentInput(5, "1000", "IU")], INGREDIENTS)
    # one dose per component, in the order given
    assert [d.ingredient_id for d in doses] == [1, 2, 5]
    assert [d.stock_quantity for d in doses] == [D("0.4"), D("2"), D("0.2")]


@pytest.mark.parametrize("components, expected", [
    # nothing to mix
    ([], {"components": ["Add at least one component."]}),
    (None, {"components": ["Add at least one component."]}),
    # no ingredient chosen
    (one(None, "1", "mL"), {"components.0.ingredient_id": ["Choose an ingredient."]}),
    # an id that is not in the formulary (or not allowed by the caller)
    (one(99, "1", "mL"), {"components.0.ingredient_id": ["Unknown ingredient: 99."]}),
    (one("abc", "1", "mL"), {"components.0.ingredient_id": ["Unknown ingredient: 'abc'."]}),
    (one(True, "1", "mL"), {"components.0.ingredient_id": ["Unknown ingredient: True."]}),
    # the same ingredient twice: the second row is the one to fix
    ([ComponentInput(1, "1", "mg"), ComponentInput(2, "1", "mL"), ComponentInput(1, "2", "mg")],
     {"components.2.ingredient_id": ["Biotin 5 mg/mL is already in this cocktail."]}),
    # ...even when given in another unit
    ([ComponentInput(1, "1", "mg"), ComponentInput(1, "0.2", "mL")],
     {"components.1.ingredient_id": ["Biotin 5 mg/mL is already in this cocktail."]}),
    # amounts that are not positive exact numbers
    (one(2, "0", "mL"), {"components.0.amount": ["Amount must be positive."]}),
    (one(2, "-1", "mL"), {"components.0.amount": ["Amount must be positive."]}),
    (one(2, "", "mL"), {"components.0.amount": ["Amount is required."]}),
    (one(2, "two", "mL"), {"components.0.amount": ["Amount must be a number, like 2.5."]}),
    (one(2, "0.12345", "mL"), {"components.0.amount": ["At most 4 decimal places."]}),
    (one(2, 0.5, "mL"), {"components.0.amount": [
        'Amount must be sent as a string ("2.5") or an exact number, '
        "not a floating-point number."]}),
    # over the maximum dose per session, whatever the units
    (one(1, "10", "mg"), {"components.0.amount": [
        "10 mg is over the maximum dose per session of Biotin 5 mg/mL (5 mg)."]}),
    (one(1, "1.2", "mL"), {"components.0.amount": [          # 1.2 mL = 6 mg
        "1.2 mL is over the maximum dose per session of Biotin 5 mg/mL (5 mg)."]}),
    (one(1, "5001", "mcg"), {"components.0.amount": [         # 1 mcg over is over
        "5001 mcg is over the maximum dose per session of Biotin 5 mg/mL (5 mg)."]}),
    (one(3, "20.0001", "mg"), {"components.0.amount": [       # limit in mL, dose in mg
        "20.0001 mg is over the maximum dose per session of Lidocaine 2% (1 mL)."]}),
    (one(4, "51", "mg"), {"components.0.amount": [            # limit in g, dose in mg
        "51 mg is over the maximum dose per session of Hyaluronic acid powder (0.05 g)."]}),
    (one(6, "76", "U"), {"components.0.amount": [
        "76 U is over the maximum dose per session of Hyaluronidase 150 U/mL (75 U)."]}),
    # 0.0001 mg over is over
    (one(9, "1.0001", "mg"), {"components.0.amount": [
        "1.0001 mg is over the maximum dose per session of DMAE 3 mg/mL (1 mg)."]}),
    # 50.0001 mg is exactly 0.333334 mL and the 50 mg limit rounds up to 0.333334 mL
    # too: compared after rounding it would pass; compared exactly it is over
    (one(11, "50.0001", "mg"), {"components.0.amount": [
        "50.0001 mg is over the maximum dose per session of Ascorbic acid 150 mg/mL (50 mg)."]}),
    # a limit in mg on a solution with no strength cannot be checked: refused, not ignored
    (one(8, "1", "mL"), {"components.0.amount": [
        "The maximum dose per session of Organic silicium (10 mg) cannot be checked: "
        "mg cannot be converted to mL: this ingredient has no strength per mL."]}),
    # SPEC §3: a dose that converts to no stock at the stored scale is refused (it was
    # stored as 0 on SQLite and the batch then failed; PostgreSQL rounded it up to twice it)
    (one(13, "0.5", "mcg"), {"components.0.amount": [
        "0.5 mcg of Zinc powder is less than 0.000001 g, the smallest quantity of its "
        "stock that is recorded: it would be drawn as nothing. Give a larger dose, or use "
        "an ingredient stocked in a smaller unit."]}),
    (one(13, "0.0001", "mg"), {"components.0.amount": [  # 0.0000001 g
        "0.0001 mg of Zinc powder is less than 0.000001 g, the smallest quantity of its "
        "stock that is recorded: it would be drawn as nothing. Give a larger dose, or use "
        "an ingredient stocked in a smaller unit."]}),
    # ...and so is any result that would be stored inexactly: 10 digits before the point
    (one(2, "1000000000", "mL"), {"components.0.amount": [
        "Amount is too large: at most 9 digits before the decimal point (999999999.9999)."]}),
    (one(14, "1000", "g"), {"components.0.amount": [  # 10^9 mcg
        "1000 g of Folic acid powder converts to too much stock per dose: at most "
        "9 digits before the decimal point in mcg."]}),
    # units: unknown, or not convertible to the stock unit
    (one(2, "1", "kg"), {"components.0.unit": [
        "Unknown unit 'kg': use one of mcg, mg, g, mL, IU, U, each."]}),
    (one(2, "1", ""), {"components.0.unit": [
        "Choose a unit: one of mcg, mg, g, mL, IU, U, each."]}),
    (one(2, "5", "mg"), {"components.0.unit": [                # a diluent has no strength
        "mg cannot be converted to mL: this ingredient has no strength per mL."]}),
    (one(1, "100", "IU"), {"components.0.unit": [              # biotin is dosed by mass
        "IU cannot be converted to mL: this ingredient's strength is in mg per mL."]}),
    (one(5, "1", "mg"), {"components.0.unit": [               # vitamin D is dosed in IU
        "mg cannot be converted to mL: this ingredient's strength is in IU per mL."]}),
    (one(4, "1", "mL"), {"components.0.unit": [               # a powder has no volume
        "mL cannot be converted to mg: this ingredient has no strength per mL."]}),
    (one(7, "1", "mL"), {"components.0.unit": ["mL cannot be converted to each."]}),
    (one(6, "1", "IU"), {"components.0.unit": [               # U is not IU
        "IU cannot be converted to mL: this ingredient's strength is in U per mL."]}),
])
def test_check_components_refuses(components, expected):
    with pytest.raises(ValidationError) as exc:
        check_components(components, INGREDIENTS)
    assert exc.value.fields == expected
    # one problem: the message is that problem, for a flash or the API envelope
    (only,) = next(iter(expected.values()))
    assert exc.value.message == only


def test_check_components_collects_every_problem_at_once():
    components = [
        ComponentInput(1, "10", "mg"),      # over the limit
        ComponentInput(99, "x", "kg"),      # unknown id, bad amount, bad unit: all three
        ComponentInput(2, "2", "mL"),       # fine
        ComponentInput(2, "1", "mg"),       # duplicate, and mg does not convert for saline
    ]
    with pytest.raises(ValidationError) as exc:
        check_components(components, INGREDIENTS)
    assert exc.value.fields == {
        "components.0.amount": [
            "10 mg is over the maximum dose per session of Biotin 5 mg/mL (5 mg)."],
        "components.1.ingredient_id": ["Unknown ingredient: 99."],
        "components.1.amount": ["Amount must be a number, like 2.5."],
        "components.1.unit": ["Unknown unit 'kg': use one of mcg, mg, g, mL, IU, U, each."],
        "components.3.ingredient_id": ["Sodium chloride 0.9% is already in this cocktail."],
    }
    # several problems: a summary message, the details are in fields
    assert exc.value.message == "The components have 5 problems."


# ------------------------------------------------------------------------ summarize

def doses_of(*rows):
    return check_components([ComponentInput(*row) for row in rows], INGREDIENTS)


@pytest.mark.parametrize("rows, total, concentrations", [
    # biotin 4 mg (0.8 mL) + saline 1.2 mL = 2 mL; biotin 4 mg / 2 mL
    ([(1, "4", "mg"), (2, "1.2", "mL")], D("2"),
     {1: (D("2"), "mg"), 2: None}),                  # saline carries no active amount
    # biotin given in mL: 1 mL x 5 mg/mL = 5 mg, in 1 + 1 mL
    ([(1, "1", "mL"), (2, "1", "mL")], D("2"),
     {1: (D("2.5"), "mg"), 2: None}),
    # three solutions: 0.8 + 2 + 0.2 = 3 mL; IU stays IU
    ([(1, "4", "mg"), (2, "2", "mL"), (5, "1000", "IU")], D("3"),
     {1: (D("1.333333"), "mg"),                      # 4/3: half-up to 6 places
      2: None, 5: (D("333.333333"), "IU")}),
    # mass is expressed in mg whatever unit it was given in: 100 mcg / 0.5 mL = 0.2 mg/mL
    ([(10, "100", "mcg")], D("0.5"), {10: (D("0.2"), "mg")}),
    # biological units stay U: 75 U / (0.5 + 1) mL
    ([(6, "75", "U"), (2, "1", "mL")], D("1.5"), {6: (D("50"), "U"), 2: None}),
    # a powder adds mass but no volume (its stock unit is mg): 20 mg in 2 mL of saline
    ([(4, "20", "mg"), (2, "2", "mL")], D("2"), {4: (D("10"), "mg"), 2: None}),
    # the active amount is the amount given (1 mg), not 0.333334 mL x 3 mg/mL
    ([(9, "1", "mg")], D("0.333334"), {9: (D("2.999994"), "mg")}),
    # an ampoule counted in each has no concentration
    ([(7, "1", "each"), (2, "2", "mL")], D("2"), {7: None, 2: None}),
    # nothing stocked in mL: no volume, so no concentration can be given
    ([(4, "20", "mg"), (7, "1", "each")], None, {4: None, 7: None}),
])
def test_summarize(rows, total, concentrations):
    summary = summarize(doses_of(*rows), INGREDIENTS)
    assert summary == MixSummary(total_volume_ml=total, concentrations=concentrations)


# ------------------------------------------------------------------- doses_possible

@pytest.mark.parametrize("rows, usable, expected", [
    # biotin 0.8 mL per dose, 4 mL usable: 5 doses; saline 2 mL per dose, 100 usable: 50
    ([(1, "4", "mg"), (2, "2", "mL")], {1: D("4"), 2: D("100")}, 5),
    # floor: 4.7 mL of biotin at 0.8 mL is 5.875 doses, so 5 whole doses
    ([(1, "4", "mg"), (2, "2", "mL")], {1: D("4.7"), 2: D("100")}, 5),
    # the scarcest component decides
    ([(1, "4", "mg"), (2, "2", "mL")], {1: D("4"), 2: D("3.9")}, 1),
    # not enough for one dose
    ([(1, "4", "mg")], {1: D("0.7999")}, 0),
    # an ingredient with no usable stock at all (missing from the mapping)
    ([(1, "4", "mg"), (2, "2", "mL")], {1: D("4")}, 0),
    # 3 x 0.333334 mL > 1 mL: the rounded-up draw is what the stock must cover
    ([(9, "1", "mg")], {9: D("1")}, 2),
    ([(9, "1", "mg")], {9: D("1.000002")}, 3),
    # each and mass units work the same way
    ([(7, "1", "each"), (4, "20", "mg")], {7: D("3"), 4: D("1000")}, 3),
    # negative usable (should not happen) never gives negative doses
    ([(2, "1", "mL")], {2: D("-1")}, 0),
    # large stock, tiny dose: exact, no precision limit
    ([(2, "0.0001", "mL")], {2: D("1000000000000")}, 10_000_000_000_000_000),
])
def test_doses_possible(rows, usable, expected):
    assert doses_possible(doses_of(*rows), usable) == expected


def test_doses_possible_with_no_components_is_zero():
    # nothing to prepare: no "infinitely many" doses
    assert doses_possible((), {1: D("10")}) == 0


def test_doses_possible_adds_up_an_ingredient_named_twice():
    # check_components forbids it, but a hand-built list must not double the stock
    dose = ComponentDose(2, D("1"), "mL", D("1"), "mL")
    assert doses_possible((dose, dose), {2: D("5")}) == 2


def test_doses_possible_refuses_floats():
    (dose,) = doses_of((2, "1", "mL"))
    with pytest.raises(TypeError):
        doses_possible((dose,), {2: 5.0})


# --------------------------------------------------------------- check_preparable

def _dose(ingredient_id, amount, unit, stock_quantity, stock_unit="mL"):
    """A component of an approved version, as stored."""
    return ComponentDose(ingredient_id, D(amount), unit, D(stock_quantity), stock_unit)


def _now(ingredient, **changes):
    """The ingredient as it is at preparation time (changed since the approval)."""
    from dataclasses import replace

    return {ingredient.id: replace(ingredient, **changes)}


@pytest.mark.parametrize("dose, ingredients", [
    # nothing changed: 4 mg of biotin under its 5 mg maximum
    (_dose(1, "4", "mg", "0.8"), _now(BIOTIN)),
    # exactly at a maximum lowered to the dose: "over" means over
    (_dose(1, "4", "mg", "0.8"), _now(BIOTIN, max_dose_per_session=(D("4"), "mg"))),
    # the maximum removed
    (_dose(1, "4", "mg", "0.8"), _now(BIOTIN, max_dose_per_session=None)),
    # compared exactly: 1 mg of DMAE is drawn as 0.333334 mL, over 1/3 mL, yet at 1 mg
    (_dose(9, "1", "mg", "0.333334"), _now(DMAE)),
    # a maximum raised, in another unit (0.001 g = 1 mg)
    (_dose(9, "1", "mg", "0.333334"), _now(DMAE, max_dose_per_session=(D("0.001"), "g"))),
])
def test_check_preparable_accepts(dose, ingredients):
    check_preparable([dose], ingredients)  # no error


@pytest.mark.parametrize("dose, ingredients, message", [
    # the maximum lowered after the version was approved
    (_dose(1, "4", "mg", "0.8"), _now(BIOTIN, max_dose_per_session=(D("3"), "mg")),
     "4 mg is over the maximum dose per session of Biotin 5 mg/mL (3 mg)."),
    # lowered in another unit: 0.5 mL of 5 mg/mL is 2.5 mg
    (_dose(1, "4", "mg", "0.8"), _now(BIOTIN, max_dose_per_session=(D("0.5"), "mL")),
     "4 mg is over the maximum dose per session of Biotin 5 mg/mL (0.5 mL)."),
    # 0.0001 mg over is over
    (_dose(9, "1", "mg", "0.333334"), _now(DMAE, max_dose_per_session=(D("0.9999"), "mg")),
     "1 mg is over the maximum dose per session of DMAE 3 mg/mL (0.9999 mg)."),
    # the ingredient deactivated after the version was approved
    (_dose(2, "2", "mL", "2"), _now(SALINE, active=False),
     "Sodium chloride 0.9% is inactive: a batch cannot use it."),
    # a maximum that cannot be checked is a refusal, as when the version was made
    (_dose(2, "2", "mL", "2"), _now(SALINE, max_dose_per_session=(D("1"), "mg")),
     "The maximum dose per session of Sodium chloride 0.9% (1 mg) cannot be checked: "
     "mg cannot be converted to mL: this ingredient has no strength per mL."),
])
def test_check_preparable_refuses(dose, ingredients, message):
    with pytest.raises(InvalidState) as exc:
        check_preparable([dose], ingredients)
    full = message + " This version cannot be prepared: make a new version of the cocktail."
    assert exc.value.message == full
    assert exc.value.fields == {"cocktail_id": [full]}
    assert exc.value.status == 409


def test_check_preparable_names_every_ingredient_concerned():
    ingredients = {**_now(BIOTIN, max_dose_per_session=(D("1"), "mg")),
                   **_now(SALINE, active=False), **_now(VITAMIN_D)}
    with pytest.raises(InvalidState) as exc:
        check_preparable([_dose(1, "4", "mg", "0.8"), _dose(2, "2", "mL", "2"),
                          _dose(5, "1000", "IU", "0.2")], ingredients)
    assert exc.value.message == (
        "4 mg is over the maximum dose per session of Biotin 5 mg/mL (1 mg). "
        "Sodium chloride 0.9% is inactive: a batch cannot use it. "
        "This version cannot be prepared: make a new version of the cocktail.")


def test_summarize_is_remembered_by_value_never_by_a_stale_answer():
    """``summarize`` remembers its answers (list pages work out every cocktail on every
    request): a changed strength or dose is another answer, the same values written
    differently keep their own writing, and a caller changing its copy changes nothing."""
    doses = [ComponentDose(1, D("1"), "mL", D("1"), "mL"), ComponentDose(2, D("1"), "mL", D("1"), "mL")]
    first = summarize(doses, {1: BIOTIN, 2: SALINE})
    assert first.concentrations[1] == (D("2.5"), "mg")
    first.concentrations[1] = None  # the caller's own copy
    assert summarize(doses, {1: BIOTIN, 2: SALINE}).concentrations[1] == (D("2.5"), "mg")
    stronger = IngredientFacts(1, "Biotin 10 mg/mL", "mL", Strength(D("10"), "mg"), None)
    assert summarize(doses, {1: stronger, 2: SALINE}).concentrations[1] == (D("5"), "mg")
    assert summarize(doses, {2: SALINE}).concentrations[1] is None  # strength unknown
    written = [ComponentDose(1, D("1.0"), "mL", D("1.0"), "mL"), ComponentDose(2, D("1"), "mL", D("1"), "mL")]
    assert str(summarize(written, {1: BIOTIN, 2: SALINE}).total_volume_ml) == "2.0"
    assert str(summarize(doses, {1: BIOTIN, 2: SALINE}).total_volume_ml) == "2"
