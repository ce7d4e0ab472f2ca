"""The language a benchmark reads its pages in (issue 17: the picker, dashboard and lists
stay within their goals in French).

``--locale fr`` measures each request in English and then in French, one after the other
in the same run (the box's load drifts: the pair shares it), through the browser's
``Accept-Language`` (the benchmark users have no language of their own in their
profile, so the browser's decides, as for a user who never chose). A page is checked
to have come back in the language asked (``<html lang>``), so a user's profile language
or a missing catalog cannot quietly measure English twice.
"""

from __future__ import annotations

import re

_HTML_LANG = re.compile(rb"<html\b[^>]*\blang=\"([^\"]*)\"")


def add_argument(parser) -> None:
    parser.add_argument("--locale", choices=("en", "fr"), default="en",
                        help="fr: each request measured in English, then in French, in this run")


def chosen(args) -> tuple[str, ...]:
    """The locales to measure: English alone, or English and the one asked."""
    return ("en",) if args.locale == "en" else ("en", args.locale)


def headers(locale: str, others: dict | None = None) -> dict:
    return {**(others or {}), "Accept-Language": locale}


def label(url: str, locale: str) -> str:
    """English rows keep their URL (the figures before issue 17 compare); others are marked."""
    return url if locale == "en" else f"{url} [{locale}]"


def check(response, locale: str) -> None:
    """An HTML page answered in ``locale`` (a JSON answer carries no language to check)."""
    if response.mimetype != "text/html":
        return
    found = _HTML_LANG.search(response.get_data())
    assert found and found.group(1).decode() == locale, \
        f"{response.request.path}: asked {locale}, got <html lang={found and found.group(1)!r}>"


def print_comparison(results: dict, *, cpu: str = "cpu_median_ms", wall: str = "median_ms",
                     cpu_p95: str | None = "cpu_p95_ms", width: int = 50) -> None:
    """French against English for each request measured in both: the ratio of CPU time
    (the request's own cost) and of wall time, median (and p95 where measured)."""
    pairs = [(url, results[url], results[f"{url} [fr]"]) for url in results
             if not url.endswith("]") and f"{url} [fr]" in results]
    if not pairs:
        return
    print(f"\nFrench / English, the same request in the same run (CPU is the request's own cost)")
    print(f"{'request':{width}} {'en cpu ms':>9} {'fr cpu ms':>9} {'fr/en cpu':>9}"
          + (f" {'fr/en cpu p95':>13}" if cpu_p95 else "") + f" {'fr/en wall':>10}")
    for url, en, fr in pairs:
        print(f"{url:{width}} {en[cpu]:9.1f} {fr[cpu]:9.1f} {fr[cpu] / en[cpu]:9.2f}"
              + (f" {fr[cpu_p95] / en[cpu_p95]:13.2f}" if cpu_p95 else "")
              + f" {fr[wall] / en[wall]:10.2f}")
