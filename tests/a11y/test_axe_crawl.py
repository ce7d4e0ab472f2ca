"""axe-core on every page each demo role reaches from its dashboard: no serious or
critical violation (WCAG 2.2 AA rules, as axe-core tags them), no page answering an
error, and no request leaving the app (every asset served locally).

The crawl starts at the dashboard and follows same-origin GET links (``<a href>``),
breadth first. Logout is a form, never followed; downloads (``.xlsx``, ``download``
links), the API and static files are skipped. Pages are grouped by the shape of their
URL (numbers in the path become ``{id}``; filters and paging in the query do not count,
a ``layout`` does), and one page of each shape is visited per role: ``/lots/3`` and
``/lots/7?page=2`` are the same template. Each role's first page (the dashboard, with
its menu bar) is run through axe; after it, a page whose content (``<main>``, the CSRF
token aside) is exactly that of a page already checked (the same lot seen by the manager
and by the admin) is not run again: the same markup gives the same result. That keeps the run short while still
reaching every template each role can open.

Runs on SQLite only: what is checked is the markup each template renders, which does not
depend on the database (the pages themselves are tested on both backends elsewhere).
"""

from __future__ import annotations

import time

import pytest

from tests.a11y.conftest import DEMO_ROLES
from tests.a11y.crawl import CRAWL_SECONDS, crawl, logged_in_page

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]


def test_every_page_of_every_role_passes_axe(browser, demo_server, axe):
    from formulary.auth.demo import PASSWORD

    started = time.monotonic()
    problems, errors, report, checked, outside = {}, {}, [], set(), []
    for role in DEMO_ROLES:
        context, page = logged_in_page(browser, demo_server.url, role, PASSWORD,
                                       viewport={"width": 1366, "height": 900})
        # every asset is the app's own (no CDN: clinics lose their internet)
        page.on("request", lambda r: r.url.startswith((demo_server.url, "data:", "blob:"))
                or outside.append(r.url))
        found, statuses, visited = crawl(page, axe, demo_server.url, checked)
        context.close()
        report.append(f"{role}: {len(visited)} pages, {len(checked)} checked so far")
        errors.update({f"{role} {u}": s for u, s in statuses.items() if s >= 400})
        assert len(visited) >= 8, f"{role}: the crawl reached only {visited}"
        for url, bad in found.items():
            problems[f"{role} {url}"] = bad
    elapsed = time.monotonic() - started
    assert not errors, f"pages answering an error: {errors}"
    assert not outside, f"assets from elsewhere: {sorted(set(outside))}"
    assert not problems, "\n".join(f"{k}: {v}" for k, v in problems.items())
    # About 25 s of processor time in all (the test process and Chromium); the bound is
    # wide for a machine busy with other work. A crawl that runs away fails here.
    assert elapsed < CRAWL_SECONDS, f"the crawl took {elapsed:.0f} s ({'; '.join(report)})"
