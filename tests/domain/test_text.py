"""Truth tables of text at the edge (SPEC §3, "Text, everywhere"): cleaning, the visible
letter-or-digit rule, and the one key names are compared by."""

from __future__ import annotations

import pytest

from formulary.domain.errors import ValidationError
from formulary.domain.text import (UnstorableText, check_text, clean_text, has_visible,
                                   strip_invisible, text_key)


@pytest.mark.parametrize("raw, cleaned", [
    ("Biotin", "Biotin"),                          # plain ASCII: untouched
    ("Cafe\u0301ine", "Caf\u00e9ine"),             # decomposed é: NFC composes it
    ("Lido\u200bcaine", "Lidocaine"),              # zero-width space removed
    ("Lido\u200ccaine\u200d", "Lidocaine"),        # zero-width non-joiner and joiner
    ("\ufeffBiotin\u2060", "Biotin"),              # BOM, word joiner
    ("e\u200b\u0301", "\u00e9"),                   # removal first, then NFC: one letter
    ("a\u202eb\u202c", "ab"),                      # bidi override (reorders what is read)
    ("a\u200fb", "ab"),                            # right-to-left mark
    ("soft\u00adhyphen", "softhyphen"),            # soft hyphen: invisible
    ("bell\x07 esc\x1b del\x7f c1\x85", "bell esc del c1"),  # C0, DEL and C1 controls
    ("line 1\nline 2\r\n\tindented", "line 1\nline 2\r\n\tindented"),  # kept: notes keep lines
    ("  spaces  kept  ", "  spaces  kept  "),      # spaces are the field check's business
    ("\u200b", ""),                                # only invisible: nothing is left
    ("\u0645\u0631\u062d\u0628\u0627", "\u0645\u0631\u062d\u0628\u0627"),  # another script: kept
    ("\U0001F489", "\U0001F489"),                  # a paired surrogate (an emoji): kept
])
def test_clean_text(raw, cleaned):
    assert clean_text(raw) == cleaned
    assert clean_text(cleaned) == cleaned          # idempotent


@pytest.mark.parametrize("raw", [
    "a\x00b",         # NUL: PostgreSQL text cannot hold it
    "\x00",
    "a\ud800b",       # a lone high surrogate (as JSON "\ud800" decodes)
    "a\udc00",        # a lone low surrogate
])
def test_nul_and_unpaired_surrogates_are_refused_on_the_field(raw):
    with pytest.raises(UnstorableText) as exc:
        clean_text(raw, "name")
    assert exc.value.status == 422 and list(exc.value.fields) == ["name"]


@pytest.mark.parametrize("text, visible", [
    ("a", True), ("7", True), ("\u00e9", True),    # a letter or a digit, any script
    ("\u0645", True), ("\u4e2d", True), ("\u0663", True),
    ("", False), (" ", False),
    ("-", False), ("...", False), ("\u2014", False),  # punctuation only
    ("\U0001F489", False),                         # a symbol
    ("\u200b", False),                             # a zero-width space is nothing
])
def test_has_visible(text, visible):
    assert has_visible(text) is visible


@pytest.mark.parametrize("value, kw, expected", [
    ("  Biotin   5 mg ", {}, "Biotin 5 mg"),                      # single line: spaces collapse
    ("line 1\n line 2 ", {"multiline": True}, "line 1\n line 2"),  # a note keeps its lines
    (None, {}, ""),                                               # absent optional: empty
    ("", {}, ""),
    ("\u200b", {}, ""),                                           # invisible only: empty (optional)
    ("Lido\u200bcaine", {}, "Lidocaine"),                         # cleaned here too (CLI, files)
    ("-", {"visible": False}, "-"),                               # an idempotency key may be any text
])
def test_check_text_accepts(value, kw, expected):
    assert check_text(value, "f", "Field", max_length=50, **kw) == expected


@pytest.mark.parametrize("value, kw, message", [
    ("\u200b", {"required": True}, "Field is required."),             # a reason of one ZWSP
    (" \u200d\u2060 ", {"required": True}, "Field is required."),
    ("", {"required": True}, "Field is required."),
    ("-", {}, "Field must contain a letter or a digit."),              # given, but nothing to read
    ("\u200b.\u200b", {"required": True}, "Field must contain a letter or a digit."),
    ("\U0001F489", {"multiline": True}, "Field must contain a letter or a digit."),
    ("x" * 51, {}, "Field is too long (at most 50 characters)."),
    (5, {}, "Field must be text."),
    ("a\x00", {}, "Contains a character that cannot be stored"),
])
def test_check_text_refuses(value, kw, message):
    with pytest.raises(ValidationError) as exc:
        check_text(value, "f", "Field", max_length=50, **kw)
    assert exc.value.message.startswith(message) and list(exc.value.fields) == ["f"]


@pytest.mark.parametrize("a, b", [
    ("Caf\u00e9ine", "Cafe\u0301ine"),             # composed and decomposed
    ("Caf\u00e9ine", "CAF\u00c9INE"),              # case
    ("Lidocaine", "Lido\u200bcaine"),              # a zero-width space inside
    ("Benzyl alcohol", "  benzyl   ALCOHOL "),     # spaces
    ("Lidocaine", "\uff2c\uff49\uff44\uff4f\uff43\uff41\uff49\uff4e\uff45"),  # fullwidth letters
    ("5 \u00b5g", "5 \u03bcg"),                    # micro sign and Greek mu
    ("Stra\u00dfe", "STRASSE"),                    # casefold, not lower
])
def test_names_equal_after_normalisation_share_a_key(a, b):
    assert text_key(a) == text_key(b)


@pytest.mark.parametrize("a, b", [
    ("Lidocaine", "Lidocaine 2%"),
    ("Caf\u00e9ine", "Cafeine"),                   # an accent is a different letter
])
def test_different_names_keep_different_keys(a, b):
    assert text_key(a) != text_key(b)


def test_text_key_and_strip_invisible_never_raise():
    # a search box sends whatever it gets: NUL is dropped rather than refused there
    assert text_key("a\x00b\ud800") == "ab"
    assert strip_invisible("a\x00\u200bb") == "ab"
