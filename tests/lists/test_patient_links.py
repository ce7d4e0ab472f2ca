"""The patient's record lists their batches; the picker links each cocktail and, for a
pharmacist, prepares it for the patient with the form pre-filled (issue 16)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest


@pytest.fixture
def scene(make_ingredient, make_lot, make_cocktail, make_patient, make_batch):
    ing = make_ingredient("Biotin 5 mg/mL")
    lot = make_lot(ing, "100")
    cocktail = make_cocktail([(ing, "1", "mL")], name="Scalp biotin")
    julie = make_patient("MRN-J", first_name="Julie", last_name="Martin")
    other = make_patient("MRN-O", first_name="Otto", last_name="Other")
    t0 = datetime.now(timezone.utc) - timedelta(hours=3)
    mine = [make_batch(cocktail, [(lot, "1")], patient=julie, prepared_at=t0 + timedelta(minutes=i),
                       batch_number=f"B-20260601-000{i}") for i in (1, 2)]
    make_batch(cocktail, [(lot, "1")], patient=other, prepared_at=t0, batch_number="B-20260601-0009")
    return {"cocktail": cocktail, "julie": julie, "mine": mine}


def test_the_record_lists_the_patients_batches_newest_first(client, login_as, scene):
    login_as("practitioner")
    html = client.get(f"/patients/{scene['julie'].id}").get_data(as_text=True)
    section = html[html.index('id="batches"'):]
    assert re.findall(r'data-batch="([^"]+)"', section) == ["B-20260601-0002", "B-20260601-0001"]
    assert f'href="/batches/{scene["mine"][0].id}"' in section


def test_a_record_with_no_batch_says_so(client, login_as, make_patient):
    login_as("practitioner")
    patient = make_patient("MRN-NONE")
    assert "No batch prepared for this patient yet." in client.get(
        f"/patients/{patient.id}").get_data(as_text=True)


def test_the_picker_links_the_cocktail_and_prepares_for_a_pharmacist(client, login_as, scene):
    login_as("pharmacist")
    html = client.get(f"/patients/{scene['julie'].id}/formulations").get_data(as_text=True)
    assert f'href="/cocktails/{scene["cocktail"].id}"' in html
    link = re.search(r'data-testid="prepare-for-patient"\s+href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert link == f"/batches/new?cocktail={scene['cocktail'].id}&patient_mrn=MRN-J"
    page = client.get(link)
    assert page.status_code == 200
    form = page.get_data(as_text=True)
    assert re.search(rf'<option selected value="{scene["cocktail"].id}">', form) or re.search(
        rf'<option value="{scene["cocktail"].id}" selected>', form)
    assert 'value="MRN-J"' in form
    assert "autofocus" in form  # the doses come next
    assert "invalid-feedback" not in form  # nothing previewed yet, no error shown


def test_the_picker_offers_no_preparation_to_a_practitioner(client, login_as, scene):
    login_as("practitioner")
    html = client.get(f"/patients/{scene['julie'].id}/formulations").get_data(as_text=True)
    assert 'data-testid="picker-cocktail"' in html
    assert "Prepare for this patient" not in html


def test_prefill_ignores_an_unknown_cocktail(client, login_as, scene):
    login_as("pharmacist")
    resp = client.get("/batches/new?cocktail=99999&patient_mrn=MRN-J")
    assert resp.status_code == 200 and 'value="MRN-J"' in resp.get_data(as_text=True)
