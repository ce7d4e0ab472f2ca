"""The screen over the database: what it loads, and in how many statements."""

from __future__ import annotations

import pytest

from formulary.domain.errors import ValidationError
from formulary.patients.screening import cross_reactivity, formulations, screen_patient


@pytest.fixture
def clinic(make_ingredient, make_cross, make_cocktail):
    """Two lidocaines, a paraben-preserved vitamin, biotin; amide/ester anaesthetics do
    not cross-react, parabens cross-react with... nothing but a test pair below."""
    make_cross("paraben", "para-aminobenzoic acid")
    lido_pf = make_ingredient("Lidocaine 2% preservative-free", category="anesthetic",
                              groups=["amide local anesthetic"])
    lido_md = make_ingredient("Lidocaine 2% (multi-dose)", category="anesthetic",
                              groups=["amide local anesthetic", "paraben"])
    biotin = make_ingredient("Biotin 5 mg/mL", strength=("5", "mg"))
    minox = make_ingredient("Minoxidil 0.5%", category="drug",
                            contraindications=["pregnant", "breastfeeding"])
    hair = make_cocktail([(biotin, "1", "mL"), (lido_md, "0.2", "mL")], name="Hair vitality")
    minox_c = make_cocktail([(minox, "1", "mL"), (biotin, "0.5", "mL")], name="Minoxidil scalp")
    face = make_cocktail([(lido_pf, "0.2", "mL")], name="Face glow", area="face")
    return {"lido_pf": lido_pf, "lido_md": lido_md, "biotin": biotin, "minox": minox,
            "hair": hair, "minox_c": minox_c, "face": face}


def test_an_allergy_to_one_lidocaine_blocks_the_other_through_its_class(session, clinic,
                                                                        make_patient):
    # The patient reacted to preservative-free lidocaine: the amide class is a culprit,
    # so the multi-dose lidocaine of "Hair vitality" is blocked.
    patient = make_patient(allergies=[{"ingredient": clinic["lido_pf"], "severity": "severe"}])
    result = screen_patient(session, patient, clinic["hair"].active_version)
    assert result.verdict == "blocked"
    assert [f.kind for f in result.findings] == ["allergen_group"]
    assert result.findings[0].ingredient_id == clinic["lido_md"].id


def test_pregnancy_blocks_minoxidil_twice(session, clinic, make_patient):
    patient = make_patient(conditions=["pregnant"])
    result = screen_patient(session, patient, clinic["minox_c"].active_version)
    kinds = [(f.kind, f.ingredient_id) for f in result.findings]
    assert ("contraindication", None) in kinds
    assert ("contraindication", clinic["minox"].id) in kinds


def test_cross_reactivity_table_is_read_by_name(session, clinic):
    table = cross_reactivity(session)
    assert table.reacts("Para-aminobenzoic acid", "paraben")
    assert len(table) == 1


def test_formulations_rank_safe_first_and_filter_by_area(session, clinic, make_patient):
    patient = make_patient(allergies=[{"group": "paraben", "severity": "moderate"}])
    scalp = formulations(session, patient, "scalp")
    assert [(fr.cocktail.name, fr.verdict) for fr in scalp] == [
        ("Minoxidil scalp", "safe"), ("Hair vitality", "blocked")]
    everything = formulations(session, patient, None)
    assert [fr.cocktail.name for fr in everything] == ["Face glow", "Minoxidil scalp",
                                                       "Hair vitality"]
    with pytest.raises(ValidationError):
        formulations(session, patient, "elbow")


def test_retired_and_draft_cocktails_are_not_offered(session, clinic, make_patient,
                                                     make_cocktail):
    make_cocktail([(clinic["biotin"], "1", "mL")], name="Draft idea", status="draft")
    patient = make_patient()
    assert "Draft idea" not in [fr.cocktail.name for fr in formulations(session, patient, None)]


def _world(make_ingredient, make_cocktail, make_patient, make_group, cocktails, allergies):
    groups = [make_group(f"group {i}") for i in range(10)]
    ings = [make_ingredient(groups=[groups[i % 10].name, groups[(i + 3) % 10].name],
                            contraindications=["pregnant"] if i % 7 == 0 else ())
            for i in range(12)]
    for c in range(cocktails):
        make_cocktail([(ings[(c + k) % 12], "1", "mL") for k in range(3)], area="scalp")
    spec = []
    for a in range(allergies):
        if a % 3 == 0:
            spec.append({"ingredient": ings[a % 12]})
        elif a % 3 == 1:
            spec.append({"group": groups[a % 10].name})
        else:
            spec.append({"substance": f"thing {a}"})
    return make_patient(allergies=spec, conditions=["diabetes"])


@pytest.mark.parametrize("cocktails,allergies", [(5, 2), (50, 30)])
def test_the_picker_sends_a_constant_number_of_statements(
        session, count_queries, make_ingredient, make_cocktail, make_patient, make_group,
        cocktails, allergies):
    patient = _world(make_ingredient, make_cocktail, make_patient, make_group, cocktails,
                     allergies)
    session.expire_all()
    with count_queries() as n:
        results = formulations(session, patient, "scalp")
        for fr in results:  # reading what was loaded sends nothing more
            [c.ingredient.name for c in fr.version.components]
            fr.cocktail.active_version.area
    assert len(results) == cocktails
    assert n.count <= 9, n.statements
