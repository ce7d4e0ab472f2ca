"""The catalogs as the suite uses them: the French one compiled from its .po when the .po
is newer (as ``make``'s install step does), and a pseudo-locale ``en_001`` built from the
catalog's template with every message wrapped in ⟦ ⟧, so that a page showing text outside
markers shows text that was never put through the catalog."""

from __future__ import annotations

import os
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "translations"
POT = TRANSLATIONS / "messages.pot"
FR_PO = TRANSLATIONS / "fr" / "LC_MESSAGES" / "messages.po"
#: Babel knows no en_XA: the pseudo-locale borrows "en_001" (English of the world), which the
#: application ships no catalog for, so every text it shows comes from the pseudo catalog.
PSEUDO = "en_001"
OPEN, CLOSE = "⟦", "⟧"


def read(path: Path, locale: str | None = None) -> Catalog:
    with open(path, "rb") as f:
        return read_po(f, locale=locale)


def compile_fr() -> None:
    mo = FR_PO.with_suffix(".mo")
    if not mo.exists() or mo.stat().st_mtime < FR_PO.stat().st_mtime:
        catalog = read(FR_PO, "fr")
        # Written beside it and renamed: under xdist another worker may be reading it.
        part = mo.with_suffix(f".mo.{os.getpid()}")
        with open(part, "wb") as f:
            write_mo(f, catalog)
        os.replace(part, mo)


def build_pseudo(directory: Path) -> Path:
    """translations/en_XA/LC_MESSAGES/messages.mo under ``directory``: every message of the
    template, its text wrapped in markers (placeholders kept, so formatting still works)."""
    template = read(POT)
    pseudo = Catalog(locale="en")
    for message in template:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            text = tuple(f"{OPEN}{part}{CLOSE}" for part in message.id)
        else:
            text = f"{OPEN}{message.id}{CLOSE}"
        pseudo.add(message.id, text, context=message.context)
    target = directory / PSEUDO / "LC_MESSAGES"
    target.mkdir(parents=True, exist_ok=True)
    with open(target / "messages.mo", "wb") as f:
        write_mo(f, pseudo)
    return directory
