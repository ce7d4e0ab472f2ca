"""A browser crawl of the pages each role can open, in the pseudo-locale ``en_001`` (every
catalog message wrapped in ⟦ ⟧): visible text outside the markers must be data (names,
numbers, codes, dates the app formats), never a sentence that skipped the catalog.

Pages known not to be wrapped whole yet are listed in ``NOT_YET_WRAPPED`` with what shows
through; each is an expected failure that must fail (strict), so wrapping one and
forgetting to take it off the list fails the suite too."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from babel import Locale
from sqlalchemy import select

from formulary.extensions import db
from tests.conftest import CHROMIUM, PASSWORD, make_app, serve
from tests.i18n import catalogs

pytestmark = pytest.mark.browser

ROLES = ("admin", "manager", "pharmacist", "practitioner")
#: Words that are data whatever the language: the product's name, units and signs.
ALLOWED = {"formulary", "ml", "mg", "mcg", "g", "iu", "u", "v", "mm", "gtin", "gs1", "qr", "api",
           "xlsx", "mrn", "b", "a4", "°c",
           # a language's own name, never translated (the profile's language menu)
           "english", "français"}
# dates are written by Babel in the locale's own words (CLDR's), never by the catalog
ALLOWED |= {str(m).casefold() for m in Locale("en").months["format"]["abbreviated"].values()}
ALLOWED |= {str(m).casefold() for m in Locale("en").months["format"]["wide"].values()}
#: One message, innermost first: a message whose placeholder holds another (a code's word in
#: a sentence) is taken off from the inside out.
MARKED = re.compile(r"⟦[^⟦⟧]*⟧", re.S)
TOKEN = re.compile(r"[^\s·—–→←×/:;,.()\[\]“”\"'%+=|*#&<>!?…-]+")
NUMBERISH = re.compile(r"[€$£\d.,:/+\-\u202f\u00a0]*\d[€$£\d.,:/+\-\u202f\u00a0a-z]*", re.I)

#: Pages (path patterns, digits as N) that still show text outside the catalog, and why.
NOT_YET_WRAPPED: dict[str, str] = {
}


def _pattern(path: str) -> str:
    return re.sub(r"\d+", "N", path)


@pytest.fixture(scope="module")
def pseudo_site(tmp_path_factory, pseudo_dir):
    from formulary.cli import load_demo

    tmp = tmp_path_factory.mktemp("crawl")
    app = make_app(f"sqlite:///{tmp / 'crawl.db'}", LANGUAGES=("en", "fr", catalogs.PSEUDO),
                   DEFAULT_LOCALE=catalogs.PSEUDO,
                   BABEL_TRANSLATION_DIRECTORIES=f"{catalogs.TRANSLATIONS};{pseudo_dir}")
    app.config["PROPAGATE_UNEXPECTED"] = False
    data: set[str] = set()
    users = {}

    def collect():
        """Every text a person typed, or the app wrote into its records (audit summaries
        stay in the words they were written in), is data."""
        from formulary.auth.models import User

        with app.app_context():
            for table in db.metadata.sorted_tables:
                for column in table.columns:
                    if isinstance(column.type, (db.String, db.Text)):
                        for (value,) in db.session.execute(select(column).limit(5000)):
                            if value:
                                data.update(t.casefold() for t in TOKEN.findall(str(value)))
            for user in db.session.execute(select(User)).scalars():
                data.update(t.casefold() for t in TOKEN.findall(user.display_name))
            db.session.remove()

    with app.app_context():
        db.create_all()
        load_demo(db.session)
        from formulary.auth import services
        from formulary.auth.models import User

        for role in ROLES:
            user = services.create_user(db.session, "test", username=f"crawl-{role}",
                                        password=PASSWORD, role=role, full_name=f"Crawl {role}")
            user.locale = catalogs.PSEUDO
            users[role] = user.username
        db.session.commit()
    collect()
    with serve(app) as url:
        yield {"url": url, "users": users, "data": data, "collect": collect}


def _outside_markers(text: str, data: set[str]) -> list[str]:
    rest, before = text, None
    while rest != before:
        before, rest = rest, MARKED.sub(" ", rest)
    leftover = []
    for token in TOKEN.findall(rest):
        word = token.casefold()
        if word in ALLOWED or word in data or NUMBERISH.fullmatch(token):
            continue
        if len(word) >= 4 and any(d.startswith(word) for d in data):
            continue  # a long name clipped to fit a chart's label
        leftover.append(token)
    return leftover


VISIBLE_TEXT = """() => {
    // code samples (an API path, a barcode's form) are not prose: hidden before reading
    document.querySelectorAll('code, kbd, pre').forEach(e => e.style.display = 'none');
    return document.body.innerText;
}"""


def _text(page) -> str:
    return page.evaluate(VISIBLE_TEXT)


def _crawl(browser, site, role, limit=45):
    if not CHROMIUM:
        pytest.skip("no Chromium")
    context = browser.new_context(base_url=site["url"], extra_http_headers={"Accept-Language": "xx"})
    page = context.new_page()
    page.set_default_timeout(15_000)
    found: dict[str, list[str]] = {}
    try:
        page.goto("/login")
        found["/login"] = _outside_markers(_text(page), site["data"])
        page.fill("input[name=username]", site["users"][role])
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/dashboard")
        queue, seen = ["/dashboard"], set()
        while queue and len(seen) < limit:
            path = queue.pop(0)
            key = _pattern(urlsplit(path).path)
            if key in seen:
                continue
            seen.add(key)
            response = page.goto(path)
            if response is None or "text/html" not in (response.headers.get("content-type") or ""):
                continue
            if key.startswith("/audit"):
                site["collect"]()  # the entries this crawl's own views just wrote
            found[key] = _outside_markers(_text(page), site["data"])
            for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
                url = urlsplit(urljoin(site["url"] + path, href))
                if url.netloc and url.netloc != urlsplit(site["url"]).netloc:
                    continue
                if url.path.endswith((".xlsx", ".csv")) or "/api/" in url.path or url.path == "/logout":
                    continue
                if _pattern(url.path) not in seen:
                    queue.append(url.path + (f"?{url.query}" if url.query and "page=" not in url.query else ""))
    finally:
        context.close()
    return found


@pytest.mark.parametrize("role", ROLES)
def test_every_page_speaks_through_the_catalog(browser, pseudo_site, role):
    found = _crawl(browser, pseudo_site, role)
    assert len(found) > 5, found.keys()
    bad = {page: sorted(set(words))[:15] for page, words in found.items()
           if words and page not in NOT_YET_WRAPPED}
    assert not bad, "text outside the catalog:\n" + "\n".join(f"{p}: {w}" for p, w in bad.items())
