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

import re
import time
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest

from tests.a11y.conftest import DEMO_ROLES, serious

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

MAX_PAGES_PER_ROLE = 60
CRAWL_SECONDS = 240
AXE_OPTIONS = {"resultTypes": ["violations"],
               "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                                     "wcag22aa"]}}
#: The query names that choose another layout of a page; other names (filters, paging)
#: give the same template with other rows.
LAYOUT_ARGS = ("layout",)
#: The page's own content (``<main>``) without what changes between two requests (the
#: CSRF token). The rest of a page, the menu bar, is the same on every page of a role,
#: and is checked on the role's first page; two pages whose content is the same then get
#: the same axe result, so one run covers both (a manager and an admin often see the
#: same lot page).
_MAIN = re.compile(r"<main\b.*?</main>", re.S)
_CSRF = re.compile(r'(name="csrf_token"[^>]*value=")[^"]*')
_SKIP_PATH = re.compile(r"^/(api/|static/|logout)|\.xlsx$|/file$")
_NUMBER = re.compile(r"/\d+(?=/|$)")


def shape(url: str) -> str:
    """``/lots/12?page=2`` -> ``/lots/{id}``; ``/batches/3/label?layout=a4`` ->
    ``/batches/{id}/label?layout=a4``: one page of each shape is checked."""
    parts = urlsplit(url)
    layout = sorted(f"{k}={v}" for k, v in parse_qsl(parts.query) if k in LAYOUT_ARGS)
    return _NUMBER.sub("/{id}", parts.path) + ("?" + "&".join(layout) if layout else "")


class _Links(HTMLParser):
    """The ``href`` of every ``<a>`` that is not a download."""

    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href") and "download" not in attrs:
            self.hrefs.append(attrs["href"])


def links_of(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.hrefs


def signature(html: str) -> str:
    found = _MAIN.search(html)
    return _CSRF.sub(r"\1", found.group() if found else html)


def crawl(page, axe, origin: str, checked: set) -> tuple[dict, dict, list]:
    """Visit the pages reachable from the dashboard; answer ``(violations by url,
    status by url, urls in visit order)``. ``checked``: the signatures already run
    through axe (shared by the roles' crawls).

    Each page is first fetched with the context's cookies (no rendering) for its status,
    links and signature; only a page with new content is opened in the browser and run
    through axe."""
    queue = [f"{origin}/dashboard"]
    seen = {shape(queue[0])}
    found: dict[str, list] = {}
    statuses: dict[str, int] = {}
    visited: list[str] = []
    while queue and len(visited) < MAX_PAGES_PER_ROLE:
        url = queue.pop(0)
        response = page.request.get(url)
        visited.append(url)
        statuses[url] = response.status
        if response.status >= 400 or not response.url.startswith(origin):
            continue
        html = response.text()
        sig = signature(html)
        if len(visited) == 1 or sig not in checked:   # the first page: the role's menu
            checked.add(sig)
            page.goto(url)
            bad = serious(axe.run(page, options=AXE_OPTIONS))
            if bad:
                found[url] = bad
        for href in links_of(html):
            href = urljoin(response.url, href).split("#", 1)[0]
            parts = urlsplit(href)
            if f"{parts.scheme}://{parts.netloc}" != origin or _SKIP_PATH.search(parts.path):
                continue
            key = shape(href)
            if key not in seen:
                seen.add(key)
                queue.append(href)
    return found, statuses, visited


def test_every_page_of_every_role_passes_axe(browser, demo_server, axe):
    from formulary.auth.demo import PASSWORD

    started = time.monotonic()
    problems, errors, report, checked, outside = {}, {}, [], set(), []
    for role in DEMO_ROLES:
        context = browser.new_context(base_url=demo_server.url, viewport={"width": 1366, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        # every asset is the app's own (no CDN: clinics lose their internet)
        page.on("request", lambda r: r.url.startswith((demo_server.url, "data:", "blob:"))
                or outside.append(r.url))
        page.goto("/login")
        page.fill("input[name=username]", role)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/dashboard")
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
