"""A small clinic for the patient tests: realistic ingredients, groups and cocktails."""

from __future__ import annotations

import pytest


@pytest.fixture
def clinic(make_ingredient, make_cross, make_cocktail, make_group):
    """Local anaesthetics (amide, ester), a paraben-preserved lidocaine, biotin, a cobalt
    vitamin, a soy-derived phosphatidylcholine, minoxidil. Amides and esters do not
    cross-react; parabens cross-react with para-aminobenzoic acid (PABA), the ester
    anaesthetics' metabolite; chlorhexidine stands alone."""
    make_group("ester local anesthetic")
    make_cross("paraben", "para-aminobenzoic acid")
    make_cross("ester local anesthetic", "para-aminobenzoic acid")
    ing = {
        "lido_pf": make_ingredient("Lidocaine 2% preservative-free", category="anesthetic",
                                   groups=["amide local anesthetic"]),
        "lido_md": make_ingredient("Lidocaine 2% (multi-dose)", category="anesthetic",
                                   groups=["amide local anesthetic", "paraben"],
                                   multi_dose=True),
        "procaine": make_ingredient("Procaine 1%", category="anesthetic",
                                    groups=["ester local anesthetic"]),
        "biotin": make_ingredient("Biotin 5 mg/mL", strength=("5", "mg")),
        "b12": make_ingredient("Cyanocobalamin 1 mg/mL", groups=["cobalt"]),
        "ppc": make_ingredient("Phosphatidylcholine 5%", category="other", groups=["soy"]),
        "minox": make_ingredient("Minoxidil 0.5%", category="drug",
                                 contraindications=["pregnant", "breastfeeding"]),
        "dexpanthenol": make_ingredient("Dexpanthenol 250 mg/mL", strength=("250", "mg")),
    }
    cocktails = {
        "hair": make_cocktail([(ing["biotin"], "1", "mL"), (ing["dexpanthenol"], "1", "mL"),
                               (ing["lido_md"], "0.2", "mL")], name="Hair vitality"),
        "minox": make_cocktail([(ing["minox"], "1", "mL"), (ing["biotin"], "0.5", "mL")],
                               name="Minoxidil scalp"),
        "glow": make_cocktail([(ing["b12"], "0.5", "mL"), (ing["lido_pf"], "0.2", "mL")],
                              name="Face glow", area="face"),
        "lipo": make_cocktail([(ing["ppc"], "2", "mL")], name="Body contour", area="body"),
        "draft": make_cocktail([(ing["procaine"], "0.2", "mL")], name="Procaine trial",
                               status="draft"),
    }
    return {**ing, **{f"c_{k}": v for k, v in cocktails.items()}}
