"""Sorting and paging of every list, page and API alike (issue 16): ``?sort=KEY`` or
``-KEY`` from each list's whitelist, stable (the id breaks ties), kept in the URL with the
filters; an unknown key is 422 on the API and ignored with a message on pages; a page past
the last shows the last page."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest

from formulary.domain.errors import ValidationError
from formulary.domain.listing import Sort, clamp_page, page_count, parse_sort


# --- the rule --------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    (None, Sort("name")),                  # nothing asked: the default
    ("", Sort("name")),
    ("name", Sort("name")),
    ("-name", Sort("name", True)),         # a leading '-': descending
    (" expiry ", Sort("expiry")),          # spaces around are ignored
    ("-expiry", Sort("expiry", True)),
])
def test_parse_sort(raw, expected):
    assert parse_sort(raw, ("name", "expiry"), "name") == expected


@pytest.mark.parametrize("raw", ["id", "--name", "name;drop", "Name", "-", "x" * 500])
def test_parse_sort_refuses_an_unknown_key(raw):
    with pytest.raises(ValidationError) as exc:
        parse_sort(raw, ("name", "expiry"), "name")
    assert "sort" in exc.value.fields
    assert len(exc.value.message) < 200  # a long key is cut in the message


def test_toggle():
    assert Sort("name").toggled("name") == "-name"      # again: the other way round
    assert Sort("name", True).toggled("name") == "name"
    assert Sort("name", True).toggled("expiry") == "expiry"  # another column: ascending


@pytest.mark.parametrize("page, total, per_page, shown", [
    (1, 0, 50, 1),        # an empty list is one empty page
    (999, 0, 50, 1),
    (2, 100, 50, 2),
    (3, 100, 50, 2),      # past the last: the last
    (999, 101, 50, 3),
    (0, 10, 50, 1),
])
def test_clamp_page(page, total, per_page, shown):
    assert clamp_page(page, total, per_page) == shown
    assert page_count(total, per_page) >= 1


# --- helpers ---------------------------------------------------------------------------

def _rows(html: str, attr: str) -> list[str]:
    return re.findall(rf'data-{attr}="([^"]*)"', html)


def _api_items(resp, key):
    assert resp.status_code == 200, resp.get_json()
    return [item[key] for item in resp.get_json()["items"]]


# --- ingredients ------------------------------------------------------------------------

@pytest.fixture
def three_ingredients(make_ingredient):
    return [make_ingredient("Biotin", category="vitamin", storage="fridge"),
            make_ingredient("Caffeine", category="plant_extract", storage="room"),
            make_ingredient("Arnica", category="plant_extract", storage="fridge")]


def test_ingredients_page_sorts(client, login_as, three_ingredients):
    login_as("manager")
    html = client.get("/ingredients?sort=-name").get_data(as_text=True)
    names = [n for n in re.findall(r'<a href="/ingredients/\d+">([^<]+)</a>', html)]
    assert names == ["Caffeine", "Biotin", "Arnica"]
    html = client.get("/ingredients?sort=category").get_data(as_text=True)
    names = re.findall(r'<a href="/ingredients/\d+">([^<]+)</a>', html)
    # equal categories keep the id order (stable)
    assert names == ["Caffeine", "Arnica", "Biotin"]
    # the header links keep the filters and toggle the order
    html = client.get("/ingredients?sort=name&category=plant_extract").get_data(as_text=True)
    assert 'data-sort="name"' in html and "sort=-name" in html and "category=plant_extract" in html
    assert 'aria-sort="ascending"' in html


def test_ingredients_api_sorts(api, three_ingredients):
    client = api("manager")
    assert _api_items(client.get("ingredients?sort=-name"), "name") == ["Caffeine", "Biotin", "Arnica"]
    assert _api_items(client.get("ingredients?sort=storage"), "name") == ["Biotin", "Arnica", "Caffeine"]


# --- unknown key and pages out of range, every list ---------------------------------------

PAGES = ["/ingredients", "/lots", "/cocktails/", "/patients", "/batches", "/audit/"]
APIS = ["ingredients", "lots", "cocktails", "patients", "batches"]


@pytest.mark.parametrize("url", PAGES)
def test_page_ignores_an_unknown_sort_key_with_a_message(client, login_as, url):
    login_as("admin")
    resp = client.get(f"{url}?sort=password_hash")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "cannot be sorted by &#39;password_hash&#39;" in html
    assert "Shown in the default order." in html


@pytest.mark.parametrize("name", APIS)
def test_api_refuses_an_unknown_sort_key(api, name):
    resp = api("admin").get(f"{name}?sort=password_hash")
    assert resp.status_code == 422
    body = resp.get_json()["error"]
    assert body["code"] == "invalid" and "sort" in body["fields"]


@pytest.mark.parametrize("name", APIS)
def test_api_page_past_the_last_is_the_last(api, name):
    resp = api("admin").get(f"{name}?page=999")
    assert resp.status_code == 200
    assert resp.get_json()["page"] == 1   # nothing (or one page): page 1


@pytest.mark.parametrize("url", PAGES)
def test_page_past_the_last_is_the_last(client, login_as, url):
    login_as("admin")
    resp = client.get(f"{url}?page=999")
    assert resp.status_code == 200
    assert "Page 999" not in resp.get_data(as_text=True)


def test_lots_page_and_api_clamp_to_the_last_page(client, api, login_as, make_ingredient, make_lot):
    ing = make_ingredient("Biotin")
    for i in range(53):
        make_lot(ing, "1", lot_number=f"L{i:03d}", expiry=date(2030, 1, 1) + timedelta(days=i))
    login_as("manager")
    html = client.get("/lots?page=999").get_data(as_text=True)
    assert "Page 2 of 2" in html
    assert _rows(html, "lot") == ["L050", "L051", "L052"]
    body = api("manager").get("lots?page=999&per_page=50").get_json()
    assert body["page"] == 2 and [i["lot_number"] for i in body["items"]] == ["L050", "L051", "L052"]


# --- lots --------------------------------------------------------------------------------

def test_lots_sort_by_each_column_both_ways(client, api, login_as, make_ingredient, make_lot):
    a, b = make_ingredient("Arnica"), make_ingredient("Biotin")
    make_lot(b, "5", lot_number="X-2", expiry=date(2031, 1, 1), supplier="Zeta")
    make_lot(a, "9", lot_number="X-1", expiry=date(2032, 1, 1), supplier="Alpha")
    make_lot(a, "1", lot_number="X-3", expiry=date(2030, 1, 1), supplier="Alpha")
    login_as("manager")
    json_client = api("manager")
    cases = {"expiry": ["X-3", "X-2", "X-1"], "-expiry": ["X-1", "X-2", "X-3"],
             "lot": ["X-1", "X-2", "X-3"], "on_hand": ["X-3", "X-2", "X-1"],
             "-on_hand": ["X-1", "X-2", "X-3"],
             # equal ingredient or supplier: the lot's id decides, the same way round
             "ingredient": ["X-1", "X-3", "X-2"], "supplier": ["X-1", "X-3", "X-2"],
             "-supplier": ["X-2", "X-3", "X-1"]}
    for sort, expected in cases.items():
        html = client.get(f"/lots?sort={sort}").get_data(as_text=True)
        assert _rows(html, "lot") == expected, sort
        assert _api_items(json_client.get(f"lots?sort={sort}"), "lot_number") == expected, sort


# --- cocktails, patients, batches, audit --------------------------------------------------

def test_cocktails_sort(client, api, login_as, make_ingredient, make_cocktail):
    ing = make_ingredient("Biotin")
    make_cocktail([(ing, "1", "mL")], name="Beta", area="scalp", indication="hair loss")
    make_cocktail([(ing, "1", "mL")], name="Alpha", area="face", indication="wrinkles")
    make_cocktail([(ing, "1", "mL")], name="Gamma", area="body", indication="cellulite")
    login_as("pharmacist")
    for sort, expected in {"name": ["Alpha", "Beta", "Gamma"], "-name": ["Gamma", "Beta", "Alpha"],
                           "area": ["Gamma", "Alpha", "Beta"],
                           "indication": ["Gamma", "Beta", "Alpha"]}.items():
        html = client.get(f"/cocktails/?sort={sort}").get_data(as_text=True)
        assert _rows(html, "cocktail") == expected, sort
        assert _api_items(api("pharmacist").get(f"cocktails?sort={sort}"), "name") == expected


def test_patients_sort(client, api, login_as, make_patient):
    make_patient("M-2", first_name="Zoe", last_name="Martin", date_of_birth=date(1990, 1, 1))
    make_patient("M-3", first_name="Ana", last_name="Martin", date_of_birth=date(1970, 1, 1))
    make_patient("M-1", first_name="Luc", last_name="Adam", date_of_birth=None)
    login_as("practitioner")
    for sort, expected in {"name": ["M-1", "M-3", "M-2"], "-name": ["M-2", "M-3", "M-1"],
                           "mrn": ["M-1", "M-2", "M-3"],
                           # no date of birth comes last, either way
                           "date_of_birth": ["M-3", "M-2", "M-1"],
                           "-date_of_birth": ["M-2", "M-3", "M-1"]}.items():
        html = client.get(f"/patients?sort={sort}").get_data(as_text=True)
        assert _rows(html, "patient") == expected, sort
        assert _api_items(api("practitioner").get(f"patients?sort={sort}"), "mrn") == expected


def test_patients_found_by_date_of_birth(client, api, login_as, make_patient):
    make_patient("M-1", date_of_birth=date(1984, 3, 7))
    make_patient("M-2", date_of_birth=date(1990, 1, 1))
    login_as("practitioner")
    for q in ("1984-03-07", "07/03/1984"):
        assert _rows(client.get(f"/patients?q={q}").get_data(as_text=True), "patient") == ["M-1"]
        assert _api_items(api("practitioner").get(f"patients?q={q}"), "mrn") == ["M-1"]


@pytest.fixture
def three_batches(make_ingredient, make_lot, make_cocktail, make_patient, make_batch):
    ing = make_ingredient("Biotin")
    lot = make_lot(ing, "100")
    beta = make_cocktail([(ing, "1", "mL")], name="Beta")
    alpha = make_cocktail([(ing, "1", "mL")], name="Alpha")
    zoe = make_patient("M-ZOE", first_name="Zoe", last_name="Zimmer")
    ana = make_patient("M-ANA", first_name="Ana", last_name="Abel")
    t0 = datetime(2026, 6, 1, 9, tzinfo=timezone.utc)
    make_batch(beta, [(lot, "1")], patient=zoe, prepared_at=t0, batch_number="B-20260601-0001", doses=3)
    make_batch(alpha, [(lot, "1")], patient=ana, prepared_at=t0 + timedelta(hours=1),
               batch_number="B-20260601-0002", doses=1)
    make_batch(beta, [(lot, "1")], patient=None, prepared_at=t0 + timedelta(hours=2),
               batch_number="B-20260601-0003", doses=2)


def test_batches_sort(client, api, login_as, three_batches):
    login_as("pharmacist")
    json_client = api("pharmacist")
    for sort, expected in {"-prepared": ["0003", "0002", "0001"], "prepared": ["0001", "0002", "0003"],
                           "cocktail": ["0002", "0001", "0003"], "doses": ["0002", "0003", "0001"],
                           # no patient comes last, either way
                           "patient": ["0002", "0001", "0003"], "-patient": ["0001", "0002", "0003"],
                           "number": ["0001", "0002", "0003"]}.items():
        expected = [f"B-20260601-{n}" for n in expected]
        html = client.get(f"/batches?sort={sort}").get_data(as_text=True)
        assert _rows(html, "batch") == expected, sort
        assert _api_items(json_client.get(f"batches?sort={sort}"), "batch_number") == expected, sort


def test_batches_found_by_patient_name_as_well_as_mrn(client, api, login_as, three_batches):
    login_as("pharmacist")
    for q in ("M-ZOE", "zimmer", "Zoe Zimmer"):
        html = client.get(f"/batches?patient_mrn={q}").get_data(as_text=True)
        assert _rows(html, "batch") == ["B-20260601-0001"], q
        assert _api_items(api("pharmacist").get(f"batches?patient={q}"), "batch_number") == [
            "B-20260601-0001"]
    resp = client.get("/batches?patient_mrn=Nobody")
    assert resp.status_code == 422 and "No patient has the MRN or name Nobody" in resp.get_data(as_text=True)


def test_batches_by_name_need_the_right_to_read_patients(client, api, login_as, three_batches):
    """A manager may filter by an MRN (as before) but not find patients by name."""
    login_as("manager")
    assert _rows(client.get("/batches?patient_mrn=M-ZOE").get_data(as_text=True), "batch") == [
        "B-20260601-0001"]
    resp = client.get("/batches?patient_mrn=zimmer")
    assert resp.status_code == 422 and "No patient has the MRN zimmer" in resp.get_data(as_text=True)
    assert api("manager").get("batches?patient=zimmer").status_code == 422


def test_audit_sorts(client, login_as, make_ingredient):
    from formulary.audit.services import record
    from formulary.extensions import db

    user = login_as("manager")
    for action in ("b.second", "a.first", "c.third"):
        record(db.session, user, action, "thing", 1, summary=action)
        db.session.commit()
    html = client.get("/audit/?sort=action&object_type=thing").get_data(as_text=True)
    assert re.findall(r"<td>([abc]\.\w+)</td>\s*<td>thing", html) == ["a.first", "b.second", "c.third"]
    html = client.get("/audit/?object_type=thing").get_data(as_text=True)  # newest first
    assert re.findall(r"<td>([abc]\.\w+)</td>\s*<td>thing", html) == ["c.third", "a.first", "b.second"]
    html = client.get("/audit/?sort=at&object_type=thing").get_data(as_text=True)
    assert re.findall(r"<td>([abc]\.\w+)</td>\s*<td>thing", html) == ["b.second", "a.first", "c.third"]


def test_picker_and_formulations_api_clamp(client, api, login_as, make_patient, make_ingredient,
                                           make_cocktail):
    ing = make_ingredient("Biotin")
    make_cocktail([(ing, "1", "mL")], name="Only one")
    patient = make_patient("MRN-PK")
    login_as("practitioner")
    html = client.get(f"/patients/{patient.id}/formulations?page=50").get_data(as_text=True)
    assert 'data-cocktail="Only one"' in html
    body = api("practitioner").get(f"patients/{patient.id}/formulations?page=50").get_json()
    assert body["page"] == 1 and [i["cocktail"]["name"] if isinstance(i.get("cocktail"), dict)
                                  else i.get("name") for i in body["items"]] != []


def test_tokens_page_clamps(client, login_as):
    login_as("pharmacist")
    assert client.get("/tokens?page=999").status_code == 200
