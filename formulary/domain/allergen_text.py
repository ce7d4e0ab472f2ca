"""Names of allergens as people write them: group keys and the free-text rule of the
safety screen (when does a free-text allergy *name* an ingredient or a group)."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from formulary.domain.text import text_key


# --------------------------------------------------------------------------- names

_WHITESPACE = re.compile(r"\s+")


# Names and texts repeat across the cocktails of the formulation picker (one patient's
# allergies against every active cocktail): their normal forms are computed once.
_cache = lru_cache(maxsize=8192)


@_cache
def _clean(text: str) -> str:
    """NFKC, trimmed, inner whitespace collapsed: how a name is shown."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


@_cache
def group_key(name: str) -> str:
    """The key two allergen group names compare by: case-insensitive, whitespace
    collapsed (``" Benzyl   ALCOHOL "`` and ``"benzyl alcohol"`` are one group); the
    one key of every name (:func:`formulary.domain.text.text_key`)."""
    return text_key(name)


_NON_WORD = re.compile(r"[\W_]+")
# Words that say how a product is packed or dosed, not what it is: free text made only
# of these (and numbers) names nothing by being found inside a product's name, so
# "multi-dose" does not name "Lidocaine 2% (multi-dose)".
_GENERIC_WORDS = frozenset({
    "multi", "single", "dose", "preservative", "free", "solution", "injection",
    "injectable", "vial", "ampoule", "mg", "mcg", "ml", "iu", "u", "per", "with", "and",
    "in", "of", "for", "to", "sodium", "chloride", "acid", "gel", "cream",
})
_MIN_TEXT_CHARS = 4


def _singular(word: str) -> str:
    # "parabens" -> "paraben", "sulfites" -> "sulfite"; not "glass", "pruritus", "psoriasis".
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


@_cache
def _normal_text(text: str) -> str:
    # Invisible characters go first: a zero-width space must not split "Lido\u200bcaine".
    return " ".join(_NON_WORD.sub(" ", text_key(text)).split())


@_cache
def _words(text: str) -> tuple[str, ...]:
    return tuple(_singular(w) for w in _normal_text(text).split())


def _has_run(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    return n > 0 and any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


@_cache
def free_text_names(text: str, name: str) -> bool:
    """Whether a free-text allergy ``text`` names ``name`` (an ingredient or a group).

    Both are normalised: NFKC, casefolded, every run of characters that is not a letter
    or digit (spaces, ``%``, ``(``, ``)``, ``-``, ``/``, ``,`` ...) made one space, and
    each word ending in a plain plural ``s`` read without it ("parabens" = "paraben").
    Then the text names ``name`` when either

    - every word of ``name`` appears in the text, whole and in a row ("benzyl alcohol
      reaction" names the group ``benzyl alcohol``; "soy" names ``soy``), or
    - the text, at least 4 characters long once normalised and holding a word that is
      neither a number nor a packaging word (``multi``, ``dose``, ``preservative``,
      ``free``, ``mg``, ``sodium`` ...), appears whole and in a row among the words of
      ``name`` ("lidocaine" and "lidocaine 2%" name "Lidocaine 2% (multi-dose)").

    Never part of a word: "Lido" names nothing, "pen" does not name "dexpanthenol",
    "sulfa drugs" does not name ``sulfites``.
    """
    text_words, name_words = _words(text), _words(name)
    if not text_words or not name_words:
        return False
    if _has_run(text_words, name_words):
        return True
    specific = any(not w.isdigit() and w not in _GENERIC_WORDS for w in text_words)
    return (len(_normal_text(text)) >= _MIN_TEXT_CHARS and specific
            and _has_run(name_words, text_words))


