"""pybabel's extractor for the application's Python files (babel.cfg): a call to one of the
keywords (``_``, ``_l``, ``flash``, ``NotFound``...) whose first argument (the second for :data:`LABEL_SECOND`) is one plain text
(adjacent literals count as one) gives a message. A text built at run time (an f-string, a
``+``, a ``.join``) gives none: its pieces could never be found in the catalog, so they are
not put there (such messages are wrapped with ``_l("... %(x)s", x=...)`` where they are made)."""

from __future__ import annotations

import ast

PLURAL = {"ngettext", "lazy_ngettext"}
#: Keywords whose message is the second argument: the job and export registries'
#: ``JobKind(code, label, ...)`` and ``ExportSpec(code, label, ...)``.
LABEL_SECOND = {"JobKind", "ExportSpec"}
#: Keywords with a context first and the message second (``_lp("allergy", "active")``); the
#: keyword's spec (``-k _lp:1c,2``) tells pybabel which is which.
CONTEXT_FIRST = {"_lp", "pgettext", "lazy_pgettext"}


def _name(func) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def extract(fileobj, keywords, comment_tags, options):
    source = fileobj.read().decode(options.get("encoding", "utf-8"))
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return
    wanted = set(keywords)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        if name not in wanted or not node.args:
            continue
        args = node.args
        if name in CONTEXT_FIRST:
            if len(args) >= 2 and all(isinstance(a, ast.Constant) and isinstance(a.value, str)
                                      for a in args[:2]):
                yield node.lineno, name, (args[0].value, args[1].value), []
            continue
        if name in PLURAL:
            if len(args) >= 2 and all(isinstance(a, ast.Constant) and isinstance(a.value, str)
                                      for a in args[:2]):
                yield node.lineno, name, (args[0].value, args[1].value), []
            continue
        # a registry's entry names its code first and its label second
        index = 1 if name in LABEL_SECOND else 0
        if index >= len(args):
            continue
        first = args[index]
        if isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value.strip():
            yield node.lineno, name, first.value, []
