"""``i18n.tr_here``: ``tr`` with the reader's language read once, for the picker's
hundreds of findings. It says every kind of message exactly as ``tr`` does, in every
language the clinic has (English, French and the pseudo-locale)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask_babel import force_locale

from formulary.domain.messages import Message, code, lower_first, msg, quoted
from formulary.i18n import _l, tr, tr_here
from tests.i18n import catalogs


class _Said(Message):
    """A Message of another class: ``tr_here`` leaves it to ``tr``."""


MESSAGES = [
    msg("The batch was discarded."),
    msg("%(given)s of %(doses)s doses given.", given=2, doses=5),
    msg("On hold: %(lots)s. Do not use it.", lots="LID-1 (recalled)"),
    msg("Use one of: %(choices)s.", choices=quoted("a, b")),
    msg("Only %(quantity)s left.", quantity=Decimal("2.500")),
    msg("%(kind)s", kind=code("allergy")),
    msg("%(what)s", what=lower_first(msg("The batch was discarded."))),
    _Said("Past its beyond-use date. Do not use it."),
    _l("Lots"),
    "No such lot.",
    "a text no catalog holds",
    "",
    None,
]


@pytest.mark.parametrize("locale", ["en", "fr", catalogs.PSEUDO])
def test_tr_here_says_what_tr_says(i18n_app, locale):
    with i18n_app.test_request_context("/"), force_locale(locale):
        say = tr_here()
        for message in MESSAGES:
            assert say(message) == tr(message), (locale, message)
    with i18n_app.test_request_context("/"), force_locale("fr"):
        assert tr_here()(msg("The batch was discarded.")) != "The batch was discarded."
