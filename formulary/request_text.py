"""The edge where a request's text comes in (SPEC §3, "Text, everywhere").

Before any view, form or service reads them, every query argument and every form value is
passed through :func:`formulary.domain.text.clean_text` (invisible characters removed,
NFC), so the pages' WTForms forms, the views that read ``request.args`` and the API's
query arguments all see the same clean text. The API's JSON body is cleaned where it is
parsed (:func:`formulary.api.core.json_body`), with the same function.

NUL or an unpaired surrogate is refused, never stored: a page answers 400 with an error
page, the API 422 in its envelope naming the argument. Passwords are checked for those
two but otherwise kept exactly as typed (a password is compared, never shown).
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.datastructures import ImmutableMultiDict

from formulary.domain.errors import MalformedRequest
from formulary.domain.text import UnstorableText, clean_text, refused_character

#: Fields kept as typed (only NUL and unpaired surrogates refused).
VERBATIM_FIELDS = frozenset({"password", "csrf_token"})


def clean_value(name: str, value: str, field: str | None = None) -> str:
    """One value of a request named ``name``, cleaned; an error names ``field`` (default
    ``name``)."""
    field = field or name
    if name in VERBATIM_FIELDS:
        if refused_character(value):
            clean_text(value, field)  # raises UnstorableText on ``field``
        return value
    return clean_text(value, field)


def _clean_multidict(data) -> ImmutableMultiDict | None:
    """``data`` cleaned, or ``None`` when it was clean already (the common case: no copy)."""
    items = list(data.items(multi=True))
    cleaned = [(clean_text(k, "query"), clean_value(k, v)) for k, v in items]
    return None if cleaned == items else ImmutableMultiDict(cleaned)


def _refuse(exc: UnstorableText):
    if request.path.startswith("/api/"):
        raise exc  # 422 envelope naming the argument
    raise MalformedRequest("The request holds a character that cannot be stored (a NUL "
                           "or an unpaired surrogate). Go back, remove it and try again.") from None


def install(app: Flask) -> None:
    @app.before_request
    def _clean_request_text():
        try:
            args = _clean_multidict(request.args)
            if args is not None:
                request.args = args
            # The API reads JSON (cleaned in json_body), and its uploads are read after the
            # token is checked: its form is not parsed here.
            if (request.method in ("POST", "PUT", "PATCH", "DELETE")
                    and not request.path.startswith("/api/")
                    and request.mimetype in ("application/x-www-form-urlencoded",
                                             "multipart/form-data")):
                form = _clean_multidict(request.form)
                if form is not None:
                    request.form = form
        except UnstorableText as exc:
            _refuse(exc)
        request.__dict__.pop("values", None)  # rebuilt from the cleaned args and form


__all__ = ["VERBATIM_FIELDS", "clean_value", "install"]
