"""The inventory rows of the API (SPEC §9): reads, writes and every error of the envelope."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.inventory.conftest import BIOTIN_GTIN, in_days, yymmdd


def receive_body(ing, **kw):
    return {"ingredient_id": ing.id, "lot_number": "A1", "expiry_date": in_days(200).isoformat(),
            "quantity": "10", "unit_cost": "0.85", "supplier": "Mesopharm", **kw}


def test_receive_read_and_list_lots(api, biotin, books):
    client = api("pharmacist")
    r = client.post("lots", json=receive_body(biotin))
    assert r.status_code == 201
    lot = r.get_json()
    assert (lot["quantity_received"], lot["quantity_on_hand"], lot["status"]) == ("10", "10", "available")
    assert client.get(f"lots/{lot['id']}").get_json() == lot
    again = client.post("lots", json=receive_body(biotin, quantity=2.5)).get_json()
    assert (again["id"], again["quantity_on_hand"]) == (lot["id"], "12.5")
    listed = client.get(f"lots?ingredient_id={biotin.id}&status=available").get_json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == lot["id"]
    assert client.get("lots?expiring_within_days=30").get_json()["total"] == 0
    assert client.get("lots?expiring_within_days=200").get_json()["total"] == 1
    books()


def test_a_lot_past_its_expiry_reads_expired(api, biotin, make_lot):
    lot = make_lot(biotin, expiry=date.today() - timedelta(days=1))
    client = api("practitioner")
    assert client.get(f"lots/{lot.id}").get_json()["status"] == "expired"
    assert client.get("lots?status=expired").get_json()["total"] == 1
    assert client.get("lots?status=available").get_json()["total"] == 0


def test_scan_adjust_status_and_movements(api, biotin, books):
    client = api("pharmacist")
    r = client.post("lots/scan", json={"barcode": f"(01){BIOTIN_GTIN}(17){yymmdd(in_days(100))}(10)S9",
                                       "quantity": "5"})
    assert r.status_code == 201, r.get_json()
    lot_id = r.get_json()["id"]
    r = client.post(f"lots/{lot_id}/adjustments", json={"quantity_delta": "-1.5", "reason": "waste", "note": "drawn wrong"})
    assert r.status_code == 201 and r.get_json()["balance_after"] == "3.5"
    r = client.post(f"lots/{lot_id}/adjustments", json={"quantity_delta": "-4", "reason": "waste"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "insufficient_stock"
    r = client.post(f"lots/{lot_id}/status", json={"status": "quarantined", "reason": "check"})
    assert r.status_code == 200 and r.get_json()["status"] == "quarantined"
    rows = client.get(f"lots/{lot_id}/movements").get_json()
    assert [(m["kind"], m["quantity_delta"], m["balance_after"]) for m in rows["items"]] == [
        ("receipt", "5", "5"), ("adjustment", "-1.5", "3.5")]
    assert rows["items"][1]["user"] == client.user.username
    books()


def test_ingredients_with_usable_and_low_stock(api, biotin, make_ingredient, make_lot, make_group):
    make_group("cobalamins")
    make_lot(biotin, "4")                                    # reorder level 10: low
    make_lot(biotin, "50", expiry=date.today() - timedelta(days=3))   # expired: not usable
    other = make_ingredient("Saline", category="diluent", reorder_level=5)
    make_lot(other, "20")
    client = api("pharmacist")
    read = client.get(f"ingredients/{biotin.id}").get_json()
    assert (read["usable"], read["on_hand"], read["low_stock"]) == ("4", "54", True)
    low = client.get("ingredients?low_stock=1").get_json()
    assert [i["name"] for i in low["items"]] == ["Biotin 5 mg/mL"]
    assert client.get("ingredients?q=sali").get_json()["total"] == 1
    r = client.post("ingredients", json={"name": "Cyanocobalamin 1 mg/mL", "category": "vitamin",
                                         "unit": "mL", "strength": {"amount": 1, "unit": "mg"},
                                         "allergen_groups": ["cobalamins"]})
    assert r.status_code == 201
    created = r.get_json()
    assert client.get(f"ingredients/{created['id']}").get_json() == created
    r = client.patch(f"ingredients/{created['id']}", json={"reorder_level": "3"})
    assert r.status_code == 200 and r.get_json()["reorder_level"] == "3"


def test_allergen_groups_are_managed_by_admins(api):
    admin = api("admin")
    assert admin.post("allergen-groups", json={"name": "ester local anesthetic"}).status_code == 201
    r = admin.post("allergen-groups", json={"name": "PABA", "cross_reacts_with": ["ester local anesthetic"]})
    assert r.status_code == 201
    groups = {g["name"]: g for g in admin.get("allergen-groups").get_json()["items"]}
    assert groups["ester local anesthetic"]["cross_reacts_with"] == ["PABA"]
    assert admin.post("allergen-groups", json={"name": "x", "cross_reacts_with": ["nope"]}).status_code == 422
    assert api("pharmacist").post("allergen-groups", json={"name": "y"}).status_code == 403


@pytest.mark.parametrize("method, url, body, status, code", [
    ("post", "lots", b"{not json", 400, "malformed"),
    ("post", "lots", b"[1, 2]", 400, "malformed"),
    ("post", "lots/999/adjustments", {"quantity_delta": "1", "reason": "waste"}, 404, "not_found"),
    ("get", "lots/999", None, 404, "not_found"),
    ("get", "ingredients/999", None, 404, "not_found"),
    ("post", "lots", {"ingredient_id": "LOT"}, 422, "invalid"),
    ("post", "lots", {"ingredient_id": 999, "lot_number": "x", "expiry_date": "2099-01-01", "quantity": "1"}, 422, "invalid"),
    ("post", "lots/scan", {"barcode": "(01)09506000134353(17)301231(10)X", "quantity": "1"}, 422, "invalid"),
    ("post", "ingredients", {"name": "x", "category": "vitamin", "unit": "mL", "allergen_groups": ["nope"]}, 422, "invalid"),
    ("get", "lots?status=lost", None, 422, "invalid"),
    ("get", "lots?per_page=501", None, 422, "invalid"),
])
def test_errors_use_the_envelope_and_change_nothing(api, client, biotin, snapshot, method, url, body, status, code):
    c = api("pharmacist")
    before = snapshot()
    if isinstance(body, bytes):
        r = client.open(f"/api/v1/{url}", method=method.upper(), data=body, headers={
            **c.headers, "Content-Type": "application/json"})
    else:
        r = getattr(c, method)(url, json=body)
    assert r.status_code == status, r.get_json()
    assert r.get_json()["error"]["code"] == code
    assert snapshot() == before


def test_conflicts_are_409(api, biotin, make_lot, snapshot):
    lot = make_lot(biotin, lot_number="DUP", expiry=in_days(100))
    c = api("pharmacist")
    before = snapshot()
    r = c.post("lots", json=receive_body(biotin, lot_number="DUP", expiry_date=in_days(101).isoformat()))
    assert (r.status_code, r.get_json()["error"]["code"]) == (409, "duplicate")
    assert "expiry_date" in r.get_json()["error"]["fields"]
    r = c.post("ingredients", json={"name": "BIOTIN 5 mg/mL", "category": "vitamin", "unit": "mL"})
    assert (r.status_code, r.get_json()["error"]["code"]) == (409, "duplicate")
    assert snapshot() == before
    c.post(f"lots/{lot.id}/status", json={"status": "recalled", "reason": "recall"})
    r = c.post(f"lots/{lot.id}/status", json={"status": "available", "reason": "oops"})
    assert (r.status_code, r.get_json()["error"]["code"]) == (409, "invalid_state")


def test_401_and_403(client, api, biotin):
    assert client.post("/api/v1/lots", json=receive_body(biotin)).status_code == 401
    r = api("manager").post("lots", json=receive_body(biotin))
    assert (r.status_code, r.get_json()["error"]["code"]) == (403, "forbidden")


def test_the_routes_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/ingredients", "/ingredients/{ingredient_id}", "/allergen-groups",
                 "/allergen-groups/{group_id}", "/lots", "/lots/{lot_id}",
                 "/lots/scan", "/lots/{lot_id}/adjustments", "/lots/{lot_id}/status",
                 "/lots/{lot_id}/movements"):
        assert path in paths, path
