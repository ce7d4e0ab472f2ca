"""Text that reaches the database through the API (SPEC §3 "Text, everywhere", §9).

Every text field of every create/update route gets NUL, an unpaired surrogate (sent as
raw JSON bytes: ``"a\\ud800b"``), a zero-width space alone and text with no letter or
digit: the answer is a 4xx, never a 500, and not one row is written (audit included).
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import PASSWORD
from tests.input.conftest import GTIN, in_days

# Each route: (method, url(clinic), body(clinic), {dotted field: kind}). A field's kind says
# which bad values apply: "required" all four; "optional" all but the zero-width space
# alone (an optional field left empty is fine; an empty item of a list is skipped; an
# empty storage is the default one); "any" only the two that cannot be stored
# (a password, an idempotency key: any text is allowed, nothing is stripped from a
# password; and a wrong password is a 401 that rightly counts the failed attempt).
ROUTES = {
    "tokens": ("post", lambda c: "tokens",
               lambda c: {"username": c["admin"].user.username, "password": PASSWORD,
                          "label": "scanner"},
               {"username": "any", "password": "any", "label": "any"}),
    "users": ("post", lambda c: "users",
              lambda c: {"username": "nina", "password": "long enough pass", "role": "practitioner",
                         "full_name": "Nina Ray"},
              {"username": "required", "password": "any", "role": "required",
               "full_name": "optional"}),
    "ingredient create": ("post", lambda c: "ingredients",
                          lambda c: {"name": "Caffeine", "category": "vitamin", "unit": "mg",
                                     "storage": "room", "notes": "keep dry",
                                     "allergen_groups": ["Parabens"],
                                     "contraindications": ["pregnant"], "reorder_level": "5"},
                          {"name": "required", "category": "required", "unit": "required",
                           "storage": "required", "notes": "optional",
                           "allergen_groups.0": "optional", "contraindications.0": "optional",
                           "reorder_level": "optional"}),
    "ingredient update": ("patch", lambda c: f"ingredients/{c['biotin'].id}",
                          lambda c: {"name": "Biotin 5 mg per mL", "notes": "shake well"},
                          {"name": "required", "notes": "optional"}),
    "group create": ("post", lambda c: "allergen-groups",
                     lambda c: {"name": "Sulfites", "description": "preservatives",
                                "cross_reacts_with": ["Parabens"]},
                     {"name": "required", "description": "optional",
                      "cross_reacts_with.0": "optional"}),
    "group update": ("patch", lambda c: f"allergen-groups/{c['group'].id}",
                     lambda c: {"name": "Parabens (all)", "description": "methyl, propyl"},
                     {"name": "required", "description": "optional"}),
    "receive": ("post", lambda c: "lots",
                lambda c: {"ingredient_id": c["biotin"].id, "lot_number": "BIO-2",
                           "expiry_date": in_days(300).isoformat(), "quantity": "5",
                           "unit_cost": "1.5", "supplier": "Mesopharm"},
                {"lot_number": "required", "expiry_date": "required", "quantity": "required",
                 "unit_cost": "optional", "supplier": "optional"}),
    "scan": ("post", lambda c: "lots/scan",
             lambda c: {"barcode": f"(01){GTIN}(17){in_days(300):%y%m%d}(10)S9",
                        "quantity": "5", "supplier": "Mesopharm"},
             {"barcode": "required", "quantity": "required", "supplier": "optional"}),
    "adjust": ("post", lambda c: f"lots/{c['lot'].id}/adjustments",
               lambda c: {"quantity_delta": "-1", "reason": "waste", "note": "drawn wrong"},
               {"quantity_delta": "required", "reason": "required", "note": "optional"}),
    "lot status": ("post", lambda c: f"lots/{c['lot'].id}/status",
                   lambda c: {"status": "quarantined", "reason": "seal broken"},
                   {"status": "required", "reason": "required"}),
    "cocktail create": ("post", lambda c: "cocktails",
                        lambda c: {"name": "Face glow", "area": "face", "indication": "dull skin",
                                   "storage": "fridge", "notes": "shake",
                                   "components": [{"ingredient_id": c["biotin"].id,
                                                   "amount": "1", "unit": "mL"}]},
                        {"name": "required", "area": "required", "indication": "optional",
                         "storage": "optional", "notes": "optional",
                         "components.0.amount": "required", "components.0.unit": "required"}),
    "cocktail update": ("put", lambda c: f"cocktails/{c['cocktail'].id}",
                        lambda c: {"name": "Scalp biotin", "area": "scalp",
                                   "indication": "hair loss", "storage": "fridge",
                                   "components": [{"ingredient_id": c["biotin"].id,
                                                   "amount": "2", "unit": "mL"}]},
                        {"name": "required", "indication": "optional",
                         "components.0.amount": "required"}),
    "cocktail retire": ("post", lambda c: f"cocktails/{c['cocktail'].id}/retire",
                        lambda c: {"reason": "replaced by version 2"}, {"reason": "optional"}),
    "patient create": ("post", lambda c: "patients",
                       lambda c: {"mrn": "MRN-NEW-1", "first_name": "Léa", "last_name": "Martin",
                                  "date_of_birth": "1990-05-01", "conditions": ["diabetes"],
                                  "notes": "prefers mornings"},
                       {"mrn": "required", "first_name": "required", "last_name": "required",
                        "date_of_birth": "optional", "conditions.0": "required",
                        "notes": "optional"}),
    "patient update": ("patch", lambda c: f"patients/{c['pregnant'].id}",
                       lambda c: {"first_name": "Anna", "notes": "second visit",
                                  "reason": "spelling"},
                       {"first_name": "required", "notes": "optional", "reason": "optional"}),
    "allergy create": ("post", lambda c: f"patients/{c['pregnant'].id}/allergies",
                       lambda c: {"substance": "nickel", "severity": "moderate",
                                  "reaction": "rash", "status": "active"},
                       {"substance": "required", "severity": "required", "reaction": "optional",
                        "status": "required"}),
    "allergy update": ("patch",
                       lambda c: f"patients/{c['allergic'].id}/allergies/{c['allergy'].id}",
                       lambda c: {"severity": "severe", "reaction": "wheals"},
                       {"severity": "required", "reaction": "optional"}),
    "batch": ("post", lambda c: "batches",
              lambda c: {"cocktail_id": c["cocktail"].id, "doses": 1,
                         "patient_id": c["pregnant"].id,
                         "override_reason": "Obstetrician cleared it", "idempotency_key": "k-1"},
              {"override_reason": "required", "idempotency_key": "any"}),
    "discard": ("post", lambda c: f"batches/{c['batch_id']}/discard",
                lambda c: {"reason": "vial dropped"}, {"reason": "required"}),
}

# Raw JSON text of each bad value (a lone surrogate cannot be sent any other way).
BAD = {
    "nul": '"a\\u0000b"',
    "surrogate": '"a\\ud800b"',
    "zero-width only": '"\\u200b"',
    "no letter or digit": '"\\u200b.\\u2060-\\u200b"',
}
APPLIES = {"required": tuple(BAD), "optional": ("nul", "surrogate", "no letter or digit"),
           "any": ("nul", "surrogate")}
MARK = "@@poison@@"

#: Each route's (field, bad value) cases. One test per route sends them all to one clinic:
#: every refusal must write nothing (checked after each), so the clinic stays as it was
#: made and need not be made again for each case (460 clinics were most of the file's time).
CASES = {route: [(field, bad) for field, kind in fields.items() for bad in APPLIES[kind]]
         for route, (_, _, _, fields) in ROUTES.items()}


def _poisoned(body: dict, field: str) -> bytes:
    """``body`` as JSON bytes with ``field`` (dotted) replaced by the marker."""
    target, *path = field.split(".")
    node, key = body, target
    for part in path:
        node = node[key]
        key = int(part) if isinstance(node, list) else part
    node[key] = MARK
    return json.dumps(body).encode()


def _send(clinic, route: str, data: bytes):
    method, url, _, _ = ROUTES[route]
    client = clinic["admin"]
    return getattr(client, method)(url(clinic), data=data, content_type="application/json")


@pytest.mark.parametrize("route", list(ROUTES))
def test_each_route_takes_its_clean_body(clinic, route):
    # the bodies below are valid: each refusal is the bad value's doing
    _, _, body, _ = ROUTES[route]
    r = _send(clinic, route, json.dumps(body(clinic)).encode())
    assert r.status_code in (200, 201), r.get_json()


CANNOT_STORE = ("Contains a character that cannot be stored (a NUL or an unpaired surrogate); "
                "remove it and send the text again.")


def _refusal_problem(r, field: str, bad: str) -> str | None:
    """What is wrong with the answer to a bad value, or None."""
    if not 400 <= r.status_code < 500:
        return f"{r.status_code}: {r.get_data(as_text=True)[:300]}"
    error = (r.get_json() or {}).get("error") or {}
    if not error.get("code"):
        return f"{r.status_code} without the error envelope"
    if bad in ("nul", "surrogate"):
        if r.status_code != 422 or error.get("fields") != {field: [CANNOT_STORE]}:
            return f"{r.status_code} {error}"
    return None


@pytest.mark.parametrize("route", list(CASES))
def test_bad_text_is_4xx_and_writes_nothing(clinic, rows, route):
    _, _, body, _ = ROUTES[route]
    failures = []
    for field, bad in CASES[route]:
        data = _poisoned(body(clinic), field).replace(f'"{MARK}"'.encode(), BAD[bad].encode())
        before = rows()
        problem = _refusal_problem(_send(clinic, route, data), field, bad)
        if problem is None and rows() != before:
            problem = "refused, but rows were written"
        if problem:
            failures.append(f"{route} {field}={bad}: {problem}")
    assert CASES[route] and not failures, "\n".join(failures)


@pytest.mark.parametrize("bad", ["nul", "surrogate"])
def test_a_key_holding_a_bad_character_is_422(clinic, rows, bad):
    before = rows()
    data = ('{' + BAD[bad] + ': "x", "name": "Sulfites"}').encode()
    r = clinic["admin"].post("allergen-groups", data=data, content_type="application/json")
    assert r.status_code == 422 and "body" in r.get_json()["error"]["fields"]
    assert rows() == before


@pytest.mark.parametrize("url", [
    "ingredients?q=%00", "lots?q=%00", "patients?q=%00", "cocktails?q=%00",
    "lots?status=%00", "batches?from=%00", "ingredients?q=a%00b&page=1",
])
def test_a_query_argument_holding_nul_is_422(clinic, url):
    r = clinic["admin"].get(url)
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    assert list(r.get_json()["error"]["fields"]) == [url.split("?")[1].split("=")[0]]


def test_invisible_characters_in_a_query_are_dropped(clinic):
    r = clinic["admin"].get("ingredients?q=Bio%E2%80%8Btin")  # Bio<U+200B>tin
    assert r.status_code == 200 and [i["name"] for i in r.get_json()["items"]] == ["Biotin 5 mg/mL"]
