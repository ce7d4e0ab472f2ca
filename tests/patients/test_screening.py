"""The screen over the database: what it loads, and in how many statements."""

from __future__ import annotations

import pytest

from formulary.domain.errors import ValidationError
from formulary.patients import screen_snapshot
from formulary.patients.screening import (cross_reactivity, formulation_page, formulations,
                                          screen_patient)


def test_an_allergy_to_one_lidocaine_blocks_the_other_through_its_class(session, clinic,
                                                                        make_patient):
    # The patient reacted to preservative-free lidocaine: the amide class is a culprit,
    # so the multi-dose lidocaine of "Hair vitality" is blocked.
    patient = make_patient(allergies=[{"ingredient": clinic["lido_pf"], "severity": "severe"}])
    result = screen_patient(session, patient, clinic["c_hair"].active_version)
    assert result.verdict == "blocked"
    assert [f.kind for f in result.findings] == ["allergen_group"]
    assert result.findings[0].ingredient_id == clinic["lido_md"].id


def test_pregnancy_blocks_minoxidil_twice(session, clinic, make_patient):
    patient = make_patient(conditions=["pregnant"])
    result = screen_patient(session, patient, clinic["c_minox"].active_version)
    kinds = [(f.kind, f.ingredient_id) for f in result.findings]
    assert ("contraindication", None) in kinds
    assert ("contraindication", clinic["minox"].id) in kinds


def test_one_screen_reads_the_components_and_the_patient_beside_the_kept_formulary(
        session, clinic, make_patient, count_queries):
    patient = make_patient(allergies=[{"group": "paraben"}], conditions=["pregnant"])
    version = clinic["c_hair"].active_version
    first = screen_patient(session, patient, version)
    session.expire_all()
    patient.allergy_status, version.number  # loaded again, before counting
    with count_queries() as n:
        again = screen_patient(session, patient, version)
        [c.ingredient.name for c in version.components]  # put on the version: no query
    assert again == first and again.verdict == "blocked"
    # The components, the revision's token, the allergies, the conditions.
    assert n.count == 4, n.statements


def test_cross_reactivity_table_is_read_by_name(session, clinic):
    table = cross_reactivity(session)
    assert table.reacts("Para-aminobenzoic acid", "paraben")
    assert not table.reacts("ester local anesthetic", "amide local anesthetic")
    assert len(table) == 2


def test_formulations_rank_safe_first_and_filter_by_area(session, clinic, make_patient):
    patient = make_patient(allergies=[{"group": "paraben", "severity": "moderate"}])
    scalp = formulations(session, patient, "scalp")
    assert [(fr.cocktail.name, fr.verdict) for fr in scalp] == [
        ("Minoxidil scalp", "safe"), ("Hair vitality", "blocked")]
    everything = formulations(session, patient, None)
    assert [fr.cocktail.name for fr in everything] == ["Body contour", "Face glow",
                                                       "Minoxidil scalp", "Hair vitality"]
    with pytest.raises(ValidationError):
        formulations(session, patient, "elbow")


def test_draft_cocktails_are_not_offered(session, clinic, make_patient):
    patient = make_patient()
    assert "Procaine trial" not in [fr.cocktail.name for fr in formulations(session, patient, None)]


def _add_cocktails(make_ingredient, make_cocktail, make_group, cocktails):
    groups = [make_group(f"group {i}") for i in range(10)]
    ings = [make_ingredient(groups=[groups[i % 10].name, groups[(i + 3) % 10].name],
                            contraindications=["pregnant"] if i % 7 == 0 else ())
            for i in range(12)]
    for c in range(cocktails):
        make_cocktail([(ings[(c + k) % 12], "1", "mL") for k in range(3)], area="scalp")
    return groups, ings


def _patient(make_patient, groups, ings, allergies):
    spec = []
    for a in range(allergies):
        if a % 3 == 0:
            spec.append({"ingredient": ings[a % 12], "status": "active" if a % 2 else "refuted"})
        elif a % 3 == 1:
            spec.append({"group": groups[a % 10].name})
        else:
            spec.append({"substance": f"thing {a}"})
    return make_patient(allergies=spec, conditions=["diabetes", "pregnant"])


def _count(session, count_queries, patient, expected):
    # The formulary read and kept before counting: the count is that of a view between
    # two formulary changes (test_a_page_sends... counts the first view after one).
    screen_snapshot.current(session)
    session.expire_all()
    with count_queries() as n:
        results = formulations(session, patient, "scalp")
        for fr in results:  # reading what the picker shows sends nothing more
            [i.name for i in fr.ingredients]
            fr.cocktail.name, fr.version.area, fr.version.number
    assert len(results) == expected
    return n


def test_the_picker_sends_a_constant_number_of_statements(
        session, count_queries, make_ingredient, make_cocktail, make_patient, make_group):
    groups, ings = _add_cocktails(make_ingredient, make_cocktail, make_group, 5)
    small = _count(session, count_queries, _patient(make_patient, groups, ings, 2), 5)
    _add_cocktails(make_ingredient, make_cocktail, make_group, 45)
    large = _count(session, count_queries, _patient(make_patient, groups, ings, 30), 50)
    assert small.count == large.count, (small.statements, large.statements)
    # The revision's token, the allergies, the conditions; BEGIN (SQLite), the patient.
    assert large.count <= 5, large.statements


# --------------------------------------------------------------------------- one page of the picker
# formulation_page ranks and counts every cocktail by its verdict and builds the findings
# only for the page asked: the page must be exactly that slice of the full list.


def _full(session, patient, area=None):
    return [(fr.cocktail.id, fr.verdict, fr.findings, tuple(i.id for i in fr.ingredients))
            for fr in formulations(session, patient, area)]


def test_a_page_is_the_slice_of_the_whole_ranking(session, make_ingredient, make_cocktail,
                                                   make_group, make_patient):
    groups, ings = _add_cocktails(make_ingredient, make_cocktail, make_group, 12)
    make_cocktail([(ings[0], "1", "mL")], name="Only one")  # blocked: the allergy below
    make_cocktail([(ings[4], "1", "mL")], name="Nothing wrong")
    patient = make_patient(allergies=[{"ingredient": ings[0]}, {"group": groups[3].name},
                                      {"substance": "thing"}], conditions=["diabetes"])
    everything = _full(session, patient)
    assert [verdict for _, verdict, _, _ in everything] == ["caution"] * 2 + ["blocked"] * 12
    for offset, limit in [(0, 5), (5, 5), (10, 5), (0, 50), (11, 1), (40, 5)]:
        page = formulation_page(session, patient, None, offset=offset, limit=limit)
        assert page.total == len(everything) == 14
        assert [(fr.cocktail.id, fr.verdict, fr.findings, tuple(i.id for i in fr.ingredients))
                for fr in page.items] == everything[offset:offset + limit]
    page = formulation_page(session, patient, None, offset=0, limit=1)
    assert page.counts == {v: [verdict for _, verdict, _, _ in everything].count(v)
                           for v in ("safe", "caution", "blocked")}


def test_ingredients_are_shown_in_component_order(session, clinic, make_patient):
    patient = make_patient()
    hair = next(fr for fr in formulation_page(session, patient, "scalp", limit=10).items
                if fr.cocktail.name == "Hair vitality")
    assert [i.id for i in hair.ingredients] == [
        clinic["biotin"].id, clinic["dexpanthenol"].id, clinic["lido_md"].id]
    assert hair.version.area == "scalp" and hair.version.number == 1


def test_no_active_cocktail_gives_an_empty_page(session, make_patient):
    page = formulation_page(session, make_patient(), "hands", offset=0, limit=50)
    assert page.items == [] and page.total == 0
    assert page.counts == {"safe": 0, "caution": 0, "blocked": 0}


def test_a_page_sends_a_constant_number_of_statements(
        session, count_queries, make_ingredient, make_cocktail, make_patient, make_group):
    groups, ings = _add_cocktails(make_ingredient, make_cocktail, make_group, 5)
    counts = []
    for cocktails, allergies in [(0, 2), (60, 30)]:
        _add_cocktails(make_ingredient, make_cocktail, make_group, cocktails)
        patient = _patient(make_patient, groups, ings, allergies)
        screen_snapshot.current(session)  # the worker's one check of its triggers
        _add_cocktails(make_ingredient, make_cocktail, make_group, 1)  # read again below
        session.expire_all()
        with count_queries() as n:
            page = formulation_page(session, patient, "scalp", offset=0, limit=50)
            for fr in page.items:
                [i.name for i in fr.ingredients], fr.version.area, fr.cocktail.name
        assert len(page.items) == min(50, page.total)
        counts.append(n.count)
    # Eight for the page, the formulary read again (a write came before each): the
    # revision's token before and after, the cocktails, the ingredients, cross-reactivity,
    # the allergies and conditions; the transaction's BEGIN (SQLite) and the patient, reloaded.
    assert counts[0] == counts[1] <= 9, (counts, n.statements)
