"""SPEC §9: answers carrying patient data are ``Cache-Control: no-store``. The rule covers
every answer under /api/v1 (reads, creates, errors, the OpenAPI document), so a new route
cannot forget it; pages (HTML) have it too."""

from __future__ import annotations

import pytest


@pytest.fixture
def clinic(api, make_ingredient, make_lot, make_cocktail, make_patient):
    ing = make_ingredient("Biotin")
    lot = make_lot(ing, "50")
    cocktail = make_cocktail([(ing, "1", "mL")])
    patient = make_patient()
    pharmacist = api("pharmacist")
    r = pharmacist.post("batches", json={"cocktail_id": cocktail.id, "doses": 1,
                                         "patient_id": patient.id})
    assert r.status_code == 201, r.get_json()
    return {"api": pharmacist, "lot": lot.id, "cocktail": cocktail.id, "patient": patient.id,
            "batch": r.get_json()["id"], "create": r}


def test_every_api_answer_with_patient_data_is_no_store(clinic):
    a = clinic["api"]
    urls = [
        "patients", f"patients/{clinic['patient']}",
        f"patients/{clinic['patient']}/safety?cocktail_id={clinic['cocktail']}",
        f"patients/{clinic['patient']}/formulations",
        "batches", f"batches/{clinic['batch']}",
        f"lots/{clinic['lot']}/trace", f"lots/{clinic['lot']}/movements", "lots", "tokens",
    ]
    for url in urls:
        r = a.get(url)
        assert r.status_code == 200, (url, r.get_json())
        assert r.headers.get("Cache-Control") == "no-store", url
    assert clinic["create"].headers["Cache-Control"] == "no-store"  # a 201 with the batch


def test_api_errors_and_the_document_are_no_store_too(client, clinic):
    a = clinic["api"]
    answers = [
        a.get("patients/424242"),                                     # 404
        client.get("/api/v1/patients"),                               # 401, no token
        a.post("batches", json={"cocktail_id": clinic["cocktail"], "doses": "many"}),  # 422
        client.get("/api/v1/no-such-route"),                          # 404 outside any route
        client.post("/api/v1/tokens", json={"username": "x", "password": "y"}),  # 401
        client.get("/api/v1/openapi.json"),
    ]
    for r in answers:
        assert r.headers.get("Cache-Control") == "no-store", (r.status_code, r.request.path)


def test_pages_stay_no_store(client):
    assert client.get("/login").headers["Cache-Control"] == "no-store"
