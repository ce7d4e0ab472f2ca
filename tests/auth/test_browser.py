"""A real browser: each role logs in, sees its menu, logs out; a failed login says so."""

import pytest

from formulary.auth.permissions import ROLES, role_may
from formulary.nav import MENU, PERSONAL_MENU

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_its_menu(page, role):
    page.login(role)
    shown = set(page.locator("[data-testid=menu] a").evaluate_all("els => els.map(e => e.dataset.nav)"))
    views = page.live.app.view_functions
    expected = {i.endpoint for i in MENU if i.endpoint in views and role_may(role, i.permission)}
    assert shown == expected
    # the user's own pages, under their name: every role has them
    mine = set(page.locator("[data-testid=personal-menu] a").evaluate_all("els => els.map(e => e.dataset.nav)"))
    assert mine == {i.endpoint for i in PERSONAL_MENU if i.endpoint in views}
    page.click("[data-testid=logout]")
    page.wait_for_url("**/login")
    assert "logged out" in page.content()


def test_failed_login_shows_a_message(page):
    page.live.make_user("pharmacist", "pat")
    page.goto("/login")
    page.fill("input[name=username]", "pat")
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    assert page.locator(".alert-danger").inner_text().strip().startswith("Wrong username or password.")


def test_assets_are_served_by_the_app(page):
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto("/login")
    page.wait_for_load_state("networkidle")
    assert requests and all(u.startswith(page.live.url) for u in requests), requests
