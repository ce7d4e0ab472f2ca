"""The dashboard's "Open recalls" panel (SPEC §12): shown while a recall is open, with the
patients left to contact; counts only, never a patient. Three statements."""

from __future__ import annotations

from flask import render_template
from markupsafe import Markup

from formulary.auth.permissions import RECALLS, VIEW
from formulary.extensions import db
from formulary.recalls import services


def panels(user) -> list[Markup]:
    if not user.may(VIEW):
        return []
    total, recalls = services.open_recall_summaries(db.session)
    if not total:
        return []
    return [Markup(render_template("recalls/_panel.html", total=total, recalls=recalls,
                                   counts=services.counts_of(db.session, [r.id for r in recalls]),
                                   may_open=user.may(RECALLS)))]
