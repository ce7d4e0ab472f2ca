"""Small pieces of HTML shared by the templates and the tables written in Python."""

from __future__ import annotations

from markupsafe import Markup, escape

#: Bootstrap's colour of the badge of each status (lots, cocktails, batches, verdicts).
STATUS_COLOURS = {
    "available": "success", "quarantined": "warning", "recalled": "danger",
    "expired": "secondary", "in_use_expired": "secondary", "empty": "light", "draft": "secondary",
    "active": "success", "retired": "dark", "superseded": "light", "prepared": "info",
    "verified": "success", "discarded": "dark", "safe": "success", "caution": "warning",
    "blocked": "danger", "on_hold": "danger", "partly_given": "primary", "given": "secondary",
    "open": "warning", "closed": "secondary", "to_contact": "warning", "contacted": "success",
    "unreachable": "danger", "not_needed": "secondary",
}


def status_badge(status: str) -> Markup:
    """``<span class="badge ..." data-status="...">...</span>`` for a status."""
    status = str(status)
    return Markup('<span class="badge text-bg-{}" data-status="{}">{}</span>'.format(
        STATUS_COLOURS.get(status, "secondary"), escape(status), escape(status.replace("_", " "))))
