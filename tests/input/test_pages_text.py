"""Text that reaches the database through the pages' forms and query strings (SPEC §3).

NUL in a form or a query is a 400 page; a zero-width space alone, or text with no letter or
digit, is a form error (or the safety block it leaves in place): never a 500, nothing
written. Each case posts a form that is accepted without the bad value.
"""

from __future__ import annotations

import re

import pytest

from tests.input.conftest import in_days

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
_KEY = re.compile(r'name="idempotency_key"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="idempotency_key"')


def _batch_url(c):
    return (f"/batches/new?cocktail_id={c['cocktail'].id}&doses=1"
            f"&patient_mrn={c['pregnant'].mrn}")


# (url(clinic), form page(clinic), data(clinic), {field: kind}); kinds as in the API test.
FORMS = {
    "ingredient": (lambda c: "/ingredients/new", lambda c: "/ingredients/new",
                   lambda c: {"name": "Caffeine", "category": "vitamin", "unit": "mg",
                              "storage": "room", "notes": "keep dry", "active": "y"},
                   {"name": "required", "notes": "optional"}),
    "allergen group": (lambda c: "/allergen-groups", lambda c: "/allergen-groups",
                       lambda c: {"name": "Sulfites"}, {"name": "required"}),
    "receive": (lambda c: "/receive", lambda c: "/receive",
                lambda c: {"ingredient_id": str(c["biotin"].id), "lot_number": "F1",
                           "expiry_date": in_days(90).isoformat(), "quantity": "10",
                           "supplier": "Mesopharm"},
                {"lot_number": "required", "quantity": "required", "supplier": "optional"}),
    "adjust": (lambda c: f"/lots/{c['lot'].id}/adjust", lambda c: f"/lots/{c['lot'].id}",
               lambda c: {"adjust-quantity_delta": "-1", "adjust-reason": "breakage",
                          "adjust-note": "dropped"},
               {"adjust-quantity_delta": "required", "adjust-note": "optional"}),
    "lot status": (lambda c: f"/lots/{c['lot'].id}/status", lambda c: f"/lots/{c['lot'].id}",
                   lambda c: {"status-status": "quarantined", "status-reason": "seal broken"},
                   {"status-reason": "required"}),
    "patient": (lambda c: "/patients/new", lambda c: "/patients/new",
                lambda c: {"mrn": "MRN-NEW-2", "first_name": "Léa", "last_name": "Moreau",
                           "date_of_birth": "1990-06-01"},
                {"mrn": "required", "first_name": "required", "last_name": "required"}),
    "allergy": (lambda c: f"/patients/{c['allergic'].id}/allergies",
                lambda c: f"/patients/{c['allergic'].id}",
                lambda c: {"kind": "substance", "substance": "nickel", "severity": "moderate",
                           "reaction": "rash"},
                {"substance": "required", "reaction": "optional"}),
    "batch override": (lambda c: "/batches/new", _batch_url,
                       lambda c: {"cocktail_id": str(c["cocktail"].id), "doses": "1",
                                  "patient_mrn": c["pregnant"].mrn,
                                  "override_reason": "Obstetrician cleared it"},
                       {"override_reason": "required"}),
    "discard": (lambda c: f"/batches/{c['batch_id']}/discard",
                lambda c: f"/batches/{c['batch_id']}",
                lambda c: {"reason": "vial dropped"}, {"reason": "required"}),
}
BAD = {"nul": "a\x00b", "zero-width only": "\u200b", "no letter or digit": "\u200b.\u2060-"}
APPLIES = {"required": tuple(BAD), "optional": ("nul", "no letter or digit")}
#: Each form's (field, bad value) cases, sent by one test per form to one clinic: every
#: refusal must write nothing (checked after each), so the clinic need not be made again.
CASES = {form: [(field, bad) for field, kind in fields.items() for bad in APPLIES[kind]]
         for form, (_, _, _, fields) in FORMS.items()}


@pytest.fixture
def pharmacist_pages(client, login_as, clinic):
    login_as("admin")  # every form of the list, allergen groups included
    return client


def _post(client, c, form: str, data: dict):
    url, page, _, _ = FORMS[form]
    html = client.get(page(c)).get_data(as_text=True)  # (a patient's page audits the view)
    token = _CSRF.search(html)
    data = dict(data, csrf_token=token.group(1) or token.group(2))
    key = _KEY.search(html)
    if key:
        data["idempotency_key"] = key.group(1) or key.group(2)
    return lambda: client.post(url(c), data=data)


@pytest.mark.parametrize("form", list(FORMS))
def test_each_form_is_accepted_when_clean(pharmacist_pages, clinic, form):
    send = _post(pharmacist_pages, clinic, form, FORMS[form][2](clinic))
    r = send()
    assert r.status_code in (200, 302), r.get_data(as_text=True)[:500]


@pytest.mark.parametrize("form", list(CASES))
def test_bad_text_in_a_form_is_refused_and_writes_nothing(pharmacist_pages, clinic, rows, form):
    failures = []
    for field, bad in CASES[form]:
        data = dict(FORMS[form][2](clinic), **{field: BAD[bad]})
        send = _post(pharmacist_pages, clinic, form, data)
        before = rows()
        r = send()
        text = r.get_data(as_text=True)
        if not 400 <= r.status_code < 500:
            failures.append(f"{form} {field}={bad}: {r.status_code} {text[:300]}")
        elif bad == "nul" and (r.status_code != 400 or "cannot be stored" not in text):
            failures.append(f"{form} {field}={bad}: {r.status_code} without the NUL message")
        elif rows() != before:
            failures.append(f"{form} {field}={bad}: refused, but rows were written")
    assert CASES[form] and not failures, "\n".join(failures)


@pytest.mark.parametrize("url", [
    "/ingredients?q=%00", "/lots?q=%00", "/patients?q=%00", "/cocktails/?q=%00",
    "/batches?patient_mrn=%00", "/audit/?user=%00", "/reports/batch-log.xlsx?patient_mrn=%00",
])
def test_nul_in_a_page_query_is_a_400_page(client, login_as, url):
    login_as("admin")
    r = client.get(url)
    assert r.status_code == 400 and "cannot be stored" in r.get_data(as_text=True)


def test_a_zero_width_space_in_a_page_query_is_dropped(client, login_as, clinic):
    login_as("pharmacist")
    r = client.get("/ingredients?q=Bio%E2%80%8Btin")
    assert r.status_code == 200 and "Biotin 5 mg/mL" in r.get_data(as_text=True)
