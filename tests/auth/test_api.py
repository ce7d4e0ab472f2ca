"""The API's frame: tokens, users, the error envelope for every kind of error."""

from sqlalchemy import func, select

from formulary.auth.models import ApiToken, User
from formulary.extensions import db
from tests.conftest import PASSWORD


def assert_envelope(r, status, code):
    assert r.status_code == status, r.get_data(as_text=True)
    body = r.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    return body["error"]


def test_token_for_good_credentials_is_stored_hashed(client, make_user):
    user = make_user("pharmacist")
    r = client.post("/api/v1/tokens", json={"username": user.username, "password": PASSWORD})
    assert r.status_code == 201
    body = r.get_json()
    assert body["user"] == {"username": user.username, "role": "pharmacist"}
    stored = db.session.execute(select(ApiToken)).scalar_one()
    assert stored.token_hash != body["token"] and stored.token_hash == ApiToken.digest(body["token"])
    r = client.get("/api/v1/users", headers={"Authorization": f"Bearer {body['token']}"})
    assert_envelope(r, 403, "forbidden")


def test_bad_credentials_401(client, make_user):
    user = make_user("pharmacist")
    assert_envelope(client.post("/api/v1/tokens", json={"username": user.username, "password": "nope"}),
                    401, "unauthorized")
    assert_envelope(client.post("/api/v1/tokens", json={"username": "ghost", "password": "nope"}),
                    401, "unauthorized")


def test_failed_token_requests_count_towards_the_lockout(app, client, make_user):
    user = make_user("pharmacist")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        client.post("/api/v1/tokens", json={"username": user.username, "password": "nope"})
    err = assert_envelope(client.post("/api/v1/tokens", json={"username": user.username,
                                                              "password": PASSWORD}), 401, "unauthorized")
    assert "locked" in err["message"]


def test_no_token_bad_token_revoked_token(client, api):
    assert_envelope(client.get("/api/v1/users"), 401, "unauthorized")
    assert_envelope(client.get("/api/v1/users", headers={"Authorization": "Bearer nope"}), 401, "unauthorized")
    admin = api("admin")
    assert client.get("/api/v1/users", headers=admin.headers).status_code == 200
    row = db.session.execute(select(ApiToken).where(ApiToken.user_id == admin.user.id)).scalar_one()
    from formulary.auth import services
    services.revoke_token(db.session, admin.user, row)
    db.session.commit()
    assert_envelope(client.get("/api/v1/users", headers=admin.headers), 401, "unauthorized")


def test_api_ignores_the_session_cookie(client, login_as):
    login_as("admin")
    assert client.get("/users").status_code == 200  # the page works with the cookie
    assert_envelope(client.get("/api/v1/users"), 401, "unauthorized")


def test_admin_creates_a_user(api):
    admin = api("admin")
    r = admin.post("users", json={"username": "zoe", "password": "long enough pw", "role": "manager"})
    assert r.status_code == 201
    body = r.get_json()
    assert body["username"] == "zoe" and body["role"] == "manager" and isinstance(body["id"], int)
    listed = admin.get("users?per_page=500").get_json()
    assert body["id"] in [u["id"] for u in listed["items"]] and listed["total"] == len(listed["items"])


def test_user_creation_refusals(api):
    admin = api("admin")
    before = db.session.execute(select(func.count()).select_from(User)).scalar_one()
    err = assert_envelope(admin.post("users", json={"username": "", "password": "x", "role": "king"}),
                          422, "invalid")
    assert {"username", "password", "role"} <= set(err["fields"])
    admin.post("users", json={"username": "zoe", "password": "long enough pw", "role": "manager"})
    err = assert_envelope(admin.post("users", json={"username": "ZOE", "password": "long enough pw",
                                                    "role": "manager"}), 409, "duplicate")
    assert "username" in err["fields"]
    assert_envelope(admin.post("users", json={"username": "y", "password": "long enough pw",
                                              "role": "manager", "colour": "red"}), 422, "invalid")
    assert db.session.execute(select(func.count()).select_from(User)).scalar_one() == before + 1


def test_malformed_bodies_400(api, client):
    admin = api("admin")
    for raw in (b"", b"{", b"[1, 2]", b'"text"', b"\xff\xfe", b'{"a": NaN}'):
        r = client.post("/api/v1/users", data=raw, headers=dict(admin.headers, **{"Content-Type": "application/json"}))
        assert_envelope(r, 400, "malformed")


def test_unknown_route_and_wrong_method(client, api):
    assert_envelope(client.get("/api/v1/nothing-here"), 404, "not_found")
    r = client.delete("/api/v1/tokens")
    assert_envelope(r, 405, "method_not_allowed")
    assert "POST" in r.headers["Allow"]


def test_bad_paging_422(api):
    admin = api("admin")
    assert_envelope(admin.get("users?page=0"), 422, "invalid")
    assert_envelope(admin.get("users?per_page=501"), 422, "invalid")
    assert_envelope(admin.get("users?page=abc"), 422, "invalid")


def test_openapi_document_lists_every_api_route(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    import re
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint == "api.openapi_document":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len("/api/v1"):])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, (path, method)
    op = doc["paths"]["/users"]["post"]
    assert op["x-permission"] == "admin"
    assert "422" in op["responses"] and "401" in op["responses"]
    assert doc["paths"]["/tokens"]["post"]["security"] == []
