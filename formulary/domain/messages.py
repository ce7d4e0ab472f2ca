"""Sentences for people that carry values (SPEC §13), made by pure code.

A :class:`Message` *is* its English text (a ``str``: compared, joined, logged and stored
as before), and also keeps the template it was made from and the values put in it::

    msg("Batch %(number)s has %(left)s dose(s) left.", number="B-20261205-0001", left=2)

The template is the catalog's message id (``msg`` is an extraction keyword: the template
must be one plain literal); an edge that shows the sentence (``formulary.i18n.tr``) looks
the template up in the reader's language and puts the values back in, each in the
reader's form: a nested Message translated in turn, a Decimal with the locale's decimal
comma, a date in the locale's date form, a :class:`Code` (a status, an area) as the word
pages show for it. The domain stays free of Flask: nothing here knows about languages.

The English text is the template with each value in its English form: a Message as its
own text, a Decimal exactly (no exponent, no trailing zeros), a date in ISO form, a tuple
as its items in turn, a space between them (sentences one after the other), any other
value as ``str``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

__all__ = ["Code", "LowerFirst", "Message", "Quoted", "code", "msg", "english", "join_and",
           "join_semicolons", "lower_first", "quoted"]


def english(value) -> str:
    """A value as the English text of a message shows it."""
    if isinstance(value, LowerFirst):
        return _lowered(english(value.value))
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        text = format(value.normalize(), "f")
        return "0" if text == "-0" else text
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, tuple):
        return " ".join(english(v) for v in value)
    return str(value)


class Message(str):
    """An English sentence (the string itself) with the ``template`` (the catalog's
    message id) and the ``params`` it was made from. Equal to, and hashed as, its text."""

    template: str
    params: dict

    def __new__(cls, template: str, /, **params):
        text = template % {k: english(v) for k, v in params.items()} if params else template
        self = super().__new__(cls, text)
        self.template = template
        self.params = params
        return self

    def __reduce__(self):
        return (_rebuild, (self.template, self.params))

    def __repr__(self) -> str:
        return f"Message({str.__repr__(self)})"


class Code(str):
    """A code put into a sentence (a status, an area): English as it is, and at the edge
    the word a page shows for it in the reader's language."""

    __slots__ = ()


def code(value: str) -> Code:
    return Code(value)


class LowerFirst(str):
    """A sentence put after a label (``Quantity: must be ...``): its first letter in lower
    case, in English as in the reader's language (``value`` is the sentence itself)."""

    value: object

    def __new__(cls, value):
        self = super().__new__(cls, _lowered(english(value)))
        self.value = value
        return self


class Quoted(str):
    """A value the user typed, quoted in a sentence so that spaces, an empty text and
    control characters show: in English as Python writes it (``'abc'``, ``'a\\x00b'``), at
    the edge in the reader's quotes (French « abc »); ``inner`` is the text between them."""

    inner: str

    def __new__(cls, value):
        written = repr(value)
        self = super().__new__(cls, written)
        self.inner = written[1:-1] if isinstance(value, str) else written
        return self


def quoted(value) -> Quoted:
    return Quoted(value)


def _lowered(text: str) -> str:
    return text[:1].lower() + text[1:]


def lower_first(value) -> LowerFirst:
    return LowerFirst(value)


def _rebuild(template: str, params: dict) -> Message:
    return Message(template, **params)


def msg(template: str, /, **params) -> Message:
    """A :class:`Message`: ``template`` with ``%(name)s`` placeholders, and their values."""
    return Message(template, **params)


def join_and(items) -> str:
    """``a``; ``a and b``; ``a, b and c``: a Message when there are two or more (the
    ``and`` follows the reader's language), else the item (or "")."""
    items = list(items)
    if len(items) <= 1:
        return items[0] if items else ""
    return msg("%(items)s and %(last)s", items=", ".join(items[:-1]), last=items[-1])


def join_semicolons(items) -> str:
    """``a; b; c`` (each item may be a Message): a Message, or "" for no item."""
    joined = ""
    for item in items:
        joined = item if not joined else msg("%(items)s; %(item)s", items=joined, item=item)
    return joined
