"""The cocktail rows of the API (SPEC §9): reads, writes, the error envelope."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from formulary.cocktails.models import Cocktail, CocktailVersion, Component


def count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def body(shelf, **kw):
    data = {"name": "Scalp revive", "area": "scalp", "indication": "hair loss",
            "components": [{"ingredient_id": shelf.biotin.id, "amount": "10", "unit": "mg"},
                           {"ingredient_id": shelf.b12.id, "amount": 500, "unit": "mcg"}]}
    data.update(kw)
    return data


def test_create_read_and_list(api, shelf, session):
    client = api("pharmacist")
    created = client.post("cocktails", json=body(shelf))
    assert created.status_code == 201, created.json
    data = created.json
    assert (data["status"], data["version"], data["version_status"], data["storage"]) == \
        ("draft", 1, "draft", "fridge")
    assert [(c["amount"], c["unit"], c["stock_quantity_per_dose"], c["stock_unit"])
            for c in data["components"]] == [("10", "mg", "2", "mL"), ("500", "mcg", "0.5", "mL")]
    assert data["total_volume_ml"] == "2.5"
    assert data["components"][0]["concentration"] == {"amount": "4", "unit": "mg"}  # 10 mg / 2.5 mL
    assert data["draft_version"] is None and data["active_version"] is None
    assert client.get(f"cocktails/{data['id']}").json == data
    listed = client.get("cocktails?area=scalp&status=draft&q=revive").json
    assert listed["total"] == 1 and listed["items"][0]["id"] == data["id"]
    assert client.get("cocktails?area=face").json["total"] == 0


def test_versions_through_the_api(api, shelf, session):
    client, colleague = api("pharmacist"), api("pharmacist")
    cid = client.post("cocktails", json=body(shelf)).json["id"]
    approved = colleague.post(f"cocktails/{cid}/approve", json={"version": 1})
    assert approved.status_code == 200 and approved.json["status"] == "active"
    assert approved.json["versions"][0]["approved_by"] == colleague.user.username
    assert approved.json["versions"][0]["created_by"] == client.user.username

    changed = client.put(f"cocktails/{cid}", json={"indication": "thinning hair",
                                                   "components": [{"ingredient_id": shelf.b12.id,
                                                                   "amount": "1", "unit": "mg"}]})
    assert changed.status_code == 200, changed.json
    # the read shows the version in force and names the pending draft
    assert (changed.json["version"], changed.json["indication"], changed.json["draft_version"]) == \
        (1, "hair loss", 2)
    v2 = client.get(f"cocktails/{cid}/versions/2").json
    assert (v2["version_status"], v2["indication"], v2["components"][0]["stock_quantity_per_dose"]) == \
        ("draft", "thinning hair", "1")
    # a PUT that leaves fields out keeps the draft's values
    client.put(f"cocktails/{cid}", json={"storage": "room"})
    v2 = client.get(f"cocktails/{cid}/versions/2").json
    assert (v2["storage"], v2["indication"], len(v2["components"])) == ("room", "thinning hair", 1)

    assert colleague.post(f"cocktails/{cid}/approve").json["version"] == 2
    assert client.get(f"cocktails/{cid}/versions/1").json["version_status"] == "superseded"
    retired = client.post(f"cocktails/{cid}/retire", json={"reason": "obsolete"})
    assert retired.json["status"] == "retired"


REFUSALS = [
    ("no component", {"components": []}, 422, "invalid", "components"),
    ("same ingredient twice", {"components": [{"ingredient_id": "BIOTIN", "amount": "1", "unit": "mL"},
                                              {"ingredient_id": "BIOTIN", "amount": "2", "unit": "mL"}]},
     422, "invalid", "components.1.ingredient_id"),
    ("amount not positive", {"components": [{"ingredient_id": "BIOTIN", "amount": "0", "unit": "mL"}]},
     422, "invalid", "components.0.amount"),
    ("amount with a comma", {"components": [{"ingredient_id": "BIOTIN", "amount": "2,5", "unit": "mL"}]},
     422, "invalid", "components.0.amount"),
    ("mg of a solution with no strength",
     {"components": [{"ingredient_id": "SALINE", "amount": "5", "unit": "mg"}]}, 422, "invalid",
     "components.0.unit"),
    ("IU into mg", {"components": [{"ingredient_id": "ZINC", "amount": "5", "unit": "IU"}]}, 422,
     "invalid", "components.0.unit"),
    ("mL into IU", {"components": [{"ingredient_id": "VITD", "amount": "1", "unit": "mL"}]}, 422,
     "invalid", "components.0.unit"),
    ("over the maximum dose", {"components": [{"ingredient_id": "LIDO", "amount": "201", "unit": "mg"}]},
     422, "invalid", "components.0.amount"),
    ("unknown area", {"area": "elbow"}, 422, "invalid", "area"),
    ("bad storage", {"storage": "freezer"}, 422, "invalid", "storage"),
    ("no name", {"name": ""}, 422, "invalid", "name"),
    ("unknown field", {"colour": "blue"}, 422, "invalid", "colour"),
    ("unknown component field", {"components": [{"ingredient_id": "BIOTIN", "amount": "1",
                                                 "unit": "mL", "lot": 3}]}, 422, "invalid",
     "components.0.lot"),
    ("components not a list", {"components": "biotin"}, 422, "invalid", "components"),
]


def _resolve(value, shelf):
    ids = {"BIOTIN": shelf.biotin.id, "SALINE": shelf.saline.id, "ZINC": shelf.zinc.id,
           "VITD": shelf.vit_d.id, "LIDO": shelf.lidocaine.id}
    if isinstance(value, list):
        return [_resolve(v, shelf) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, shelf) for k, v in value.items()}
    return ids.get(value, value) if isinstance(value, str) else value


@pytest.mark.parametrize("label,change,status,code,field", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_create_refusals(api, shelf, session, label, change, status, code, field):
    client = api("pharmacist")
    response = client.post("cocktails", json=_resolve(body(shelf, **change), shelf))
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert field in response.json["error"]["fields"]
    session.expire_all()
    assert count(session, Cocktail) == 0 and count(session, Component) == 0


def test_a_taken_name_is_409_duplicate(api, shelf, session):
    client = api("pharmacist")
    client.post("cocktails", json=body(shelf))
    response = client.post("cocktails", json=body(shelf, name="SCALP REVIVE"))
    assert response.status_code == 409
    assert response.json["error"]["code"] == "duplicate" and "name" in response.json["error"]["fields"]
    assert count(session, Cocktail) == 1


def test_malformed_unauthorized_forbidden_not_found(api, client, shelf, session):
    pharmacist = api("pharmacist")
    bad = pharmacist.post("cocktails", data="{not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json["error"]["code"] == "malformed"
    assert client.get("/api/v1/cocktails").status_code == 401
    practitioner = api("practitioner")
    assert practitioner.post("cocktails", json=body(shelf)).status_code == 403
    assert practitioner.get("cocktails").status_code == 200
    manager = api("manager")
    assert manager.post("cocktails/1/approve").status_code == 403
    assert pharmacist.get("cocktails/999").status_code == 404
    assert pharmacist.put("cocktails/999", json=body(shelf)).status_code == 404
    assert pharmacist.get("cocktails?area=elbow").status_code == 422
    assert count(session, Cocktail) == 0


def test_invalid_state_changes_are_409_and_change_nothing(api, shelf, session):
    client, colleague = api("pharmacist"), api("pharmacist")
    cid = client.post("cocktails", json=body(shelf)).json["id"]
    wrong = colleague.post(f"cocktails/{cid}/approve", json={"version": 2})
    assert wrong.status_code == 409 and wrong.json["error"]["code"] == "invalid_state"
    assert colleague.post(f"cocktails/{cid}/approve").status_code == 200
    again = colleague.post(f"cocktails/{cid}/approve")
    assert again.status_code == 409 and again.json["error"]["code"] == "invalid_state"
    client.post(f"cocktails/{cid}/retire")
    for response in (client.put(f"cocktails/{cid}", json={"indication": "x"}),
                     client.post(f"cocktails/{cid}/retire"),
                     client.post(f"cocktails/{cid}/approve")):
        assert response.status_code == 409 and response.json["error"]["code"] == "invalid_state"
    session.expire_all()
    assert count(session, CocktailVersion) == 1
    assert session.get(Cocktail, cid).status == "retired"


def test_a_refused_edit_leaves_the_draft_as_it_was(api, shelf, session):
    client = api("pharmacist")
    cid = client.post("cocktails", json=body(shelf)).json["id"]
    before = client.get(f"cocktails/{cid}").json
    refused = client.put(f"cocktails/{cid}", json={"area": "face", "components": [
        {"ingredient_id": shelf.lidocaine.id, "amount": "300", "unit": "mg"}]})
    assert refused.status_code == 422
    assert client.get(f"cocktails/{cid}").json == before


def test_unknown_version_is_404(api, shelf):
    client = api("practitioner")
    assert client.get("cocktails/1/versions/1").status_code == 404
    pharmacist = api("pharmacist")
    cid = pharmacist.post("cocktails", json=body(shelf)).json["id"]
    assert client.get(f"cocktails/{cid}/versions/7").status_code == 404


def test_the_openapi_document_describes_the_routes(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"get", "post"} <= set(paths["/cocktails"])
    assert {"get", "put"} <= set(paths["/cocktails/{cocktail_id}"])
    assert "/cocktails/{cocktail_id}/versions/{number}" in paths
