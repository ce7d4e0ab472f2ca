"""The demo patients exercise the screen against the demo cocktails."""

from __future__ import annotations

from formulary.cli import load_demo
from formulary.patients.screening import formulations


def _verdicts(session, patient):
    return {fr.cocktail.name: fr.verdict for fr in formulations(session, patient, None)}


def test_demo_patients_exercise_the_screen(session):
    ctx = load_demo(session)
    session.commit()
    patients = ctx["patients"]
    assert len(patients) >= 12
    lido = "Hair vitality complex with lidocaine"
    assert _verdicts(session, patients["MRN-100231"])[lido] == "blocked"  # amide allergy
    assert _verdicts(session, patients["MRN-100259"])[lido] == "safe"     # ester: not lidocaine
    assert _verdicts(session, patients["MRN-100277"])["Body contour PC/DC"] == "blocked"  # soy
    assert set(_verdicts(session, patients["MRN-100298"]).values()) == {"blocked"}  # pregnant
    assert set(_verdicts(session, patients["MRN-100316"]).values()) == {"caution"}  # unassessed
    assert patients["MRN-100321"].allergies[0].status == "refuted"
