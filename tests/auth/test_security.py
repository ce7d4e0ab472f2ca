def test_security_headers_on_pages_and_api(client):
    for url in ("/login", "/api/v1/openapi.json"):
        h = client.get(url).headers
        assert "script-src 'self'" in h["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
        assert h["X-Frame-Options"] == "DENY"
        assert h["X-Content-Type-Options"] == "nosniff"


def test_production_refuses_to_start_without_secret_key(monkeypatch):
    import pytest

    from formulary import create_app

    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")


def test_production_cookies_are_secure(monkeypatch):
    from formulary import create_app

    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    app = create_app("production")
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SECRET_KEY"] == "x" * 32


def test_an_id_too_large_for_the_database_is_not_found(client, login_as):
    login_as("admin")
    assert client.get(f"/users/{2**31}").status_code == 404
    assert client.get(f"/users/{10**30}").status_code == 404
