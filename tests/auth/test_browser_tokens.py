"""A real browser: a user opens "My API tokens" from the menu and revokes a token; the
page satisfies the Content-Security-Policy (no inline script needed)."""

import pytest

from formulary.extensions import db

pytestmark = pytest.mark.browser


def test_revoke_my_token_in_the_browser(page):
    from formulary.auth import services
    from formulary.auth.models import ApiToken, User

    name = page.login("practitioner")
    app = page.live.app
    with app.app_context():
        user = db.session.execute(db.select(User).where(User.username == name)).scalar_one()
        _, row = services.create_token(db.session, user, days=30, label="my script")
        db.session.commit()
        token_id = row.id
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.click("[data-testid=whoami]")       # the user's own pages, under their name
    page.click("[data-testid=personal-menu] a[data-nav='auth.my_tokens']")
    page.wait_for_url("**/tokens")
    row_loc = page.locator(f"tr[data-token='{token_id}']")
    assert "my script" in row_loc.inner_text() and "active" in row_loc.inner_text()
    row_loc.locator("button", has_text="Revoke").click()
    page.wait_for_url("**/tokens")
    assert "revoked" in page.locator(".alert-success").inner_text()
    assert "revoked" in page.locator(f"tr[data-token='{token_id}']").inner_text()
    with app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is not None
    assert not violations
