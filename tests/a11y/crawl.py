"""The crawl the browser tests share: from a role's dashboard, every page it reaches by
same-origin GET links, one page of each shape (see ``test_axe_crawl``'s docstring), each
page with new content run through axe-core.

Used by the accessibility crawl (``tests/a11y/test_axe_crawl.py``, English) and the French
crawl (``tests/i18n/test_fr_browser.py``)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urljoin, urlsplit

from tests.a11y.conftest import serious

MAX_PAGES_PER_ROLE = 60
CRAWL_SECONDS = 240
AXE_OPTIONS = {"resultTypes": ["violations"],
               "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                                     "wcag22aa"]}}
#: The query names that choose another layout of a page (or another language: a patient's
#: sheet in the patient's own); other names (filters, paging) give the same template with
#: other rows.
LAYOUT_ARGS = ("layout", "lang")
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


def crawl(page, axe, origin: str, checked: set, *, options: dict = AXE_OPTIONS,
          always: tuple[str, ...] = (), inspect=None) -> tuple[dict, dict, list]:
    """Visit the pages reachable from the dashboard; answer ``(violations by url,
    status by url, urls in visit order)``. ``checked``: the signatures already run
    through axe (shared by the roles' crawls); ``options``: axe's (which rules); the
    violations kept are the serious and critical ones, and any of the rules in
    ``always``; ``inspect(url, html)`` is called with every page answered (2xx, HTML),
    run through axe or not.

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
        if inspect is not None and "html" in (response.headers.get("content-type") or ""):
            inspect(url, html)
        sig = signature(html)
        if len(visited) == 1 or sig not in checked:   # the first page: the role's menu
            checked.add(sig)
            page.goto(url)
            bad = serious(axe.run(page, options=options), always)
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




def logged_in_page(browser, origin: str, username: str, password: str, **context_args):
    """A new browser context and page, logged in through the form: ``(context, page)``."""
    context = browser.new_context(base_url=origin, **context_args)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard")
    return context, page
