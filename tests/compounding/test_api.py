"""The batch routes of the API (SPEC §9): answers, errors, and that a refusal changes nothing."""

from __future__ import annotations

from sqlalchemy import select

from formulary.compounding.models import Batch
from formulary.extensions import db
from tests.compounding.conftest import D, counts, on_hand


def _post(client_api, stocked, **body):
    body.setdefault("cocktail_id", stocked["cocktail"].id)
    body.setdefault("doses", 2)
    return client_api.post("batches", json=body)


def test_prepare_answers_201_with_the_batch(api, stocked):
    r = _post(api("pharmacist"), stocked)
    assert r.status_code == 201, r.json
    b = r.json
    assert b["batch_number"].startswith("B-") and b["status"] == "prepared" and b["doses"] == 2
    assert b["cocktail_version"] == 1 and b["patient_id"] is None and b["verified_by"] is None
    assert [(l["lot_number"], l["quantity"], l["unit"]) for l in b["lines"]] == [
        ("BIO-SOON", "2", "mL"), ("LID-1", "1", "mL")]
    assert "+" in b["beyond_use_date"] or b["beyond_use_date"].endswith("Z")
    assert api("manager").get(f"batches/{b['id']}").json == b


def test_same_idempotency_key_answers_200_with_the_same_batch(api, stocked):
    client = api("pharmacist")
    first = _post(client, stocked, idempotency_key="abc")
    again = _post(client, stocked, idempotency_key="abc")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["id"] == first.json["id"]
    assert counts()[0] == 1 and on_hand(stocked["sooner"]) == D(1)


def test_insufficient_stock_is_409_with_shortfalls_and_nothing_taken(api, stocked):
    before = counts()
    r = _post(api("pharmacist"), stocked, doses=14)
    assert r.status_code == 409
    err = r.json["error"]
    assert err["code"] == "insufficient_stock"
    assert err["shortfalls"] == [{"ingredient_id": stocked["biotin"].id, "quantity": "1"}]
    assert counts() == before and on_hand(stocked["sooner"]) == D(3)


def test_safety_block_is_409_with_findings_unless_overridden(api, stocked, make_patient):
    patient = make_patient(conditions=("bleeding_disorder",))
    client = api("pharmacist")
    r = _post(client, stocked, patient_id=patient.id)
    assert r.status_code == 409 and r.json["error"]["code"] == "safety_block"
    assert r.json["error"]["findings"][0]["level"] == "block"
    assert counts()[0] == 0
    r = _post(client, stocked, patient_id=patient.id, override_reason="Haematologist cleared")
    assert r.status_code == 201 and r.json["override_reason"] == "Haematologist cleared"
    assert r.json["safety_verdict"] == "blocked"


def test_draft_cocktail_is_409_invalid_state(api, make_ingredient, make_lot, make_cocktail):
    ing = make_ingredient(unit="mL")
    make_lot(ing, "5")
    draft = make_cocktail([(ing, "1", "mL")], status="draft")
    r = api("pharmacist").post("batches", json={"cocktail_id": draft.id, "doses": 1})
    assert r.status_code == 409 and r.json["error"]["code"] == "invalid_state"


def test_invalid_fields_are_422(api, stocked):
    client = api("pharmacist")
    for body, field in [({"doses": 0}, "doses"), ({"doses": 1.5}, "doses"), ({"doses": "3"}, "doses"),
                        ({"cocktail_id": 99999}, "cocktail_id"), ({"patient_id": 99999}, "patient_id"),
                        ({"colour": "red"}, "colour"), ({"override_reason": 5}, "override_reason")]:
        r = _post(client, stocked, **body)
        assert r.status_code == 422, (body, r.json)
        assert field in r.json["error"]["fields"], (body, r.json)
    r = client.post("batches", json={"doses": 1})
    assert r.status_code == 422 and "cocktail_id" in r.json["error"]["fields"]
    assert counts()[0] == 0


def test_malformed_body_is_400(api, stocked, client):
    a = api("pharmacist")
    r = client.post("/api/v1/batches", data="{not json", headers=dict(a.headers, **{"Content-Type": "application/json"}))
    assert r.status_code == 400 and r.json["error"]["code"] == "malformed"
    assert counts()[0] == 0


def test_401_and_403(client, api, stocked):
    assert client.post("/api/v1/batches", json={"cocktail_id": 1, "doses": 1}).status_code == 401
    for role in ("manager", "practitioner"):
        r = _post(api(role), stocked)
        assert r.status_code == 403 and r.json["error"]["code"] == "forbidden"
    assert api("practitioner").get("batches").status_code == 200
    assert counts()[0] == 0


def test_404(api):
    client = api("pharmacist")
    assert client.get("batches/999").status_code == 404
    assert client.post("batches/999/verify").status_code == 404
    assert client.get("lots/999/trace").status_code == 404


def test_verify_four_eyes_and_discard(api, stocked):
    preparer = api("pharmacist")
    b = _post(preparer, stocked).json
    r = preparer.post(f"batches/{b['id']}/verify")
    assert r.status_code == 409 and r.json["error"]["code"] == "invalid_state"
    assert db.session.get(Batch, b["id"]).status == "prepared"
    colleague = api("pharmacist")
    r = colleague.post(f"batches/{b['id']}/verify")
    assert r.status_code == 200 and r.json["status"] == "verified"
    assert r.json["verified_by"] == colleague.user.username
    r = preparer.post(f"batches/{b['id']}/discard", json={})
    assert r.status_code == 422 and "reason" in r.json["error"]["fields"]
    r = preparer.post(f"batches/{b['id']}/discard", json={"reason": "Cloudy"})
    assert r.status_code == 200 and r.json["status"] == "discarded"
    assert r.json["discard_reason"] == "Cloudy" and on_hand(stocked["sooner"]) == D(1)


def test_list_filters_and_pages(api, stocked, make_patient):
    client = api("pharmacist")
    patient = make_patient()
    ids = [_post(client, stocked, doses=1).json["id"] for _ in range(3)]
    mine = _post(client, stocked, doses=1, patient_id=patient.id).json["id"]
    r = client.get("batches?per_page=2&page=1")
    assert r.json["total"] == 4 and len(r.json["items"]) == 2 and r.json["per_page"] == 2
    assert [i["id"] for i in client.get(f"batches?patient_id={patient.id}").json["items"]] == [mine]
    from formulary import clock
    today = clock.today().isoformat()
    assert client.get(f"batches?from={today}&to={today}").json["total"] == 4
    assert client.get("batches?to=2000-01-01").json["total"] == 0
    assert client.get(f"batches?cocktail_id={stocked['cocktail'].id}").json["total"] == 4
    assert client.get("batches?from=yesterday").status_code == 422
    assert client.get("batches?status=lost").status_code == 422
    assert set(ids) < {i["id"] for i in client.get("batches?per_page=500").json["items"]}


def test_trace(api, stocked, make_patient):
    client = api("pharmacist")
    patient = make_patient(mrn="MRN-TRACE")
    b = _post(client, stocked, patient_id=patient.id).json
    r = api("manager").get(f"lots/{stocked['sooner'].id}/trace")
    assert r.status_code == 200
    assert r.json["lot"]["lot_number"] == "BIO-SOON"
    assert [x["id"] for x in r.json["batches"]] == [b["id"]]
    assert [p["mrn"] for p in r.json["patients"]] == ["MRN-TRACE"]


def test_openapi_documents_the_batch_routes(client):
    doc = client.get("/api/v1/openapi.json").json
    assert {"get", "post"} <= set(doc["paths"]["/batches"])
    assert "post" in doc["paths"]["/batches/{batch_id}/discard"]
    assert "get" in doc["paths"]["/lots/{lot_id}/trace"]
