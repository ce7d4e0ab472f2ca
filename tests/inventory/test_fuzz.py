"""Hypothesis throws malformed bodies at every inventory API route: never a 500, never a
change to the database."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from formulary.extensions import db

FIELDS = ["ingredient_id", "lot_number", "expiry_date", "quantity", "unit_cost", "supplier",
          "barcode", "quantity_delta", "reason", "note", "status", "name", "category", "unit",
          "strength", "allergen_groups", "contraindications", "reorder_level",
          "max_dose_per_session", "gtins", "storage", "multi_dose", "in_use_days",
          "cross_reacts_with", "description"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**20, max_value=10**20),
                    st.floats(allow_nan=False), st.text(max_size=30),
                    st.sampled_from(["", "-1", "0", "1e9999", "2,5", "NaN", "2099-02-30", "waste",
                                     "recalled", "(01)09506000134352(17)300100(10)X", "mL", "mg"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["amount", "unit", "x"]), inner, max_size=3)),
    max_leaves=6)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), values, max_size=6),
    st.binary(max_size=20),
    values.map(lambda v: json.dumps(v).encode()),
)
ROUTES = [("POST", "/api/v1/lots"), ("POST", "/api/v1/lots/scan"),
          ("POST", "/api/v1/lots/{lot}/adjustments"), ("POST", "/api/v1/lots/{lot}/status"),
          ("POST", "/api/v1/ingredients"), ("PATCH", "/api/v1/ingredients/{ing}"),
          ("POST", "/api/v1/allergen-groups"), ("PATCH", "/api/v1/allergen-groups/{group}")]


def test_malformed_bodies_never_500_and_never_change_anything(app, client, api, biotin, make_lot,
                                                              make_group, snapshot):
    lot = make_lot(biotin, "5")
    group = make_group("soy")
    admin = api("admin")
    ids = {"lot": lot.id, "ing": biotin.id, "group": group.id}
    app.config["PROPAGATE_UNEXPECTED"] = True  # an unexpected error fails loudly
    refused = []

    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(route=st.sampled_from(ROUTES), body=bodies)
    def attempt(route, body):
        method, url = route
        data = json.dumps(body, default=str).encode() if isinstance(body, dict) else body
        before = snapshot()
        r = client.open(url.format(**ids), method=method, data=data,
                        headers={**admin.headers, "Content-Type": "application/json"})
        assert r.status_code < 500, r.get_data(as_text=True)
        if r.status_code >= 400:
            # a refusal: the envelope, and nothing changed
            assert r.get_json()["error"]["code"]
            assert snapshot() == before
            refused.append(r.status_code)

    attempt()
    assert len(refused) > 30  # nearly every random body is refused
