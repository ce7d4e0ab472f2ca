"""Free-text allergies say what is true (issue 16): "biotin" names Biotin 5 mg/mL on file,
so it blocks a cocktail holding biotin and says nothing of one without; recording such text
offers to record it as the ingredient or group it names."""

from __future__ import annotations

import re

import pytest

from formulary.extensions import db
from formulary.patients.models import Allergy


@pytest.fixture
def scene(make_ingredient, make_group, make_cocktail, make_patient):
    biotin = make_ingredient("Biotin 5 mg/mL")
    caffeine = make_ingredient("Caffeine 20 mg/mL")
    procaine = make_ingredient("Procaine 2%", groups=["ester local anaesthetics"])
    with_biotin = make_cocktail([(biotin, "1", "mL")], name="Scalp biotin")
    without = make_cocktail([(caffeine, "1", "mL")], name="Body caffeine", area="body")
    patient = make_patient("MRN-FT", allergies=[{"substance": "biotin"}, {"substance": "latex"}])
    return {"biotin": biotin, "procaine": procaine, "with": with_biotin, "without": without,
            "patient": patient}


def test_the_picker_says_what_is_true(client, login_as, scene):
    login_as("practitioner")
    html = client.get(f"/patients/{scene['patient'].id}/formulations").get_data(as_text=True)
    without = re.search(r'data-cocktail="Body caffeine".*?(?=data-cocktail=|$)', html, re.S).group(0)
    assert 'data-verdict="caution"' in without          # latex still asks for review ...
    assert "&#39;biotin&#39;" not in without           # ... biotin, not in it, says nothing
    assert "&#39;latex&#39; names no ingredient or allergen group on file" in without
    with_biotin = re.search(r'data-cocktail="Scalp biotin".*?(?=data-cocktail=|$)', html, re.S).group(0)
    assert 'data-verdict="blocked"' in with_biotin
    assert "&#39;biotin&#39; names Biotin 5 mg/mL, an ingredient of this cocktail" in with_biotin


def test_the_api_screen_agrees(api, scene):
    client = api("practitioner")
    body = client.get(f"patients/{scene['patient'].id}/formulations").get_json()
    messages = [f["message"] for item in body["items"] for f in item.get("findings", [])]
    assert not any("'biotin'" in m and "review by hand" in m for m in messages)
    assert any("'latex' names no ingredient" in m for m in messages)


def _post(client, patient, **data):
    html = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html)
    data = {"csrf_token": token.group(1), "severity": "moderate", "reaction": "hives", **data}
    return client.post(f"/patients/{patient.id}/allergies", data=data)


def test_recording_free_text_that_names_an_ingredient_offers_it(client, login_as, make_patient, scene):
    login_as("practitioner")
    patient = make_patient("MRN-NEW", allergy_status="unknown")
    resp = _post(client, patient, kind="substance", substance="biotin")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'data-testid="allergy-offer"' in html and 'data-offer="Biotin 5 mg/mL"' in html
    assert db.session.query(Allergy).filter_by(patient_id=patient.id).count() == 0  # nothing yet
    # taking the offer records the ingredient
    resp = _post(client, patient, kind="ingredient_id", ingredient_id=str(scene["biotin"].id))
    assert resp.status_code == 302
    allergy = db.session.query(Allergy).filter_by(patient_id=patient.id).one()
    assert allergy.ingredient_id == scene["biotin"].id and allergy.substance is None


def test_a_group_is_offered_and_free_text_can_be_kept(client, login_as, make_patient, scene):
    login_as("practitioner")
    patient = make_patient("MRN-GRP", allergy_status="unknown")
    html = _post(client, patient, kind="substance", substance="ester local anaesthetics reaction"
                 ).get_data(as_text=True)
    assert 'data-offer="ester local anaesthetics"' in html
    resp = _post(client, patient, kind="substance", substance="ester local anaesthetics reaction",
                 keep_free_text="1")
    assert resp.status_code == 302
    assert db.session.query(Allergy).filter_by(patient_id=patient.id).one().substance == (
        "ester local anaesthetics reaction")


def test_text_naming_nothing_is_recorded_at_once(client, login_as, make_patient, scene):
    login_as("practitioner")
    patient = make_patient("MRN-LTX", allergy_status="unknown")
    assert _post(client, patient, kind="substance", substance="latex").status_code == 302
    assert db.session.query(Allergy).filter_by(patient_id=patient.id).one().substance == "latex"


def test_the_api_names_what_free_text_names_on_file(api, make_patient, scene):
    patient = make_patient("MRN-API", allergy_status="unknown")
    client = api("practitioner")
    resp = client.post(f"patients/{patient.id}/allergies", json={"substance": "biotin", "severity": "mild"})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["names_on_file"] == [
        {"kind": "ingredient", "id": scene["biotin"].id, "name": "Biotin 5 mg/mL"}]
    resp = client.post(f"patients/{patient.id}/allergies", json={"substance": "latex", "severity": "mild"})
    assert resp.get_json()["names_on_file"] == []
