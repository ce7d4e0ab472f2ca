"""The menu bar's layout: the admin's twelve entries on one line at 1366 px, none
running off the screen at any common width, and the phone's collapsed menu.

SQLite only: layout is markup and style sheets."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

MEASURE = """() => {
  const nav = document.querySelector('nav.navbar');
  const box = nav.getBoundingClientRect();
  const items = [...nav.querySelectorAll('[data-testid=menu] a, [data-testid=whoami], [data-testid=logout]')]
    .filter(e => e.offsetParent !== null).map(e => e.getBoundingClientRect());
  return {height: box.height, width: document.documentElement.clientWidth,
          scroll: document.documentElement.scrollWidth,
          tops: [...new Set(items.map(r => Math.round(r.top / 10)))].length,
          right: Math.max(0, ...items.map(r => r.right))};
}"""


def test_the_admin_menu_is_one_line_at_1366px(page):
    page.set_viewport_size({"width": 1366, "height": 800})
    page.login("admin")
    m = page.evaluate(MEASURE)
    assert m["tops"] == 1 and m["height"] < 70, m        # one line
    assert m["right"] <= m["width"] and m["scroll"] <= m["width"], m
    for width in (1024, 1280, 1600, 1920):
        page.set_viewport_size({"width": width, "height": 800})
        m = page.evaluate(MEASURE)
        assert m["right"] <= m["width"] and m["scroll"] <= m["width"], (width, m)
        assert m["tops"] <= 2, (width, m)


def test_the_phone_menu_opens_from_its_button(page):
    page.set_viewport_size({"width": 390, "height": 800})
    page.login("admin")
    assert not page.locator("[data-nav='auth.users']").is_visible()
    page.locator(".navbar-toggler").click()
    page.locator("[data-nav='auth.users']").wait_for(state="visible")
    m = page.evaluate(MEASURE)
    assert m["scroll"] <= m["width"], m
