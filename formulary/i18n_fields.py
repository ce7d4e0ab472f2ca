"""Form fields that read and show numbers and dates in the reader's locale (SPEC §13), the
one place where a page's typed ``2,5`` or ``31/01/2027`` becomes the API's ``2.5`` and
``2027-01-31`` before any service sees it. What cannot be read one way only is refused on
the field with a clear message, and nothing is handed on."""

from __future__ import annotations

import re
from datetime import date

from wtforms import DateField, StringField

from formulary.i18n import _lang, date_hint, format_date_l, parse_date_text, parse_decimal_text

_API_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


class _ParsedTextField(StringField):
    """Text read by ``parse`` (``raw -> (value, problem)``): ``data`` is the value in the
    API's form, or the raw text with the problem as the field's error."""

    parse = staticmethod(lambda raw: (raw, None))

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        raw = valuelist[0]
        value, problem = self.parse(raw)
        if problem:
            self.data = raw
            raise ValueError(problem)
        self.data = value


class LocaleDecimalField(_ParsedTextField):
    """A number as text. ``data`` is the API's form ("12.5", "" when empty); the page shows
    it in the locale's form ("12,5")."""

    parse = staticmethod(parse_decimal_text)

    def _value(self):
        if self.process_errors and self.raw_data:
            return self.raw_data[0]
        text = "" if self.data is None else str(self.data)
        if _lang() == "fr" and _API_NUMBER.fullmatch(text):
            return text.replace(".", ",")
        return text

    def __call__(self, **kwargs):
        kwargs.setdefault("inputmode", "decimal")
        return super().__call__(**kwargs)


def _date_widget_kwargs(kwargs: dict) -> dict:
    if _lang() != "en":
        kwargs["type"] = "text"
        kwargs.setdefault("placeholder", date_hint())
        kwargs.setdefault("inputmode", "numeric")
        kwargs.pop("max", None)
        kwargs.pop("min", None)
    return kwargs


class LocaleDateTextField(_ParsedTextField):
    """A date as text: ``data`` is ISO ("2027-01-31"); French pages show and read
    ``31/01/2027`` in a text box, English pages keep the browser's date box."""

    parse = staticmethod(parse_date_text)

    def _value(self):
        if self.process_errors and self.raw_data:
            return self.raw_data[0]
        text = "" if self.data is None else str(self.data)
        if _lang() != "en" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            try:
                return format_date_l(date.fromisoformat(text))
            except ValueError:
                return text
        return text

    def __call__(self, **kwargs):
        if _lang() == "en":
            kwargs.setdefault("type", "date")
        return super().__call__(**_date_widget_kwargs(kwargs))


class LocaleDateField(DateField):
    """WTForms' DateField (``data`` a ``date``) reading ISO everywhere and the locale's
    form too (``31/01/2027`` in French)."""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        raw = " ".join(valuelist)
        value, problem = parse_date_text(raw)
        if problem:
            self.data = None
            raise ValueError(problem)
        if not value:
            self.data = None
            return
        try:
            self.data = date.fromisoformat(value)
        except ValueError:
            self.data = None
            raise ValueError(self.gettext("Not a valid date value.")) from None

    def _value(self):
        if self.process_errors and self.raw_data:
            return " ".join(self.raw_data)
        if isinstance(self.data, date):
            return self.data.isoformat() if _lang() == "en" else format_date_l(self.data)
        return ""

    def __call__(self, **kwargs):
        return super().__call__(**_date_widget_kwargs(kwargs))
