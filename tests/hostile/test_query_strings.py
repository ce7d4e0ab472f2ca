"""Hostile query strings on every list and read of the app, pages and API (SPEC §9 paging
and sorting, §10 lists): out-of-range and injected ``page``, ``per_page`` and ``sort``,
filters of the wrong type, impossible dates, unknown ids. The API answers 200 or a 4xx
with its envelope; a page answers 200 (an unknown sort is ignored with a message) or a
4xx; never a 500, and nothing is written but the audit of a read."""

from __future__ import annotations

import pytest
from tests.hostile.conftest import collect_refusal

HOSTILE = [
    "page=-1", "page=0", "page=abc", "page=99999999999999999999", "page=1e3", "page=1.5",
    "page=%00", "page=%EF%BC%91", "page=%C2%B2", "page=%E2%91%A0", "page=", "page=1&page=2",
    "per_page=0", "per_page=-5", "per_page=501", "per_page=x", "per_page=99999999999999999999",
    "sort=;drop", "sort=-", "sort=--", "sort=name;drop%20table%20batch", "sort=%00",
    "sort=id%20desc", "sort=" + "x" * 5000, "sort=__class__",
    "status=bogus", "status=%00", "area=moon", "kind=%00x", "q=%00", "q=" + "%F0%9F%92%89" * 200,
    "q=%D8%A7%D9%84%D8%B9%D8%B1%D8%A8%D9%8A%D8%A9", "q=%25%5F%5C", "q='%20OR%201=1--",
    "patient_id=abc", "patient_id=-1", "patient_id=99999999999999999999", "patient_id=999999",
    "lot_id=x", "lot_id=10000000000000000000000000000000", "ingredient_id=1.5",
    "cocktail_id=%00", "from=2026-02-30", "from=0000-01-01", "to=9999-12-31", "from=yesterday",
    "from=2026-12-31&to=2026-01-01", "from=%00", "serious=maybe", "severity=deadly",
    "expiring_within_days=-1", "expiring_within_days=99999999999999", "low_stock=%00",
    "user=%00", "object_type=%00", "object_id=x", "action=%00", "locale=xx", "lang=%00",
]

#: The pages read the same arguments through the same helpers: a sample of each kind.
PAGE_HOSTILE = ["page=-1", "page=99999999999999999999", "page=%00", "per_page=0",
                # a superscript two and a circled one: str.isdigit() says yes, int() no
                "page=%C2%B2", "page=%E2%91%A0", "patient_id=%C2%B2", "cocktail_id=%C2%B2",
                "lot=%C2%B2",
                "per_page=99999999999999999999", "sort=;drop", "sort=%00", "status=%00",
                "q=%00", "q='%20OR%201=1--", "patient_id=99999999999999999999",
                "lot_id=x", "from=2026-02-30", "from=0000-01-01", "to=9999-12-31",
                "from=2026-12-31&to=2026-01-01", "serious=maybe", "expiring_within_days=-1"]


def _get_rules(app, api: bool):
    seen = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments or rule.endpoint == "static":
            continue
        if rule.rule.startswith("/api/v1") != api or rule.rule in seen:
            continue
        if rule.endpoint in ("auth.logout",):
            continue
        seen.add(rule.rule)
        yield rule.rule


def test_there_are_lists_to_attack(app):
    assert len(list(_get_rules(app, True))) >= 10
    assert len(list(_get_rules(app, False))) >= 15


@pytest.mark.slow
def test_api_lists_answer_hostile_queries_with_200_or_an_envelope(world, app, client, api):
    admin = api("admin")
    app.config["PROPAGATE_UNEXPECTED"] = False  # collect every 500, then fail once
    failures = []
    for url in _get_rules(app, True):
        if url.endswith(".json"):
            continue
        for query in HOSTILE:
            r = client.get(f"{url}?{query}", headers=admin.headers)
            what = f"GET {url}?{query[:60]}"
            if r.status_code >= 400:
                collect_refusal(r, what, failures)
            elif r.mimetype == "application/json":
                body = r.get_json()
                if isinstance(body, dict) and "items" in body and "per_page" in body:
                    if not 1 <= body["per_page"] <= 500 or body.get("page", 1) < 1:
                        failures.append(f"{what}: paging out of range {body['page']}/{body['per_page']}")
    assert not failures, "\n".join(failures)


@pytest.mark.slow
def test_pages_answer_hostile_queries_without_a_server_error(world, app, client, login_as):
    login_as("admin")  # every page opens to an admin
    app.config["PROPAGATE_UNEXPECTED"] = False
    failures = []
    for url in _get_rules(app, False):
        for query in PAGE_HOSTILE:
            r = client.get(f"{url}?{query}")
            if r.status_code >= 500:
                failures.append(f"GET {url}?{query[:60]}: {r.status_code}")
    assert not failures, "\n".join(failures)
