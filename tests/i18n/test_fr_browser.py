"""The crawl in French (SPEC §13, issue 17): every page each demo role reaches, the
user's language set to French in their profile (the browser asking for English, so the
profile is what decides), through axe-core with its language rules.

- axe-core's rules of WCAG 2 A/AA, as the English crawl runs them (``tests/a11y``), with
  no serious or critical violation, and no violation at all of the language rules
  (``html-has-lang``, ``html-lang-valid``, ``html-xml-lang-mismatch``, ``valid-lang``),
  whatever impact axe gives them;
- every page answered says ``<html lang="fr">`` (a patient's sheet asked in another
  language, ``?lang=en``, says that one);
- a language's own name shown on a page of another language ("English" in the French
  profile's language menu) is marked with its language (``lang="en"``), so a screen
  reader speaks it in English, as WCAG 3.1.2 asks.

The crawl is the English one's (``tests/a11y/crawl.py``): one page of each shape per role,
a page's content run through axe once. One served clinic for the module (the demo data);
SQLite only: what is checked is the markup.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit

import pytest

from formulary.extensions import db
from formulary.i18n import LANGUAGE_NAMES
from tests.a11y.conftest import DEMO_ROLES
from tests.a11y.crawl import crawl, logged_in_page
from tests.conftest import make_app, serve
from tests.i18n import catalogs

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

LANGUAGE_RULES = ("html-has-lang", "html-lang-valid", "html-xml-lang-mismatch", "valid-lang")
_HTML_LANG = re.compile(r"<html\b[^>]*\blang=\"([^\"]*)\"", re.I)
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}


class _LanguageNames(HTMLParser):
    """Each text that is a language's own name ("English", "Français"), with the language
    of the element it stands in (the nearest ``lang`` attribute, from the page's own)."""

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, str | None]] = []
        self.found: list[tuple[str, str | None]] = []

    def lang(self) -> str | None:
        return next((lang for _tag, lang in reversed(self.stack) if lang is not None), None)

    def handle_starttag(self, tag, attrs):
        if tag not in _VOID:
            self.stack.append((tag, dict(attrs).get("lang")))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if data.strip() in LANGUAGE_NAMES.values():
            self.found.append((data.strip(), self.lang()))


def language_problems(url: str, html: str) -> list[str]:
    """What is wrong with a page's languages: its ``<html lang>`` other than the one asked
    (French, or the sheet's ``?lang=``), a language's name not marked with its language."""
    asked = dict(parse_qsl(urlsplit(url).query)).get("lang", "fr")
    problems = []
    declared = _HTML_LANG.search(html)
    if declared is None or declared.group(1) != asked:
        problems.append(f"<html lang={declared.group(1) if declared else None!r}>, not {asked!r}")
    names = _LanguageNames()
    names.feed(html)
    by_name = {name: code for code, name in LANGUAGE_NAMES.items()}
    for name, lang in names.found:
        if lang != by_name[name]:
            problems.append(f"{name!r} spoken as {lang!r}, not {by_name[name]!r}")
    return problems


@pytest.mark.parametrize("html, problems", [
    # the French profile's menu, as it should be
    ('<html lang="fr"><select><option value="">Le navigateur</option>'
     '<option lang="en" value="en">English</option><option lang="fr" value="fr">Français'
     '</option></select></html>', []),
    # "English" read in French by a screen reader
    ('<html lang="fr"><option value="en">English</option></html>', ["'English' spoken as 'fr', not 'en'"]),
    # the page's own language covers its own name; a void element closes nothing
    ('<html lang="fr"><p>Français<br><span lang="en">English</span></p></html>', []),
    ('<html lang="en"><p>English</p></html>', ["<html lang='en'>, not 'fr'"]),
    ("<html><p>x</p></html>", ["<html lang=None>, not 'fr'"]),
])
def test_language_problems_are_found(html, problems):
    assert language_problems("/profile", html) == problems


def test_a_sheet_asked_in_english_says_english():
    assert language_problems("/administrations/3/sheet?lang=en", '<html lang="en"></html>') == []
    assert language_problems("/administrations/3/sheet?lang=en", '<html lang="fr"></html>')


@pytest.mark.parametrize("html, rules", [
    ("<html><body><p>Bonjour</p></body></html>", {"html-has-lang"}),
    ('<html lang="zz-!!"><body><p>Bonjour</p></body></html>', {"html-lang-valid"}),
    ('<html lang="fr" xml:lang="en"><body><p>Bonjour</p></body></html>',
     {"html-xml-lang-mismatch"}),
    ('<html lang="fr"><body><p lang="english">Hello</p></body></html>', {"valid-lang"}),
    ('<html lang="fr"><body><main><p lang="en">Hello</p></main></body></html>', set()),
])
def test_the_crawl_runs_and_keeps_every_language_rule(browser, axe, html, rules):
    """The rules the crawl runs (the English crawl's tags) hold axe's four language rules,
    and a violation of any of them is kept whatever impact axe gives it."""
    from tests.a11y.conftest import serious
    from tests.a11y.crawl import AXE_OPTIONS

    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content(html)
        found = {v["id"] for v in serious(axe.run(page, options=AXE_OPTIONS), LANGUAGE_RULES)}
    finally:
        context.close()
    assert found & set(LANGUAGE_RULES) == rules


@pytest.fixture(scope="module")
def french_clinic(tmp_path_factory):
    """The demo clinic served over HTTP, every demo user's language French; and the
    contents axe has already seen (shared by the roles' crawls, as in English)."""
    from formulary.auth.models import User
    from formulary.cli import load_demo

    catalogs.compile_fr()
    app = make_app(f"sqlite:///{tmp_path_factory.mktemp('fr') / 'fr.db'}")
    app.config["PROPAGATE_UNEXPECTED"] = False
    with app.app_context():
        db.create_all()
        load_demo(db.session)
        for user in db.session.execute(db.select(User)).scalars():
            user.locale = "fr"
        db.session.commit()
    with serve(app) as url:
        yield {"url": url, "checked": set()}


@pytest.mark.parametrize("role", DEMO_ROLES)
def test_every_page_of_every_role_in_french_passes_axe_language_checks(browser, french_clinic,
                                                                       axe, role):
    from formulary.auth.demo import PASSWORD

    origin = french_clinic["url"]
    wrong: dict[str, list[str]] = {}
    inspected = []

    def inspect(url, html):
        inspected.append(url)
        problems = language_problems(url, html)
        if problems:
            wrong[url] = problems

    context, page = logged_in_page(browser, origin, role, PASSWORD,
                                   viewport={"width": 1366, "height": 900},
                                   extra_http_headers={"Accept-Language": "en"})
    try:
        found, statuses, visited = crawl(page, axe, origin, french_clinic["checked"],
                                         always=LANGUAGE_RULES, inspect=inspect)
    finally:
        context.close()
    assert len(visited) >= 8, f"the crawl reached only {visited}"
    assert not {u: s for u, s in statuses.items() if s >= 400}
    assert len(inspected) >= 8, f"only {inspected} were read"
    assert not wrong, "\n".join(f"{u}: {p}" for u, p in wrong.items())
    assert not found, "\n".join(f"{u}: {v}" for u, v in found.items())
