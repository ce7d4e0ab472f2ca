"""A dashboard panel drawn again only when what it shows differs from its last drawing.

The batch and sessions panels read a few counts and rows on every view (that stays: they
change with every batch, every session, every patient's name, and with the time), but
rendering their templates again from the same values cost more than reading them. A
template is a pure function of the values handed to it, the language it is written in and
the root the links are made from: ``render(name, template, key, **values)`` keeps, per
worker and per panel, the newest drawing with the key it was drawn from, and serves it
again only to a request whose key, language and root are the same. Nothing is kept but
that drawing: a value that changed is a new key, so a drawing is never stale; nothing
depends on any revision.

``key`` must hold every value the template reads (the caller's promise, held by
``tests/main/test_rendered.py`` for each panel: a change in any of them is seen).
"""

from __future__ import annotations

from typing import Callable, Hashable

from flask import current_app, render_template, request
from markupsafe import Markup

from formulary.i18n import locale_code

_STORE = "formulary.main.rendered"


def render(name: str, template: str, key: Hashable, **values) -> Markup:
    """``render_template(template, **values)`` as Markup, kept under ``name`` for ``key``
    (every value the template reads), the language and the links' root."""
    return kept(name, key, lambda: Markup(render_template(template, **values)))


def kept(name: str, key: Hashable, draw: Callable[[], Markup]) -> Markup:
    """``draw()``, kept under ``name`` for ``key`` (every value it is drawn from), the
    language and the links' root: drawn again only when one of them differs from the
    last drawing's."""
    full = (key, locale_code(), request.script_root)
    store = current_app.extensions.setdefault(_STORE, {})
    last = store.get(name)
    if last is not None and last[0] == full:
        return last[1]
    html = draw()
    store[name] = (full, html)  # the newest drawing only, replaced whole
    return html
