"""Every API route that takes an id, asked for an unknown object and, by a role that may
not, for an existing one: 404 and 403 envelopes, never a 500, nothing changed."""

from __future__ import annotations

import pytest

from formulary.auth.permissions import ROLES, role_may
from tests.security.fixtures import seed_objects, table_counts, url_for_rule
from tests.test_role_matrix import expected_table

UNKNOWN = 999_999
OVERFLOW = 10**30  # more than any id column holds: still a plain 404


def id_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and "<int:" in rule.rule:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


#: Query arguments a route needs before it looks at its object.
NEEDS_QUERY = {"api.patient_safety": "?cocktail_id=1"}


def call(client, method, url, headers, endpoint=None):
    url += NEEDS_QUERY.get(endpoint, "")
    kw = {"headers": headers}
    if method in ("POST", "PUT", "PATCH"):
        kw["json"] = {}
    return client.open(url, method=method, **kw)


def assert_envelope(response, status, code, what):
    assert response.status_code == status, f"{what}: {response.status_code} {response.get_data(as_text=True)[:300]}"
    body = response.get_json()
    assert body and body["error"]["code"] == code, what


def test_there_are_id_routes_to_check(app):
    assert len(list(id_routes(app))) >= 20


def test_unknown_objects_are_404_never_500(app, client, api, request):
    seed_objects(request)
    admin = api("admin")  # every permission: only the object is missing
    before = table_counts()
    failures = []
    for rule, method in id_routes(app):
        for value in (UNKNOWN, OVERFLOW):
            url = url_for_rule(rule, value)
            try:
                assert_envelope(call(client, method, url, admin.headers, rule.endpoint), 404,
                                "not_found", f"{method} {url}")
            except AssertionError as exc:
                failures.append(str(exc).splitlines()[0])
    assert not failures, "\n".join(failures)
    assert table_counts() == before


def test_a_nested_object_of_another_parent_is_not_found(app, client, api, request, make_patient):
    """/patients/{other}/allergies/{id}: the allergy exists, but not under that patient."""
    objects = seed_objects(request)
    other = make_patient(first_name="Bea")
    allergy_id = objects["patient"].allergies[0].id
    admin = api("admin")
    before = table_counts()
    r = client.patch(f"/api/v1/patients/{other.id}/allergies/{allergy_id}",
                     json={"status": "inactive"}, headers=admin.headers)
    assert_envelope(r, 404, "not_found", "allergy under another patient")
    cocktail_id = objects["cocktail"].id
    assert_envelope(client.get(f"/api/v1/cocktails/{cocktail_id}/versions/{UNKNOWN}",
                               headers=admin.headers), 404, "not_found", "unknown version")
    assert table_counts() == before


@pytest.mark.parametrize("role", [r for r in ROLES if r != "admin"])
def test_a_role_without_the_permission_cannot_reach_an_existing_object(app, client, api,
                                                                      request, role):
    seed_objects(request)
    table = expected_table()
    caller = api(role)
    before = table_counts()
    refused = 0
    for rule, method in id_routes(app):
        permission = table[rule.endpoint]
        if permission is None or role_may(role, permission):
            continue
        url = url_for_rule(rule, 1)  # id 1 of every table exists
        assert_envelope(call(client, method, url, caller.headers, rule.endpoint), 403,
                        "forbidden", f"{method} {url} as {role}")
        refused += 1
    assert table_counts() == before
    if role == "practitioner":
        assert refused >= 8  # sanity: the walk did reach routes to refuse


def test_another_users_token_is_not_found_unless_admin(app, client, api):
    from formulary.auth.models import ApiToken
    from formulary.extensions import db

    owner, stranger, admin = api("pharmacist"), api("practitioner"), api("admin")
    token_id = db.session.execute(
        db.select(ApiToken.id).where(ApiToken.user_id == owner.user.id)).scalar_one()
    before = table_counts()
    assert_envelope(stranger.delete(f"tokens/{token_id}"), 404, "not_found", "stranger revokes")
    assert db.session.get(ApiToken, token_id).revoked_at is None
    assert table_counts() == before
    assert admin.delete(f"tokens/{token_id}").status_code == 200
    db.session.expire_all()
    assert db.session.get(ApiToken, token_id).revoked_at is not None


def test_an_id_too_large_for_the_database_in_a_body_is_422_not_500(app, client, api, request):
    """Found by schemathesis: ``{"ingredient_id": 10**30}`` overflowed the database driver."""
    seed_objects(request)
    admin = api("admin")
    before = table_counts()
    r = admin.post("lots", json={"ingredient_id": 10**30, "lot_number": "X1",
                                 "expiry_date": "2030-01-01", "quantity": "1"})
    assert_envelope(r, 422, "invalid", "huge ingredient_id")
    assert r.get_json()["error"]["fields"] == {"ingredient_id": ["Must be at most 2147483647."]}
    r = admin.post("batches", json={"cocktail_id": 1, "doses": 1, "patient_id": -10**20})
    assert_envelope(r, 422, "invalid", "huge patient_id")
    assert table_counts() == before
