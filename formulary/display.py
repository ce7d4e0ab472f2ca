"""Small pieces of HTML shared by the templates and the tables written in Python."""

from __future__ import annotations

from markupsafe import Markup, escape

from formulary.i18n import _l

#: Bootstrap's colour of the badge of each status (lots, cocktails, batches, verdicts).
STATUS_COLOURS = {
    "available": "success", "quarantined": "warning", "recalled": "danger",
    "expired": "secondary", "in_use_expired": "secondary", "draft": "secondary",
    "active": "success", "retired": "dark", "superseded": "light", "prepared": "info",
    "verified": "success", "discarded": "dark", "safe": "success", "caution": "warning",
    "blocked": "danger", "on_hold": "danger", "partly_given": "primary", "given": "secondary",
    "open": "warning", "closed": "secondary", "to_contact": "warning", "contacted": "success",
    "unreachable": "danger", "not_needed": "secondary",
}


#: The word a badge shows, in the reader's language (the code stays in data-status).
STATUS_WORDS = {
    "available": _l("available"),
    "quarantined": _l("quarantined"),
    "recalled": _l("recalled"),
    "expired": _l("expired"),
    "in_use_expired": _l("in use expired"),
    "draft": _l("draft"),
    "active": _l("active"),
    "retired": _l("retired"),
    "superseded": _l("superseded"),
    "prepared": _l("prepared"),
    "verified": _l("verified"),
    "discarded": _l("discarded"),
    "safe": _l("safe"),
    "caution": _l("caution"),
    "blocked": _l("blocked"),
    "on_hold": _l("on hold"),
    "partly_given": _l("partly given"),
    "given": _l("given"),
    "open": _l("open"),
    "closed": _l("closed"),
    "to_contact": _l("to contact"),
    "contacted": _l("contacted"),
    "unreachable": _l("unreachable"),
    "not_needed": _l("not needed"),
}


def status_badge(status: str) -> Markup:
    """``<span class="badge ..." data-status="...">...</span>`` for a status."""
    status = str(status)
    word = STATUS_WORDS.get(status)
    return Markup('<span class="badge text-bg-{}" data-status="{}">{}</span>'.format(
        STATUS_COLOURS.get(status, "secondary"), escape(status),
        escape(str(word) if word is not None else status.replace("_", " "))))
