"""The French catalog is complete: every message of the template translated, none fuzzy,
placeholders kept; and the template holds every text the code and pages mark (else
``make messages`` was not run after a text was added)."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from tests.i18n import catalogs

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _ids(catalog) -> set:
    return {m.id for m in catalog if m.id}


def test_every_french_message_is_translated_and_not_fuzzy():
    fr = catalogs.read(catalogs.FR_PO, "fr")
    # a plural message is missing when any of its forms is empty
    missing = sorted(str(m.id) for m in fr if m.id and (
        not m.string or (isinstance(m.string, tuple) and not all(m.string))))
    fuzzy = sorted(str(m.id) for m in fr if m.id and m.fuzzy)
    assert not missing, f"{len(missing)} French translation(s) missing: {missing[:20]}"
    assert not fuzzy, f"{len(fuzzy)} French translation(s) fuzzy: {fuzzy[:20]}"


def test_the_french_catalog_holds_every_message_of_the_template():
    pot, fr = catalogs.read(catalogs.POT), catalogs.read(catalogs.FR_PO, "fr")
    absent = sorted(str(i) for i in _ids(pot) - _ids(fr))
    assert not absent, f"run `make messages`, then translate: {absent[:20]}"


def test_placeholders_are_kept_in_french():
    for m in catalogs.read(catalogs.FR_PO, "fr"):
        if m.id and m.string and isinstance(m.id, str):
            assert set(PLACEHOLDER.findall(m.id)) == set(PLACEHOLDER.findall(m.string)), m.id


def _keywords() -> dict:
    makefile = (catalogs.ROOT / "Makefile").read_text()
    block = re.search(r"EXTRACT_KEYWORDS :=(.*?)\n\n", makefile, re.S).group(1)
    from babel.messages.extract import DEFAULT_KEYWORDS

    keywords = dict(DEFAULT_KEYWORDS)
    keywords.update({k: None for k in re.findall(r"-k (\w+)", block)})
    return keywords


def test_the_template_holds_every_marked_text():
    """What the code and templates mark today, extracted as ``make messages`` does, is in
    messages.pot: a text wrapped without running ``make messages`` fails here."""
    with open(catalogs.ROOT / "babel.cfg") as f:
        method_map, options_map = parse_mapping_cfg(f)
    found = set()
    for filename, _lineno, message, _comments, _context in extract_from_dir(
            str(catalogs.ROOT), method_map, options_map, keywords=_keywords()):
        if Path(filename).parts[0] in ("formulary", "templates"):
            found.add(message)
    pot = _ids(catalogs.read(catalogs.POT))
    assert found, "nothing extracted: is babel.cfg read?"
    new = sorted(str(m) for m in found - pot)
    assert not new, f"texts not in messages.pot (run `make messages`): {new[:20]}"


def test_french_sheet_titles_fit_excel():
    """Excel takes sheet names of 1 to 31 characters: the French ones too."""
    from formulary.compounding import labels
    from formulary.reports import audit_log, batch_log, stock_report  # noqa: F401

    fr = {m.id: m.string for m in catalogs.read(catalogs.FR_PO, "fr") if m.id}
    for title in ("Batches", "Components", "Audit log", "On hand", "Expiring", "Reorder",
                  "Movements", "By category", "Expiry by month", "Delivery", "Patients"):
        assert title in fr, title
        assert 0 < len(fr[title]) <= 31, fr[title]
    assert labels  # imported: its sheets are named the same way
